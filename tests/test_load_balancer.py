"""components.loadBalancer: the ingress controller's Service always ends up with an address.

For each choice: the plan, k3s's `disable:` list, the node labels and the
ingress controller's values, as rendered.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.cli import main
from generator.inventory import load_inventory_text
from generator.plan import plan_cluster
from generator.render import render_repository
from generator.shared import ClusterSecrets

from .conftest import TEST_TOKEN

ENABLE_LB = "svccontroller.k3s.cattle.io/enablelb"
BASE: dict[str, Any] = {
    "apiVersion": "clustergen.dev/v1alpha1",
    "kind": "Inventory",
    "cluster": {"name": "lab", "domain": "lab.example.com"},
    "gitops": {"repository": "https://github.com/example/lab.git"},
    "network": {"nodeCidr": "10.1.0.0/24", "gateway": "10.1.0.1", "loadBalancerPool": "10.1.0.200-10.1.0.210"},
    "nodes": [
        {"name": "cp", "address": "10.1.0.10", "profile": "mini-pc", "memory": "16Gi", "role": "controlplane"},
        {"name": "w1", "address": "10.1.0.11", "profile": "mini-pc", "memory": "16Gi", "role": "worker"},
    ],
    "components": {"ingress": "traefik", "tls": {"issuer": "selfsigned"}},
}


def inventory(load_balancer: str | None, ingress: str = "traefik", pool: bool = True) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["components"]["ingress"] = ingress
    if load_balancer is not None:
        data["components"]["loadBalancer"] = load_balancer
    if not pool:
        del data["network"]["loadBalancerPool"]
    return data


def plan_of(data: dict[str, Any]):
    inv, warnings = load_inventory_text(yaml.safe_dump(data, sort_keys=False), "inventory.yaml")
    return plan_cluster(inv, warnings)


def rendered(data: dict[str, Any]) -> dict[str, str]:
    plan = plan_of(data)
    text = yaml.safe_dump(data, sort_keys=False)
    return {f.path: f.content.decode() for f in render_repository(plan, ClusterSecrets(TEST_TOKEN), text)}


def k3s_config(files: dict[str, str], node: str) -> dict[str, Any]:
    doc = yaml.safe_load(files[f"bootstrap/cloud-init/{node}/user-data"])
    return yaml.safe_load(next(f["content"] for f in doc["write_files"] if f["path"] == "/etc/rancher/k3s/config.yaml"))


def ingress_values(files: dict[str, str], key: str) -> dict[str, Any]:
    path = f"overlays/lab/infrastructure/controllers/{key}-values.yaml"
    return yaml.safe_load(files[path])["spec"]["values"] if path in files else {}


def ingress_namespace_level(files: dict[str, str], key: str) -> str:
    namespace = yaml.safe_load(files[f"bases/{key}/namespace.yaml"])
    return namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]


# loadBalancer (None: omitted) → ServiceLB kept, nodes labelled, LB component, Service values (traefik)
ROWS = [
    (None, False, False, "metallb", {"service": {"annotations": {"metallb.io/loadBalancerIPs": "10.1.0.200"}}}),
    ("metallb", False, False, "metallb", {"service": {"annotations": {"metallb.io/loadBalancerIPs": "10.1.0.200"}}}),
    ("kube-vip", False, False, "kube-vip-cloud-provider", {"service": {"annotations": {"kube-vip.io/loadbalancerIPs": "10.1.0.200"}}}),
    ("servicelb", True, True, None, {}),
]


@pytest.mark.parametrize(("load_balancer", "keeps_servicelb", "labelled", "component", "values"), ROWS, ids=[row[0] or "omitted" for row in ROWS])
def test_load_balancer_choice(load_balancer: str | None, keeps_servicelb: bool, labelled: bool, component: str | None, values: dict) -> None:
    data = inventory(load_balancer, pool=load_balancer != "servicelb")
    plan = plan_of(data)
    files = rendered(data)
    assert k3s_config(files, "cp")["disable"] == [c for c in ["traefik", "servicelb", "local-storage"] if c != "servicelb" or not keeps_servicelb]
    assert ("servicelb" in plan.k3s_disable) is not keeps_servicelb
    for node in ("cp", "w1"):
        labels = k3s_config(files, node).get("node-label", [])
        assert (f"{ENABLE_LB}=true" in labels) is labelled, labels
    keys = {c.key for c in plan.components}
    assert keys & {"metallb", "kube-vip-cloud-provider"} == ({component} if component else set())
    assert ("metallb-pool.yaml" in " ".join(files)) is (component == "metallb")
    assert ingress_values(files, "traefik") == values
    assert ingress_namespace_level(files, "traefik") == "baseline"
    assert "ingress-on-node-ports" not in {w.code for w in plan.warnings}


def test_servicelb_needs_no_pool_and_skips_opted_out_nodes() -> None:
    data = inventory("servicelb", pool=False)
    data["nodes"][1]["serviceLB"] = False
    files = rendered(data)
    assert f"{ENABLE_LB}=true" in k3s_config(files, "cp")["node-label"]
    assert f"{ENABLE_LB}=true" not in k3s_config(files, "w1").get("node-label", [])


@pytest.mark.parametrize(
    ("ingress", "values"),
    [
        (
            "traefik",
            {
                "deployment": {"kind": "DaemonSet"},
                "updateStrategy": {"rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                "ports": {"web": {"hostPort": 80}, "websecure": {"hostPort": 443}},
                "service": {"spec": {"type": "NodePort"}},
            },
        ),
        ("ingress-nginx", {"controller": {"kind": "DaemonSet", "hostPort": {"enabled": True}, "service": {"type": "NodePort"}}}),
    ],
)
def test_none_puts_the_ingress_on_node_ports(ingress: str, values: dict, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = inventory("none", ingress=ingress, pool=False)
    plan = plan_of(data)
    files = rendered(data)
    assert ingress_values(files, ingress) == values
    assert "servicelb" in k3s_config(files, "cp")["disable"] and "servicelb" in plan.k3s_disable
    assert not any(ENABLE_LB in label for n in ("cp", "w1") for label in k3s_config(files, n).get("node-label", []))
    assert not {c.key for c in plan.components} & {"metallb", "kube-vip-cloud-provider"}
    # Pod Security baseline forbids hostPort.
    assert ingress_namespace_level(files, ingress) == "privileged"
    warning = next(w for w in plan.warnings if w.code == "ingress-on-node-ports")
    assert "ports 80 and 443" in warning.message and "servicelb" in (warning.hint or "") and warning.field == "components.loadBalancer"
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["plan", str(path)]) == 0
    shown = " ".join(capsys.readouterr().out.split())  # the table wraps long lines
    assert "reachable on each node's ports 80 and 443" in shown
    assert main(["plan", "--strict", str(path)]) == 2


def _error(data: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["generate", str(path), "-o", str(tmp_path / "out")]) == 2
    return capsys.readouterr().err


def test_servicelb_on_talos_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = inventory("servicelb", pool=False)
    data["distribution"] = {"name": "talos"}
    for i, node in enumerate(data["nodes"]):
        node["mac"] = f"52:54:00:00:00:1{i}"
    err = _error(data, tmp_path, capsys)
    assert "servicelb is k3s's built-in klipper-lb, which Talos does not have" in err
    assert f"{tmp_path / 'inventory.yaml'}:" in err and "components.loadBalancer" in err and "hint:" in err


def test_service_lb_node_field_needs_servicelb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = inventory("metallb")
    data["nodes"][0]["serviceLB"] = True
    err = _error(data, tmp_path, capsys)
    assert "node 'cp' sets serviceLB, but components.loadBalancer is metallb" in err and "nodes[0].serviceLB" in err
