"""Gateway API (components.ingress: envoy-gateway): one Gateway for the cluster, an HTTPRoute per app.

The Gateway has an HTTPS listener for `*.<domain>` with one wildcard certificate from the
cluster issuer, and an HTTP listener whose only route redirects to HTTPS. Apps attach their
HTTPRoutes to the HTTPS listener from their own namespaces. A wildcard certificate needs
DNS-01 (or the homelab CA): Let's Encrypt's HTTP-01 cannot issue one.

The Gateway API CRDs come with the envoy-gateway chart (controllers layer); the GatewayClass,
EnvoyProxy, Gateway and Certificate are configs-layer objects, applied once the CRDs and
cert-manager exist.
"""

from __future__ import annotations


from .. import catalog
from ..errors import Problem
from ..inventory.model import Inventory
from .model import GatewayPlan

GATEWAY_COMPONENT = "envoy-gateway"
def uses_gateway_api(inv: Inventory) -> bool:
    return inv.components.ingress == GATEWAY_COMPONENT


def gateway_problems(inv: Inventory) -> list[Problem]:
    if not uses_gateway_api(inv):
        return []
    comps = inv.components
    problems = []
    if comps.load_balancer == "none":
        problems.append(
            Problem(
                "envoy-gateway gives its Gateway a LoadBalancer Service, but components.loadBalancer is none",
                hint="pick a load balancer (metallb, kube-vip, or servicelb on k3s), or use ingress: traefik, which can listen on the nodes' ports",
                **inv.where("components", "ingress"),
            )
        )
    if comps.tls_issuer == "letsencrypt" and comps.tls_solver == "http01":
        problems.append(
            Problem(
                f"the Gateway serves every app with one wildcard certificate (*.{inv.domain}), and Let's Encrypt issues wildcards only through DNS-01",
                hint="use DNS-01 (components.externalDns with a provider cert-manager supports), or ingress: traefik for HTTP-01 per host",
                **inv.where("components", "tls", "solver"),
            )
        )
    return problems


def plan_gateway(inv: Inventory, cluster_issuer: str | None, ingress_address: str | None) -> GatewayPlan | None:
    from .components import LB_IP_ANNOTATION

    if not uses_gateway_api(inv):
        return None
    entry = catalog.component(GATEWAY_COMPONENT)
    facts = entry["gateway"]
    annotation = LB_IP_ANNOTATION.get(inv.components.load_balancer)
    return GatewayPlan(
        name=facts["gateway_name"],
        namespace=entry["namespace"],
        class_name=facts["class_name"],
        controller_name=facts["controller_name"],
        envoy_proxy_api=facts["envoy_proxy_api"],
        domain=inv.domain,
        certificate_secret=f"{facts['gateway_name']}-wildcard-tls",
        cluster_issuer=cluster_issuer,
        service_annotations={annotation: ingress_address} if annotation and ingress_address else {},
    )
