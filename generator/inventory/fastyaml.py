"""The inventory's YAML through libyaml, where that gives what the round-trip loader gives.

ruamel.yaml's round-trip loader (YAML 1.2, every key's and item's line and column) takes
longer than all the inventory's checks together. libyaml composes the same text into nodes
with marks in a fraction of that. The two disagree where YAML 1.1 and 1.2 do (`yes`, `0o17`,
`1:30`, line breaks such as U+2028) and on every error's wording, so this fast path takes
only documents it can resolve as YAML 1.2 exactly, and answers None for the rest; the
round-trip loader then reads them, and its result and errors stand.

A plain scalar is resolved by the YAML 1.2 core schema as the round-trip loader applies it:
`true`/`false` (three spellings each), `null`/`Null`/`NULL`/`~`, and decimal integers
without a leading zero are typed; anything that could be any other number, a timestamp, a
merge key or an infinity sends the document to the round-trip loader; everything else is a
string. The result is a tree of dicts and lists that answer `.lc.key/.value/.item` as the
round-trip loader's do, so SourceMap reads either.
"""

from __future__ import annotations

import re
from typing import Any

# Whatever may resolve to a non-string in YAML 1.2 (ruamel's resolver) and is not handled
# below: numbers with a dot, an exponent, underscores, a sign or a base prefix, timestamps,
# infinities and NaN. Two dots (an IP address) or a unit (16Gi) can be neither.
_MAYBE_NUMBER = re.compile(r"[-+]?[0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9_]*)?")
_OTHER_TYPED = re.compile(r"[-+]?0[xXoObB]|[0-9]{4}-|[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)$")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)")
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = frozenset({"~", "null", "Null", "NULL"})
_NOT_STR_START = frozenset("-+.0123456789~nNtTfF<=")
# YAML 1.1 breaks lines at these and 1.2 does not; libyaml takes tabs where ruamel refuses them;
# a tag, a merge key or a %YAML directive (1.1 resolves `yes` to true) is the round-trip loader's.
_UNSURE_TEXT = re.compile("[\t\x85\u2028\u2029\ufeff!]|<<|^%", re.MULTILINE)


class _Fallback(Exception):
    pass


class _Lines:
    """ruamel's `.lc` interface: 0-based (line, column) of each key, value and item."""

    __slots__ = ("keys", "values", "items")

    def __init__(self) -> None:
        self.keys: dict[str, tuple[int, int]] = {}
        self.values: dict[str, tuple[int, int]] = {}
        self.items: list[tuple[int, int]] = []

    def key(self, key: str) -> tuple[int, int]:
        return self.keys[key]

    def value(self, key: str) -> tuple[int, int]:
        return self.values[key]

    def item(self, index: int) -> tuple[int, int]:
        return self.items[index]


class LocatedDict(dict):
    __slots__ = ("lc",)
    lc: _Lines


class LocatedList(list):
    __slots__ = ("lc",)
    lc: _Lines


def _scalar(value: str, plain: bool) -> Any:
    if not plain:
        return value
    if not value:
        raise _Fallback  # `key:` with nothing after it: ruamel marks it where the next token starts
    if value[0] not in _NOT_STR_START:
        return value
    if value in _NULLS:
        return None
    if value in _BOOLS:
        return _BOOLS[value]
    first = value[0]
    if first in "nNtTfF":
        return value
    if first in "<=" and value in ("<<", "="):
        raise _Fallback
    if _DECIMAL.fullmatch(value):
        return int(value)
    if _MAYBE_NUMBER.fullmatch(value) or _OTHER_TYPED.match(value):
        raise _Fallback
    return value


def compose(text: str) -> Any:
    """The document as located dicts and lists, or None where only the round-trip loader can say."""
    if _UNSURE_TEXT.search(text):
        return None
    try:
        import yaml

        loader = getattr(yaml, "CSafeLoader", None)
        if loader is None:
            return None  # the pure-Python parser is no faster than the round-trip loader
        node = yaml.compose(text, Loader=loader)
        if node is None or node.tag != "tag:yaml.org,2002:map":
            return None
        return _build(node, yaml.ScalarNode, yaml.SequenceNode, {})
    except (_Fallback, RecursionError):
        return None
    except Exception:  # noqa: BLE001 - any error is reported by the round-trip loader, in its words
        return None


def _build(node: Any, ScalarNode: Any, SequenceNode: Any, seen: dict[int, Any]) -> Any:
    built = seen.get(id(node))
    if built is not None:
        return built  # an alias: the same object, as the round-trip loader gives
    if isinstance(node, ScalarNode):
        return _scalar(node.value, not node.style)
    lines = _Lines()
    if isinstance(node, SequenceNode):
        items = LocatedList()
        items.lc = lines
        seen[id(node)] = items
        for child in node.value:
            lines.items.append((child.start_mark.line, child.start_mark.column))
            items.append(_build(child, ScalarNode, SequenceNode, seen))
        return items
    mapping = LocatedDict()
    mapping.lc = lines
    seen[id(node)] = mapping
    names: set[str] = set()
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            raise _Fallback
        key = _scalar(key_node.value, not key_node.style)
        if str(key) in names:
            raise _Fallback  # a duplicate key (or two that read alike): the round-trip loader's to report
        names.add(str(key))
        lines.keys[key] = (key_node.start_mark.line, key_node.start_mark.column)
        lines.values[key] = (value_node.start_mark.line, value_node.start_mark.column)
        mapping[key] = _build(value_node, ScalarNode, SequenceNode, seen)
    return mapping
