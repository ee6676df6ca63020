"""The cluster-wide settings render needs, taken from the inventory once, here.

render reads ``plan.settings`` and the plan's other fields, never the inventory
(tests/test_layers.py holds it to that): what a file says is decided in plan/.
"""

from __future__ import annotations

from typing import Any

from .. import catalog
from ..inventory.model import Inventory
from .apps import INGRESS_CLASS
from .hardware import allocatable
from .model import ClusterSettings, NodePlan, replace_node
from .tls import acme_server


def cluster_settings(inv: Inventory) -> ClusterSettings:
    comps = inv.components
    return ClusterSettings(
        cluster_name=inv.cluster_name,
        domain=inv.domain,
        timezone=inv.timezone,
        distribution=inv.distribution,
        engine=inv.engine,
        repository=inv.repository,
        branch=inv.branch,
        sync_path=inv.sync_path,
        network=inv.network,
        registry_mirrors=dict(inv.registry_mirrors),
        load_balancer=comps.load_balancer,
        ingress_class=INGRESS_CLASS.get(comps.ingress, ""),
        monitoring=comps.monitoring,
        acme_server=acme_server(inv),
        tls_email=comps.tls_email or "",
        sync_path_where=inv.where("gitops", "path"),
        apps_where=inv.where("apps"),
    )


def profiles_in_use(inv: Inventory, nodes: list[NodePlan]) -> dict[str, dict[str, Any]]:
    """Each hardware profile a node uses → its catalog entry, with the inventory's own fields on top."""
    custom = inv.raw.get("profiles", {})
    return {p: {**catalog.profiles().get(p, {}), **custom.get(p, {})} for p in sorted({n.profile for n in nodes})}


def with_allocatable(nodes: list[NodePlan], distribution: str) -> list[NodePlan]:
    """The nodes with what each offers its pods (validate models scheduling with it)."""
    return [replace_node(n, allocatable=allocatable(n.cpu, n.memory_mib, distribution)) for n in nodes]
