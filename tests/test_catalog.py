"""The app catalog as a whole: every app's pods pass Pod Security at exactly the level its
namespace gets, an inventory naming every app plans (architecture placement on a mixed shelf)
and validates, and `clustergen catalog` shows what the data says.

Rendering uses the real Helm engine (helm_python) and the chart in charts/app, as
tests/test_chart_app.py does; the repository check is `clustergen validate --charts local`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from generator import catalog, podsecurity
from generator.catalog_view import describe_text, list_text, markdown, summary
from generator.cli import main
from generator.pipeline import build_plan

from .conftest import SHARED_SCHEMAS, assert_strict_clean, requires_shared, seed_secrets
from .test_chart_app import APP_NAMES, CATALOG_DATA, CHART, catalog_values, parse

ROOT = Path(__file__).resolve().parents[1]

# The oracle: the level each app's pods need, decided by reading each image's docs (root
# entrypoints, device access, host networking), not computed by the code under test.
EXPECTED_LEVEL = {
    "mosquitto": "restricted", "home-assistant": "restricted", "node-red": "restricted",
    "esphome": "restricted", "jellyfin": "restricted", "registry": "restricted",
    "filebrowser": "restricted", "victoria-metrics": "restricted", "grafana": "restricted",
    "uptime-kuma": "restricted", "vaultwarden": "restricted",
    "openhab": "baseline", "calibre": "baseline", "calibre-web": "baseline", "frigate": "baseline",
    "pihole": "baseline", "adguard-home": "baseline", "samba": "baseline",
    "zigbee2mqtt": "privileged", "zwave-js-ui": "privileged", "homebridge": "privileged",
    # On their CloudNativePG databases (plan/wiring.py), and the cache beside two of them.
    "nextcloud": "restricted", "paperless-ngx": "restricted", "immich": "restricted", "valkey": "restricted",
}
STRICTER = {"privileged": "baseline", "baseline": "restricted"}


@pytest.fixture(scope="module")
def pods() -> dict[str, dict[str, Any]]:
    """Each catalog app's rendered pod spec, placed as the plan would place it."""
    out = {}
    with helm.Chart.load(CHART) as chart:
        for name in APP_NAMES:
            docs = parse(chart.render(catalog_values(name), name=name, namespace=CATALOG_DATA["apps"][name]["namespace"]))
            (workload,) = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
            out[name] = workload["spec"]["template"]["spec"]
    return out


def test_the_oracle_covers_the_catalog() -> None:
    assert set(EXPECTED_LEVEL) == set(APP_NAMES)


@pytest.mark.parametrize("name", APP_NAMES)
def test_rendered_pod_is_admitted_at_its_level_and_no_stricter(pods: dict[str, dict[str, Any]], name: str) -> None:
    level = EXPECTED_LEVEL[name]
    violations = podsecurity.evaluate(pods[name])
    assert podsecurity.admitted(level, violations) == [], name
    if level in STRICTER:
        # The level is tight: the next stricter one would refuse the pod (so it is not
        # given more than it needs, and it really needs what it is given).
        assert podsecurity.admitted(STRICTER[level], violations), name
    assert summary(name).pod_security == level  # what the plan labels the namespace with


def test_apps_sharing_a_namespace_need_the_same_level() -> None:
    """No app loosens another's namespace: a root or device app lives with its kind only."""
    by_namespace: dict[str, set[str]] = {}
    for name in APP_NAMES:
        by_namespace.setdefault(CATALOG_DATA["apps"][name]["namespace"], set()).add(EXPECTED_LEVEL[name])
    assert {ns: levels for ns, levels in by_namespace.items() if len(levels) > 1} == {}
    for name in APP_NAMES:
        if EXPECTED_LEVEL[name] == "privileged":
            assert CATALOG_DATA["apps"][name]["namespace"] == name


@pytest.mark.parametrize("name", APP_NAMES)
def test_every_container_has_requests_a_liveness_watchdog_and_a_pinned_image(pods: dict[str, dict[str, Any]], name: str) -> None:
    (container,) = pods[name]["containers"]
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    assert container["resources"]["limits"]["memory"]
    live = container["livenessProbe"]
    assert live["periodSeconds"] <= 30 and live["failureThreshold"] <= 5, "a hung app is restarted within minutes"
    assert "readinessProbe" in container
    image = container["image"]
    assert image == f"{CATALOG_DATA['apps'][name]['image']['repository']}:{CATALOG_DATA['apps'][name]['image']['tag']}"
    assert not image.endswith(":latest")
    ports = {p["name"] for p in container.get("ports", [])}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        spec = container.get(probe)
        if spec and ("httpGet" in spec or "tcpSocket" in spec):
            assert (spec.get("httpGet") or spec.get("tcpSocket"))["port"] in ports, f"{name} {probe} names a port the container has"


