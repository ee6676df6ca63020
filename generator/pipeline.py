"""The whole job as one importable function per step, like cookiecutter's main."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .errors import Problem
from .inventory import load_inventory
from .plan import ClusterPlan, plan_cluster
from .render import RenderedFile, render_repository
from .write import WriteReport, load_or_create_secrets, write_repository


@dataclass
class Generation:
    plan: ClusterPlan
    files: list[RenderedFile]
    report: WriteReport | None


def build_plan(inventory_path: Path) -> ClusterPlan:
    inventory, warnings = load_inventory(inventory_path)
    return plan_cluster(inventory, warnings)


def render_for(plan: ClusterPlan, output: Path, inventory_text: str) -> list[RenderedFile]:
    return render_repository(plan, load_or_create_secrets(output), inventory_text)


def generate(inventory_path: Path, output: Path, *, strict: bool = False) -> Generation:
    plan = build_plan(inventory_path)
    if strict and plan.warnings:
        from .errors import PlanError

        raise PlanError([Problem(w.message, w.file, w.line, w.column, w.field, w.hint, "error") for w in plan.warnings])
    text = inventory_path.read_text(encoding="utf-8")
    files = render_for(plan, output, text)
    report = write_repository(output, files, "sha256:" + hashlib.sha256(text.encode()).hexdigest())
    return Generation(plan, files, report)
