"""Deep merge for chart values: mappings merge, everything else is replaced."""

from __future__ import annotations

import copy
from typing import Any

# Values deepcopy returns as they are.
_ATOMIC = frozenset({str, int, float, bool, type(None), bytes})
# A memo key no id() can be: set when the copy met one object twice, or something other than
# plain dicts, lists and scalars (deepcopy's own rules then apply, and the merge takes the long way).
_SHARED = -1


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A new mapping: base with override merged in; shares nothing with either.

    Chart values are merged a few thousand times in a large run, so base is copied once and
    merged into in place, instead of each nested mapping being copied again at each level.
    That is the same result as copying at each level whenever no object appears twice inside
    base; when one does (or base holds anything but plain data), the level-by-level merge runs,
    since it is what decides which copies stay shared."""
    memo: dict[int, Any] = {}
    result = _copy(base, memo)
    if _SHARED in memo:
        return _merge_copying(base, override)
    _merge_into(result, override)
    return result


def _merge_into(result: dict[str, Any], override: dict[str, Any]) -> None:
    for key, value in override.items():
        current = result.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            _merge_into(current, value)  # current is this result's own copy, referenced once
        else:
            result[key] = _copy(value, {})


def _merge_copying(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge_copying(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _copy(value: Any, memo: dict[int, Any]) -> Any:
    """copy.deepcopy(value, memo) for plain data, without its per-object dispatch; notes in the
    memo an object met twice or anything it leaves to deepcopy."""
    kind = type(value)
    if kind in _ATOMIC:
        return value
    if kind is dict:
        if id(value) in memo:
            memo[_SHARED] = True
            return memo[id(value)]
        result: dict[Any, Any] = {}
        memo[id(value)] = result
        for key, item in value.items():
            result[key if type(key) in _ATOMIC else _copy(key, memo)] = item if type(item) in _ATOMIC else _copy(item, memo)
        return result
    if kind is list:
        if id(value) in memo:
            memo[_SHARED] = True
            return memo[id(value)]
        items: list[Any] = []
        memo[id(value)] = items
        items.extend(item if type(item) in _ATOMIC else _copy(item, memo) for item in value)
        return items
    memo[_SHARED] = True
    return copy.deepcopy(value, memo)
