"""How LoadBalancer Services (the ingress controller's) get an address.

metallb and kube-vip: from network.loadBalancerPool. servicelb: k3s's built-in
klipper-lb gives the Service the addresses of the nodes labelled to serve.
none: no address at all, so the ingress controller listens on every node's
ports 80 and 443 instead (catalog: without_load_balancer).
"""

from __future__ import annotations

from typing import Any

from .. import catalog
from ..errors import Problem
from ..inventory.model import Inventory, Node

# When any node carries this label, klipper-lb runs only on the labelled nodes.
SERVICE_LB_LABEL = "svccontroller.k3s.cattle.io/enablelb"
# k3s's packaged components that clustergen replaces with pinned, GitOps-managed
# ones; they would fight over the same names. ServiceLB stays when it is the
# chosen load balancer.
K3S_PACKAGED_REPLACED = ("traefik", "servicelb", "local-storage")


def k3s_disabled_components(inv: Inventory) -> tuple[str, ...]:
    """The k3s `disable:` list."""
    if inv.distribution != "k3s":
        return ()
    keep = {"servicelb"} if inv.components.load_balancer == "servicelb" else set()
    return tuple(c for c in K3S_PACKAGED_REPLACED if c not in keep)


def serves_service_lb(inv: Inventory, node: Node) -> bool:
    """Whether klipper-lb answers on this node: every node unless it opts out with serviceLB: false."""
    return inv.components.load_balancer == "servicelb" and node.service_lb is not False


def service_lb_labels(inv: Inventory, node: Node) -> dict[str, str]:
    return {SERVICE_LB_LABEL: "true"} if serves_service_lb(inv, node) else {}


def ingress_without_load_balancer(inv: Inventory, key: str) -> dict[str, Any] | None:
    """The catalog's hostPort setup of ingress controller `key` when nothing gives its Service an address."""
    if inv.components.load_balancer != "none":
        return None
    return catalog.component(key).get("without_load_balancer")


def load_balancer_warnings(inv: Inventory) -> list[Problem]:
    comps = inv.components
    if comps.load_balancer != "none" or comps.ingress == "none":
        return []
    other = "metallb (with network.loadBalancerPool)" if inv.distribution == "talos" else "metallb (with network.loadBalancerPool) or servicelb (the node addresses, no pool)"
    return [
        Problem(
            f"loadBalancer: none: the {comps.ingress} Service gets no address, so {comps.ingress} runs on every node "
            "and is reachable on each node's ports 80 and 443 (hostPort, NodePort Service)",
            hint=f"point DNS at a node address, or set components.loadBalancer: {other} for an address that survives a node going down",
            severity="warning",
            code="ingress-on-node-ports",
            **inv.where("components", "loadBalancer"),
        )
    ]


def bgp_problems(inv: Inventory) -> list[Problem]:
    """network.bgp is MetalLB's BGP mode: with another load balancer nothing would read it."""
    bgp = inv.network.bgp
    if bgp is None:
        return []
    problems = []
    if inv.components.load_balancer != "metallb":
        problems.append(
            Problem(
                f"network.bgp configures MetalLB's BGP mode, but components.loadBalancer is {inv.components.load_balancer}",
                hint="set components.loadBalancer: metallb, or remove network.bgp",
                **inv.where("network", "bgp"),
            )
        )
    seen = set()
    for i, peer in enumerate(bgp.peers):
        if peer.address in seen:
            problems.append(Problem(f"BGP peer {peer.address} is listed twice", hint="one entry per router", **inv.where("network", "bgp", "peers", i, "address")))
        seen.add(peer.address)
    return problems


def metallb_bgp(inv: Inventory) -> Any:
    """The BGP settings MetalLB announces with, or None for Layer 2."""
    return inv.network.bgp if inv.components.load_balancer == "metallb" else None
