"""Shared builders for the plan rule tables (on top of tests/test_hardware_plan's)."""

from __future__ import annotations

from typing import Any

import yaml

from generator.errors import ClustergenError, Problem
from generator.inventory import load_inventory_text

from ..test_hardware_plan import files_of, inventory, node, plan_of

__all__ = ["disk", "files_of", "inventory", "load_problems", "node", "plan_of", "warning_codes", "warnings_with"]


def disk(n: int, type: str = "ssd", use: str = "storage", size: str = "1Ti") -> dict[str, Any]:
    return {"path": f"/dev/disk/by-id/ata-DISK_{n}", "size": size, "type": type, "use": use}


def load_problems(data: dict[str, Any] | str) -> tuple[list[Problem], str]:
    """The problems loading an inventory raises (empty when it loads), and its YAML text."""
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    try:
        load_inventory_text(text, "inventory.yaml")
    except ClustergenError as exc:
        return list(exc.problems), text
    return [], text


def warning_codes(plan: Any) -> list[str]:
    return [w.code for w in plan.warnings if w.code]


def warnings_with(plan: Any, text: str) -> list[Problem]:
    return [w for w in plan.warnings if text in w.message]
