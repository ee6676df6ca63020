"""external-dns: which provider keeps the cluster domain's records, through what, with which credentials.

The providers and their credentials are catalog data (components.yaml, external-dns
`providers`), read at the chart's app version: most are in-tree; the ones external-dns
serves only through a webhook run as the chart's webhook sidecar at a pinned image.
The credentials are either a Secret the user made (credentialsSecret) or one clustergen
commits SOPS-encrypted, filled from the secrets store (render.secrets).
"""

from __future__ import annotations

from typing import Any

from .. import catalog
from ..errors import Problem
from ..inventory.model import Inventory
from .model import DnsPlan

# The Secret clustergen commits when the inventory names none of its own.
MANAGED_SECRET = "external-dns-credentials"
EXTERNAL_DNS_NAMESPACE = "external-dns"
CERT_MANAGER_NAMESPACE = "cert-manager"


def providers() -> dict[str, dict[str, Any]]:
    return catalog.component("external-dns")["providers"]


def provider_credentials(provider: str) -> tuple[tuple[str, str], ...]:
    return tuple(providers()[provider]["credentials"].items())


store_field = DnsPlan.store_field


def secret_name(inv: Inventory) -> str:
    return inv.components.external_dns_secret or MANAGED_SECRET


def plan_dns(inv: Inventory, dns01: bool) -> DnsPlan | None:
    provider = inv.components.external_dns_provider
    if provider == "none":
        return None
    entry = providers()[provider]
    namespaces = (EXTERNAL_DNS_NAMESPACE, CERT_MANAGER_NAMESPACE) if dns01 else (EXTERNAL_DNS_NAMESPACE,)
    webhook = entry.get("webhook")
    return DnsPlan(
        webhook_image=f"{webhook['image']}:{webhook['tag']}" if webhook else None,
        provider=provider,
        external_dns_name=entry["name"],
        secret_name=secret_name(inv),
        secret_managed=inv.components.external_dns_secret is None,
        credentials=provider_credentials(provider),
        secret_namespaces=namespaces,
    )


def dns_problems(inv: Inventory) -> list[Problem]:
    """Settings a provider cannot run without (external-dns exits at start otherwise)."""
    comps = inv.components
    provider = comps.external_dns_provider
    problems = []
    if provider == "pihole" and comps.external_dns_pihole is None:
        problems.append(
            Problem(
                "external-dns needs the Pi-hole's address (--pihole-server is required for provider pihole)",
                hint="add components.externalDns.pihole: {server: http://192.168.1.3}",
                **inv.where("components", "externalDns"),
            )
        )
    if provider == "rfc2136" and comps.external_dns_rfc2136 is None:
        problems.append(
            Problem(
                "external-dns through rfc2136 needs the DNS server and its TSIG key name",
                hint="add components.externalDns.rfc2136: {server: 192.168.1.2, tsigKeyName: external-dns}",
                **inv.where("components", "externalDns"),
            )
        )
    for key, field in (("pihole", comps.external_dns_pihole), ("rfc2136", comps.external_dns_rfc2136)):
        if field is not None and provider != key:
            problems.append(
                Problem(
                    f"components.externalDns.{key} applies to provider: {key} only, but the provider is {provider}",
                    hint=f"remove {key}, or set provider: {key}",
                    severity="warning",
                    code="dns-setting-unused",
                    **inv.where("components", "externalDns", key),
                )
            )
    return problems


def external_dns_values(inv: Inventory, node_arches: set[str]) -> dict[str, Any]:
    comps = inv.components
    provider = comps.external_dns_provider
    entry = providers()[provider]
    name = secret_name(inv)
    env = [{"name": env, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}} for env, key in provider_credentials(provider)]
    env += [{"name": var, "value": str(value)} for var, value in entry.get("env", {}).items()]
    values: dict[str, Any] = {"provider": {"name": entry["name"]}, "domainFilters": [inv.domain], "txtOwnerId": inv.cluster_name}
    if inv.components.ingress == "envoy-gateway":
        # The apps' hosts are on HTTPRoutes, not Ingresses.
        values["sources"] = ["service", "gateway-httproute"]
    args: list[str] = []
    webhook = entry.get("webhook")
    if webhook:
        # The credentials go to the sidecar that talks to the provider, not to external-dns.
        values["provider"]["webhook"] = {
            "image": {"repository": webhook["image"], "tag": str(webhook["tag"])},
            "env": env,
            "args": list(webhook.get("args", ())),
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
            "securityContext": {
                "runAsNonRoot": True, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
            },
        }
        if webhook.get("provider_url"):
            args.append(f"--webhook-provider-url={webhook['provider_url']}")
    else:
        values["env"] = env
    arches = entry.get("arches")
    if arches and not node_arches <= set(arches):
        # The sidecar's image is built for these only: keep the pod off the other nodes.
        values["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": sorted(arches)}]}]}}}
    server = comps.external_dns_rfc2136
    if provider == "rfc2136" and server is not None:
        args += [
            f"--rfc2136-host={server.server}",
            f"--rfc2136-port={server.port}",
            f"--rfc2136-zone={inv.domain}",
            f"--rfc2136-tsig-keyname={server.tsig_key_name}",
            f"--rfc2136-tsig-secret-alg={server.tsig_algorithm}",
            "--rfc2136-tsig-axfr",
        ]
    pihole = comps.external_dns_pihole
    if provider == "pihole" and pihole is not None:
        args += [f"--pihole-server={pihole.server}", f"--pihole-api-version={pihole.api_version}"]
    if provider == "ovh":
        args.append(f"--ovh-endpoint={comps.external_dns_ovh_endpoint}")
    if args:
        values["extraArgs"] = args
    return values
