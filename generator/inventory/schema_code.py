"""The inventory schema compiled into Python: jsonschema's own yes/no, without loading a validator.

jsonschema words the errors, but importing it costs more than planning a cluster, so a valid
inventory (nearly every run) must be told without it. Loading jsonschema-rs's library and
building its validator took 20 ms of a 220 ms generate. The schema uses a few keywords only,
so `schema_source` writes it out as one Python function per subschema, each keyword checked
by the rule jsonschema applies to it (Draft 2020-12, with a FormatChecker):

- type: ``integer`` takes 3.0 and never True; ``number`` never a bool;
- enum and const compare as jsonschema does: True is not 1, 1 is 1.0, lists and maps deeply;
- pattern is ``re.search`` (Python's engine, jsonschema's own); uniqueItems its ``uniq``;
- every other keyword applies only to its own type, as jsonschema's do.

A keyword outside that set stops the compiler (`SchemaCodeError`): the schema cannot grow a
rule that this verdict would skip. The source is written each run (about a millisecond); its
compiled code is kept with the other compiled tables (shared/code_table.py), keyed by the
source text itself, so a changed schema or compiler never runs stale code.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import marshal
import re
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any

from ..shared.cache import store_entry
from ..shared.code_table import read_table, table_path

# Words that only describe: no effect on the verdict.
_ANNOTATIONS = frozenset({"$comment", "$id", "$schema", "default", "deprecated", "description", "examples", "title"})
_STRING_KEYWORDS = ("minLength", "maxLength", "pattern", "format")
_NUMBER_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_OBJECT_KEYWORDS = ("minProperties", "maxProperties", "required", "properties", "additionalProperties", "propertyNames")
_ARRAY_KEYWORDS = ("minItems", "maxItems", "items", "uniqueItems")
_OTHER_KEYWORDS = ("$ref", "$defs", "type", "enum", "const", "not", "anyOf", "oneOf", "allOf")
_KNOWN = _ANNOTATIONS.union(_STRING_KEYWORDS, _NUMBER_KEYWORDS, _OBJECT_KEYWORDS, _ARRAY_KEYWORDS, _OTHER_KEYWORDS)

_TYPE_TESTS = {
    "string": "isinstance(v, str)",
    "boolean": "isinstance(v, bool)",
    "null": "v is None",
    "object": "isinstance(v, dict)",
    "array": "isinstance(v, list)",
    # Draft 6 on: an integer is an int that is no bool, or a float with no fraction.
    "integer": "(isinstance(v, int) and not isinstance(v, bool) or isinstance(v, float) and v.is_integer())",
    "number": "(isinstance(v, (int, float)) and not isinstance(v, bool))",
}
_NUMBER_TEST = _TYPE_TESTS["number"]
_COMPARISONS = {"minimum": "<", "maximum": ">", "exclusiveMinimum": "<=", "exclusiveMaximum": ">="}
_DEFS_PREFIX = "#/$defs/"


class SchemaCodeError(Exception):
    """The schema uses something the compiler does not know (a programming error)."""


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's equality: strings by value, lists and maps member by member, and a bool
    equal only to the same bool (True is not 1), numbers by value (1 is 1.0)."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return len(one) == len(two) and all(k in two and _equal(x, two[k]) for k, x in one.items())
    if isinstance(one, bool) or isinstance(two, bool):
        return False  # not the same object, so not the same bool
    return bool(one == two)


_TRUE, _FALSE = object(), object()


def _unbool(value: Any) -> Any:
    return _TRUE if value is True else _FALSE if value is False else value


def _unique(items: list[Any]) -> bool:
    """jsonschema's ``uniq``, step for step: neighbours after sorting when the items sort, or
    every pair when they do not (its verdict differs between the two on odd lists)."""
    try:
        ordered = sorted(_unbool(item) for item in items)
        return not any(_equal(a, b) for a, b in itertools.pairwise(ordered))
    except (NotImplementedError, TypeError):
        seen: list[Any] = []
        for item in map(_unbool, items):
            if any(_equal(other, item) for other in seen):
                return False
            seen.append(item)
        return True


def _ipv4(value: Any) -> bool:
    # jsonschema's FormatChecker rule, so both verdicts agree on every address.
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def _ipv6(value: Any) -> bool:
    try:
        address = ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return not getattr(address, "scope_id", "")


_FORMATS = {"ipv4": "_ipv4", "ipv6": "_ipv6"}


class _Compiler:
    """Writes one function per subschema into ``lines``; constants go in as module globals."""

    def __init__(self, root: dict[str, Any]):
        self.root = root
        self.lines: list[str] = []
        self.constants: list[str] = []
        self.defs: dict[str, str] = {}
        self.count = 0

    def function(self, schema: Any) -> str:
        """The name of a function that tells whether a value is valid under ``schema``."""
        if schema is True:
            return "_any"
        if schema is False:
            return "_none"
        if not isinstance(schema, dict):
            raise SchemaCodeError(f"a schema must be a map or a boolean, not {schema!r}")
        unknown = sorted(set(schema) - _KNOWN)
        if schema is not self.root and ("$id" in schema or "$defs" in schema):
            # Either would change what a $ref inside it names: only the root's are compiled.
            unknown = ["$id" if "$id" in schema else "$defs"]
        if unknown:
            raise SchemaCodeError(f"keyword {unknown[0]!r} is not compiled: add its rule here, or check with jsonschema")
        checks = self._checks(schema)
        if not checks:
            return "_any"
        name = self._name("_s")
        self.lines += [f"def {name}(v):", *(f"    {line}" for line in checks), "    return True", ""]
        return name

    def _name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def constant(self, value: str) -> str:
        name = self._name("_c")
        self.constants.append(f"{name} = {value}")
        return name

    def reference(self, ref: Any) -> str:
        if not isinstance(ref, str) or not ref.startswith(_DEFS_PREFIX):
            raise SchemaCodeError(f"$ref {ref!r}: only this schema's own {_DEFS_PREFIX}… are compiled")
        key = ref[len(_DEFS_PREFIX):]
        if key not in self.defs:
            target = self.root.get("$defs", {}).get(key)
            if target is None:
                raise SchemaCodeError(f"$ref {ref!r} names no definition")
            # Named before its body is written: a definition may refer to itself.
            name = self.defs[key] = self._name("_d")
            self.lines += [f"def {name}(v):", f"    return {self.function(target)}(v)", ""]
        return self.defs[key]

    def _checks(self, schema: dict[str, Any]) -> list[str]:
        checks: list[str] = []
        if "$ref" in schema:
            checks.append(f"if not {self.reference(schema['$ref'])}(v): return False")
        if "type" in schema:
            checks.append(f"if not ({self._type_test(schema['type'])}): return False")
        if "enum" in schema:
            checks.append(self._enum(schema["enum"]))
        if "const" in schema:
            checks.append(f"if not _equal(v, {self.constant(repr(schema['const']))}): return False")
        checks += self._combinations(schema)
        checks += self._typed("isinstance(v, str)", self._string(schema))
        checks += self._typed(_NUMBER_TEST, self._number(schema))
        checks += self._typed("isinstance(v, dict)", self._object(schema))
        checks += self._typed("isinstance(v, list)", self._array(schema))
        return checks

    @staticmethod
    def _type_test(types: Any) -> str:
        names = [types] if isinstance(types, str) else types
        if not isinstance(names, list) or not names or any(n not in _TYPE_TESTS for n in names):
            raise SchemaCodeError(f"type {types!r} is not compiled")
        return " or ".join(_TYPE_TESTS[n] for n in names)

    def _enum(self, values: Any) -> str:
        if not isinstance(values, list):
            raise SchemaCodeError(f"enum {values!r} must be a list")
        if all(isinstance(value, str) for value in values):
            # Under jsonschema's equality a string equals only an equal string.
            choices = self.constant(f"frozenset({sorted(values)!r})")
            return f"if not (isinstance(v, str) and v in {choices}): return False"
        choices = self.constant(repr(tuple(values)))
        return f"if not any(_equal(v, each) for each in {choices}): return False"

    def _combinations(self, schema: dict[str, Any]) -> list[str]:
        checks = []
        if "not" in schema:
            checks.append(f"if {self.function(schema['not'])}(v): return False")
        for keyword in ("allOf", "anyOf", "oneOf"):
            if keyword not in schema:
                continue
            names = [self.function(sub) for sub in schema[keyword]]
            if not names:
                raise SchemaCodeError(f"{keyword} must not be empty")
            calls = [f"{name}(v)" for name in names]
            if keyword == "allOf":
                checks.append(f"if not ({' and '.join(calls)}): return False")
            elif keyword == "anyOf":
                checks.append(f"if not ({' or '.join(calls)}): return False")
            else:
                checks.append(f"if [{', '.join(calls)}].count(True) != 1: return False")
        return checks

    @staticmethod
    def _typed(test: str, checks: list[str]) -> list[str]:
        """Checks that jsonschema applies only to values of one type."""
        return [f"if {test}:", *(f"    {line}" for line in checks)] if checks else []

    @staticmethod
    def _sizes(schema: dict[str, Any], smallest: str, largest: str) -> list[str]:
        """minLength/maxLength, minProperties/maxProperties, minItems/maxItems: bounds on len."""
        checks = []
        if smallest in schema:
            checks.append(f"if len(v) < {int(schema[smallest])}: return False")
        if largest in schema:
            checks.append(f"if len(v) > {int(schema[largest])}: return False")
        return checks

    def _string(self, schema: dict[str, Any]) -> list[str]:
        checks = self._sizes(schema, "minLength", "maxLength")
        if "pattern" in schema:
            pattern = self.constant(f"re.compile({schema['pattern']!r})")
            checks.append(f"if not {pattern}.search(v): return False")
        if "format" in schema:
            if schema["format"] not in _FORMATS:
                raise SchemaCodeError(f"format {schema['format']!r} is not compiled")
            checks.append(f"if not {_FORMATS[schema['format']]}(v): return False")
        return checks

    def _number(self, schema: dict[str, Any]) -> list[str]:
        checks = []
        for keyword in _NUMBER_KEYWORDS:
            if keyword in schema:
                bound = schema[keyword]
                if isinstance(bound, bool) or not isinstance(bound, (int, float)):
                    raise SchemaCodeError(f"{keyword} {bound!r} must be a number")
                checks.append(f"if v {_COMPARISONS[keyword]} {bound!r}: return False")
        return checks

    def _object(self, schema: dict[str, Any]) -> list[str]:
        checks = self._sizes(schema, "minProperties", "maxProperties")
        if schema.get("required"):
            required = self.constant(repr(tuple(schema["required"])))
            checks.append(f"for key in {required}:")
            checks.append("    if key not in v: return False")
        properties = schema.get("properties", {})
        for key, subschema in properties.items():
            name = self.function(subschema)
            if name != "_any":
                checks.append(f"if {key!r} in v and not {name}(v[{key!r}]): return False")
        checks += self._additional(schema.get("additionalProperties", True), properties)
        if "propertyNames" in schema:
            name = self.function(schema["propertyNames"])
            if name != "_any":
                checks.append("for key in v:")
                checks.append(f"    if not {name}(key): return False")
        return checks

    def _additional(self, additional: Any, properties: dict[str, Any]) -> list[str]:
        """additionalProperties: the keys outside ``properties`` (no patternProperties here)."""
        name = self.function(additional)
        if name == "_any":
            return []
        known = self.constant(f"frozenset({sorted(properties)!r})")
        if name == "_none":
            return [f"if not {known}.issuperset(v): return False"]
        return ["for key, item in v.items():", f"    if key not in {known} and not {name}(item): return False"]

    def _array(self, schema: dict[str, Any]) -> list[str]:
        checks = self._sizes(schema, "minItems", "maxItems")
        if "items" in schema:
            name = self.function(schema["items"])
            if name != "_any":
                checks.append("for item in v:")
                checks.append(f"    if not {name}(item): return False")
        if schema.get("uniqueItems") is True:
            checks.append("if not _unique(v): return False")
        return checks


def schema_source(schema: dict[str, Any]) -> str:
    """Python source defining ``valid(value) -> bool``: jsonschema's verdict on ``schema``."""
    compiler = _Compiler(schema)
    root = compiler.function(schema)
    return "\n".join([
        "def _any(v):", "    return True", "",
        "def _none(v):", "    return False", "",
        *compiler.constants, "",
        *compiler.lines,
        f"valid = {root}", "",
    ])


