"""Tests for charts/app (the generic app chart) and generator/catalog/apps.yaml.

Everything here runs the real Helm v4 engine through helm_python (lint, schema
validation, rendering) and validates rendered manifests against the strict
Kubernetes 1.34 JSON schemas bundled with kubernetes_validate. No mocks.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import helm_python as helm

from generator import podsecurity
from generator.shared.merge import deep_merge
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "app"
CATALOG = ROOT / "generator" / "catalog" / "apps.yaml"
KUBE_VERSION = "1.34.0"
RELEASE = "demo"
NAMESPACE = "home-automation"

MINIMAL: dict[str, Any] = {
    "image": {"repository": "docker.io/library/busybox", "tag": "1.37.0"},
    "service": {"ports": [{"name": "http", "port": 8080}]},
}

CATALOG_DATA: dict[str, Any] = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
# Entries with workload: false (postgres) are only a database: no release of this chart.
APP_NAMES = sorted(n for n, e in CATALOG_DATA["apps"].items() if e.get("workload", True))
# Images that start as root (s6-overlay or an entrypoint that drops to a user; smbd; port 53).
ROOT_APPS = {"openhab", "homebridge", "calibre", "calibre-web", "frigate", "pihole", "adguard-home", "samba"}
BASELINE_CAPABILITIES = podsecurity.BASELINE_CAPABILITIES
FAKE_DEVICE_PATH = "/dev/serial/by-id/usb-ITead_Sonoff_Zigbee_3.0_USB_Dongle_Plus_0001-if00-port0"


# --------------------------------------------------------------------------- helpers




def catalog_values(name: str, *, placed: bool = True) -> dict[str, Any]:
    """Chart values for a catalog app: its `values` plus the image from the entry.

    With placed=True, also add what the renderer adds for placement: the device
    mapping (hostPath from the inventory), ingress host and a storage class.
    """
    entry = CATALOG_DATA["apps"][name]
    values = deep_merge(entry.get("values", {}), {"image": dict(entry["image"])})
    if not placed:
        return values
    placement: dict[str, Any] = {
        "nodeSelector": {"kubernetes.io/arch": "amd64"},
    }
    if entry.get("devices"):
        placement["devices"] = [
            {"name": dev, "hostPath": FAKE_DEVICE_PATH, "containerPath": entry["device_path"]}
            for dev in entry["devices"]
        ]
        placement["nodeSelector"]["kubernetes.io/hostname"] = "node-with-radio"
    if entry.get("web"):
        placement["ingress"] = {
            "enabled": True,
            "className": "traefik",
            "host": f"{name}.home.example.com",
            "servicePort": entry["web"]["port"],
            "tls": {"enabled": True, "clusterIssuer": "letsencrypt-prod"},
        }
    if entry.get("values", {}).get("persistence"):
        placement["persistence"] = {
            key: {"storageClass": "local-path"} for key in entry["values"]["persistence"]
        }
    return deep_merge(values, placement)


def lint_problems(values: dict[str, Any] | None) -> list[dict[str, Any]]:
    report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBE_VERSION}")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    return problems + [{"severity": 3, "error": e} for e in report["errors"] if e not in
                       {m["error"] for m in problems}]


def parse(rendered: dict[str, str]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(rendered):
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(d for d in yaml.safe_load_all(rendered[path]) if d)
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(docs, kind)
    assert len(found) == 1, f"expected exactly one {kind}, got {len(found)}"
    return found[0]


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    assert len(workloads) == 1
    containers = workloads[0]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def pod_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    assert len(workloads) == 1
    return workloads[0]["spec"]["template"]["spec"]


def k8s_validate(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # CRD: no bundled schema; checked structurally in its own test
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def chart():
    with helm.Chart.load(CHART) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def render(chart):
    def _render(values: dict[str, Any], name: str = RELEASE) -> list[dict[str, Any]]:
        return parse(chart.render(values, name=name, namespace=NAMESPACE))

    return _render


@pytest.fixture(scope="module")
def catalog_docs(render) -> dict[str, list[dict[str, Any]]]:
    return {name: render(catalog_values(name), name=name) for name in APP_NAMES}


# --------------------------------------------------------------------------- chart basics


def test_chart_metadata():
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert meta["apiVersion"] == "v2"
    assert meta["name"] == "app"
    assert meta["version"] == "0.1.0"
    for required in ("values.yaml", "values.schema.json", "README.md",
                     "templates/NOTES.txt", "templates/_helpers.tpl"):
        assert (CHART / required).is_file(), required


def test_lint_strict_defaults_with_minimal_image():
    assert lint_problems({"image": MINIMAL["image"]}) == []
    assert lint_problems(MINIMAL) == []


def test_readme_documents_every_value():
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    defaults = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))

    def leaf_paths(node: Any, prefix: str = ""):
        if isinstance(node, dict) and node:
            for key, value in node.items():
                yield from leaf_paths(value, f"{prefix}.{key}" if prefix else key)
        else:
            yield prefix

    missing = [p for p in leaf_paths(defaults) if f"`{p}`" not in readme]
    assert missing == [], f"README.md does not document: {missing}"


@pytest.mark.parametrize(
    "extra",
    [
        {"controller": {"type": "StatefulSet"}, "persistence": {"data": {"mountPath": "/data"}}},
        {"persistence": {"data": {"mountPath": "/data", "existingClaim": "old-data"}}},
        {"gpu": {"enabled": True}},
        {"serviceMonitor": {"enabled": True}},
        {"ingress": {"enabled": True, "host": "app.home.example.com",
                     "tls": {"clusterIssuer": "letsencrypt-prod"}}},
        {"probes": {"liveness": {"type": "exec", "command": ["true"]}}},
        {"hostNetwork": True, "configFiles": {"files": {"a.conf": "x = 1\n"}}},
    ],
    ids=["statefulset", "existing-claim", "gpu", "servicemonitor", "ingress", "exec-probe", "hostnet-config"],
)
def test_lint_strict_feature_variants(extra):
    assert lint_problems(deep_merge(MINIMAL, extra)) == []


# --------------------------------------------------------------------------- schema


def test_schema_rejects_typo_key(chart):
    bad = deep_merge(MINIMAL, {"replica": 2})
    with pytest.raises(helm.HelmValuesError, match="replica"):
        chart.validate_schema(bad)
    problems = lint_problems(bad)
    assert problems and any("replica" in p["error"] for p in problems)


def test_schema_rejects_nested_typo(chart):
    with pytest.raises(helm.HelmValuesError, match="sizee"):
        chart.validate_schema(deep_merge(MINIMAL, {"persistence": {"data": {"mountPath": "/d", "sizee": "1Gi"}}}))
    with pytest.raises(helm.HelmValuesError, match="replica"):
        chart.validate_schema(deep_merge(MINIMAL, {"controller": {"replica": 2}}))


@pytest.mark.parametrize("field", ["repository", "tag"])
def test_schema_rejects_empty_image(chart, field):
    bad = deep_merge(MINIMAL, {"image": {field: ""}})
    with pytest.raises(helm.HelmValuesError, match=f"/image/{field}"):
        chart.validate_schema(bad)
    assert any(f"/image/{field}" in p["error"] for p in lint_problems(bad))


def test_defaults_without_image_fail_lint():
    problems = lint_problems(None)
    assert any("/image/repository" in p["error"] for p in problems)
    assert any("/image/tag" in p["error"] for p in problems)


def test_schema_accepts_every_catalog_app(chart):
    for name in APP_NAMES:
        chart.validate_schema(catalog_values(name))
        chart.validate_schema(catalog_values(name, placed=False))


# --------------------------------------------------------------------------- catalog


def test_catalog_header_and_renovate_annotations():
    text = CATALOG.read_text(encoding="utf-8")
    assert text.startswith("# "), "apps.yaml starts with a one-line header comment"
    lines = text.splitlines()
    tag_lines = [i for i, line in enumerate(lines) if re.match(r"^\s+tag: ", line)]
    # One tag per app, and one per database image an app names (immich's VectorChord).
    database_images = [e for e in CATALOG_DATA["apps"].values() if (e.get("database") or {}).get("image")]
    assert len(tag_lines) == len(CATALOG_DATA["apps"]) + len(database_images)
    for i in tag_lines:
        assert lines[i - 1].strip().startswith("# renovate: datasource=docker depName="), lines[i]


@pytest.mark.parametrize("name", APP_NAMES)
def test_catalog_entry_shape(name):
    entry = CATALOG_DATA["apps"][name]
    assert entry["description"] and "\n" not in entry["description"]
    # A device app gets a namespace of its own so its "privileged" Pod Security level
    # does not loosen the namespace the other apps share (tests/test_catalog.py checks the
    # levels of every namespace).
    if entry.get("devices"):
        assert entry["namespace"] == name
    repo, tag = entry["image"]["repository"], entry["image"]["tag"]
    assert re.match(r"^(docker\.io|ghcr\.io)/[a-z0-9._/-]+$", repo), "fully qualified repository"
    assert isinstance(tag, str) and tag and tag != "latest" and re.search(r"\d", tag), "pinned tag"
    assert entry["arches"] and set(entry["arches"]) <= {"amd64", "arm64", "arm"}
    assert len(set(entry["arches"])) == len(entry["arches"])
    assert entry["weight"] in {"light", "medium", "heavy"}
    assert entry.get("gpu") in (None, "optional", "recommended")
    assert entry["notes"].strip()
    if entry.get("devices"):
        assert entry["device_path"].startswith("/dev/")
    if "web" in entry:
        ports = [p["name"] for p in entry["values"]["service"]["ports"]]
        assert entry["web"]["port"] in ports
    assert set(entry) <= {"description", "namespace", "image", "arches", "weight", "web", "gpu",
                          "devices", "device_path", "notes", "values", "talks_to", "internet",
                          # plan/wiring.py: broker login, database, generated env, URL/host env, a valkey beside it
                          "mqtt", "database", "generated_env", "url_env", "host_env", "redis", "workload"}
    # What its NetworkPolicies allow: catalog apps it reaches, and whether it leaves the cluster.
    assert set(entry["talks_to"]) <= set(CATALOG_DATA["apps"]) and isinstance(entry["internet"], bool)


SEED_SERVICES = {
    "home-assistant", "mosquitto", "zigbee2mqtt", "node-red", "zwave-js-ui", "openhab", "homebridge",
    "esphome", "calibre", "calibre-web", "jellyfin", "frigate", "pihole", "adguard-home", "samba",
    "registry", "filebrowser", "victoria-metrics", "grafana", "uptime-kuma", "vaultwarden",
}


def test_catalog_has_the_seed_services():
    assert set(APP_NAMES) >= SEED_SERVICES


@pytest.mark.parametrize("placed", [False, True], ids=["catalog-only", "placed"])
@pytest.mark.parametrize("name", APP_NAMES)
def test_lint_strict_catalog_app(name, placed):
    assert lint_problems(catalog_values(name, placed=placed)) == []


@pytest.mark.parametrize("name", APP_NAMES)
def test_catalog_app_renders_valid_kubernetes(catalog_docs, name):
    docs = catalog_docs[name]
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "ServiceAccount", "PersistentVolumeClaim"}
    k8s_validate(docs)


@pytest.mark.parametrize("name", APP_NAMES)
def test_catalog_app_probes_resources_persistence(catalog_docs, name):
    docs = catalog_docs[name]
    c = container(docs)
    assert "livenessProbe" in c and "readinessProbe" in c
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    assert c["resources"]["limits"]["memory"]
    pvcs = by_kind(docs, "PersistentVolumeClaim")
    assert pvcs, "every catalog app persists its data"
    declared = CATALOG_DATA["apps"][name]["values"]["persistence"]
    assert any(v.get("retain", True) for v in declared.values()), "some of its data survives a delete"
    for pvc in pvcs:
        retained = declared[pvc["metadata"]["name"].removeprefix(f"{name}-")].get("retain", True)
        annotations = pvc["metadata"].get("annotations") or {}
        assert (annotations.get("helm.sh/resource-policy") == "keep") is retained
        assert (annotations.get("kustomize.toolkit.fluxcd.io/prune") == "disabled") is retained
        assert pvc["spec"]["storageClassName"] == "local-path"
    mounted = {m["name"] for m in c["volumeMounts"]}
    assert {p["metadata"]["name"].removeprefix(f"{name}-") for p in pvcs} <= mounted


@pytest.mark.parametrize("name", APP_NAMES)
def test_catalog_app_security(catalog_docs, name):
    """Least privilege: the image's own uid and a read-only root where the image allows it;
    root only with baseline capabilities; privileged only for device access and host networking."""
    docs = catalog_docs[name]
    c, spec = container(docs), pod_spec(docs)
    context = c["securityContext"]
    assert spec["automountServiceAccountToken"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert not by_kind(docs, "Secret"), "the chart never renders Secret objects"
    assert set(context["capabilities"].get("add", [])) <= BASELINE_CAPABILITIES
    if name in ROOT_APPS:
        assert spec["securityContext"]["runAsUser"] == 0 and spec["securityContext"]["runAsNonRoot"] is False
    else:
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
        assert context["readOnlyRootFilesystem"] is True
        assert context.get("capabilities", {}).get("add", []) == []
    if name in ("zigbee2mqtt", "zwave-js-ui"):
        assert context["privileged"] is True and context["allowPrivilegeEscalation"] is True
    else:
        assert context["privileged"] is False
        assert context["allowPrivilegeEscalation"] is (name == "pihole")
    assert spec.get("hostNetwork", False) is (name == "homebridge")


def test_zigbee2mqtt_device_and_mqtt(catalog_docs):
    docs = catalog_docs["zigbee2mqtt"]
    c, spec = container(docs), pod_spec(docs)
    device_volumes = [v for v in spec["volumes"] if "hostPath" in v]
    assert device_volumes == [
        {"name": "dev-zigbee", "hostPath": {"path": FAKE_DEVICE_PATH, "type": "CharDevice"}}
    ]
    assert {"name": "dev-zigbee", "mountPath": "/dev/zigbee"} in c["volumeMounts"]
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["ZIGBEE2MQTT_CONFIG_SERIAL_PORT"] == CATALOG_DATA["apps"]["zigbee2mqtt"]["device_path"]
    assert env["ZIGBEE2MQTT_CONFIG_MQTT_SERVER"] == "mqtt://mosquitto.home-automation.svc:1883"
    assert 20 in spec["securityContext"]["supplementalGroups"]
    assert spec["nodeSelector"]["kubernetes.io/hostname"] == "node-with-radio"


def test_only_device_apps_have_host_devices(catalog_docs):
    for name, docs in catalog_docs.items():
        has_host_path = any("hostPath" in v for v in pod_spec(docs).get("volumes", []))
        assert has_host_path == bool(CATALOG_DATA["apps"][name].get("devices")), name


def test_mosquitto_config_file(catalog_docs):
    docs = catalog_docs["mosquitto"]
    cm = one(docs, "ConfigMap")
    conf = cm["data"]["mosquitto.conf"]
    assert "listener 1883" in conf.splitlines()
    assert "persistence_location /mosquitto/data/" in conf
    c = container(docs)
    assert {"name": "config-files", "mountPath": "/mosquitto/config", "readOnly": True} in c["volumeMounts"]
    assert pod_spec(docs)["securityContext"]["runAsUser"] == 1883
    assert c["ports"] == [{"name": "mqtt", "containerPort": 1883, "protocol": "TCP"}]
    assert not by_kind(docs, "Ingress"), "MQTT has no web UI"
    workload = one(docs, "Deployment")
    assert "checksum/config-files" in workload["spec"]["template"]["metadata"]["annotations"]


def test_home_assistant_probe_and_command(catalog_docs):
    c = container(catalog_docs["home-assistant"])
    assert c["command"][:3] == ["python3", "-m", "homeassistant"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/manifest.json", "port": "http", "scheme": "HTTP"}


@pytest.mark.parametrize("name", [n for n in APP_NAMES if CATALOG_DATA["apps"][n].get("web")])
def test_catalog_web_apps_get_tls_ingress(catalog_docs, name):
    ingress = one(catalog_docs[name], "Ingress")
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    assert ingress["spec"]["tls"] == [{"hosts": [f"{name}.home.example.com"], "secretName": f"{name}-tls"}]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": name, "port": {"name": CATALOG_DATA["apps"][name]["web"]["port"]}}


# --------------------------------------------------------------------------- chart features


def test_default_render_is_restricted_and_labelled(render):
    docs = render(MINIMAL)
    k8s_validate(docs)
    for doc in docs:
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == RELEASE
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/version"] == "1.37.0"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "app-0.1.0"
    deploy = one(docs, "Deployment")
    assert deploy["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": RELEASE, "app.kubernetes.io/instance": RELEASE}
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}
    spec = deploy["spec"]["template"]["spec"]
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["dnsPolicy"] == "ClusterFirst"
    c = spec["containers"][0]
    assert c["image"] == "docker.io/library/busybox:1.37.0"
    assert c["livenessProbe"]["tcpSocket"] == {"port": "http"}
    assert c["livenessProbe"]["failureThreshold"] == 5
    assert "startupProbe" not in c
    svc = one(docs, "Service")
    assert svc["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    assert not by_kind(docs, "Ingress") and not by_kind(docs, "PersistentVolumeClaim")


def test_name_override_and_digest(render):
    digest = "sha256:" + "a" * 64
    docs = render(deep_merge(MINIMAL, {"nameOverride": "custom", "image": {"digest": digest}}))
    assert one(docs, "Deployment")["metadata"]["name"] == "custom"
    assert container(docs)["image"] == f"docker.io/library/busybox:1.37.0@{digest}"


def test_statefulset_uses_volume_claim_templates(render):
    docs = render(deep_merge(MINIMAL, {
        "controller": {"type": "StatefulSet"},
        "persistence": {
            "data": {"mountPath": "/data", "size": "2Gi", "storageClass": "fast"},
            "legacy": {"mountPath": "/legacy", "existingClaim": "legacy-pvc"},
        },
    }))
    k8s_validate(docs)
    sts = one(docs, "StatefulSet")
    assert not by_kind(docs, "Deployment") and not by_kind(docs, "PersistentVolumeClaim")
    assert "strategy" not in sts["spec"]
    assert sts["spec"]["serviceName"] == RELEASE
    templates = sts["spec"]["volumeClaimTemplates"]
    assert [t["metadata"]["name"] for t in templates] == ["data"]
    assert templates[0]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert templates[0]["spec"]["storageClassName"] == "fast"
    assert templates[0]["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    volumes = sts["spec"]["template"]["spec"]["volumes"]
    assert volumes == [{"name": "legacy", "persistentVolumeClaim": {"claimName": "legacy-pvc"}}]
    mounts = container(docs)["volumeMounts"]
    assert {"name": "data", "mountPath": "/data"} in mounts


def test_existing_claim_and_persistence_options(render):
    docs = render(deep_merge(MINIMAL, {"persistence": {
        "config": {"mountPath": "/config", "existingClaim": "ha-config-restored", "subPath": "ha"},
        "cache": {"mountPath": "/cache", "retain": False, "storageClass": "-", "accessMode": "ReadWriteOncePod"},
        "off": {"enabled": False, "mountPath": "/off"},
    }}))
    k8s_validate(docs)
    pvcs = by_kind(docs, "PersistentVolumeClaim")
    assert [p["metadata"]["name"] for p in pvcs] == [f"{RELEASE}-cache"]
    assert "annotations" not in pvcs[0]["metadata"], "retain: false drops the keep annotations"
    assert pvcs[0]["spec"]["storageClassName"] == ""
    assert pvcs[0]["spec"]["accessModes"] == ["ReadWriteOncePod"]
    volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
    assert volumes["config"]["persistentVolumeClaim"]["claimName"] == "ha-config-restored"
    assert volumes["cache"]["persistentVolumeClaim"]["claimName"] == f"{RELEASE}-cache"
    assert "off" not in volumes
    assert {"name": "config", "mountPath": "/config", "subPath": "ha"} in container(docs)["volumeMounts"]


def test_gpu_adds_limit_and_runtime_class(render):
    docs = render(deep_merge(MINIMAL, {"gpu": {"enabled": True, "count": 2}}))
    k8s_validate(docs)
    assert container(docs)["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert container(docs)["resources"]["limits"]["memory"] == "256Mi"
    assert pod_spec(docs)["runtimeClassName"] == "nvidia"
    docs = render(deep_merge(MINIMAL, {"gpu": {"enabled": True, "resourceName": "amd.com/gpu"},
                                       "runtimeClassName": "custom"}))
    assert container(docs)["resources"]["limits"]["amd.com/gpu"] == 1
    assert pod_spec(docs)["runtimeClassName"] == "custom"
    plain = render(MINIMAL)
    assert "runtimeClassName" not in pod_spec(plain)
    assert "nvidia.com/gpu" not in container(plain)["resources"]["limits"]


def test_service_monitor_renders_when_enabled(render):
    assert not by_kind(render(MINIMAL), "ServiceMonitor")
    docs = render(deep_merge(MINIMAL, {"serviceMonitor": {"enabled": True, "interval": "30s"}}))
    k8s_validate(docs)
    sm = one(docs, "ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": RELEASE, "app.kubernetes.io/instance": RELEASE}
    assert sm["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
    assert sm["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}


def test_ingress_tls_and_cert_manager(render):
    base = deep_merge(MINIMAL, {"ingress": {"enabled": True, "host": "app.home.example.com",
                                            "className": "nginx"}})
    docs = render(deep_merge(base, {"ingress": {"tls": {"clusterIssuer": "letsencrypt-prod"}}}))
    k8s_validate(docs)
    ing = one(docs, "Ingress")
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt-prod"}
    assert ing["spec"]["tls"] == [{"hosts": ["app.home.example.com"], "secretName": f"{RELEASE}-tls"}]
    no_tls = one(render(deep_merge(base, {"ingress": {"tls": {"enabled": False,
                                                                 "clusterIssuer": "x"}}})), "Ingress")
    assert "tls" not in no_tls["spec"] and "annotations" not in no_tls["metadata"]


def test_ingress_requires_host(chart):
    with pytest.raises(helm.HelmRenderError, match="ingress.host"):
        chart.render(deep_merge(MINIMAL, {"ingress": {"enabled": True}}), name=RELEASE, namespace=NAMESPACE)


def test_env_sorted_config_files_emptydirs_devices(render):
    docs = render(deep_merge(MINIMAL, {
        "env": {"ZED": "last", "ALPHA": "first", "MIDDLE": 3, "FLAG": True},
        "envFrom": [{"secretRef": {"name": "app-secrets"}}],
        "configFiles": {"mountPath": "/etc/app", "files": {"b.conf": "b\n", "a.conf": "a\n"}},
        "emptyDirs": {"tmp": "/tmp", "cache": "/var/cache/app"},
        "devices": [{"name": "radio", "hostPath": "/dev/serial/by-id/usb-x", "containerPath": "/dev/radio"}],
        "args": ["--verbose"],
        "command": ["/bin/app"],
    }))
    k8s_validate(docs)
    c = container(docs)
    assert [e["name"] for e in c["env"]] == ["ALPHA", "FLAG", "MIDDLE", "ZED"]
    assert {e["name"]: e["value"] for e in c["env"]} == {"ALPHA": "first", "FLAG": "true", "MIDDLE": "3", "ZED": "last"}
    assert c["envFrom"] == [{"secretRef": {"name": "app-secrets"}}]
    assert c["command"] == ["/bin/app"] and c["args"] == ["--verbose"]
    cm = one(docs, "ConfigMap")
    assert list(cm["data"]) == ["a.conf", "b.conf"]
    volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
    assert volumes["config-files"] == {"name": "config-files", "configMap": {"name": f"{RELEASE}-config"}}
    assert volumes["empty-tmp"]["emptyDir"] == {} and volumes["empty-cache"]["emptyDir"] == {}
    assert volumes["dev-radio"]["hostPath"] == {"path": "/dev/serial/by-id/usb-x", "type": "CharDevice"}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/etc/app"]["readOnly"] is True
    assert set(mounts) == {"/etc/app", "/tmp", "/var/cache/app", "/dev/radio"}


def test_probe_types(render):
    docs = render(deep_merge(MINIMAL, {
        "service": {"ports": [{"name": "web", "port": 80, "targetPort": 8080},
                              {"name": "metrics", "port": 9090, "protocol": "TCP"}]},
        "probes": {
            "liveness": {"type": "http", "path": "/healthz", "port": "metrics"},
            "readiness": {"type": "exec", "command": ["cat", "/tmp/ready"]},
            "startup": {"enabled": True, "port": 8080},
        },
    }))
    k8s_validate(docs)
    c = container(docs)
    assert c["ports"][0] == {"name": "web", "containerPort": 8080, "protocol": "TCP"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics", "scheme": "HTTP"}
    assert c["readinessProbe"]["exec"] == {"command": ["cat", "/tmp/ready"]}
    assert c["startupProbe"]["tcpSocket"] == {"port": 8080}
    assert c["startupProbe"]["failureThreshold"] == 30
    svc = one(docs, "Service")
    assert svc["spec"]["ports"][0] == {"name": "web", "port": 80, "targetPort": "web", "protocol": "TCP"}


def test_probe_without_port_fails_clearly(chart):
    with pytest.raises(helm.HelmRenderError, match="probes.liveness needs a port"):
        chart.render({"image": MINIMAL["image"]}, name=RELEASE, namespace=NAMESPACE)
    docs = parse(chart.render({"image": MINIMAL["image"], "probes": {
        "liveness": {"enabled": False}, "readiness": {"enabled": False}}}, name=RELEASE, namespace=NAMESPACE))
    k8s_validate(docs)
    assert not by_kind(docs, "Service")


def test_host_network_dns_policy(render):
    spec = pod_spec(render(deep_merge(MINIMAL, {"hostNetwork": True})))
    assert spec["hostNetwork"] is True and spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    spec = pod_spec(render(deep_merge(MINIMAL, {"hostNetwork": True, "dnsPolicy": "Default"})))
    assert spec["dnsPolicy"] == "Default"


def test_privileged_requires_privilege_escalation(chart):
    with pytest.raises(helm.HelmRenderError, match="allowPrivilegeEscalation"):
        chart.render(deep_merge(MINIMAL, {"securityContext": {"privileged": True}}),
                     name=RELEASE, namespace=NAMESPACE)


def test_service_account_options(render):
    docs = render(deep_merge(MINIMAL, {"serviceAccount": {"create": False}}))
    assert not by_kind(docs, "ServiceAccount")
    assert pod_spec(docs)["serviceAccountName"] == "default"
    docs = render(deep_merge(MINIMAL, {"serviceAccount": {"automountToken": True, "name": "robot"}}))
    assert one(docs, "ServiceAccount")["automountServiceAccountToken"] is True
    assert pod_spec(docs)["serviceAccountName"] == "robot"


def test_pod_labels_cannot_break_selector(render):
    docs = render(deep_merge(MINIMAL, {"podLabels": {"app.kubernetes.io/name": "evil", "team": "home"},
                                       "podAnnotations": {"example.com/a": "b"}}))
    deploy = one(docs, "Deployment")
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == RELEASE and labels["team"] == "home"
    assert deploy["spec"]["template"]["metadata"]["annotations"] == {"example.com/a": "b"}


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("name", APP_NAMES)
def test_render_is_deterministic(chart, name):
    values = catalog_values(name)
    first = chart.render(values, name=name, namespace=NAMESPACE)
    second = chart.render(copy.deepcopy(values), name=name, namespace=NAMESPACE)
    assert first == second
    with helm.Chart.load(CHART) as fresh:
        assert fresh.render(values, name=name, namespace=NAMESPACE) == first
