"""The cluster's Gateway API objects (configs layer): GatewayClass, EnvoyProxy, Gateway, its
wildcard Certificate and the HTTP→HTTPS redirect. What they say is plan.gateway's."""

from __future__ import annotations

from typing import Any

from ..plan.model import HTTP_LISTENER, HTTPS_LISTENER, GatewayPlan


def gateway_objects(gateway: GatewayPlan) -> list[dict[str, Any]]:
    """GatewayClass, EnvoyProxy, Gateway, wildcard Certificate, HTTP→HTTPS redirect route."""
    ns = gateway.namespace
    proxy_name = gateway.name
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": gateway.envoy_proxy_api,
            "kind": "EnvoyProxy",
            "metadata": {"name": proxy_name, "namespace": ns},
            "spec": {
                "provider": {
                    "type": "Kubernetes",
                    "kubernetes": {
                        # Client addresses reach the apps (L2 load balancers land traffic on the announcing node).
                        "envoyService": {"externalTrafficPolicy": "Local", **({"annotations": dict(gateway.service_annotations)} if gateway.service_annotations else {})},
                    },
                }
            },
        },
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "GatewayClass",
            "metadata": {"name": gateway.class_name},
            "spec": {
                "controllerName": gateway.controller_name,
                "parametersRef": {"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": proxy_name, "namespace": ns},
            },
        },
    ]
    listeners: list[dict[str, Any]] = [
        {"name": HTTP_LISTENER, "protocol": "HTTP", "port": 80, "allowedRoutes": {"namespaces": {"from": "Same" if gateway.tls else "All"}}},
    ]
    if gateway.tls:
        listeners.append(
            {
                "name": HTTPS_LISTENER,
                "protocol": "HTTPS",
                "port": 443,
                # No hostname: the wildcard certificate also covers the bare domain, which an app may use.
                "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": gateway.certificate_secret}]},
                "allowedRoutes": {"namespaces": {"from": "All"}},
            }
        )
    objects.append(
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"name": gateway.name, "namespace": ns},
            "spec": {"gatewayClassName": gateway.class_name, "listeners": listeners},
        }
    )
    if gateway.tls:
        objects.append(
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": {"name": gateway.certificate_secret, "namespace": ns},
                "spec": {
                    "secretName": gateway.certificate_secret,
                    "dnsNames": [f"*.{gateway.domain}", gateway.domain],
                    "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": gateway.cluster_issuer},
                    "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                },
            }
        )
        objects.append(
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": {"name": "https-redirect", "namespace": ns},
                "spec": {
                    "parentRefs": [{"name": gateway.name, "sectionName": HTTP_LISTENER}],
                    "rules": [{"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}],
                },
            }
        )
    return objects
