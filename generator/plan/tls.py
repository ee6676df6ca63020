"""How cert-manager proves to Let's Encrypt that the cluster owns its domain (the ACME solver).

A home LAN is not reachable from the internet, so HTTP-01 (Let's Encrypt
fetches a token from port 80) fails there. DNS-01 (a TXT record written
through the DNS provider's API) works anywhere, so it is used whenever the
inventory names a DNS provider cert-manager can drive; HTTP-01 only when the
inventory says the ingress is reachable from the internet.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..errors import Problem
from ..inventory.model import Inventory
from .apps import INGRESS_CLASS
from .dns import provider_credentials, secret_name
from .model import AcmeSolver

# DNS providers cert-manager solves DNS-01 through natively: the solvers in-tree at v1.21.1
# (pkg/issuer/acme/dns: acmedns, akamai, azuredns, clouddns, cloudflare, digitalocean,
# rfc2136, route53) that clustergen's providers match. civo, gandi, hetzner, linode, ovh and
# pihole would need a cert-manager webhook solver, which clustergen does not pin.
# Their credentials are the keys of the Secret external-dns reads (plan.dns).
DNS01_PROVIDERS = frozenset({"cloudflare", "digitalocean", "rfc2136", "route53"})
# BIND's TSIG algorithm names (the inventory's, external-dns's) → cert-manager's.
CERT_MANAGER_TSIG_ALGORITHM = {"hmac-md5": "HMACMD5", "hmac-sha1": "HMACSHA1", "hmac-sha256": "HMACSHA256", "hmac-sha512": "HMACSHA512"}
# Route53 is global; the region only scopes the request signature.
ROUTE53_SIGNING_REGION = "us-east-1"
ACME_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
ACME_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"


def acme_server(inv: Inventory) -> str:
    """Let's Encrypt's staging directory (untrusted certificates, generous rate limits) or production."""
    return ACME_STAGING if inv.components.tls_staging else ACME_PRODUCTION


def choose_acme_solver(inv: Inventory) -> tuple[AcmeSolver | None, list[Problem]]:
    """The Let's Encrypt solver, or the errors that stop one from being chosen."""
    comps = inv.components
    if comps.tls_issuer != "letsencrypt":
        return None, _solver_without_letsencrypt(inv)
    kind = comps.tls_solver or ("dns01" if comps.external_dns_provider != "none" else None)
    if kind is None:
        return None, [_no_solver(inv)]
    if kind == "http01":
        return _http01(inv)
    problems = _dns01_problems(inv)
    if problems:
        return None, problems
    return AcmeSolver("dns01", comps.external_dns_provider, dns01_config(inv), secret_name(inv)), []


def _solver_without_letsencrypt(inv: Inventory) -> list[Problem]:
    if inv.components.tls_solver is None:
        return []
    return [
        Problem(
            f"components.tls.solver applies to issuer: letsencrypt only, but the issuer is {inv.components.tls_issuer}",
            hint="remove solver, or set issuer: letsencrypt",
            **inv.where("components", "tls", "solver"),
        )
    ]


def _no_solver(inv: Inventory) -> Problem:
    return Problem(
        "Let's Encrypt cannot check a domain on a home LAN: there is no DNS provider for DNS-01, "
        "and nothing says the ingress is reachable from the internet for HTTP-01",
        hint="set components.externalDns.provider (cloudflare, digitalocean, rfc2136 or route53) for DNS-01; "
        "or components.tls.solver: http01 if port 80 of the ingress is reachable from the internet; or use issuer: selfsigned",
        **inv.where("components", "tls", "issuer"),
    )


def _http01(inv: Inventory) -> tuple[AcmeSolver | None, list[Problem]]:
    ingress = inv.components.ingress
    if ingress not in INGRESS_CLASS:
        return None, [
            Problem(
                "solver: http01 answers Let's Encrypt through the ingress controller, but components.ingress is none",
                hint="pick an ingress controller, or use DNS-01 through components.externalDns",
                **inv.where("components", "tls", "solver"),
            )
        ]
    return AcmeSolver("http01", None, {"ingress": {"ingressClassName": INGRESS_CLASS[ingress]}}), []


def _dns01_problems(inv: Inventory) -> list[Problem]:
    comps = inv.components
    provider = comps.external_dns_provider
    if provider == "none":
        return [
            Problem(
                "solver: dns01 needs a DNS provider to write the challenge's TXT record",
                hint="set components.externalDns.provider, or solver: http01 if the ingress is reachable from the internet",
                **inv.where("components", "tls", "solver"),
            )
        ]
    if provider not in DNS01_PROVIDERS:
        return [
            Problem(
                f"cert-manager cannot solve Let's Encrypt's DNS-01 challenge through {provider}",
                hint=f"external-dns keeps the {provider} records, but cert-manager has no built-in {provider} solver "
                "(only a third-party webhook, which clustergen does not pin): "
                "use a provider cert-manager supports (" + ", ".join(sorted(DNS01_PROVIDERS)) + "), "
                "or components.tls.solver: http01 if the ingress is reachable from the internet, or issuer: selfsigned",
                **inv.where("components", "externalDns", "provider"),
            )
        ]
    # The provider settings (rfc2136's server) are plan.dns's to check.
    return []


def _secret_keys(provider: str) -> list[str]:
    return [key for _, key in provider_credentials(provider)]


def _secret_ref(inv: Inventory, key: str) -> dict[str, str]:
    """A key of the credentials Secret external-dns reads too."""
    assert key in _secret_keys(inv.components.external_dns_provider)
    return {"name": secret_name(inv), "key": key}


def dns01_config(inv: Inventory) -> dict[str, Any]:
    """cert-manager's ACME DNS-01 provider block for the inventory's DNS provider."""
    provider = inv.components.external_dns_provider
    if provider == "cloudflare":
        return {"cloudflare": {"apiTokenSecretRef": _secret_ref(inv, "api-token")}}
    if provider == "digitalocean":
        return {"digitalocean": {"tokenSecretRef": _secret_ref(inv, "token")}}
    if provider == "route53":
        return {
            "route53": {
                "region": ROUTE53_SIGNING_REGION,
                "accessKeyIDSecretRef": _secret_ref(inv, "access-key-id"),
                "secretAccessKeySecretRef": _secret_ref(inv, "secret-access-key"),
            }
        }
    server = inv.components.external_dns_rfc2136
    if server is None:  # plan.dns reports it; the plan stops before anything renders
        return {}
    assert provider == "rfc2136"
    return {
        "rfc2136": {
            "nameserver": f"{_bracketed(server.server)}:{server.port}",
            "tsigKeyName": server.tsig_key_name,
            "tsigAlgorithm": CERT_MANAGER_TSIG_ALGORITHM[server.tsig_algorithm],
            "tsigSecretSecretRef": _secret_ref(inv, "tsig-secret"),
        }
    }


def _bracketed(host: str) -> str:
    """cert-manager reads host:port, with an IPv6 address in brackets."""
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host
