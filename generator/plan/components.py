"""Infrastructure components: which pinned charts the cluster gets, and their cluster-specific values."""

from __future__ import annotations

from typing import Any

from .. import catalog
from ..inventory.model import Inventory
from .model import ComponentPlan

# Annotation each load balancer reads to give a Service a fixed address.
LB_IP_ANNOTATION = {"metallb": "metallb.io/loadBalancerIPs", "kube-vip": "kube-vip.io/loadbalancerIPs"}

# Environment variable ← key in the user's credentials Secret, per external-dns provider.
EXTERNAL_DNS_CREDENTIALS = {
    "cloudflare": (("CF_API_TOKEN", "api-token"),),
    "pihole": (("EXTERNAL_DNS_PIHOLE_PASSWORD", "password"),),
    "rfc2136": (("EXTERNAL_DNS_RFC2136_TSIG_SECRET", "tsig-secret"),),
    "route53": (("AWS_ACCESS_KEY_ID", "access-key-id"), ("AWS_SECRET_ACCESS_KEY", "secret-access-key")),
}


def cluster_issuer_name(inv: Inventory) -> str | None:
    comps = inv.components
    if comps.tls_issuer == "letsencrypt":
        return "letsencrypt-staging" if comps.tls_staging else "letsencrypt-production"
    if comps.tls_issuer == "selfsigned":
        return "homelab-ca"
    return None


def ingress_address(inv: Inventory) -> str | None:
    from ..inventory.checks import pool_addresses

    if inv.network.ingress_address is not None:
        return str(inv.network.ingress_address)
    if inv.network.load_balancer_pools:
        return str(pool_addresses(inv.network.load_balancer_pools[0])[0])
    return None


def wanted_components(inv: Inventory) -> list[str]:
    comps = inv.components
    keys = []
    if comps.tls_issuer != "none":
        keys.append("cert-manager")
    if comps.ingress != "none":
        keys.append(comps.ingress)
    if comps.load_balancer == "metallb":
        keys.append("metallb")
    elif comps.load_balancer == "kube-vip":
        keys.append("kube-vip-cloud-provider")
    if comps.external_dns_provider != "none":
        keys.append("external-dns")
    keys.append("local-path-provisioner")
    if comps.monitoring:
        keys.append("kube-prometheus-stack")
    return keys


def plan_components(inv: Inventory) -> list[ComponentPlan]:
    plans = []
    for key in wanted_components(inv):
        entry = catalog.component(key)
        plans.append(
            ComponentPlan(
                key=key,
                layer="controllers",
                namespace=entry["namespace"],
                pod_security=entry.get("pod_security", "baseline"),
                chart=dict(entry["chart"]),
                values=entry.get("values") or {},
                cluster_values=_cluster_values(inv, key),
                release_name=entry.get("release_name", key),
                keeps_data=bool(entry.get("keeps_data", False)),
            )
        )
    return plans


def _cluster_values(inv: Inventory, key: str) -> dict[str, Any]:
    comps = inv.components
    address = ingress_address(inv)
    annotation = LB_IP_ANNOTATION.get(comps.load_balancer)
    lb_annotations = {annotation: address} if annotation and address else {}
    if key == "ingress-nginx" and lb_annotations:
        return {"controller": {"service": {"annotations": lb_annotations}}}
    if key == "traefik" and lb_annotations:
        return {"service": {"annotations": lb_annotations}}
    if key == "kube-vip-cloud-provider":
        pools = inv.network.load_balancer_pools
        data = {}
        cidrs = [p for p in pools if "/" in p]
        ranges = [p for p in pools if "/" not in p]
        if cidrs:
            data["cidr-global"] = ",".join(cidrs)
        if ranges:
            data["range-global"] = ",".join(ranges)
        return {"cm": {"data": data}}
    if key == "external-dns":
        values: dict[str, Any] = {
            "provider": {"name": comps.external_dns_provider},
            "domainFilters": [inv.domain],
            "txtOwnerId": inv.cluster_name,
        }
        if comps.external_dns_secret:
            values["env"] = [
                {"name": env, "valueFrom": {"secretKeyRef": {"name": comps.external_dns_secret, "key": key}}}
                for env, key in EXTERNAL_DNS_CREDENTIALS.get(comps.external_dns_provider, ())
            ]
        return values
    return {}
