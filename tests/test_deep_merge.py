"""deep_merge, which every chart's values pass through: mappings merge, anything else is replaced,
the base's key order is kept, and the result shares nothing mutable with its inputs."""

from __future__ import annotations

import copy

import pytest

from generator.shared.merge import deep_merge


@pytest.mark.parametrize(("base", "override", "merged"), [
    ({}, {}, {}),
    ({"a": 1}, {}, {"a": 1}),
    ({}, {"a": 1}, {"a": 1}),
    ({"a": 1, "b": 2}, {"a": 3}, {"a": 3, "b": 2}),
    ({"a": {"x": 1, "y": 2}}, {"a": {"y": 3, "z": 4}}, {"a": {"x": 1, "y": 3, "z": 4}}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),                       # lists are replaced, not appended
    ({"a": {"x": 1}}, {"a": None}, {"a": None}),                   # a scalar replaces a mapping
    ({"a": 1}, {"a": {"x": 1}}, {"a": {"x": 1}}),                  # and a mapping a scalar
    ({"a": {"x": {"deep": [1]}}}, {"a": {"x": {"deeper": True}}}, {"a": {"x": {"deep": [1], "deeper": True}}}),
])
def test_merge(base, override, merged):
    before = copy.deepcopy((base, override))
    assert deep_merge(base, override) == merged
    assert (base, override) == before


def test_the_base_order_is_kept_and_new_keys_come_last():
    merged = deep_merge({"b": 1, "a": {"y": 1, "x": 2}, "c": 3}, {"d": 4, "a": {"z": 0, "x": 9}, "b": 5})
    assert list(merged) == ["b", "a", "c", "d"]
    assert list(merged["a"]) == ["y", "x", "z"]


def test_the_result_shares_no_mapping_or_list_with_the_inputs():
    base = {"keep": {"list": [{"x": 1}]}, "both": {"inner": [1]}}
    override = {"new": {"list": [2]}, "both": {"other": {"y": 1}}}
    merged = deep_merge(base, override)
    merged["keep"]["list"][0]["x"] = 99
    merged["new"]["list"].append(3)
    merged["both"]["inner"].append(2)
    merged["both"]["other"]["y"] = 2
    assert base == {"keep": {"list": [{"x": 1}]}, "both": {"inner": [1]}}
    assert override == {"new": {"list": [2]}, "both": {"other": {"y": 1}}}