# --------------------------------------------------------------------------- a shelf running everything

SHELF = ROOT / "examples" / "mixed-shelf.yaml"


def _everything_inventory(tmp_path: Path) -> Path:
    """The mixed shelf (amd64 server and laptops with GPUs and a Zigbee stick, two 1 GiB arm64
    Pis) plus a 32-bit arm board (2 GiB) and a Z-Wave stick, running every catalog app."""
    data = yaml.safe_load(SHELF.read_text(encoding="utf-8"))
    tower = next(n for n in data["nodes"] if n["name"] == "tower")
    tower["devices"].append({"name": "zwave", "type": "zwave", "path": "/dev/serial/by-id/usb-0658_0200-if00"})
    data["nodes"].append({"name": "pi3", "address": "192.168.50.23", "mac": "b8:27:eb:00:00:23",
                          "profile": "generic", "arch": "arm", "memory": "2Gi"})
    data["apps"] = [{"name": name} for name in APP_NAMES if name != "valkey"]
    data["apps"][APP_NAMES.index("frigate")]["gpu"] = 1
    # The valkey each app that needs one finds in its own namespace, and the database-only entry.
    data["apps"] += [{"name": f"{app}-valkey", "catalog": "valkey", "namespace": app} for app in ("paperless-ngx", "immich")]
    data["apps"] += [{"name": name} for name in CATALOG_DATA["apps"] if name not in APP_NAMES]
    path = tmp_path / "everything.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _everything_inventory(tmp_path_factory.mktemp("everything"))


def test_everything_plans_with_arch_placement(everything: Path) -> None:
    plan = build_plan(everything)
    apps = {a.name: a for a in plan.apps}
    assert set(apps) == (set(APP_NAMES) - {"valkey"}) | {"paperless-ngx-valkey", "immich-valkey"}
    assert {d.app for d in plan.databases} == {"nextcloud", "paperless-ngx", "immich", "postgres"}
    arch = {n.name: n.arch for n in plan.nodes}
    small = {n.name for n in plan.nodes if n.memory_mib <= 1024}
    for name, app in apps.items():
        entry = CATALOG_DATA["apps"][app.catalog]
        wanted = set(entry["arches"])
        assert {arch[n] for n in app.eligible_nodes} <= wanted, name
        # Every node whose arch has an image is eligible unless something else rules it out.
        if entry["weight"] == "heavy":
            assert not set(app.eligible_nodes) & small, f"{name} is heavy and must keep off 1 GiB nodes"
    # Frigate's TensorRT image is amd64-only and it asked for a GPU: only the GPU laptops.
    assert set(apps["frigate"].eligible_nodes) == {"laptop1", "laptop2"}
    frigate_values = apps["frigate"].cluster_values
    terms = frigate_values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]} in terms[0]["matchExpressions"]
    assert frigate_values["gpu"] == {"enabled": True, "count": 1} and frigate_values["runtimeClassName"] == "nvidia"
    # ESPHome has no 32-bit arm image: the 32-bit board is left out by an arch rule, arm64 Pis stay.
    assert "pi3" not in apps["esphome"].eligible_nodes and {"pi1", "pi2"} <= set(apps["esphome"].eligible_nodes)
    esphome_terms = apps["esphome"].cluster_values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]} in esphome_terms[0]["matchExpressions"]
    # An app whose image covers every arch on the shelf gets no arch rule at all.
    assert "affinity" not in apps["vaultwarden"].cluster_values
    # The Z-Wave stick pins Z-Wave JS UI to the tower, with the stick's stable path mounted.
    assert apps["zwave-js-ui"].eligible_nodes == ("tower",)
    assert apps["zwave-js-ui"].cluster_values["devices"] == [
        {"name": "zwave", "hostPath": "/dev/serial/by-id/usb-0658_0200-if00", "containerPath": "/dev/zwave"}]
    # Namespaces get the level their apps need, and no more.
    assert {ns: plan.namespaces[ns] for ns in ("home-automation", "observability", "books", "zwave-js-ui", "homebridge", "pihole")} == {
        "home-automation": "restricted", "observability": "restricted", "books": "baseline",
        "zwave-js-ui": "privileged", "homebridge": "privileged", "pihole": "baseline"}


