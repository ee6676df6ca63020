"""Each hardware rule, with an inventory that triggers it. Every test fails if its rule goes."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.cli import main
from generator.errors import ClustergenError, PlanError
from generator.inventory import load_inventory_text
from generator.plan import plan_cluster
from generator.render import render_repository
from generator.shared import ClusterSecrets

from .conftest import EXAMPLES, TEST_TOKEN, kubectl

BASE: dict[str, Any] = {
    "apiVersion": "clustergen.dev/v1alpha1",
    "kind": "Inventory",
    "cluster": {"name": "lab", "domain": "lab.example.com"},
    "gitops": {"repository": "https://github.com/example/lab.git"},
    "network": {"nodeCidr": "10.1.0.0/24", "gateway": "10.1.0.1", "controlPlaneEndpoint": "10.1.0.5", "loadBalancerPool": "10.1.0.200-10.1.0.210"},
    "nodes": [],
    "apps": [],
}


def node(name: str, last: int, **facts: Any) -> dict[str, Any]:
    return {"name": name, "address": f"10.1.0.{last}", "profile": "mini-pc", "memory": "16Gi", **facts}


def inventory(nodes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["nodes"] = nodes
    for key, value in extra.items():
        data[key] = value
    return data


def plan_of(data: dict[str, Any]):
    inv, warnings = load_inventory_text(yaml.safe_dump(data, sort_keys=False), "inventory.yaml")
    return plan_cluster(inv, warnings)


def files_of(data: dict[str, Any]) -> dict[str, str]:
    plan = plan_of(data)
    text = yaml.safe_dump(data, sort_keys=False)
    return {f.path: f.content.decode() for f in render_repository(plan, ClusterSecrets(TEST_TOKEN), text)}


def codes(plan) -> set[str]:
    return {w.code for w in plan.warnings if w.code}


def user_data(files: dict[str, str], name: str) -> dict[str, Any]:
    return yaml.safe_load(files[f"bootstrap/cloud-init/{name}/user-data"])


def k3s_config(files: dict[str, str], name: str) -> dict[str, Any]:
    doc = user_data(files, name)
    return yaml.safe_load(next(f["content"] for f in doc["write_files"] if f["path"] == "/etc/rancher/k3s/config.yaml"))


# -- control planes -----------------------------------------------------------

def test_auto_picks_three_sturdy_servers_and_avoids_sd_and_small_nodes() -> None:
    nodes = [
        node("pi", 11, profile="rpi4", arch="arm64", memory="8Gi"),  # SD boot: avoided
        node("small", 12, memory="1Gi"),  # under 2 GiB: avoided
        node("a", 13), node("b", 14), node("c", 15), node("d", 16, memory="8Gi"),
    ]
    plan = plan_of(inventory(nodes))
    assert [n.name for n in plan.servers] == ["a", "b", "c"]
    assert plan.first_server.name == "a"


def test_auto_without_vip_uses_one_server_and_says_why() -> None:
    data = inventory([node("a", 11), node("b", 12), node("c", 13)])
    del data["network"]["controlPlaneEndpoint"]
    plan = plan_of(data)
    assert len(plan.servers) == 1
    assert any("HA control plane" in w.message for w in plan.warnings)


def test_five_servers_for_a_big_cluster() -> None:
    plan = plan_of(inventory([node(f"n{i}", 10 + i) for i in range(10)]))
    assert len(plan.servers) == 5


def test_first_server_inits_etcd_others_join_the_vip_with_identical_flags() -> None:
    files = files_of(inventory([node("a", 11), node("b", 12), node("c", 13), node("w", 14, role="worker")]))
    first, second, third, agent = (k3s_config(files, n) for n in ("a", "b", "c", "w"))
    assert first["cluster-init"] is True and "server" not in first
    assert second["server"] == third["server"] == agent["server"] == "https://10.1.0.5:6443"
    shared = ("cluster-cidr", "service-cidr", "cluster-dns", "disable", "secrets-encryption", "flannel-backend")
    for key in shared:
        assert first[key] == second[key] == third[key], key
    assert "10.1.0.5" in first["tls-san"]


def test_single_server_uses_sqlite() -> None:
    files = files_of(inventory([node("a", 11)]))
    assert "cluster-init" not in k3s_config(files, "a")


def test_etcd_on_sd_card_is_named() -> None:
    plan = plan_of(inventory([node("pi", 11, profile="rpi4", arch="arm64", memory="8Gi", role="controlplane")]))
    assert "etcd-on-sd-card" in codes(plan)


# -- SD cards, swap, Raspberry Pi ----------------------------------------------

def test_sd_node_with_usb_ssd_gets_k3s_data_on_it_and_volatile_logs() -> None:
    ssd = {"path": "/dev/disk/by-id/usb-Samsung_T7_0001-0:0", "size": "500Gi", "type": "usb", "use": "data"}
    files = files_of(inventory([node("a", 11), node("pi", 12, profile="rpi4", arch="arm64", memory="4Gi", disks=[ssd])]))
    doc = user_data(files, "pi")
    assert doc["fs_setup"] == [{"label": "k3s-data", "filesystem": "ext4", "device": ssd["path"], "partition": "none", "overwrite": False}]
    assert ["LABEL=k3s-data", "/var/lib/rancher", "ext4", "defaults,noatime,nofail", "0", "2"] in doc["mounts"]
    journald = next(f for f in doc["write_files"] if "journald" in f["path"])
    assert "Storage=volatile" in journald["content"]
    assert "fs_setup" not in user_data(files, "a")


def test_sd_node_without_disk_warns() -> None:
    plan = plan_of(inventory([node("a", 11), node("pi", 12, profile="rpi4", arch="arm64", memory="4Gi")]))
    assert any("wear the card out" in w.message for w in plan.warnings)


def test_small_nodes_get_swap_with_limited_swap_unless_told_no() -> None:
    files = files_of(inventory([node("a", 11), node("small", 12, memory="2Gi"), node("nos", 13, memory="2Gi", swap="off")]))
    doc = user_data(files, "small")
    assert doc["swap"]["size"] == 2 * 1024**3
    dropin = next(f for f in doc["write_files"] if f["path"].endswith("50-swap.conf"))
    conf = yaml.safe_load(dropin["content"])
    assert conf["failSwapOn"] is False and conf["memorySwap"] == {"swapBehavior": "LimitedSwap"}
    assert k3s_config(files, "small")["kubelet-arg"] == ["config-dir=/etc/rancher/k3s/kubelet.conf.d"]
    assert "swap" not in user_data(files, "nos") and "swap" not in user_data(files, "a")


def test_raspberry_pi_rules() -> None:
    files = files_of(inventory([node("a", 11), node("pi", 12, profile="rpi4", arch="arm64", memory="4Gi")]))
    doc = user_data(files, "pi")
    commands = " ".join(c[2] for c in doc["runcmd"])
    assert "cgroup_memory=1 cgroup_enable=memory" in commands and "/boot/firmware/cmdline.txt" in commands
    for service in ("snapd", "ModemManager", "unattended-upgrades", "multipathd", "bluetooth"):
        assert service in commands
    assert "linux-modules-extra-raspi" in doc["packages"]
    assert doc["power_state"]["mode"] == "reboot"
    assert "power_state" not in user_data(files, "a")


def test_32_bit_pi_is_refused() -> None:
    with pytest.raises(PlanError) as err:
        plan_of(inventory([node("a", 11), node("pi", 12, profile="rpi3", arch="arm", memory="1Gi")]))
    assert "64-bit" in err.value.problems[0].message and err.value.problems[0].field == "nodes[1].arch"


# -- storage ---------------------------------------------------------------------

def disk(n: int) -> dict[str, Any]:
    return {"path": f"/dev/disk/by-id/ata-DISK_{n}", "size": "1Ti", "type": "ssd", "use": "storage"}


def test_auto_storage_rook_when_three_capable_nodes() -> None:
    data = inventory([node("a", 11, disks=[disk(1)]), node("b", 12, disks=[disk(2)]), node("c", 13, disks=[disk(3)]), node("pi", 14, profile="rpi4", arch="arm64", memory="4Gi", disks=[disk(4)])])
    plan = plan_of(data)
    assert plan.storage_backend == "rook-ceph" and plan.storage_class == "ceph-block"
    assert [n.name for n in plan.nodes if n.storage_role == "ceph-osd"] == ["a", "b", "c"]  # the 4 GiB Pi is kept off
    assert "ceph-on-small-nodes" in codes(plan)
    files = files_of(data)
    release = yaml.safe_load(files["overlays/lab/infrastructure/storage/rook-ceph-cluster-values.yaml"])
    storage = release["spec"]["values"]["cephClusterSpec"]["storage"]
    assert storage["useAllDevices"] is False and storage["useAllNodes"] is False
    assert storage["nodes"][0] == {"name": "a", "devices": [{"name": "/dev/disk/by-id/ata-DISK_1"}]}
    base = yaml.safe_load(files["bases/rook-ceph-cluster/helmrelease.yaml"])["spec"]
    assert base["dependsOn"] == [{"name": "rook-ceph"}, {"name": "ceph-csi-drivers"}]
    assert base["values"]["cephClusterSpec"]["mon"]["count"] == 3
    assert base["values"]["cephClusterSpec"]["cleanupPolicy"]["confirmation"] == ""
    assert base["values"]["cephBlockPools"][0]["storageClass"]["reclaimPolicy"] == "Retain"
    assert "lvm2" in user_data(files, "a")["packages"] and "lvm2" not in user_data(files, "pi")["packages"]
    readme = files["README.md"]
    assert "sudo wipefs --all /dev/disk/by-id/ata-DISK_1" in readme and "ata-DISK_4" not in readme


def test_auto_storage_longhorn_with_two_disk_nodes() -> None:
    files = files_of(inventory([node("a", 11, disks=[disk(1)]), node("b", 12, disks=[disk(2)]), node("c", 13)]))
    classes = list(yaml.safe_load_all(files["overlays/lab/infrastructure/storage/storageclasses.yaml"]))
    assert {c["metadata"]["name"]: c["parameters"]["numberOfReplicas"] for c in classes} == {"longhorn-2-replicas": "2", "longhorn-1-replica": "1"}
    assert all(c["reclaimPolicy"] == "Retain" for c in classes)
    assert "open-iscsi" in user_data(files, "c")["packages"]
    assert "mkfs.ext4 -L longhorn /dev/disk/by-id/ata-DISK_1" in files["README.md"]
    layers = list(yaml.safe_load_all(files["clusters/lab/infrastructure.yaml"]))
    storage = next(layer for layer in layers if layer["metadata"]["name"] == "infra-storage")
    assert storage["spec"]["prune"] is False


def test_auto_storage_local_path_otherwise() -> None:
    plan = plan_of(inventory([node("a", 11, disks=[disk(1)])]))
    assert plan.storage_backend == "local-path"


def test_forced_ceph_on_pis_is_an_error_naming_nodes_and_shortfall(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["generate", str(EXAMPLES / "impossible" / "ceph-on-pis.yaml"), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "out").exists()
    assert "error[ceph-on-small-nodes]: components.storage" in err
    assert "pi-a: 1 GiB memory, needs 6 GiB for 1 OSD(s)" in err


# -- GPUs, devices, architecture ---------------------------------------------------

def gpu_inventory(**app: Any) -> dict[str, Any]:
    gpu = {"vendor": "nvidia", "model": "GTX 1060", "sharing": 3}
    return inventory(
        [node("a", 11), node("g", 12, gpus=[gpu])],
        apps=[{"name": "transcode", "image": "docker.io/example/transcode:1.0", "ports": [{"name": "http", "port": 8080}], "gpu": 1, **app}],
    )


def test_gpu_nodes_plugin_runtime_class_and_time_slicing() -> None:
    files = files_of(gpu_inventory())
    labels = k3s_config(files, "g")["node-label"]
    assert "clustergen.dev/gpu=nvidia" in labels and "nvidia.com/device-plugin.config=time-slicing-3" in labels
    runtime = yaml.safe_load(files["overlays/lab/infrastructure/controllers/runtimeclass-nvidia.yaml"])
    assert runtime["kind"] == "RuntimeClass" and runtime["handler"] == "nvidia"
    plugin = yaml.safe_load(files["overlays/lab/infrastructure/controllers/nvidia-device-plugin-values.yaml"])["spec"]["values"]
    terms = plugin["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    # One term of our own replaces the chart's feature-discovery terms, which no node matches.
    assert terms == [{"matchExpressions": [{"key": "clustergen.dev/gpu", "operator": "In", "values": ["nvidia"]}]}]
    assert "nodeSelector" not in plugin
    assert "replicas: 3" in plugin["config"]["map"]["time-slicing-3"]
    assert yaml.safe_load(files["bases/nvidia-device-plugin/helmrelease.yaml"])["spec"]["values"]["runtimeClassName"] == "nvidia"
    app = yaml.safe_load(files["overlays/lab/apps/releases/transcode-values.yaml"])["spec"]["values"]
    assert app["runtimeClassName"] == "nvidia" and app["gpu"] == {"enabled": True, "count": 1}
    assert app["nodeSelector"] == {"clustergen.dev/gpu": "nvidia"}
    # GTX 1060 is Pascal: the 580 branch, installed before k3s (tests/test_infrastructure_hardware.py has the table).
    assert "nvidia-headless-580-server" in " ".join(c[2] for c in user_data(files, "g")["runcmd"])


@pytest.mark.parametrize("sharing, block", [(1, False), (2, True), (3, True)])
def test_time_slicing_block_only_when_a_gpu_is_shared(sharing: int, block: bool) -> None:
    """The plugin refuses time-slicing with fewer than 2 replicas: exclusive means no block."""
    from generator.plan.components import gpu_config_name, time_slicing_config

    config = yaml.safe_load(time_slicing_config(sharing))
    assert ("sharing" in config) is block
    assert config["version"] == "v1"
    if block:
        assert config["sharing"]["timeSlicing"]["resources"][0]["replicas"] == sharing
    assert gpu_config_name(sharing) == ("exclusive" if sharing == 1 else f"time-slicing-{sharing}")


def test_gpu_without_runtime_class_is_named() -> None:
    with pytest.raises(ClustergenError) as err:
        files_of(gpu_inventory(values={"runtimeClassName": "runc"}))
    assert err.value.problems[0].code == "gpu-without-runtime-class"


def test_device_label_is_legal_and_app_follows_either_carrier() -> None:
    stick = {"name": "zwave", "type": "zwave", "path": "/dev/serial/by-id/usb-Zooz_ZST10-if00"}
    data = inventory([node("a", 11, devices=[stick]), node("b", 12, devices=[stick]), node("c", 13)], apps=[{"name": "zui", "image": "docker.io/zwavejs/zwave-js-ui:9.0.0", "devices": ["zwave"], "ports": [{"name": "http", "port": 8091}]}])
    plan = plan_of(data)
    app = plan.apps[0]
    assert app.eligible_nodes == ("a", "b")  # the same stable path on both: either will do
    assert app.cluster_values["nodeSelector"] == {"device.clustergen.dev/zwave": "true"}
    assert app.cluster_values["devices"] == [{"name": "zwave", "hostPath": stick["path"], "containerPath": "/dev/zwave"}]
    assert app.namespace == "zui" and app.pod_security == "privileged"
    for n in plan.nodes:
        assert not any(k.startswith(("kubernetes.io/", "k8s.io/")) or ".kubernetes.io/" in k for k in n.node_labels)


def test_amd64_only_app_stays_off_arm_nodes() -> None:
    data = inventory([node("a", 11), node("pi", 12, profile="rpi4", arch="arm64", memory="8Gi")], apps=[{"name": "x86", "image": "docker.io/example/x86:1.0", "arches": ["amd64"]}])
    app = plan_of(data).apps[0]
    assert app.eligible_nodes == ("a",)
    term = app.cluster_values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]} in term["matchExpressions"]


# -- profile overlays ----------------------------------------------------------------

def test_profile_component_trims_apps_confined_to_pis(tmp_path: Path) -> None:
    data = inventory([node("a", 11), node("pi", 12, profile="rpi3", arch="arm64", memory="1Gi")], apps=[{"name": "armonly", "image": "docker.io/example/arm:1.0", "arches": ["arm64"]}])
    for path, text in files_of(data).items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    built = subprocess.run([kubectl(), "kustomize", str(tmp_path / "overlays" / "lab" / "apps")], capture_output=True, text=True, check=True).stdout
    release = next(d for d in yaml.safe_load_all(built) if d and d["kind"] == "HelmRelease")
    assert release["metadata"]["labels"] == {"clustergen.dev/profile": "rpi3"}
    assert release["spec"]["values"]["resources"]["requests"] == {"cpu": "10m", "memory": "32Mi"}
    assert release["spec"]["values"]["resources"]["limits"] == {"memory": "192Mi"}
    for profile in ("mini-pc", "rpi3"):
        subprocess.run([kubectl(), "kustomize", str(tmp_path / "overlays" / "profiles" / profile)], capture_output=True, check=True)


# -- the examples ------------------------------------------------------------------------

@pytest.mark.parametrize("example", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
def test_plan_prints_tables_for_every_example(example: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(EXAMPLES / f"{example}.yaml")]) == 0
    out = capsys.readouterr().out
    assert "nodes" in out and "apps" in out and "can run on" in out


def test_mixed_shelf_plan_warnings_and_placement(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--json", str(EXAMPLES / "mixed-shelf.yaml")]) == 0
    plan = yaml.safe_load(capsys.readouterr().out)
    warnings = {(w["code"], w["message"].split(":")[0]) for w in plan["warnings"]}
    assert ("ceph-on-small-nodes", "node 'pi2' has storage disks but too little memory for Ceph OSDs; its disks stay unused") in warnings
    assert sum("wear the card out" in w["message"] for w in plan["warnings"]) == 2
    apps = {a["name"]: a["nodes"] for a in plan["apps"]}
    assert apps["zigbee2mqtt"] == ["laptop1"]
    assert apps["jellyfin"] == ["laptop1", "laptop2"]
    assert apps["node-red"] == ["tower"]
    assert plan["storageBackend"] == "rook-ceph"
    osd = [n["name"] for n in plan["nodes"] if n["storage"]["role"] == "ceph-osd"]
    assert osd == ["tower", "laptop1", "laptop2"]
    assert [n["swapMiB"] for n in plan["nodes"] if n["name"].startswith("pi")] == [1024, 1024]


def test_impossible_example_is_refused_by_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(EXAMPLES / "impossible" / "ceph-on-pis.yaml")]) == 2
    assert "rook-ceph needs 3 nodes" in capsys.readouterr().err


def test_a_custom_app_can_open_its_device() -> None:
    """Pre-fix: a custom app with a device got the CharDevice mount but privileged: false,
    so the device cgroup denied open(). Now it runs privileged, in its own namespace."""
    from generator import podsecurity
    from generator.plan.apps import app_pod_spec

    stick = {"name": "arduino", "type": "serial", "path": "/dev/serial/by-id/usb-Arduino-if00"}
    data = inventory([node("a", 11, devices=[stick]), node("b", 12)],
                     apps=[{"name": "nr", "image": "docker.io/nodered/node-red:4.0.9", "devices": ["arduino"],
                            "ports": [{"name": "http", "port": 1880}]}])
    app = plan_of(data).apps[0]
    values = app.cluster_values
    assert values["securityContext"] == {"privileged": True, "allowPrivilegeEscalation": True}
    assert 20 in values["podSecurityContext"]["supplementalGroups"]  # dialout owns the serial adapters
    assert app.pod_security == "privileged" and app.namespace == "nr"
    spec = app_pod_spec({**app.base_values, **values})
    assert podsecurity.required_level(spec) == "privileged"


def test_every_component_pin_names_its_evidence() -> None:
    from generator import catalog

    for key, entry in catalog.components().items():
        evidence = str(entry["chart"].get("evidence") or "")
        assert any(word in evidence for word in ("tag", "release", "PR")), f"{key}: no evidence for its pin"


def test_chart_value_keys_that_the_pinned_charts_read() -> None:
    """traefik reads service.spec.type (service.type is ignored); Longhorn makes no class of its own."""
    from generator import catalog

    traefik = catalog.component("traefik")["values"]["service"]
    assert "type" not in traefik and traefik["spec"]["type"] == "LoadBalancer"
    assert catalog.component("longhorn")["values"]["persistence"]["createStorageClass"] is False
