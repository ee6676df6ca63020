"""external-dns for every provider clustergen offers: the pinned chart rendered with the values
clustergen generates, the credentials Secret it commits (or the user's), and the settings a
provider cannot start without."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from jsonschema import validators

from generator import catalog
from generator.cli import main
from generator.inventory import load_inventory_text
from generator.plan import plan_cluster
from generator.render import ClusterSecrets, render_repository, secret_manifests
from generator.render.secrets import DNS_PLACEHOLDER, missing_store_keys
from generator.validate.helm import merge

from .conftest import EXAMPLES, TEST_TOKEN

BASE = yaml.safe_load((EXAMPLES / "single-mini-pc.yaml").read_text())
CONTROLLERS = "overlays/tiny/infrastructure/controllers"
MIRROR = Path("/work/.mirror/kubernetes-sigs+external-dns/repo")
CHART_TAG = f"external-dns-helm-chart-{catalog.component('external-dns')['chart']['version']}"


def inventory(external_dns: dict[str, Any], issuer: str = "selfsigned", arches: tuple[str, ...] = ()) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["components"]["tls"] = {"issuer": issuer, **({"email": "admin@example.org"} if issuer == "letsencrypt" else {})}
    data["components"]["externalDns"] = external_dns
    for i, arch in enumerate(arches):
        node = copy.deepcopy(data["nodes"][0])
        node.update(name=f"extra{i}", arch=arch, role="worker", address=f"192.168.1.{200 + i}")
        node.pop("mac", None)
        data["nodes"].append(node)
    return data


def plan_of(data: dict[str, Any]) -> Any:
    text = yaml.safe_dump(data, sort_keys=False)
    inv, warnings = load_inventory_text(text, "inventory.yaml")
    return plan_cluster(inv, warnings), text


def files_of(data: dict[str, Any]) -> dict[str, str]:
    plan, text = plan_of(data)
    return {f.path: f.content.decode() for f in render_repository(plan, ClusterSecrets(TEST_TOKEN), text)}


_CHART_DIR: list[Path] = []


def chart_dir() -> Path:
    return _CHART_DIR[-1]


@pytest.fixture(scope="module")
def chart(tmp_path_factory: pytest.TempPathFactory):
    if not MIRROR.is_dir():
        pytest.skip("the external-dns sources are not on this machine")
    archive = subprocess.run(["git", f"--git-dir={MIRROR}", "archive", CHART_TAG, "charts/external-dns"], check=True, capture_output=True).stdout
    root = tmp_path_factory.mktemp("external-dns")
    with tarfile.open(fileobj=io.BytesIO(archive)) as t:
        t.extractall(root, filter="data")
    _CHART_DIR.append(root / "charts" / "external-dns")
    with helm.Chart.load(root / "charts" / "external-dns") as loaded:
        yield loaded


def deployment(chart: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The external-dns Deployment as Flux would install it: the catalog's values, then the overlay's."""
    plan, _ = plan_of(data)
    component = next(c for c in plan.components if c.key == "external-dns")
    values = merge(copy.deepcopy(component.values), component.cluster_values)
    # The chart's own values schema (helm checks it at install).
    schema = json.loads((chart_dir() / "values.schema.json").read_text())
    assert not [f"{list(e.absolute_path)}: {e.message}" for e in validators.validator_for(schema)(schema).iter_errors(values)]
    rendered = chart.render(values, name="external-dns", namespace="external-dns")
    docs = [d for path, text in rendered.items() if path.endswith(".yaml") for d in yaml.safe_load_all(text) if d]
    return next(d for d in docs if d["kind"] == "Deployment")


