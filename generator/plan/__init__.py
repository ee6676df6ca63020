"""Stage 2: turn the inventory's facts into decisions (a ClusterPlan). Pure."""

from __future__ import annotations

from .. import catalog
from ..errors import Problem
from ..inventory.model import Inventory
from .apps import plan_apps
from .components import cluster_issuer_name, ingress_address, plan_components
from .model import AppPlan, ClusterPlan, ComponentPlan, NodePlan
from .nodes import resolve_nodes

__all__ = ["AppPlan", "ClusterPlan", "ComponentPlan", "NodePlan", "plan_cluster"]


def plan_cluster(inv: Inventory, warnings: list[Problem] | None = None) -> ClusterPlan:
    collected = list(warnings or [])
    nodes, node_warnings = resolve_nodes(inv)
    collected.extend(node_warnings)
    issuer = cluster_issuer_name(inv)
    apps, app_warnings = plan_apps(inv, nodes, issuer)
    collected.extend(app_warnings)
    return ClusterPlan(
        inventory=inv,
        distribution_version=inv.distribution_version or catalog.k3s_version(),
        kubernetes_version=catalog.kubernetes_version(),
        nodes=tuple(nodes),
        components=tuple(plan_components(inv)),
        apps=tuple(apps),
        external_services=inv.external_services,
        storage_class="local-path",
        cluster_issuer=issuer,
        ingress_address=ingress_address(inv),
        warnings=tuple(collected),
    )
