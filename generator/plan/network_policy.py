"""NetworkPolicies per app namespace: deny by default, then allow what the plan knows.

Each namespace that runs apps keeps traffic inside itself, resolves names through
CoreDNS, takes traffic from the ingress controller on the ports of its apps that have a
host, from the apps that talk to its apps (a catalog fact), from Prometheus when
monitoring is on, and from anywhere on the ports of a LoadBalancer Service. It reaches
out to the apps its apps talk to, and leaves the cluster only where an app needs the
internet or the LAN, or where k8up sends backups. Decisions here; templates render.
"""

from __future__ import annotations

from typing import Any

from .. import catalog
from ..errors import Problem
from ..inventory.model import Inventory
from .merge import deep_merge
from .model import AppPlan, NamespacePolicy, Peer

DNS_NAMESPACE = "kube-system"
# cert-manager's HTTP-01 solver pod listens here, in the namespace of the app's Certificate.
ACME_SOLVER_PORT = (8089, "TCP")
MONITORING_NAMESPACE = "monitoring"
# CloudNativePG: the operator asks each instance's manager for its status on this port, and
# the instance manager itself talks to the Kubernetes API (CNPG docs, security.md "Exposed Ports").
CNPG_NAMESPACE = "cnpg-system"
CNPG_STATUS_PORT = (8000, "TCP")


def _ports(app: AppPlan) -> tuple[tuple[int, str], ...]:
    values = deep_merge(app.base_values, app.cluster_values)
    ports = (values.get("service") or {}).get("ports") or []
    return tuple(sorted({(int(p.get("targetPort") or p["port"]), str(p.get("protocol") or "TCP"))
                         for p in ports if isinstance(p, dict) and p.get("port")}))


def _service_type(app: AppPlan) -> str:
    return str((deep_merge(app.base_values, app.cluster_values).get("service") or {}).get("type") or "ClusterIP")


def _traffic(app: AppPlan) -> tuple[tuple[str, ...], bool]:
    """(catalog apps it talks to, whether it leaves the cluster). Custom apps may go anywhere
    outside the cluster: nothing says what they need."""
    if app.catalog is None:
        return (), True
    entry = catalog.apps()[app.catalog]
    return tuple(entry.get("talks_to") or ()), bool(entry.get("internet", True))


def api_server_blocks(inv: Inventory, nodes: list[Any]) -> tuple[str, ...]:
    """Where pods reach the Kubernetes API: every control-plane address, and the shared endpoint."""
    addresses = {a for n in nodes if n.is_server for a in n.addresses}
    if inv.network.control_plane_endpoint is not None:
        addresses.add(inv.network.control_plane_endpoint)
    return tuple(sorted(f"{a}/{a.max_prefixlen}" for a in addresses))


def plan_network_policies(inv: Inventory, apps: list[AppPlan], ingress_namespace: str | None,
                          backup_namespaces: set[str], http01: bool = False,
                          databases: tuple[Any, ...] = (), api_servers: tuple[str, ...] = ()) -> tuple[NamespacePolicy, ...]:
    """``http01``: Let's Encrypt reaches the solver pods through the ingress controller.
    ``databases``: CloudNativePG Clusters; an app reaches its own inside its namespace, the
    operator reaches their status port, and their instances reach the API server."""
    if not inv.components.network_policies or not apps:
        return ()
    by_name = {a.catalog or a.name: a for a in apps}
    ingress: dict[str, dict[str, set]] = {}
    egress: dict[str, dict[str, set]] = {}
    outside: dict[str, bool] = {}
    open_ports: dict[str, set] = {}
    for app in apps:
        ns = app.namespace
        ingress.setdefault(ns, {})
        egress.setdefault(ns, {})
        talks, leaves = _traffic(app)
        outside[ns] = outside.get(ns, False) or leaves or ns in backup_namespaces
        if app.reachable_from_ingress and ingress_namespace:
            ingress[ns].setdefault(ingress_namespace, set()).update(_ports(app))
            if http01:
                ingress[ns][ingress_namespace].add(ACME_SOLVER_PORT)
        if _service_type(app) == "LoadBalancer":
            open_ports.setdefault(ns, set()).update(_ports(app))
        if inv.components.monitoring:
            ingress[ns].setdefault(MONITORING_NAMESPACE, set())
        for other in talks:
            target = by_name.get(other)
            if target is None or target.namespace == ns:
                continue  # not deployed, or reached inside the namespace anyway
            egress[ns].setdefault(target.namespace, set()).update(_ports(target))
            ingress.setdefault(target.namespace, {}).setdefault(ns, set()).update(_ports(target))
    for db in databases:
        ingress.setdefault(db.namespace, {})
    database_namespaces = {db.namespace for db in databases}
    cidrs = tuple(str(c) for c in (*inv.network.pod_cidrs, *inv.network.service_cidrs))
    return tuple(
        NamespacePolicy(
            namespace=ns,
            ingress_from=_peers(ingress.get(ns, {})),
            egress_to=_peers(egress.get(ns, {})),
            open_ports=tuple(sorted(open_ports.get(ns, set()))),
            leaves_cluster=outside.get(ns, False),
            cluster_cidrs=cidrs,
            database_operator=CNPG_NAMESPACE if ns in database_namespaces else None,
            database_status_port=CNPG_STATUS_PORT,
            api_servers=api_servers if ns in database_namespaces else (),
        )
        for ns in sorted(ingress)
    )


def _peers(table: dict[str, set]) -> tuple[Peer, ...]:
    # A peer named with no ports (monitoring) may reach every port.
    return tuple(Peer(ns, tuple(sorted(ports))) for ns, ports in sorted(table.items()))


def network_policy_warnings(inv: Inventory) -> list[Problem]:
    if not inv.components.network_policies or inv.distribution != "talos":
        return []
    return [Problem(
        "the NetworkPolicies are written, but Talos's default CNI (flannel) does not enforce them",
        hint="run a CNI that enforces NetworkPolicy (Cilium, or Calico) for them to take effect, "
             "or set components.networkPolicies: false",
        severity="warning", code="network-policies-not-enforced",
        **inv.where("components"),
    )]
