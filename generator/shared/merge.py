"""Deep merge for chart values: mappings merge, everything else is replaced."""

from __future__ import annotations

import copy
from typing import Any


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A new tree in the base's key order, the override's new keys last; neither input is
    changed, and the result shares no mapping or list with them."""
    result = {}
    for key, value in base.items():
        if key not in override:
            result[key] = _copied(value)
        elif isinstance(override[key], dict) and isinstance(value, dict):
            result[key] = deep_merge(value, override[key])
        else:
            result[key] = _copied(override[key])
    for key, value in override.items():
        if key not in base:
            result[key] = _copied(value)
    return result


def _copied(value: Any) -> Any:
    # Chart values are YAML data: copying mappings and lists by hand is several times faster
    # than copy.deepcopy, which stays for anything else.
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return copy.deepcopy(value)
