"""The schema compiler (inventory/schema_code.py): jsonschema's verdict, keyword by keyword.

Each row is a small schema and a value at or beside the keyword's boundary; the compiled
function must say what jsonschema's Draft 2020-12 validator with a FormatChecker says, and
each row states that verdict too, so a row cannot pass by both being wrong the same way.
"""

from __future__ import annotations

import marshal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from generator.inventory import schema_code
from generator.inventory.schema_code import SchemaCodeError, schema_source, schema_verdict, verdict_of


def _compiled(schema: dict[str, Any]) -> Any:
    return verdict_of(compile(schema_source(schema), "<test>", "exec"))


ROWS: list[tuple[dict[str, Any], Any, bool]] = [
    # type
    ({"type": "integer"}, 3, True),
    ({"type": "integer"}, 3.0, True),
    ({"type": "integer"}, 3.5, False),
    ({"type": "integer"}, True, False),
    ({"type": "integer"}, float("inf"), False),
    ({"type": "number"}, 0.5, True),
    ({"type": "number"}, False, False),
    ({"type": "number"}, "1", False),
    ({"type": "boolean"}, 0, False),
    ({"type": "null"}, None, True),
    ({"type": "null"}, 0, False),
    ({"type": ["string", "null"]}, None, True),
    ({"type": ["string", "null"]}, 1, False),
    ({"type": "object"}, [], False),
    ({"type": "array"}, {}, False),
    # enum and const: True is not 1, 1 is 1.0, lists and maps member by member
    ({"enum": [1, "a"]}, True, False),
    ({"enum": [1, "a"]}, 1.0, True),
    ({"enum": [True]}, 1, False),
    ({"enum": [True]}, True, True),
    ({"enum": [[1, 2]]}, [1, 2.0], True),
    ({"enum": [[1, 2]]}, [True, 2], False),
    ({"enum": [[1, 2]]}, [1, 2, 3], False),
    ({"enum": ["a", "b"]}, "b", True),
    ({"enum": ["a", "b"]}, "c", False),
    ({"enum": ["a", "b"]}, ["a"], False),
    ({"enum": []}, "a", False),
    ({"const": {"a": [1]}}, {"a": [1.0]}, True),
    ({"const": {"a": [1]}}, {"a": [1], "b": 2}, False),
    ({"const": {"a": [1]}}, {"b": [1]}, False),
    ({"const": 0}, False, False),
    # pattern: re.search, unanchored unless the pattern says so; $ before a final newline
    ({"pattern": "b"}, "abc", True),
    ({"pattern": "^b"}, "abc", False),
    ({"pattern": "^a$"}, "a\n", True),
    ({"pattern": "^a$"}, "a\n\n", False),
    ({"pattern": "^\\S+$"}, "a\x1cb", False),
    ({"pattern": "^b"}, 5, True),  # only strings
    # lengths count characters
    ({"minLength": 2}, "é", False),
    ({"minLength": 2}, "éé", True),
    ({"maxLength": 2}, "abc", False),
    ({"maxLength": 2}, ["a", "b", "c"], True),
    # format
    ({"format": "ipv4"}, "10.0.0.1", True),
    ({"format": "ipv4"}, "10.0.0.01", False),
    ({"format": "ipv4"}, 10, True),  # only strings
    ({"format": "ipv6"}, "fe80::1", True),
    ({"format": "ipv6"}, "fe80::1%eth0", False),
    ({"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}, "::1", True),
    ({"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}, "localhost", False),
    # numbers: bounds at and beside, bools are no numbers
    ({"minimum": 1}, 1, True),
    ({"minimum": 1}, 0.999, False),
    ({"minimum": 1}, False, True),
    ({"maximum": 16}, 16, True),
    ({"maximum": 16}, 16.5, False),
    ({"maximum": 16}, "17", True),
    # objects
    ({"required": ["a"]}, {"a": None}, True),
    ({"required": ["a"]}, {"b": 1}, False),
    ({"required": ["a"]}, [], True),
    ({"properties": {"a": {"type": "string"}}}, {"a": 1}, False),
    ({"properties": {"a": {"type": "string"}}}, {"b": 1}, True),
    ({"properties": {"a": {}}, "additionalProperties": False}, {"a": 1}, True),
    ({"properties": {"a": {}}, "additionalProperties": False}, {"a": 1, "b": 2}, False),
    ({"properties": {"a": {}}, "additionalProperties": {"type": "integer"}}, {"a": "x", "b": 2}, True),
    ({"properties": {"a": {}}, "additionalProperties": {"type": "integer"}}, {"a": 1, "b": "x"}, False),
    ({"propertyNames": {"pattern": "^[a-z]+$"}}, {"ok": 1}, True),
    ({"propertyNames": {"pattern": "^[a-z]+$"}}, {"Not": 1}, False),
    ({"minProperties": 1}, {}, False),
    ({"minProperties": 1}, {"a": 1}, True),
    # arrays
    ({"minItems": 1}, [], False),
    ({"maxItems": 2}, [1, 2], True),
    ({"maxItems": 2}, [1, 2, 3], False),
    ({"items": {"type": "string"}}, ["a", 1], False),
    ({"items": {"type": "string"}}, [], True),
    ({"items": False}, [], True),
    ({"items": False}, [1], False),
    ({"uniqueItems": True}, ["a", "b"], True),
    ({"uniqueItems": True}, ["b", "a", "b"], False),
    ({"uniqueItems": True}, [1, True], True),
    ({"uniqueItems": True}, [1, 1.0], False),
    ({"uniqueItems": True}, [{"a": 1}, {"a": 1}], False),
    ({"uniqueItems": True}, [{"a": 1}, {"a": True}], True),
    # jsonschema's uniq compares neighbours once the items sort: these two lists sort with
    # [True] and [1] as equals, so the two [True] need not be neighbours
    ({"uniqueItems": True}, [[True], [1], [True]], True),
    ({"uniqueItems": True}, [[True], [True], [1]], False),
    ({"uniqueItems": False}, [1, 1], True),
    # combinations
    ({"oneOf": [{"type": "integer"}, {"minimum": 5}]}, 3, True),
    ({"oneOf": [{"type": "integer"}, {"minimum": 5}]}, 7, False),  # both
    ({"oneOf": [{"type": "integer"}, {"minimum": 5}]}, 2.5, False),  # neither
    ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, None, False),
    ({"allOf": [{"minimum": 1}, {"maximum": 2}]}, 3, False),
    ({"not": {"enum": ["app"]}}, "app", False),
    ({"not": {"enum": ["app"]}}, "web", True),
    # references, a definition that refers to itself, and $ref beside other keywords
    ({"$defs": {"n": {"type": "integer", "minimum": 0}}, "$ref": "#/$defs/n"}, -1, False),
    ({"$defs": {"n": {"type": "integer"}}, "$ref": "#/$defs/n", "maximum": 3}, 4, False),
    ({"$defs": {"tree": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/tree"}}}}},
      "$ref": "#/$defs/tree"}, {"kids": [{"kids": []}, {"kids": [{"kids": 1}]}]}, False),
    ({"$defs": {"tree": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/tree"}}}}},
      "$ref": "#/$defs/tree"}, {"kids": [{"kids": []}, {"kids": [{}]}]}, True),
    # annotations change nothing; boolean schemas
    ({"description": "x", "default": 1, "examples": [2], "title": "t", "$comment": "c"}, "anything", True),
    ({"properties": {"a": False}}, {"a": 1}, False),
    ({"properties": {"a": True}}, {"a": 1}, True),
]


@pytest.mark.parametrize(("schema", "value", "valid"), ROWS)
def test_compiled_verdict_is_jsonschemas(schema: dict[str, Any], value: Any, valid: bool) -> None:
    reference = Draft202012Validator(schema, format_checker=FormatChecker()).is_valid(value)
    assert reference is valid
    assert _compiled(schema)(value) is valid


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ({"patternProperties": {"^a": {}}}, "'patternProperties' is not compiled"),
        ({"properties": {"a": {"if": {}}}}, "'if' is not compiled"),
        ({"format": "hostname"}, "format 'hostname'"),
        ({"type": "integr"}, "type 'integr'"),
        ({"$ref": "other.json#/x"}, "only this schema's own"),
        ({"$ref": "#/$defs/missing"}, "names no definition"),
        ({"minimum": "1"}, "must be a number"),
        ({"items": 3}, "must be a map or a boolean"),
        ({"properties": {"a": {"$id": "other", "$ref": "#/$defs/x"}}, "$defs": {"x": {}}}, "'$id' is not compiled"),
        ({"properties": {"a": {"$defs": {"x": {}}}}}, "'$defs' is not compiled"),
    ],
)
def test_a_keyword_the_compiler_does_not_know_stops_it(schema: dict[str, Any], words: str) -> None:
    with pytest.raises(SchemaCodeError, match=words.replace("$", r"\$").replace("(", r"\(")):
        schema_source(schema)


def test_the_source_is_the_same_every_time() -> None:
    from generator.inventory.load import inventory_schema

    assert schema_source(inventory_schema()) == schema_source(inventory_schema())


class _Schema:
    """The schema callback, counting how often the compiler needed the data."""

    def __init__(self, schema: dict[str, Any]):
        self.schema, self.calls = schema, 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return self.schema


def test_compiled_code_is_kept_and_reused(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    tmp_path.chmod(0o700)
    first = _Schema({"type": "integer"})
    assert schema_verdict(b"v1", first)(3) is True
    assert first.calls == 1
    again = _Schema({"type": "string"})  # not consulted: the table holds code for b"v1"
    assert schema_verdict(b"v1", again)(3) is True
    assert again.calls == 0
    # Other bytes (an edited schema, another engine list) are compiled afresh and replace it.
    other = _Schema({"type": "string"})
    assert schema_verdict(b"v2", other)(3) is False
    assert other.calls == 1


def test_a_damaged_or_foreign_table_only_means_compiling(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    tmp_path.chmod(0o700)
    schema_verdict(b"v1", _Schema({"type": "integer"}))
    (table,) = (tmp_path / "clustergen" / "code").glob("inventory-schema-*")
    for content in (b"\x00garbage", marshal.dumps(("key", "not code")), marshal.dumps(["a list"]), b""):
        table.write_bytes(content)
        schema = _Schema({"type": "integer"})
        assert schema_verdict(b"v1", schema)("x") is False
        assert schema.calls == 1


def test_the_key_covers_the_compiler_itself(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A table written by another compiler (a clustergen upgrade with the same schema) is not run."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    tmp_path.chmod(0o700)
    schema_verdict(b"v1", _Schema({"type": "integer"}))
    upgraded = tmp_path / "schema_code.py"
    upgraded.write_bytes(Path(schema_code.__file__).read_bytes() + b"\n# another version\n")
    monkeypatch.setattr(schema_code, "__file__", str(upgraded))
    schema = _Schema({"type": "integer"})
    schema_verdict(b"v1", schema)
    assert schema.calls == 1