@requires_shared
def test_everything_generates_and_validates(everything: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    seed_secrets(repo)
    assert main(["generate", str(everything), "-o", str(repo)]) == 0
    capsys.readouterr()
    code = main(["validate", "--charts", "local", "--strict", "--schema-location", str(SHARED_SCHEMAS / "crds"), "-o", "json", str(repo)])
    report = json.loads(capsys.readouterr().out)
    assert_strict_clean(code, report)
    # Every app's HelmRelease was rendered with charts/app and its pods checked, not skipped.
    assert report["kinds"]["Deployment"]["valid"] == len(APP_NAMES) + 1  # valkey twice
    assert report["kinds"]["Cluster"]["valid"] == 4  # the CloudNativePG databases
    assert report["rules"]["pod-security"] == {"faults": 0, "warnings": 0, "undecided": 0}
    assert report["rules"]["devices"]["faults"] == 0 and report["rules"]["scheduling"]["faults"] == 0


# --------------------------------------------------------------------------- clustergen catalog


def test_catalog_lists_every_app_with_arches_and_needs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line and not line.startswith("`")}
    assert set(rows) == set(CATALOG_DATA["apps"])  # postgres too: a database of its own, no workload
    for name in CATALOG_DATA["apps"]:
        assert ",".join(CATALOG_DATA["apps"][name]["arches"]) in rows[name].split()
        assert CATALOG_DATA["apps"][name]["description"] in rows[name]
    assert out == list_text()


@pytest.mark.parametrize(
    ("name", "needs"),
    [
        ("zwave-js-ui", "device: zwave; storage 1Gi"),      # a device
        ("frigate", "GPU recommended; storage 205Gi"),     # a GPU, and storage summed over volumes
        ("jellyfin", "GPU optional; storage 115Gi"),
        ("adguard-home", "storage 2.3Gi"),                 # 256Mi + 2Gi, rounded up
        ("mosquitto", "storage 1Gi"),                      # one volume, a whole unit
        ("postgres", "PostgreSQL 10Gi (CloudNativePG)"),   # only a database
        ("paperless-ngx", "storage 30Gi; PostgreSQL 5Gi (CloudNativePG); a valkey beside it"),
    ],
)
def test_catalog_needs_column(name: str, needs: str) -> None:
    assert summary(name).needs == needs


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pihole", ["image:         docker.io/pihole/pihole:", "namespace:     pihole (Pod Security baseline)",
                    "dns 53/UDP, dns-tcp 53/TCP, http 80/TCP", "FTLCONF_dns_listeningMode=ALL"]),
        ("frigate", ["arches:        amd64\n", "web UI:        ingress to port http-auth", "reaches mosquitto; may leave the cluster",
                     "  media        /media/frigate  200Gi  retained"]),
        ("registry", ["web UI:        none (no ingress)", "stays inside the cluster", "registry 5000/TCP"]),
        ("esphome", ["  cache        /cache  5Gi\n", "weight:        medium\n"]),   # a volume that is not retained
        ("openhab", ["weight:        heavy  (kept off nodes with 1 GiB or less)"]),
    ],
)
def test_catalog_name_shows_its_options(name: str, expected: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", name]) == 0
    out = capsys.readouterr().out
    for text in expected:
        assert text in out, text
    assert CATALOG_DATA["apps"][name]["notes"].strip() in out
    assert out == describe_text(name)


@pytest.mark.parametrize(("name", "hint"), [("fridgate", "did you mean 'frigate'?"), ("zzzz", "`clustergen catalog` lists")])
def test_catalog_unknown_name_is_a_user_error(name: str, hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", name]) == 2
    err = capsys.readouterr().err
    assert f"'{name}' is not a catalog app" in err and hint in err
    if name == "zzzz":
        assert "did you mean" not in err


def test_inventory_doc_lists_the_catalog() -> None:
    doc = (ROOT / "docs" / "inventory.md").read_text(encoding="utf-8")
    assert markdown() in doc, "run: python -m generator.schemadoc > docs/inventory.md"
    for name in catalog.apps():
        assert f"| [`{name}`](#app-{name}) |" in doc
