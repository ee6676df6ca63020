"""Names on the LAN: private registries by name on every node (k3s and Talos), and the
in-cluster DNS server (k8s_gateway) that answers the cluster domain at home."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import helm_python as helm
import jinja2
import pytest
import yaml
from jsonschema import Draft202012Validator

from generator import catalog
from generator.cli import main
from generator.inventory import load_inventory_text
from generator.plan import plan_cluster
from generator.podsecurity import admitted, evaluate
from generator.render import ClusterSecrets, render_repository
from generator.render.k3s import ETC_HOSTS_TEMPLATE
from generator.render.talos import cluster_patch
from generator.validate.helm import merge

from .conftest import EXAMPLES, SHARED_SCHEMAS, TEST_TOKEN, requires_shared

SINGLE = yaml.safe_load((EXAMPLES / "single-mini-pc.yaml").read_text())
THREE = yaml.safe_load((EXAMPLES / "three-mini-pcs.yaml").read_text())
RACK = yaml.safe_load((EXAMPLES / "talos-rack.yaml").read_text())
CLOUD_INIT = Path("/work/.mirror/canonical+cloud-init/repo")
K8S_GATEWAY = Path("/work/.mirror/k8s-gateway+k8s_gateway/repo")
REGISTRY = {"name": "kube-registry:5000", "address": "192.168.1.253"}


def with_(base: dict[str, Any], *, registries: list | None = None, lan_dns: Any = None, **components: Any) -> dict[str, Any]:
    data = copy.deepcopy(base)
    if registries is not None:
        data["network"]["registries"] = registries
    if lan_dns is not None:
        data["components"]["lanDns"] = lan_dns
    data["components"].update(components)
    return data


def plan_of(data: dict[str, Any]) -> Any:
    text = yaml.safe_dump(data, sort_keys=False)
    inv, warnings = load_inventory_text(text, "inventory.yaml")
    return plan_cluster(inv, warnings)


def user_data(data: dict[str, Any], node: str = "nuc") -> dict[str, Any]:
    text = yaml.safe_dump(data, sort_keys=False)
    inv, warnings = load_inventory_text(text, "inventory.yaml")
    files = {f.path: f.content.decode() for f in render_repository(plan_cluster(inv, warnings), ClusterSecrets(TEST_TOKEN), text)}
    return yaml.safe_load(files[f"bootstrap/cloud-init/{node}/user-data"])


def written(doc: dict[str, Any], path: str) -> dict[str, Any] | None:
    return next((f for f in doc["write_files"] if f["path"] == path), None)


# (id, registries, registryMirrors, expected registries.yaml, expected host lines)
K3S_ROWS = [
    ("none", None, None, None, None),
    ("plain http", [REGISTRY], None,
     {"mirrors": {"kube-registry:5000": {"endpoint": ["http://kube-registry:5000"]}}}, ["192.168.1.253 kube-registry"]),
    ("https verified", [{**REGISTRY, "tls": "verify"}], None,
     {"mirrors": {"kube-registry:5000": {"endpoint": ["https://kube-registry:5000"]}}}, ["192.168.1.253 kube-registry"]),
    ("https self-signed", [{**REGISTRY, "tls": "skip-verify"}], None,
     {"mirrors": {"kube-registry:5000": {"endpoint": ["https://kube-registry:5000"]}},
      "configs": {"kube-registry:5000": {"tls": {"insecure_skip_verify": True}}}}, ["192.168.1.253 kube-registry"]),
    ("two ports on one host, one line", [REGISTRY, {"name": "kube-registry:5001", "address": "192.168.1.253"}], None,
     {"mirrors": {"kube-registry:5000": {"endpoint": ["http://kube-registry:5000"]}, "kube-registry:5001": {"endpoint": ["http://kube-registry:5001"]}}},
     ["192.168.1.253 kube-registry"]),
    ("beside a pull-through mirror", [REGISTRY], {"docker.io": ["https://mirror.lan:5000"]},
     {"mirrors": {"docker.io": {"endpoint": ["https://mirror.lan:5000"]}, "kube-registry:5000": {"endpoint": ["http://kube-registry:5000"]}}},
     ["192.168.1.253 kube-registry"]),
    ("mirror only: no host entries", None, {"docker.io": ["https://mirror.lan:5000"]},
     {"mirrors": {"docker.io": {"endpoint": ["https://mirror.lan:5000"]}}}, None),
]


@pytest.mark.parametrize(("registries", "mirrors", "expected", "hosts"), [r[1:] for r in K3S_ROWS], ids=[r[0] for r in K3S_ROWS])
def test_k3s_nodes_get_the_registry_mirror_and_host_entry(registries: list | None, mirrors: dict | None, expected: dict | None, hosts: list | None) -> None:
    data = with_(SINGLE, registries=registries)
    if mirrors:
        data["distribution"]["registryMirrors"] = mirrors
    doc = user_data(data)
    reg = written(doc, "/etc/rancher/k3s/registries.yaml")
    assert (yaml.safe_load(reg["content"]) if reg else None) == expected
    entry = written(doc, ETC_HOSTS_TEMPLATE)
    if hosts is None:
        assert entry is None
        return
    assert entry["append"] is True
    assert [line for line in entry["content"].splitlines() if not line.startswith("#")] == hosts
    # manage_etc_hosts keeps re-rendering /etc/hosts from the template: the entry must be there.
    assert doc["manage_etc_hosts"] is True


@pytest.mark.skipif(not CLOUD_INIT.is_dir(), reason="the cloud-init sources are not on this machine")
def test_the_host_entry_survives_cloud_inits_hosts_template() -> None:
    """Append the entry to cloud-init's own template (as write_files does) and render it as
    update_etc_hosts does (jinja, after the '## template:jinja' header)."""
    version = catalog.components_file()["validation_downloads"]["cloud_init_version"]
    template = subprocess.run(["git", f"--git-dir={CLOUD_INIT}", "show", f"refs/tags/{version}:templates/hosts.debian.tmpl"],
                              check=True, capture_output=True, text=True).stdout
    entry = written(user_data(with_(SINGLE, registries=[REGISTRY])), ETC_HOSTS_TEMPLATE)
    appended = template + entry["content"]
    header, body = appended.split("\n", 1)
    assert header.strip() == "## template:jinja"
    hosts = jinja2.Template(body).render(hostname="nuc", fqdn="nuc.home.example.com")
    assert "192.168.1.253 kube-registry" in hosts.splitlines() and "127.0.1.1 nuc.home.example.com nuc" in hosts.splitlines()


@requires_shared
@pytest.mark.parametrize("tls", ["none", "skip-verify"])
def test_talos_nodes_get_the_registry_documents(tls: str) -> None:
    data = with_(RACK, registries=[{"name": "kube-registry:5000", "address": "10.20.0.250", "tls": tls}])
    documents = cluster_patch(plan_of(data))
    by_kind: dict[str, list[dict]] = {}
    for d in documents:
        by_kind.setdefault(d.get("kind", "v1alpha1"), []).append(d)
    mirrors = {d["name"]: d["endpoints"] for d in by_kind["RegistryMirrorConfig"]}
    scheme = "http" if tls == "none" else "https"
    assert mirrors == {
        "docker.io": [{"url": "https://mirror.lab.example.com:5000"}],
        "ghcr.io": [{"url": "https://mirror.lab.example.com:5001"}],
        "kube-registry:5000": [{"url": f"{scheme}://kube-registry:5000"}],
    }
    assert by_kind["StaticHostConfig"] == [{"apiVersion": "v1alpha1", "kind": "StaticHostConfig", "name": "10.20.0.250", "hostnames": ["kube-registry"]}]
    assert by_kind.get("RegistryTLSConfig", []) == ([{"apiVersion": "v1alpha1", "kind": "RegistryTLSConfig", "name": "kube-registry:5000",
                                                      "insecureSkipVerify": True}] if tls == "skip-verify" else [])
    # Each document is what Talos 1.13's schema accepts.
    schema = json.loads((SHARED_SCHEMAS / "talos" / "v1.13" / "config.schema.json").read_text())
    defs = {"RegistryMirrorConfig": "cri.RegistryMirrorConfigV1Alpha1", "RegistryTLSConfig": "cri.RegistryTLSConfigV1Alpha1",
            "StaticHostConfig": "network.StaticHostConfigV1Alpha1"}
    for kind, ref in defs.items():
        validator = Draft202012Validator({"$ref": f"#/$defs/{ref}", "$defs": schema["$defs"]})
        for d in by_kind.get(kind, []):
            assert not [e.message for e in validator.iter_errors(d)]


# (id, registries, message)
REGISTRY_ERRORS = [
    ("twice", [REGISTRY, {**REGISTRY, "tls": "verify"}], "is listed twice"),
    ("one host, two addresses", [REGISTRY, {"name": "kube-registry:5001", "address": "192.168.1.254"}], "points at both"),
]


def _generate_fails(data: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    assert main(["generate", str(path), "-o", str(out)]) == 2
    assert not out.exists()
    return capsys.readouterr().err


@pytest.mark.parametrize(("registries", "message"), [r[1:] for r in REGISTRY_ERRORS], ids=[r[0] for r in REGISTRY_ERRORS])
def test_registry_conflicts_are_errors(registries: list, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _generate_fails(with_(SINGLE, registries=registries), tmp_path, capsys)
    assert message in err and "network.registries[1]" in err


def test_a_registry_that_is_also_a_pull_through_mirror_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = with_(SINGLE, registries=[REGISTRY])
    data["distribution"]["registryMirrors"] = {"kube-registry:5000": ["http://other:5000"]}
    assert "both a private registry and in distribution.registryMirrors" in _generate_fails(data, tmp_path, capsys)


# ---------------------------------------------------------------- the cluster domain on the LAN

# three-mini-pcs: MetalLB, pool 10.0.10.200/29 (.200-.207), ingress address 10.0.10.200.
# (id, base, lanDns, loadBalancer, message or None, severity)
LAN_DNS_ROWS = [
    ("metallb, address in the pool", THREE, {"address": "10.0.10.201"}, None, None, None),
    ("metallb, last pool address", THREE, {"address": "10.0.10.207"}, None, None, None),
    ("metallb, one past the pool", THREE, {"address": "10.0.10.208"}, None, "is not in the load-balancer pool", "error"),
    ("metallb, the ingress address", THREE, {"address": "10.0.10.200"}, None, "is the ingress address", "error"),
    ("metallb, no address", THREE, True, None, "needs a fixed address", "error"),
    ("servicelb, no address", SINGLE, True, None, None, None),
    ("servicelb, an address", SINGLE, {"address": "192.168.1.241"}, None, "lanDns.address is not used", "warning"),
    ("no load balancer", SINGLE, True, "none", "components.loadBalancer is none", "error"),
]


@pytest.mark.parametrize(("base", "lan_dns", "lb", "message", "severity"), [r[1:] for r in LAN_DNS_ROWS], ids=[r[0] for r in LAN_DNS_ROWS])
def test_lan_dns_address_rules(base: dict, lan_dns: Any, lb: str | None, message: str | None, severity: str | None,
                               tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = with_(base, lan_dns=lan_dns, **({"loadBalancer": lb} if lb else {}))
    if severity == "error":
        err = _generate_fails(data, tmp_path, capsys)
        assert message in err and "components.lanDns" in err
        return
    plan = plan_of(data)
    assert "k8s-gateway" in {c.key for c in plan.components}
    codes = [w.message for w in plan.warnings if w.code == "lan-dns-address-unused"]
    assert (message is not None) == bool(codes)


@pytest.fixture(scope="module")
def k8s_gateway_chart(tmp_path_factory: pytest.TempPathFactory):
    if not K8S_GATEWAY.is_dir():
        pytest.skip("the k8s_gateway sources are not on this machine")
    version = catalog.component("k8s-gateway")["chart"]["version"]
    archive = subprocess.run(["git", f"--git-dir={K8S_GATEWAY}", "archive", f"k8s-gateway-{version}", "charts/k8s-gateway"],
                             check=True, capture_output=True).stdout
    root = tmp_path_factory.mktemp("k8s-gateway")
    with tarfile.open(fileobj=io.BytesIO(archive)) as t:
        t.extractall(root, filter="data")
    with helm.Chart.load(root / "charts" / "k8s-gateway") as loaded:
        yield loaded


def k8s_gateway_objects(chart: Any, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    plan = plan_of(data)
    component = next(c for c in plan.components if c.key == "k8s-gateway")
    rendered = chart.render(merge(copy.deepcopy(component.values), component.cluster_values), name="k8s-gateway", namespace=component.namespace)
    docs = [d for path, text in rendered.items() if path.endswith(".yaml") for d in yaml.safe_load_all(text) if d]
    return {d["kind"]: d for d in docs}, component


@pytest.mark.parametrize(("base", "lan_dns", "annotation"), [
    (THREE, {"address": "10.0.10.201"}, {"metallb.io/loadBalancerIPs": "10.0.10.201"}),
    (SINGLE, True, None),
], ids=["metallb", "servicelb"])
def test_k8s_gateway_answers_the_domain_on_port_53(k8s_gateway_chart: Any, base: dict, lan_dns: Any, annotation: dict | None) -> None:
    objects, component = k8s_gateway_objects(k8s_gateway_chart, with_(base, lan_dns=lan_dns))
    domain = base["cluster"]["domain"]
    corefile = objects["ConfigMap"]["data"]["Corefile"]
    assert f"k8s_gateway {domain} {{" in corefile and "resources Ingress Service" in corefile
    service = objects["Service"]
    assert service["spec"]["type"] == "LoadBalancer"
    assert sorted((p["protocol"], p["port"]) for p in service["spec"]["ports"]) == [("TCP", 53), ("UDP", 53)]
    lb_annotations = {k: v for k, v in service["metadata"].get("annotations", {}).items() if not k.startswith("prometheus.io/")}
    assert lb_annotations == (annotation or {})
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "ghcr.io/k8s-gateway/k8s_gateway:1.8.2"
    # The namespace enforces the level the catalog names: the pod must be admitted there.
    assert component.pod_security == "restricted"
    assert admitted("restricted", evaluate(pod)) == []


def test_k8s_gateway_stays_off_nodes_its_image_is_not_built_for(k8s_gateway_chart: Any) -> None:
    data = with_(THREE, lan_dns={"address": "10.0.10.201"})
    data["nodes"][-1]["arch"] = "arm"
    objects, _ = k8s_gateway_objects(k8s_gateway_chart, data)
    terms = objects["Deployment"]["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]}]}]
    objects, _ = k8s_gateway_objects(k8s_gateway_chart, with_(THREE, lan_dns={"address": "10.0.10.201"}))
    assert "affinity" not in objects["Deployment"]["spec"]["template"]["spec"]


def test_plan_and_readme_show_the_lan_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = with_(THREE, lan_dns={"address": "10.0.10.201"}, registries=[{**REGISTRY, "address": "10.0.10.9"}])
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["plan", str(path)]) == 0
    out = capsys.readouterr().out
    assert "LAN DNS: k8s_gateway answers *.lab.example.org at 10.0.10.201, port 53" in out
    assert "registry: kube-registry:5000 → 10.0.10.9 on every node" in out
    text = yaml.safe_dump(data, sort_keys=False)
    inv, warnings = load_inventory_text(text, "inventory.yaml")
    readme = next(f for f in render_repository(plan_cluster(inv, warnings), ClusterSecrets(TEST_TOKEN), text) if f.path == "README.md").content.decode()
    lan = readme[readme.index("## Names on the LAN"):]
    assert "`server=/lab.example.org/10.0.10.201`" in lan and "| `kube-registry:5000` | 10.0.10.9 | plain HTTP |" in lan
