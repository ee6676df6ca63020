"""deep_merge copies its base once and merges in place: the same values, the same sharing (which
the YAML dump shows as anchors) and no object shared with its inputs, as the copy-at-every-level
merge it replaced."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from generator.shared.merge import deep_merge
from generator.shared.yamltext import to_yaml


def reference(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """The merge as it was: a deep copy of base, each nested mapping copied again as it merges."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = reference(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def containers(value: Any) -> list[Any]:
    found: list[Any] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            found.append(item)
            stack.extend(item)
    return found


def assert_same_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    before = (copy.deepcopy(base), copy.deepcopy(override))
    result = deep_merge(base, override)
    expected = reference(base, override)
    assert result == expected
    assert to_yaml(result) == to_yaml(expected)  # anchors and aliases included
    assert (base, override) == before, "the inputs were changed"
    inputs = {id(c) for c in containers(base) + containers(override)}
    assert not inputs & {id(c) for c in containers(result)}, "the result shares a mapping or list with its inputs"
    return result


SHARED = {"drop": ["ALL"]}
DEVICE = {"privileged": True}

CASES = [
    # (base, override): at and around each rule's boundary
    ({}, {}),
    ({"a": 1}, {}),
    ({}, {"a": {"b": 1}}),
    ({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}}),  # mapping into mapping: merged
    ({"a": {"b": 1}}, {"a": 5}),  # scalar over mapping: replaced
    ({"a": 5}, {"a": {"b": 1}}),  # mapping over scalar: replaced
    ({"a": [1, 2]}, {"a": [3]}),  # lists are replaced, never appended
    ({"a": {"b": {"c": {"d": 1}}}}, {"a": {"b": {"c": {"e": 2}}}}),  # three levels down
    ({"a": {"b": 1}}, {"a": {}}),  # an empty mapping merges to nothing new
    ({"a": None}, {"a": {"b": 1}}),
    # One object twice inside base: the merged key gets its own copy, the other stays shared.
    ({"x": SHARED, "y": SHARED}, {"x": {"add": ["NET_RAW"]}}),
    ({"x": SHARED, "y": SHARED}, {"z": 1}),  # untouched: both still one object (an anchor)
    ({"x": [SHARED, SHARED]}, {"x": {"a": 1}}),
    # Twice inside override: deepcopy keeps that sharing within one value.
    ({}, {"a": {"p": DEVICE, "q": DEVICE}}),
    ({"a": {"p": 1}}, {"a": {"p": DEVICE, "q": DEVICE}}),
    # Something other than plain data: deepcopy's own rules.
    ({"t": (1, [2])}, {"u": 1}),
    ({"t": {"k": (1, 2)}}, {"t": {"j": 3}}),
]


def test_merge_table() -> None:
    for base, override in CASES:
        assert_same_merge(base, override)


def test_shared_object_in_base_is_split_only_where_merged() -> None:
    base = {"x": SHARED, "y": SHARED}
    result = assert_same_merge(base, {"x": {"add": ["NET_RAW"]}})
    assert result["y"] == {"drop": ["ALL"]}
    assert result["x"] == {"drop": ["ALL"], "add": ["NET_RAW"]}
    untouched = deep_merge(base, {"z": 1})
    assert untouched["x"] is untouched["y"]


scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(["a", "b", "x y", "1"]))
keys = st.sampled_from(["a", "b", "c", "d"])
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)), max_leaves=12)
mappings = st.dictionaries(keys, values, max_size=4)


@settings(max_examples=300, deadline=None)
@given(mappings, mappings, st.lists(st.tuples(keys, keys), max_size=3))
def test_merge_matches_reference(base: dict[str, Any], override: dict[str, Any], links: list[tuple[str, str]]) -> None:
    # Some examples share one nested object between two keys of base or of override.
    for target in (base, override):
        for src, dst in links:
            if isinstance(target.get(src), (dict, list)):
                target[dst] = target[src]
    assert_same_merge(base, override)