def secret_refs(container: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"]) for e in container.get("env", []) if "valueFrom" in e}


SECRET = "external-dns-credentials"
# (provider, extra externalDns settings, external-dns --provider, env → Secret key, extra external-dns args,
#  webhook image or None)
PROVIDERS = [
    ("cloudflare", {}, "cloudflare", {"CF_API_TOKEN": "api-token"}, [], None),
    ("route53", {}, "aws", {"AWS_ACCESS_KEY_ID": "access-key-id", "AWS_SECRET_ACCESS_KEY": "secret-access-key"}, [], None),
    ("rfc2136", {"rfc2136": {"server": "192.168.1.2", "tsigKeyName": "k"}}, "rfc2136", {"EXTERNAL_DNS_RFC2136_TSIG_SECRET": "tsig-secret"},
     ["--rfc2136-host=192.168.1.2", "--rfc2136-port=53", "--rfc2136-zone=home.example.com", "--rfc2136-tsig-keyname=k",
      "--rfc2136-tsig-secret-alg=hmac-sha256", "--rfc2136-tsig-axfr"], None),
    ("pihole", {"pihole": {"server": "http://192.168.1.3"}}, "pihole", {"EXTERNAL_DNS_PIHOLE_PASSWORD": "password"},
     ["--pihole-server=http://192.168.1.3", "--pihole-api-version=6"], None),
    ("pihole", {"pihole": {"server": "http://192.168.1.3", "apiVersion": 5}}, "pihole", {"EXTERNAL_DNS_PIHOLE_PASSWORD": "password"},
     ["--pihole-server=http://192.168.1.3", "--pihole-api-version=5"], None),
    ("gandi", {}, "gandi", {"GANDI_PAT": "token"}, [], None),
    ("ovh", {}, "ovh", {"OVH_APPLICATION_KEY": "application-key", "OVH_APPLICATION_SECRET": "application-secret", "OVH_CONSUMER_KEY": "consumer-key"},
     ["--ovh-endpoint=ovh-eu"], None),
    ("ovh", {"ovh": {"endpoint": "ovh-ca"}}, "ovh", {"OVH_APPLICATION_KEY": "application-key", "OVH_APPLICATION_SECRET": "application-secret",
     "OVH_CONSUMER_KEY": "consumer-key"}, ["--ovh-endpoint=ovh-ca"], None),
    ("linode", {}, "linode", {"LINODE_TOKEN": "token"}, [], None),
    ("civo", {}, "civo", {"CIVO_TOKEN": "token"}, [], None),
    ("digitalocean", {}, "webhook", {"DO_TOKEN": "token"}, ["--webhook-provider-url=http://localhost:8080"],
     "ghcr.io/amoniacou/external-dns-digitalocean-webhook:0.1.2"),
    ("hetzner", {}, "webhook", {"HETZNER_API_KEY": "token"}, [], "ghcr.io/mconfalonieri/external-dns-hetzner-webhook:v1.0.2"),
]


@pytest.mark.parametrize(("provider", "extra", "name", "env", "args", "webhook"), PROVIDERS,
                         ids=[f"{r[0]}-{i}" for i, r in enumerate(PROVIDERS)])
def test_the_pinned_chart_runs_each_provider(chart: Any, provider: str, extra: dict, name: str, env: dict, args: list, webhook: str | None) -> None:
    spec = deployment(chart, inventory({"provider": provider, **extra}))["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in spec["containers"]}
    main_container = containers["external-dns"]
    assert f"--provider={name}" in main_container["args"]
    assert "--domain-filter=home.example.com" in main_container["args"] and "--txt-owner-id=tiny" in main_container["args"]
    # Exactly the provider's flags, in order, after the chart's own.
    assert main_container["args"][len(main_container["args"]) - len(args):] == args if args else not any(
        a.startswith(("--rfc2136", "--pihole", "--ovh", "--webhook")) for a in main_container["args"])
    expected = {var: (SECRET, key) for var, key in env.items()}
    if webhook is None:
        assert set(containers) == {"external-dns"}
        assert secret_refs(main_container) == expected
        plain = {e["name"]: e["value"] for e in main_container.get("env", []) if "value" in e}
        assert plain == ({"AWS_DEFAULT_REGION": "us-east-1"} if provider == "route53" else {})
    else:
        sidecar = containers["webhook"]
        assert sidecar["image"] == webhook
        # The credentials go to the sidecar that calls the provider's API, not to external-dns.
        assert secret_refs(sidecar) == expected and secret_refs(main_container) == {}
        # The chart probes the sidecar's /healthz on its port 8080: the webhook must answer there.
        assert sidecar["ports"] == [{"name": "http-webhook", "protocol": "TCP", "containerPort": 8080}]
        assert sidecar["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http-webhook"}
        assert sidecar["securityContext"]["runAsNonRoot"] is True
        if provider == "digitalocean":
            # One server for API and health: moved from its default 8888 to the probed 8080, and external-dns follows.
            assert sidecar["args"] == ["--port=8080"]


# Node arches present besides amd64 → whether the webhook pod is kept to amd64/arm64 nodes.
ARCH_ROWS = [("digitalocean", (), False), ("digitalocean", ("arm64",), False), ("digitalocean", ("arm",), True),
             ("hetzner", ("arm",), True), ("cloudflare", ("arm",), False)]


@pytest.mark.parametrize(("provider", "arches", "restricted"), ARCH_ROWS, ids=[f"{p}-{'-'.join(a) or 'amd64'}" for p, a, _ in ARCH_ROWS])
def test_webhook_images_land_only_on_the_arches_they_are_built_for(chart: Any, provider: str, arches: tuple, restricted: bool) -> None:
    spec = deployment(chart, inventory({"provider": provider}, arches=arches))["spec"]["template"]["spec"]
    terms = spec.get("affinity", {}).get("nodeAffinity", {}).get("requiredDuringSchedulingIgnoredDuringExecution", {}).get("nodeSelectorTerms")
    if restricted:
        assert terms == [{"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]}]}]
    else:
        assert terms is None


# (id, externalDns, issuer, Secret files expected (namespace), stored values)
SECRET_ROWS = [
    ("selfsigned: external-dns only", {"provider": "cloudflare"}, "selfsigned", ["external-dns"], {"dns_api_token": "t0k"}),
    ("dns01: cert-manager too", {"provider": "cloudflare"}, "letsencrypt", ["external-dns", "cert-manager"], {"dns_api_token": "t0k"}),
    ("route53 keys", {"provider": "route53"}, "letsencrypt", ["external-dns", "cert-manager"],
     {"dns_access_key_id": "AK", "dns_secret_access_key": "SK"}),
    ("not stored yet", {"provider": "hetzner"}, "selfsigned", ["external-dns"], {}),
    ("the user's own Secret", {"provider": "cloudflare", "credentialsSecret": "mine"}, "letsencrypt", [], {}),
]


@pytest.mark.parametrize(("external_dns", "issuer", "namespaces", "stored"), [r[1:] for r in SECRET_ROWS], ids=[r[0] for r in SECRET_ROWS])
def test_credentials_secret_is_committed_where_it_is_read(external_dns: dict, issuer: str, namespaces: list, stored: dict) -> None:
    data = inventory(external_dns, issuer)
    plan, _ = plan_of(data)
    secrets = ClusterSecrets(TEST_TOKEN, **stored)
    dns_secrets = [(path, s) for path, s in secret_manifests(plan, secrets) if s["metadata"]["name"] == SECRET]
    assert [s["metadata"]["namespace"] for _, s in dns_secrets] == namespaces
    keys = [key for _, key in plan.dns.credentials]
    for path, s in dns_secrets:
        assert path == f"{CONTROLLERS}/{SECRET}.{s['metadata']['namespace']}.sops.yaml"
        assert s["stringData"] == {key: stored.get("dns_" + key.replace("-", "_"), DNS_PLACEHOLDER) for key in keys}
    # The controllers layer applies each committed Secret (encrypted file in its kustomization).
    kustomization = yaml.safe_load(files_of(data)[f"{CONTROLLERS}/kustomization.yaml"])
    listed = [r for r in kustomization.get("resources", []) + kustomization.get("generators", []) if SECRET in r]
    assert len(listed) == len(namespaces)
    missing = missing_store_keys(plan, secrets)
    assert missing == ([] if stored or not namespaces else ["dnsToken"])


# (id, externalDns, issuer, message)
ERROR_ROWS = [
    ("pihole without its server", {"provider": "pihole", "credentialsSecret": "pi"}, "selfsigned", "needs the Pi-hole's address"),
    ("rfc2136 without its server, no Let's Encrypt", {"provider": "rfc2136"}, "selfsigned", "needs the DNS server and its TSIG key name"),
]


@pytest.mark.parametrize(("external_dns", "issuer", "message"), [r[1:] for r in ERROR_ROWS], ids=[r[0] for r in ERROR_ROWS])
def test_a_provider_that_would_not_start_is_an_error(external_dns: dict, issuer: str, message: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory(external_dns, issuer), sort_keys=False))
    out = tmp_path / "out"
    assert main(["generate", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "components.externalDns" in err and "hint:" in err
    assert not out.exists()


def test_a_setting_for_another_provider_is_a_warning() -> None:
    plan, _ = plan_of(inventory({"provider": "cloudflare", "pihole": {"server": "http://192.168.1.3"}}))
    warning = next(w for w in plan.warnings if w.code == "dns-setting-unused")
    assert warning.field == "components.externalDns.pihole"


def test_readme_says_how_the_provider_is_served_and_where_the_keys_go() -> None:
    readme = files_of(inventory({"provider": "digitalocean"}, "letsencrypt"))["README.md"]
    dns = readme[readme.index("## DNS"):readme.index("## Bootstrap")]
    assert "webhook sidecar `ghcr.io/amoniacou/external-dns-digitalocean-webhook:0.1.2`" in dns
    assert "`external-dns` and `cert-manager`" in dns
    assert "sops set .clustergen/secrets.sops.yaml '[\"dnsToken\"]'" in dns
    own = files_of(inventory({"provider": "cloudflare", "credentialsSecret": "mine"}))["README.md"]
    assert "your Secret `mine`" in own and "sops set .clustergen/secrets.sops.yaml '[\"dnsApiToken\"]'" not in own


@pytest.mark.parametrize(("external_dns", "issuer", "line"), [
    ({"provider": "hetzner"}, "selfsigned", "DNS: external-dns through hetzner (webhook sidecar); credentials Secret external-dns-credentials, committed by clustergen (SOPS)"),
    ({"provider": "route53", "credentialsSecret": "aws"}, "letsencrypt",
     "DNS: external-dns and cert-manager DNS-01 through route53 (in-tree provider aws); credentials Secret aws, yours"),
], ids=["webhook-managed", "in-tree-own-secret"])
def test_plan_shows_the_dns_choice(external_dns: dict, issuer: str, line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory(external_dns, issuer), sort_keys=False))
    assert main(["plan", str(path)]) == 0
    assert line in capsys.readouterr().out
