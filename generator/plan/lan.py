"""Names on the home LAN: a DNS server for the cluster domain, and private registries by name.

The cluster domain: k8s_gateway (a CoreDNS build with the k8s_gateway plugin) runs behind a
LoadBalancer Service and answers `*.<domain>` from the Ingresses (and Gateway API routes) and
LoadBalancer Services that name them; the router forwards the domain to it. A CoreDNS zone
in k3s's `coredns-custom` ConfigMap was the other choice, but that CoreDNS serves the pods
only, not the LAN, and Talos has no such ConfigMap.

Private registries (network.registries): every node gets a host entry for the name and a
mirror for it, so containerd pulls `kube-registry:5000/app` over plain HTTP (or HTTPS
without verification) without a DNS record anywhere.
"""

from __future__ import annotations

from typing import Any

from .. import catalog
from ..errors import Problem
from ..inventory.model import Inventory
from .model import NodeRegistries


def plan_node_registries(inv: Inventory) -> tuple[NodeRegistries, list[Problem]]:
    problems = []
    mirrors: dict[str, tuple[str, ...]] = dict(inv.registry_mirrors)
    hosts: dict[str, list[str]] = {}
    skip: list[str] = []
    seen: set[str] = set()
    for reg in inv.network.registries:
        where = inv.where("network", "registries", reg.index, "name")
        if reg.name in seen:
            problems.append(Problem(f"registry {reg.name} is listed twice", hint="keep one entry per registry name", **where))
            continue
        seen.add(reg.name)
        if reg.name in mirrors:
            problems.append(
                Problem(
                    f"registry {reg.name} is both a private registry and in distribution.registryMirrors",
                    hint="a private registry is its own mirror: remove it from registryMirrors",
                    **where,
                )
            )
            continue
        scheme = "http" if reg.tls == "none" else "https"
        mirrors[reg.name] = (f"{scheme}://{reg.name}",)
        if reg.tls == "skip-verify":
            skip.append(reg.name)
        names = hosts.setdefault(str(reg.address), [])
        if reg.host not in names:
            names.append(reg.host)
        other = next((a for a, n in hosts.items() if a != str(reg.address) and reg.host in n), None)
        if other is not None:
            problems.append(
                Problem(
                    f"host {reg.host} points at both {other} and {reg.address}",
                    hint="one name, one address: use the same address for every registry on that host",
                    **inv.where("network", "registries", reg.index, "address"),
                )
            )
    return NodeRegistries(
        mirrors=tuple(mirrors.items()),
        skip_verify=tuple(skip),
        host_entries=tuple((address, tuple(names)) for address, names in hosts.items()),
    ), problems


def lan_dns_problems(inv: Inventory, ingress_address: str | None) -> list[Problem]:
    from ..inventory.checks import pool_addresses

    lan = inv.components.lan_dns
    if lan is None:
        return []
    lb = inv.components.load_balancer
    where = inv.where("components", "lanDns")
    if lb == "none":
        return [
            Problem(
                "lanDns needs a LoadBalancer address for the LAN to query, but components.loadBalancer is none",
                hint="pick a load balancer (metallb, kube-vip, or servicelb on k3s), or leave lanDns out and add a wildcard record to your router",
                **where,
            )
        ]
    if lb == "servicelb":
        if lan.address is not None:
            return [
                Problem(
                    "servicelb gives the DNS Service the addresses of the nodes; lanDns.address is not used",
                    hint="remove lanDns.address, and point the router at a node address",
                    severity="warning",
                    code="lan-dns-address-unused",
                    **where,
                )
            ]
        return []
    if lan.address is None:
        return [
            Problem(
                f"lanDns with {lb} needs a fixed address, so the router can forward {inv.domain} to it",
                hint="set components.lanDns: {address: <a free address in network.loadBalancerPool>}",
                **where,
            )
        ]
    problems = []
    pools = inv.network.load_balancer_pools
    inside = False
    for pool in pools:
        try:
            first, last = pool_addresses(pool)
        except ValueError:
            continue
        inside = inside or (first.version == lan.address.version and first <= lan.address <= last)  # type: ignore[operator]
    if not inside:
        problems.append(
            Problem(
                f"lanDns address {lan.address} is not in the load-balancer pool, so {lb} never assigns it",
                hint="pick an address inside network.loadBalancerPool",
                **inv.where("components", "lanDns", "address"),
            )
        )
    if ingress_address is not None and str(lan.address) == ingress_address:
        problems.append(
            Problem(
                f"lanDns address {lan.address} is the ingress address",
                hint="give the DNS server an address of its own from the pool",
                **inv.where("components", "lanDns", "address"),
            )
        )
    return problems


def k8s_gateway_values(inv: Inventory, nodes: list[Any], gateway_api: bool = False) -> dict[str, Any]:
    from .components import LB_IP_ANNOTATION

    lan = inv.components.lan_dns
    assert lan is not None
    values: dict[str, Any] = {"domain": inv.domain}
    annotation = LB_IP_ANNOTATION.get(inv.components.load_balancer)
    if annotation and lan.address is not None:
        values["service"] = {"annotations": {annotation: str(lan.address)}}
    if gateway_api:
        values["watchedResources"] = ["Ingress", "Service", "HTTPRoute"]
    arches = catalog.component("k8s-gateway")["arches"]
    if not {n.arch for n in nodes} <= set(arches):
        values["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": sorted(arches)}]}]}}}
    return values
