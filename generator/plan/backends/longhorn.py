"""Longhorn: replicated block volumes on the nodes' storage disks, RWX through a share-manager."""

from __future__ import annotations

from typing import Any

from ...errors import Problem
from ...inventory.model import Inventory
from ..model import NodePlan
from . import StorageBackend, register


@register
class Longhorn(StorageBackend):
    name = "longhorn"

    def check(self, inv: Inventory, nodes: list[NodePlan], holders: list[NodePlan]) -> list[Problem]:
        if len(holders) >= self.spec.min_storage_nodes:
            return []
        return [Problem(
            f"longhorn with {len(holders)} storage node(s) cannot replicate volumes across nodes",
            hint="give a second node a disk with use: storage, or use local-path",
            severity="warning",
            **inv.where("components", "storage"),
        )]

    def chart_values(self, key: str, inv: Inventory, nodes: list[NodePlan]) -> dict[str, Any]:
        """Replicas of one volume in different zones when the storage nodes span enough of them
        (Longhorn reads topology.kubernetes.io/zone); otherwise Longhorn's soft default stays."""
        if key != "longhorn":
            return {}
        holders = [n for n in nodes if n.storage_role == self.spec.node_role]
        zones = {n.zone for n in holders}
        if holders and all(n.zone for n in holders) and len(zones) >= self.spec.min_storage_nodes:
            return {"defaultSettings": {"replicaZoneSoftAntiAffinity": False}}
        return {}
