"""Table tests for the Talos rules in generator/plan/talos.py: where it installs, where EPHEMERAL
lives, which machines it runs on, and the extensions each node's image needs."""

from __future__ import annotations

from typing import Any

import pytest

from generator.errors import PlanError

from .helpers import disk, inventory, node, plan_of, warnings_with


def talos_node(name: str, last: int, **facts: Any) -> dict[str, Any]:
    return node(name, last, mac=f"02:00:00:00:00:{last:02x}", **facts)


def talos(nodes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return inventory(nodes, distribution={"name": "talos"}, **extra)


@pytest.mark.parametrize(
    "boot, disks, install, selector",
    [
        ("nvme", [], None, "nvme"), ("ssd", [], None, "ssd"), ("usb", [], None, "ssd"), ("hdd", [], None, "hdd"),
        ("sd", [], None, "sd"), ("emmc", [], None, "sd"), ("network", [], None, "ssd"),
        ("nvme", [disk(1, "nvme", "system")], 1, "nvme"),
        ("nvme", [disk(1, "ssd", "storage"), disk(2, "nvme", "system")], 2, "nvme"),
    ],
)
def test_install_disk(boot: str, disks: list[dict[str, Any]], install: int | None, selector: str) -> None:
    plan = plan_of(talos([talos_node("a", 11, bootMedium=boot, disks=disks)]))
    t = plan.nodes[0].talos
    assert t is not None and t.install_disk_type == selector
    assert (t.install_disk.path if t.install_disk else None) == (f"/dev/disk/by-id/ata-DISK_{install}" if install else None)
    assert bool(warnings_with(plan, "lists no system disk")) is (install is None)


@pytest.mark.parametrize(
    "boot, disks, ephemeral",
    [
        ("nvme", [disk(1, "nvme", "system")], None),
        ("nvme", [disk(1, "nvme", "system"), disk(2, "ssd", "data")], 2),
        ("sd", [disk(2, "usb", "data")], 2),
        ("sd", [disk(2, "sd", "data")], None),
        ("nvme", [disk(1, "nvme", "system"), disk(2, "ssd", "storage")], None),  # never a disk Ceph or Longhorn wipes
        ("emmc", [disk(2, "emmc", "data"), disk(3, "hdd", "data")], 3),
    ],
)
def test_ephemeral_goes_on_a_durable_data_disk(boot: str, disks: list[dict[str, Any]], ephemeral: int | None) -> None:
    plan = plan_of(talos([talos_node("a", 11, bootMedium=boot, disks=disks)]))
    chosen = plan.nodes[0].talos.ephemeral_disk
    assert (chosen.path if chosen else None) == (f"/dev/disk/by-id/ata-DISK_{ephemeral}" if ephemeral else None)


@pytest.mark.parametrize(
    "role, memory, error",
    [
        ("controlplane", "2048Mi", False), ("controlplane", "2047Mi", True),
        ("worker", "1024Mi", False), ("worker", "1023Mi", True), ("worker", "2047Mi", False),
    ],
)
def test_talos_memory_minimum_per_role(role: str, memory: str, error: bool) -> None:
    nodes = [talos_node("cp", 11, role="controlplane"), talos_node("b", 12, role=role, memory=memory)]
    if error:
        with pytest.raises(PlanError) as err:
            plan_of(talos(nodes))
        assert [(p.field, "a Talos " + role in p.message) for p in err.value.problems] == [("nodes[1].memory", True)]
    else:
        plan_of(talos(nodes))


@pytest.mark.parametrize(
    "facts, field",
    [
        ({"profile": "rpi3", "arch": "arm64", "memory": "1Gi"}, "nodes[1].profile"),
        ({"profile": "mini-pc", "arch": "arm"}, "nodes[1].arch"),
    ],
)
def test_machines_talos_cannot_boot(facts: dict[str, Any], field: str) -> None:
    with pytest.raises(PlanError) as err:
        plan_of(talos([talos_node("a", 11), talos_node("b", 12, role="worker", **facts)]))
    assert field in [p.field for p in err.value.problems]


@pytest.mark.parametrize("profile, overlay", [("rpi4", True), ("rpi5", True), ("mini-pc", False)])
def test_supported_pis_get_their_overlay(profile: str, overlay: bool) -> None:
    plan = plan_of(talos([talos_node("a", 11), talos_node("b", 12, role="worker", profile=profile, memory="4Gi", disks=[disk(1, "usb", "data")])]))
    assert (plan.nodes[1].talos.overlay is not None) is overlay


def test_talos_needs_a_mac() -> None:
    data = talos([talos_node("a", 11), node("b", 12, role="worker")])
    with pytest.raises(PlanError) as err:
        plan_of(data)
    assert [p.field for p in err.value.problems] == ["nodes[1].name"] and "no mac" in err.value.problems[0].message


@pytest.mark.parametrize("storage_disks, gpu, has_iscsi, has_nvidia", [(0, False, False, False), (2, False, True, False), (0, True, False, True)])
def test_extensions_follow_storage_and_gpus(storage_disks: int, gpu: bool, has_iscsi: bool, has_nvidia: bool) -> None:
    nodes = [talos_node(name, 11 + i, disks=[disk(i)] if i < storage_disks else []) for i, name in enumerate("abc")]
    if gpu:
        nodes[2]["gpus"] = [{"vendor": "nvidia"}]
    plan = plan_of(talos(nodes))
    extensions = plan.nodes[2].talos.extensions
    assert any("iscsi" in e for e in extensions) is has_iscsi
    assert any("nvidia" in e for e in extensions) is has_nvidia
    assert (plan.nodes[2].kernel_modules[:1] == ("nvidia",)) is has_nvidia


@pytest.mark.parametrize("lb, error", [("metallb", False), ("kube-vip", True), ("servicelb", True)])
def test_talos_load_balancers(lb: str, error: bool) -> None:
    from .helpers import load_problems

    problems, _ = load_problems(talos([talos_node("a", 11)], components={"loadBalancer": lb}))
    assert [p.field for p in problems] == (["components.loadBalancer"] if error else [])
