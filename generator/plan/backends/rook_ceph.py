"""Rook Ceph: OSDs on the storage disks of nodes with memory for them; the rules and the
rook-ceph-cluster values are in plan/rook.py and plan/storage.py."""

from __future__ import annotations

from typing import Any

from ...errors import PlanError, Problem
from ...inventory.model import Inventory
from ..model import NodePlan
from . import StorageBackend, register, storage_disks


@register
class RookCeph(StorageBackend):
    name = "rook-ceph"

    def disk_holders(self, nodes: list[NodePlan]) -> list[NodePlan]:
        from ..storage import ceph_shortfall

        return [n for n in nodes if storage_disks(n) and ceph_shortfall(n) == 0]

    def check(self, inv: Inventory, nodes: list[NodePlan], holders: list[NodePlan]) -> list[Problem]:
        from ..storage import ceph_memory_needed_mib, ceph_refusal

        if len(holders) < self.spec.min_storage_nodes:
            raise PlanError([ceph_refusal(inv, nodes, len(holders))])
        held = {n.name for n in holders}
        return [
            Problem(
                f"node '{n.name}' has storage disks but too little memory for Ceph OSDs; its disks stay unused",
                hint=f"it would need {ceph_memory_needed_mib(n) // 1024} GiB, or a lower osdMemoryTarget (at least 2Gi)",
                severity="warning",
                code="ceph-on-small-nodes",
                **inv.where("nodes", n.index, "memory"),
            )
            for n in nodes if storage_disks(n) and n.name not in held
        ]

    def place(self, inv: Inventory, nodes: list[NodePlan]) -> tuple[list[NodePlan], list[Problem]]:
        from ..rook import ceph_daemon_placement

        return ceph_daemon_placement(inv, nodes)

    def chart_values(self, key: str, inv: Inventory, nodes: list[NodePlan]) -> dict[str, Any]:
        from ..rook import rook_cluster_values

        return rook_cluster_values(nodes) if key == "rook-ceph-cluster" else {}

    def failure_domain(self, nodes: list[NodePlan]) -> str | None:
        from ..rook import ceph_failure_domain

        return ceph_failure_domain(nodes)