def schema_verdict(made_from: bytes, schema: Callable[[], dict[str, Any]]) -> Callable[[Any], bool]:
    """``valid(value) -> bool`` for ``schema()``, whose data is made from the bytes
    ``made_from`` (its file's text and what the program adds to it). The code comes from the
    table when it was compiled from those same bytes by this same compiler."""
    return verdict_of(_code(made_from, schema))


def verdict_of(code: CodeType) -> Callable[[Any], bool]:
    """The ``valid`` function of code compiled from `schema_source`'s text, run with the
    helpers that text calls."""
    namespace: dict[str, Any] = {"re": re, "_equal": _equal, "_unique": _unique, "_ipv4": _ipv4, "_ipv6": _ipv6}
    exec(code, namespace)  # noqa: S102 - our own generated source (schema_source)
    verdict: Callable[[Any], bool] = namespace["valid"]
    return verdict


def _code(made_from: bytes, schema: Callable[[], dict[str, Any]]) -> CodeType:
    path = table_path("inventory-schema")
    key = _key(made_from)
    if path is not None and key is not None:
        kept = read_table(path)
        if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == key and isinstance(kept[1], CodeType):
            return kept[1]
    code = compile(schema_source(schema()), "<inventory schema>", "exec", dont_inherit=True)
    if path is not None and key is not None:
        store_entry(path, marshal.dumps((key, code)))
    return code


def _key(made_from: bytes) -> str | None:
    """The schema's bytes and this compiler's own text: all the source depends on (writing
    the source to compare it would cost more than the whole check)."""
    try:
        compiler = Path(__file__).read_bytes()
    except OSError:
        return None  # no source to key by (a frozen build): compile every run
    return hashlib.sha256(compiler + b"\0" + made_from).hexdigest()
