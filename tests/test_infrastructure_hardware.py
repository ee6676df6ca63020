"""Issue 13 items 1-3: NVIDIA driver branch per GPU generation and OS, failure domains, Ceph
sizing and CephFS. Assertions are on the rendered files (cloud-init, Talos patches, values)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from generator.errors import PlanError
from generator.plan.gpu_drivers import generations

from .test_hardware_plan import files_of, inventory, node, plan_of, user_data


def gpu_node(name: str, last: int, model: str, **facts: Any) -> dict[str, Any]:
    gpu = {"vendor": "nvidia", "model": model, **facts.pop("gpu", {})}
    return node(name, last, **{"profile": "laptop", "gpus": [gpu], **facts})


def runcmd_text(files: dict[str, str], name: str) -> str:
    return "\n".join(" ".join(c) if isinstance(c, list) else c for c in user_data(files, name)["runcmd"])


# --- 1. GPU drivers ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("model", "os_facts", "branch", "packages"),
    [
        # Kepler: 470 is its last branch (Ubuntu; Debian bookworm packages it as the tesla-470 driver).
        ("GeForce GTX 660M", {}, "470", "nvidia-headless-470-server nvidia-utils-470-server"),
        ("GK107M [GeForce GT 650M Mac Edition]", {"os": "debian", "osRelease": "bookworm"}, "470", "nvidia-tesla-470-driver nvidia-tesla-470-smi libnvidia-tesla-470-cuda1 libnvidia-tesla-470-ml1 firmware-misc-nonfree"),
        # Maxwell, Pascal, Volta: 580, the last branch that drives them.
        ("GeForce GTX 960M", {}, "580", "nvidia-headless-580-server nvidia-utils-580-server"),
        ("Quadro P400", {}, "580", "nvidia-headless-580-server nvidia-utils-580-server"),
        ("TITAN V", {}, "580", "nvidia-headless-580-server nvidia-utils-580-server"),
        # Debian has no 580: the newest packaged branch that drives Pascal.
        ("Quadro P400", {"os": "debian", "osRelease": "bookworm"}, "535", "nvidia-driver nvidia-smi libcuda1 libnvidia-ml1 firmware-misc-nonfree"),
        ("Quadro P400", {"os": "debian"}, "550", "nvidia-driver nvidia-smi libcuda1 libnvidia-ml1 firmware-misc-nonfree"),
        # Turing and newer: the production branch.
        ("GeForce GTX 1660 SUPER", {}, "595", "nvidia-headless-595-server nvidia-utils-595-server"),
        ("GeForce RTX 3060", {}, "595", "nvidia-headless-595-server nvidia-utils-595-server"),
        # Kepler or Maxwell (the 860M was sold as both): 470 drives either.
        ("GeForce GTX 860M", {}, "470", "nvidia-headless-470-server nvidia-utils-470-server"),
    ],
)
def test_driver_branch_by_generation_is_installed_before_k3s(model: str, os_facts: dict[str, Any], branch: str, packages: str) -> None:
    data = inventory([node("cp", 10), gpu_node("gpu", 11, model, **os_facts)])
    plan = plan_of(data)
    assert next(n for n in plan.nodes if n.name == "gpu").nvidia_driver.branch == branch
    files = files_of(data)
    doc = user_data(files, "gpu")
    commands = runcmd_text(files, "gpu")
    install = f"apt-get install -y linux-headers-$(uname -r) {packages}"
    assert install in commands
    # Driver and toolkit come before the k3s install, which does not start k3s: the reboot
    # loads the driver's module, and k3s then finds nvidia-container-runtime when it starts.
    assert commands.index(install) < commands.index("install -y nvidia-container-toolkit") < commands.index("k3s-install.sh")
    assert "INSTALL_K3S_SKIP_START=true" in commands
    assert doc["power_state"]["mode"] == "reboot"
    assert any(f["path"] == "/etc/modprobe.d/clustergen-nouveau.conf" and "blacklist nouveau" in f["content"] for f in doc["write_files"])
    assert "ubuntu-drivers" not in commands
    # A node without a GPU installs no driver and does not reboot.
    assert "power_state" not in user_data(files, "cp") and "nvidia" not in runcmd_text(files, "cp")


def test_debian_node_gets_the_non_free_sources_of_its_release() -> None:
    files = files_of(inventory([node("cp", 10), gpu_node("gpu", 11, "GeForce GTX 660M", os="debian", osRelease="bookworm")]))
    apt = user_data(files, "gpu")["apt"]
    # The node's own list stays, and the non-free components come from its own mirror ($MIRROR).
    assert apt["preserve_sources_list"] is True
    assert apt["sources"]["clustergen-nonfree.list"]["source"].splitlines() == [
        "deb $MIRROR bookworm contrib non-free non-free-firmware",
        "deb $MIRROR bookworm-updates contrib non-free non-free-firmware"]
    assert "apt" not in user_data(files, "cp")  # nothing to add where no driver is installed
    assert runcmd_text(files, "gpu").index("apt-get update && ") < runcmd_text(files, "gpu").index("nvidia-tesla-470-driver")


@pytest.mark.parametrize(
    ("model", "os_facts", "needle"),
    [
        ("GeForce GTX 660M", {"os": "debian", "osRelease": "trixie"}, "Kepler needs the 470 driver"),
        ("GeForce GTX 660M", {"os": "debian"}, "Kepler needs the 470 driver"),  # trixie is the default
        ("GeForce GTX 580", {}, "Fermi"),
        ("Quadro P400", {"profile": "rpi4", "os": "raspios"}, "not raspios"),
    ],
)
def test_gpu_no_driver_serves_is_a_plan_error_naming_it(model: str, os_facts: dict[str, Any], needle: str) -> None:
    with pytest.raises(PlanError) as err:
        plan_of(inventory([node("cp", 10), gpu_node("gpu", 11, model, **os_facts)]))
    problem = err.value.problems[0]
    assert model in problem.message and "gpu" in problem.message and needle in (problem.hint or "")


def test_kepler_on_talos_is_a_plan_error_and_pascal_gets_the_lts_extension() -> None:
    base = {"distribution": {"name": "talos"}}
    nodes = [node("cp", 10, mac="aa:bb:cc:00:00:10"), gpu_node("gpu", 11, "GeForce GTX 660M", mac="aa:bb:cc:00:00:11")]
    with pytest.raises(PlanError) as err:
        plan_of(inventory(nodes, **base))
    assert "Talos has no extension" in err.value.problems[0].hint
    nodes[1]["gpus"][0]["model"] = "Quadro P400"
    assert "siderolabs/nonfree-kmod-nvidia-lts" in plan_of(inventory(nodes, **base)).nodes[1].talos.extensions
    nodes[1]["gpus"][0]["model"] = "GeForce RTX 4060"
    assert "siderolabs/nonfree-kmod-nvidia-production" in plan_of(inventory(nodes, **base)).nodes[1].talos.extensions


def test_driver_override_wins_and_must_be_offered() -> None:
    data = inventory([node("cp", 10), gpu_node("gpu", 11, "Quadro P400", gpu={"driver": "470"})])
    assert "nvidia-headless-470-server" in runcmd_text(files_of(data), "gpu")
    data["nodes"][1]["gpus"][0]["driver"] = "390"
    with pytest.raises(PlanError) as err:
        plan_of(data)
    assert "390" in err.value.problems[0].message and err.value.problems[0].field == "nodes[1].gpus[0].driver"


@pytest.mark.parametrize(("os_facts", "branch"), [({}, "580"), ({"os": "debian"}, "550")])
def test_unknown_model_warns_and_installs_the_widest_branch(os_facts: dict[str, Any], branch: str) -> None:
    plan = plan_of(inventory([node("cp", 10), gpu_node("gpu", 11, "Mystery Card", **os_facts)]))
    assert plan.nodes[1].nvidia_driver.branch == branch
    warning = next(w for w in plan.warnings if w.code == "gpu-generation-unknown")
    assert f"installing driver {branch}" in warning.message and warning.field == "nodes[1].gpus[0].model"


@pytest.mark.parametrize(
    ("model", "expected"),
    [("GeForce GT 650M", ("kepler",)), ("GeForce GTX 750 Ti", ("maxwell",)), ("Quadro K2200", ("maxwell",)),
     ("Quadro K4000", ("kepler",)), ("GeForce GTX 1050 Mobile", ("pascal",)), ("TITAN RTX", ("turing",)),
     ("GeForce GTX TITAN", ("kepler",)), ("GP107GL [Quadro P400]", ("pascal",)), ("Tesla T4", ("turing",))],
)
def test_generation_from_model_name(model: str, expected: tuple[str, ...]) -> None:
    assert generations(model) == expected


def test_plan_table_shows_the_branch_per_node(capsys: pytest.CaptureFixture[str]) -> None:
    from generator.report import print_plan

    print_plan(plan_of(inventory([node("cp", 10), gpu_node("gpu", 11, "GeForce GTX 660M")])))
    assert "driver 470 (kepler)" in capsys.readouterr().out


# --- 2. Failure domains -----------------------------------------------------------------------

def vm(name: str, last: int, host: str, **facts: Any) -> dict[str, Any]:
    return node(name, last, **{"profile": "vm", "memory": "8Gi", "location": {"host": host}, **facts})


def osd_disk(i: int, type_: str = "hdd", use: str = "storage") -> dict[str, Any]:
    return {"path": f"/dev/disk/by-id/ata-DISK{i}-{use}", "size": "1Ti", "type": type_, "use": use}


def rook_values(files: dict[str, str]) -> dict[str, Any]:
    path = next(p for p in files if p.endswith("storage/rook-ceph-cluster-values.yaml"))
    return yaml.safe_load(files[path])["spec"]["values"]


def test_zone_and_host_become_node_labels() -> None:
    files = files_of(inventory([node("a", 10, location={"zone": "rack-a", "host": "pve-1"})]))
    labels = user_data(files, "a")["write_files"][0]["content"]
    assert "topology.kubernetes.io/zone=rack-a" in labels and "clustergen.dev/host=pve-1" in labels


@pytest.mark.parametrize(("hosts", "warned"), [(["pve-1", "pve-2", "pve-3"], False), (["pve-1", "pve-1", "pve-2"], True)])
def test_etcd_members_sharing_a_hypervisor_warn(hosts: list[str], warned: bool) -> None:
    plan = plan_of(inventory([vm(f"cp{i}", 10 + i, h, role="controlplane") for i, h in enumerate(hosts)]))
    etcd = [w for w in plan.warnings if w.code == "quorum-shares-failure-domain" and "etcd" in w.message]
    assert bool(etcd) is warned
    if warned:
        assert "cp0, cp1 share host pve-1" in etcd[0].message and "the quorum" in etcd[0].message


def test_auto_servers_spread_over_hypervisors_before_doubling_up() -> None:
    nodes = [vm("a", 10, "pve-1", memory="32Gi"), vm("b", 11, "pve-1", memory="32Gi"), vm("c", 12, "pve-2"), vm("d", 13, "pve-3")]
    servers = {n.name for n in plan_of(inventory(nodes)).servers}
    assert servers == {"a", "c", "d"}  # b is as big as a, but on a's hypervisor


@pytest.mark.parametrize(
    ("hosts", "domain", "spread"),
    [(["pve-1", "pve-2", "pve-3"], "chassis", "DoNotSchedule"), (["pve-1", "pve-1", "pve-2"], "host", "ScheduleAnyway")],
)
def test_rook_failure_domain_and_mon_spread_follow_the_hypervisors(hosts: list[str], domain: str, spread: str) -> None:
    nodes = [vm(f"w{i}", 20 + i, h, disks=[osd_disk(i)]) for i, h in enumerate(hosts)]
    data = inventory(nodes, components={"storage": "rook-ceph"})
    plan = plan_of(data)
    values = rook_values(files_of(data))
    assert plan.ceph_failure_domain == domain
    assert values["cephBlockPools"][0]["spec"]["failureDomain"] == domain
    assert values["cephFileSystems"][0]["spec"]["dataPools"][0]["failureDomain"] == domain
    constraint = values["cephClusterSpec"]["placement"]["mon"]["topologySpreadConstraints"][0]
    assert constraint["topologyKey"] == "clustergen.dev/host" and constraint["whenUnsatisfiable"] == spread
    assert constraint["labelSelector"] == {"matchLabels": {"app": "rook-ceph-mon"}}
    mon_warnings = [w for w in plan.warnings if "monitors can only use" in w.message]
    assert bool(mon_warnings) is (spread == "ScheduleAnyway")
    if domain == "chassis":
        assert all(n.labels["topology.rook.io/chassis"] == h for n, h in zip(plan.nodes, hosts, strict=False))


@pytest.mark.parametrize(
    ("memory", "boot", "avoided"),
    [("2Gi", "ssd", True), ("2049Mi", "ssd", False), ("16Gi", "sd", True), ("16Gi", "usb", False)],
)
def test_mons_and_mgrs_avoid_sd_and_2gib_nodes(memory: str, boot: str, avoided: bool) -> None:
    nodes = [node(f"s{i}", 10 + i, disks=[osd_disk(i)]) for i in range(3)] + [node("small", 20, memory=memory, bootMedium=boot)]
    data = inventory(nodes, components={"storage": "rook-ceph"})
    files = files_of(data)
    config = yaml.safe_load(user_data(files, "small")["write_files"][0]["content"])
    assert ("clustergen.dev/no-ceph-daemons=true" in config.get("node-label", [])) is avoided
    values = rook_values(files)
    term = {"key": "clustergen.dev/no-ceph-daemons", "operator": "NotIn", "values": ["true"]}
    for daemon in ("mon", "mgr"):
        affinity = values["cephClusterSpec"]["placement"][daemon]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert affinity["nodeSelectorTerms"] == [{"matchExpressions": [term]}]
    mds = values["cephFileSystems"][0]["spec"]["metadataServer"]["placement"]["nodeAffinity"]
    assert mds["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"] == [term]


def test_too_few_nodes_for_three_mons_is_a_plan_error() -> None:
    nodes = [node(f"s{i}", 10 + i, disks=[osd_disk(i)]) for i in range(3)]
    nodes[2]["bootMedium"] = "sd"
    nodes[2]["disks"].append({"path": "/dev/disk/by-id/usb-DATA", "size": "1Ti", "type": "usb", "use": "data"})
    with pytest.raises(PlanError) as err:
        plan_of(inventory(nodes, components={"storage": "rook-ceph"}))
    assert "3 monitors" in err.value.problems[0].message


@pytest.mark.parametrize(("zones", "hard"), [(["a", "b"], True), (["a", "a"], False)])
def test_longhorn_replicas_in_different_zones(zones: list[str], hard: bool) -> None:
    nodes = [node(f"s{i}", 10 + i, location={"zone": z}, disks=[osd_disk(i, "ssd")]) for i, z in enumerate(zones)]
    data = inventory(nodes, components={"storage": "longhorn"})
    files = files_of(data)
    path = next((p for p in files if p.endswith("storage/longhorn-values.yaml")), None)
    values = yaml.safe_load(files[path])["spec"]["values"] if path else {}
    assert (values.get("defaultSettings", {}).get("replicaZoneSoftAntiAffinity") is False) is hard
    assert plan_of(data).rwx_storage_class == "longhorn-2-replicas"


# --- 3. Ceph sizing and CephFS ----------------------------------------------------------------

@pytest.mark.parametrize(
    ("memory", "target", "osd"),
    [("6Gi", None, True), ("6143Mi", None, False), ("5632Mi", None, False), ("5632Mi", "3Gi", True), ("5Gi", "3Gi", True),
     ("5Gi", "3073Mi", False)],
)
def test_ceph_memory_rule_follows_the_osd_memory_target(memory: str, target: str | None, osd: bool) -> None:
    laptop = node("laptop", 13, profile="laptop", memory=memory, disks=[osd_disk(9)], **({"osdMemoryTarget": target} if target else {}))
    nodes = [node(f"s{i}", 10 + i, disks=[osd_disk(i)]) for i in range(3)] + [laptop]
    data = inventory(nodes, components={"storage": "rook-ceph"})
    plan = plan_of(data)
    assert (plan.nodes[3].storage_role == "ceph-osd") is osd
    config = rook_values(files_of(data))["cephClusterSpec"].get("cephConfig", {})
    if osd and target:
        assert config == {"osd/host:laptop": {"osd_memory_target": str(3 * 1024**3 if target == "3Gi" else 3073 * 1024**2)}}
    else:
        assert config == {}  # every OSD keeps Ceph's 4 GiB default


def test_node_osd_memory_target_below_two_gib_names_the_node_field() -> None:
    nodes = [node(f"s{i}", 10 + i, disks=[osd_disk(i)]) for i in range(3)]
    nodes[1]["osdMemoryTarget"] = "1Gi"
    with pytest.raises(PlanError) as err:
        plan_of(inventory(nodes, components={"storage": "rook-ceph"}))
    assert err.value.problems[0].field == "nodes[1].osdMemoryTarget"


def test_os_release_must_belong_to_the_os() -> None:
    with pytest.raises(PlanError) as err:
        plan_of(inventory([node("a", 10, os="ubuntu", osRelease="bookworm")]))
    assert err.value.problems[0].field == "nodes[0].osRelease" and "jammy or noble" in err.value.problems[0].hint


@pytest.mark.parametrize(("target", "error"), [("2Gi", False), ("2047Mi", True)])
def test_osd_memory_target_below_two_gib_is_an_error(target: str, error: bool) -> None:
    nodes = [node(f"s{i}", 10 + i, disks=[osd_disk(i)]) for i in range(3)]
    data = inventory(nodes, components={"storage": "rook-ceph", "ceph": {"osdMemoryTarget": target}})
    if error:
        with pytest.raises(PlanError) as err:
            plan_of(data)
        assert err.value.problems[0].field == "components.ceph.osdMemoryTarget"
    else:
        assert rook_values(files_of(data))["cephClusterSpec"]["cephConfig"] == {"osd": {"osd_memory_target": str(2 * 1024**3)}}


@pytest.mark.parametrize(("data_type", "meta_type", "ok"), [("hdd", "ssd", True), ("ssd", "nvme", True), ("ssd", "ssd", False), ("nvme", "ssd", False)])
def test_metadata_device_must_be_faster_than_the_osd_disks(data_type: str, meta_type: str, ok: bool) -> None:
    nodes = [node(f"s{i}", 10 + i, disks=[osd_disk(i, data_type), osd_disk(i, meta_type, "metadata")]) for i in range(3)]
    data = inventory(nodes, components={"storage": "rook-ceph"})
    if not ok:
        with pytest.raises(PlanError) as err:
            plan_of(data)
        assert err.value.problems[0].code == "ceph-metadata-device"
        return
    storage = rook_values(files_of(data))["cephClusterSpec"]["storage"]["nodes"]
    assert [n["config"]["metadataDevice"] for n in storage] == [f"/dev/disk/by-id/ata-DISK{i}-metadata" for i in range(3)]


def test_rook_brings_a_retained_cephfs_rwx_class() -> None:
    nodes = [node(f"s{i}", 10 + i, disks=[osd_disk(i)]) for i in range(3)]
    data = inventory(nodes, components={"storage": "rook-ceph"})
    assert plan_of(data).rwx_storage_class == "ceph-filesystem"
    fs = rook_values(files_of(data))["cephFileSystems"]
    assert [f["storageClass"]["name"] for f in fs] == ["ceph-filesystem"]
    assert fs[0]["storageClass"]["reclaimPolicy"] == "Retain" and fs[0]["storageClass"]["enabled"] is True
    assert plan_of(inventory([node("one", 10)])).rwx_storage_class is None  # local-path: no RWX


@pytest.mark.parametrize(
    ("lspci", "generation"),
    [("NVIDIA Corporation GK107M [GeForce GT 650M Mac Edition]", "kepler"), ("NVIDIA Corporation GP107GL [Quadro P400]", "pascal"),
     ("NVIDIA Corporation GK106M [GeForce GTX 660M]", "kepler"), ("NVIDIA Corporation TU117 [GeForce GTX 1650]", "turing")],
)
def test_generation_from_what_probe_reports(lspci: str, generation: str) -> None:
    from generator.probe import _gpu_model

    assert generations(_gpu_model(lspci)) == (generation,)


def test_readme_names_each_gpu_nodes_branch_and_the_rwx_class() -> None:
    nodes = [node(f"s{i}", 10 + i, disks=[osd_disk(i)]) for i in range(3)] + [gpu_node("kepler", 20, "GeForce GTX 660M")]
    readme = files_of(inventory(nodes, components={"storage": "rook-ceph"}))["README.md"]
    assert "**kepler** (GeForce GTX 660M, ubuntu noble): driver 470 (kepler): `nvidia-headless-470-server`, `nvidia-utils-470-server`" in readme
    assert "ubuntu-drivers" not in readme and "legacy" not in readme
    assert "through the StorageClass\n`ceph-filesystem` (`reclaimPolicy: Retain`)" in readme


def test_talos_lts_and_production_images_are_separate_schematics() -> None:
    nodes = [node("cp", 10, mac="aa:bb:cc:00:00:10"), gpu_node("old", 11, "Quadro P400", mac="aa:bb:cc:00:00:11"),
             gpu_node("new", 12, "GeForce RTX 4060", mac="aa:bb:cc:00:00:12")]
    from generator.render.talos import schematics

    found = schematics(plan_of(inventory(nodes, distribution={"name": "talos"})))
    extensions = {label: s["customization"].get("systemExtensions", {}).get("officialExtensions", []) for label, (s, _) in found.items()}
    assert "siderolabs/nonfree-kmod-nvidia-lts" in extensions["nvidia"] and found["nvidia"][1] == ["old"]
    assert "siderolabs/nonfree-kmod-nvidia-production" in extensions["nvidia-production"] and found["nvidia-production"][1] == ["new"]
