"""Let's Encrypt on a home LAN: DNS-01 through the DNS provider, HTTP-01 only when asked for, else an error."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from generator.cli import main
from generator.inventory import load_inventory_text
from generator.plan import plan_cluster
from generator.render import render_repository
from generator.shared import ClusterSecrets

from .conftest import EXAMPLES, SHARED_SCHEMAS, TEST_TOKEN, requires_shared

BASE = yaml.safe_load((EXAMPLES / "single-mini-pc.yaml").read_text())
ISSUERS = "overlays/tiny/infrastructure/configs/cluster-issuers.yaml"
EXTERNAL_DNS_VALUES = "overlays/tiny/infrastructure/controllers/external-dns-values.yaml"
RFC2136 = {"server": "192.168.1.2", "tsigKeyName": "cert-manager", "tsigAlgorithm": "hmac-sha512"}


def inventory(external_dns: dict[str, Any] | None = None, **tls: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["components"]["tls"] = {"issuer": "letsencrypt", "email": "admin@example.org", **tls}
    if external_dns is not None:
        data["components"]["externalDns"] = external_dns
    return data


def rendered(data: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    text = yaml.safe_dump(data, sort_keys=False)
    inv, warnings = load_inventory_text(text, "inventory.yaml")
    plan = plan_cluster(inv, warnings)
    return plan, {f.path: f.content.decode() for f in render_repository(plan, ClusterSecrets(TEST_TOKEN), text)}


def solvers(files: dict[str, str]) -> list[dict[str, Any]]:
    return yaml.safe_load(files[ISSUERS])["spec"]["acme"]["solvers"]


ref = lambda name, key: {"name": name, "key": key}  # noqa: E731

# (id, externalDns, tls extras, expected solver, expected external-dns values subset)
ROWS = [
    (
        "cloudflare",
        {"provider": "cloudflare", "credentialsSecret": "cf"},
        {},
        {"dns01": {"cloudflare": {"apiTokenSecretRef": ref("cf", "api-token")}}},
        {"env": [{"name": "CF_API_TOKEN", "valueFrom": {"secretKeyRef": ref("cf", "api-token")}}]},
    ),
    (
        "digitalocean",
        {"provider": "digitalocean", "credentialsSecret": "do"},
        {},
        {"dns01": {"digitalocean": {"tokenSecretRef": ref("do", "token")}}},
        # external-dns 0.21 has no in-tree DigitalOcean provider: the webhook sidecar serves it.
        {"extraArgs": ["--webhook-provider-url=http://localhost:8080"]},
    ),
    (
        "credentials-committed-by-clustergen",
        {"provider": "cloudflare"},
        {},
        {"dns01": {"cloudflare": {"apiTokenSecretRef": ref("external-dns-credentials", "api-token")}}},
        {"env": [{"name": "CF_API_TOKEN", "valueFrom": {"secretKeyRef": ref("external-dns-credentials", "api-token")}}]},
    ),
    (
        "rfc2136",
        {"provider": "rfc2136", "credentialsSecret": "tsig", "rfc2136": RFC2136},
        {},
        {
            "dns01": {
                "rfc2136": {
                    "nameserver": "192.168.1.2:53",
                    "tsigKeyName": "cert-manager",
                    "tsigAlgorithm": "HMACSHA512",
                    "tsigSecretSecretRef": ref("tsig", "tsig-secret"),
                }
            }
        },
        {
            "extraArgs": [
                "--rfc2136-host=192.168.1.2",
                "--rfc2136-port=53",
                "--rfc2136-zone=home.example.com",
                "--rfc2136-tsig-keyname=cert-manager",
                "--rfc2136-tsig-secret-alg=hmac-sha512",
                "--rfc2136-tsig-axfr",
            ]
        },
    ),
    (
        "route53",
        {"provider": "route53", "credentialsSecret": "aws"},
        {},
        {
            "dns01": {
                "route53": {
                    "region": "us-east-1",
                    "accessKeyIDSecretRef": ref("aws", "access-key-id"),
                    "secretAccessKeySecretRef": ref("aws", "secret-access-key"),
                }
            }
        },
        {"provider": {"name": "aws"}},  # external-dns calls Route53 "aws"
    ),
    ("http01-no-provider", None, {"solver": "http01"}, {"http01": {"ingress": {"ingressClassName": "traefik"}}}, None),
    (
        "http01-chosen-over-provider",
        {"provider": "cloudflare", "credentialsSecret": "cf"},
        {"solver": "http01"},
        {"http01": {"ingress": {"ingressClassName": "traefik"}}},
        {},
    ),
]


@pytest.mark.parametrize(("external_dns", "tls", "solver", "dns_values"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_acme_solver(external_dns: dict | None, tls: dict, solver: dict, dns_values: dict | None) -> None:
    plan, files = rendered(inventory(external_dns, **tls))
    assert solvers(files) == [solver]
    kind = next(iter(solver))
    assert plan.acme_solver.kind == kind and plan.acme_solver.config == solver[kind]
    if kind == "dns01":
        assert plan.acme_solver.provider == external_dns["provider"]
        assert plan.acme_solver.credentials_secret == external_dns.get("credentialsSecret", "external-dns-credentials")
    if dns_values is None:
        assert EXTERNAL_DNS_VALUES not in files
    else:
        values = yaml.safe_load(files[EXTERNAL_DNS_VALUES])["spec"]["values"]
        assert {k: values[k] for k in dns_values} == dns_values


@requires_shared
@pytest.mark.parametrize(("external_dns", "tls"), [r[1:3] for r in ROWS], ids=[r[0] for r in ROWS])
def test_cluster_issuer_matches_the_crd_schema(external_dns: dict | None, tls: dict) -> None:
    schema = json.loads((SHARED_SCHEMAS / "crds" / "cert-manager.io" / "clusterissuer_v1.json").read_text())
    _, files = rendered(inventory(external_dns, **tls))
    issuer = yaml.safe_load(files[ISSUERS])
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(issuer)]
    assert not errors


# (id, externalDns, tls extras, message, field)
ERRORS = [
    ("no-provider-no-solver", None, {}, "Let's Encrypt cannot check a domain on a home LAN", "components.tls.issuer"),
    ("pihole", {"provider": "pihole", "credentialsSecret": "pi", "pihole": {"server": "http://192.168.1.3"}}, {},
     "cannot solve Let's Encrypt's DNS-01 challenge through pihole", "components.externalDns.provider"),
    ("hetzner", {"provider": "hetzner"}, {}, "cannot solve Let's Encrypt's DNS-01 challenge through hetzner", "components.externalDns.provider"),
    ("dns01-without-provider", None, {"solver": "dns01"}, "solver: dns01 needs a DNS provider", "components.tls.solver"),
    ("rfc2136-without-server", {"provider": "rfc2136", "credentialsSecret": "tsig"}, {}, "needs the DNS server and its TSIG key name", "components.externalDns"),
]


@pytest.mark.parametrize(("external_dns", "tls", "message", "field"), [r[1:] for r in ERRORS], ids=[r[0] for r in ERRORS])
def test_letsencrypt_without_a_working_solver_is_an_error(
    external_dns: dict | None, tls: dict, message: str, field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory(external_dns, **tls), sort_keys=False))
    out = tmp_path / "out"
    assert main(["generate", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert not out.exists()
    line = next(line for line in err.splitlines() if message in line)
    match = re.match(rf"{re.escape(str(path))}:(\d+)(?::\d+)?: error: (\S+): ", line)
    assert match, line
    assert match.group(2) == field
    assert field.split(".")[-1] in path.read_text().splitlines()[int(match.group(1)) - 1]
    assert "hint:" in err


def test_solver_needs_letsencrypt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = inventory()
    data["components"]["tls"] = {"issuer": "selfsigned", "solver": "http01"}
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["plan", str(path)]) == 2
    assert "components.tls.solver applies to issuer: letsencrypt only" in capsys.readouterr().err
