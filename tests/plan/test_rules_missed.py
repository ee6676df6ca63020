"""Table tests for the rules the suite once missed when each was broken by hand: the odd
control-plane choice, Ceph memory per OSD, eMMC as wear-prone, the durable data disk, pinning
an app when device paths differ, matching a device by type, the line of a list item, the most
specific oneOf/anyOf error, and generate --strict. Each row sits at or next to a boundary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.cli import main
from generator.errors import PlanError
from generator.plan.storage import ceph_memory_needed_mib

from .helpers import disk, inventory, load_problems, node, plan_of, warning_codes, warnings_with


def no_vip(data: dict[str, Any]) -> dict[str, Any]:
    del data["network"]["controlPlaneEndpoint"]
    return data


# -- the odd control-plane choice ------------------------------------------------------

@pytest.mark.parametrize(
    "candidates, vip, servers",
    [
        (1, True, 1), (2, True, 1), (3, True, 3), (4, True, 3), (5, True, 3), (6, True, 3),
        (9, True, 3), (10, True, 5), (11, True, 5),
        (1, False, 1), (2, False, 1), (3, False, 1), (4, False, 1), (6, False, 1), (10, False, 1),
    ],
)
def test_auto_picks_an_odd_server_count(candidates: int, vip: bool, servers: int) -> None:
    data = inventory([node(f"n{i}", 10 + i) for i in range(candidates)])
    plan = plan_of(data if vip else no_vip(data))
    assert [n.name for n in plan.servers] == [f"n{i}" for i in range(servers)]  # equal nodes: the first ones
    assert plan.first_server.name == "n0"
    assert sum(n.is_server for n in plan.nodes) % 2 == 1
    assert bool(warnings_with(plan, "could form an HA control plane")) is (not vip and candidates >= 3)


@pytest.mark.parametrize(
    "sturdy, wear_prone, servers",
    [
        (4, 6, 3),  # ten nodes but only four sturdy ones: three servers, not five
        (5, 5, 5),  # five sturdy among ten: five
        (2, 1, 1),  # two sturdy: one server, never the SD-card node to make three
        (3, 0, 3),
    ],
)
def test_pool_is_the_sturdy_nodes(sturdy: int, wear_prone: int, servers: int) -> None:
    nodes = [node(f"s{i}", 10 + i) for i in range(sturdy)]
    nodes += [node(f"w{i}", 50 + i, bootMedium="sd", memory="64Gi") for i in range(wear_prone)]
    plan = plan_of(inventory(nodes))
    assert [n.name for n in plan.servers] == [f"s{i}" for i in range(servers)]
    assert "etcd-on-sd-card" not in warning_codes(plan)


@pytest.mark.parametrize(
    "third_memory, servers",
    [("2048Mi", 3), ("2047Mi", 1), ("2049Mi", 3), ("1Gi", 1)],
)
def test_control_plane_needs_2_gib(third_memory: str, servers: int) -> None:
    plan = plan_of(inventory([node("a", 11), node("b", 12), node("c", 13, memory=third_memory)]))
    assert len(plan.servers) == servers


@pytest.mark.parametrize(
    "memories, servers, first",
    [
        (["8Gi", "32Gi", "16Gi", "64Gi"], ["b", "c", "d"], "b"),  # the most memory wins; the first listed inits
        (["64Gi", "8Gi", "8Gi", "8Gi"], ["a", "b", "c"], "a"),  # ties go to the earlier node
        (["4Gi", "4Gi", "4Gi", "8Gi"], ["a", "b", "d"], "a"),
    ],
)
def test_sturdiest_nodes_are_chosen(memories: list[str], servers: list[str], first: str) -> None:
    plan = plan_of(inventory([node(name, 11 + i, memory=m) for i, (name, m) in enumerate(zip("abcd", memories, strict=True))]))
    assert [n.name for n in plan.servers] == servers
    assert plan.first_server.name == first


@pytest.mark.parametrize("boot", ["sd", "emmc"])
def test_no_sturdy_node_puts_etcd_on_the_card_and_says_so(boot: str) -> None:
    plan = plan_of(inventory([node("a", 11, bootMedium=boot), node("b", 12, bootMedium=boot, memory="32Gi")]))
    assert [n.name for n in plan.servers] == ["b"]
    assert warning_codes(plan).count("etcd-on-sd-card") == 2  # no sturdy node, and the server's medium


@pytest.mark.parametrize("explicit, warned", [(1, False), (2, True), (3, False), (4, True), (5, False)])
def test_even_explicit_control_planes_warn(explicit: int, warned: bool) -> None:
    nodes = [node(f"n{i}", 10 + i, role="controlplane" if i < explicit else "worker") for i in range(6)]
    plan = plan_of(inventory(nodes))
    assert len(plan.servers) == explicit
    even = [w for w in plan.warnings if w.code == "even-control-planes"]
    assert bool(even) is warned
    if warned:
        assert even[0].field == f"nodes[{explicit - 1}].role"
        assert even[0].message.startswith(f"{explicit} control planes: an even count")


# -- Ceph memory scales with the OSD count ---------------------------------------------

@pytest.mark.parametrize("osds, needed", [(0, 2048), (1, 6144), (2, 10240), (3, 14336)])
def test_ceph_memory_is_2_gib_plus_4_gib_per_osd(osds: int, needed: int) -> None:
    plan = plan_of(inventory([node("a", 11, disks=[disk(i) for i in range(osds)])]))
    assert ceph_memory_needed_mib(plan.nodes[0]) == needed


@pytest.mark.parametrize(
    "osds, memory, ready",
    [
        (1, "6144Mi", True), (1, "6143Mi", False), (1, "6145Mi", True),
        (2, "6144Mi", False), (2, "10240Mi", True), (2, "10239Mi", False),
        (3, "14Gi", True), (3, "14335Mi", False),
    ],
)
def test_auto_storage_takes_ceph_only_with_memory_for_every_osd(osds: int, memory: str, ready: bool) -> None:
    nodes = [node(name, 11 + i, memory=memory, disks=[disk(10 * i + j) for j in range(osds)]) for i, name in enumerate("abc")]
    plan = plan_of(inventory(nodes))
    assert plan.storage_backend == ("rook-ceph" if ready else "longhorn")
    assert [n.storage_role for n in plan.nodes] == (["ceph-osd"] * 3 if ready else ["longhorn"] * 3)


@pytest.mark.parametrize(
    "osds, memory, detail",
    [
        (1, "6143Mi", "a: 5 GiB memory, needs 6 GiB for 1 OSD(s)"),
        (1, "1Gi", "a: 1 GiB memory, needs 6 GiB for 1 OSD(s)"),
        (2, "6144Mi", "a: 6 GiB memory, needs 10 GiB for 2 OSD(s)"),
        (2, "10239Mi", "a: 9 GiB memory, needs 10 GiB for 2 OSD(s)"),
        (3, "12Gi", "a: 12 GiB memory, needs 14 GiB for 3 OSD(s)"),
    ],
)
def test_forced_ceph_names_each_shortfall(osds: int, memory: str, detail: str) -> None:
    nodes = [node("a", 11, memory=memory, disks=[disk(j) for j in range(osds)]),
             node("b", 12, memory="64Gi", disks=[disk(10)]), node("c", 13)]
    with pytest.raises(PlanError) as err:
        plan_of(inventory(nodes, components={"storage": "rook-ceph"}))
    problem = err.value.problems[0]
    assert problem.code == "ceph-on-small-nodes" and problem.field == "components.storage"
    assert f"1 qualify ({detail}; c: no disk with use: storage)" in problem.message


@pytest.mark.parametrize("memory, kept_off", [("6143Mi", True), ("6144Mi", False)])
def test_auto_ceph_warns_about_each_node_left_out(memory: str, kept_off: bool) -> None:
    nodes = [node(name, 11 + i, disks=[disk(i)]) for i, name in enumerate("abc")] + [node("d", 14, memory=memory, disks=[disk(9)])]
    plan = plan_of(inventory(nodes))
    assert plan.storage_backend == "rook-ceph"
    assert (plan.nodes[3].storage_role == "none") is kept_off
    left_out = [w for w in plan.warnings if w.code == "ceph-on-small-nodes"]
    assert [(w.field, w.hint) for w in left_out] == ([("nodes[3].memory", "it would need 6 GiB, or a lower osdMemoryTarget (at least 2Gi)")] if kept_off else [])


def test_data_disks_are_no_osds() -> None:
    nodes = [node(name, 11 + i, memory="6Gi", disks=[disk(i), disk(10 + i, use="data")]) for i, name in enumerate("abc")]
    plan = plan_of(inventory(nodes))
    assert plan.storage_backend == "rook-ceph"
    assert all(len(n.storage_disks) == 1 for n in plan.nodes)


# -- wear-prone boot media -------------------------------------------------------------

@pytest.mark.parametrize("boot, wear_prone", [("sd", True), ("emmc", True), ("usb", False), ("ssd", False), ("nvme", False), ("hdd", False), ("network", False)])
def test_sd_and_emmc_wear_out(boot: str, wear_prone: bool) -> None:
    plan = plan_of(inventory([node("a", 11), node("b", 12, bootMedium=boot, role="worker")]))
    worker = plan.nodes[1]
    assert worker.volatile_logs is wear_prone
    assert bool(warnings_with(plan, "wear the card out")) is wear_prone
    lone = plan_of(inventory([node("a", 11, bootMedium=boot)]))
    assert ("etcd-on-sd-card" in warning_codes(lone)) is wear_prone


@pytest.mark.parametrize("boot, chosen", [("emmc", "b"), ("sd", "b"), ("usb", "a"), ("ssd", "a")])
def test_control_plane_avoids_wear_prone_boot(boot: str, chosen: str) -> None:
    plan = plan_of(inventory([node("a", 11, bootMedium=boot, memory="64Gi"), node("b", 12, memory="4Gi")]))
    assert [n.name for n in plan.servers] == [chosen]


# -- the data disk must be durable -----------------------------------------------------

@pytest.mark.parametrize(
    "disks, data_disk",
    [
        ([disk(1, "ssd", "data")], 1), ([disk(1, "nvme", "data")], 1), ([disk(1, "hdd", "data")], 1), ([disk(1, "usb", "data")], 1),
        ([disk(1, "sd", "data")], None), ([disk(1, "emmc", "data")], None),
        ([disk(1, "ssd", "storage")], None), ([disk(1, "ssd", "none")], None), ([disk(1, "ssd", "system")], None),
        ([disk(1, "sd", "data"), disk(2, "usb", "data")], 2),  # the first durable one
        ([disk(1, "hdd", "data"), disk(2, "nvme", "data")], 1),
    ],
)
def test_wear_prone_node_moves_data_to_a_durable_disk(disks: list[dict[str, Any]], data_disk: int | None) -> None:
    plan = plan_of(inventory([node("a", 11), node("pi", 12, bootMedium="sd", role="worker", disks=disks)]))
    chosen = plan.nodes[1].data_disk
    assert (chosen.path if chosen else None) == (f"/dev/disk/by-id/ata-DISK_{data_disk}" if data_disk else None)
    assert bool(warnings_with(plan, "has no other disk")) is (data_disk is None)


def test_durable_node_needs_no_data_disk() -> None:
    plan = plan_of(inventory([node("a", 11, disks=[disk(1, "usb", "data")])]))
    assert plan.nodes[0].data_disk is None and not plan.nodes[0].volatile_logs


# -- device paths and matching ---------------------------------------------------------

def stick(path: str, name: str = "zwave", type: str = "zwave") -> dict[str, str]:
    return {"name": name, "type": type, "path": path}


def device_app(wanted: str = "zwave") -> dict[str, Any]:
    return {"name": "zui", "image": "docker.io/zwavejs/zwave-js-ui:9.0.0", "devices": [wanted], "ports": [{"name": "http", "port": 8091}]}


SAME = "/dev/serial/by-id/usb-Zooz_ZST10-if00"
OTHER = "/dev/serial/by-id/usb-Zooz_ZST10-if01"


@pytest.mark.parametrize(
    "paths, eligible, pinned",
    [
        ([SAME, None, None], ("a",), None),
        ([SAME, SAME, None], ("a", "b"), None),
        ([SAME, SAME, SAME], ("a", "b", "c"), None),
        ([SAME, OTHER, None], ("a",), "a"),
        ([None, OTHER, SAME], ("b",), "b"),  # pinned to the first carrier
        ([SAME, SAME, OTHER], ("a",), "a"),
    ],
)
def test_app_is_pinned_only_when_device_paths_differ(paths: list[str | None], eligible: tuple[str, ...], pinned: str | None) -> None:
    nodes = [node(name, 11 + i, **({"devices": [stick(p)]} if p else {})) for i, (name, p) in enumerate(zip("abc", paths, strict=True))]
    plan = plan_of(inventory(nodes, apps=[device_app()]))
    app = plan.apps[0]
    assert app.eligible_nodes == eligible
    selector = app.cluster_values["nodeSelector"]
    assert selector.get("kubernetes.io/hostname") == pinned
    assert selector["device.clustergen.dev/zwave"] == "true"
    assert bool(warnings_with(plan, "different paths on different nodes")) is (pinned is not None)
    host_path = app.cluster_values["devices"][0]["hostPath"]
    assert host_path == next(p for p in paths if p)


@pytest.mark.parametrize(
    "wanted, eligible",
    [("stick", ("a",)), ("zigbee", ("a",)), ("serial", ("b",)), ("other", ("b",)), ("usb", ("a", "b"))],
)
def test_device_matches_by_name_or_type(wanted: str, eligible: tuple[str, ...]) -> None:
    nodes = [
        node("a", 11, devices=[stick("/dev/serial/by-id/z", name="stick", type="zigbee"), stick("/dev/bus/usb/001", name="u1", type="usb")]),
        node("b", 12, devices=[stick("/dev/serial/by-id/s", name="other", type="serial"), stick("/dev/bus/usb/001", name="u2", type="usb")]),
        node("c", 13),
    ]
    app = plan_of(inventory(nodes, apps=[device_app(wanted)])).apps[0]
    assert app.eligible_nodes == eligible
    assert f"c: no {wanted} device" in app.placement_reason


@pytest.mark.parametrize("wanted", ["zwave", "stick2", "zigbe"])
def test_device_nobody_has_is_an_error_at_the_list_item(wanted: str) -> None:
    nodes = [node("a", 11, devices=[stick("/dev/serial/by-id/z", name="stick", type="zigbee")])]
    app = {**device_app("stick"), "devices": ["stick", wanted]}
    problems, _ = load_problems(inventory(nodes, apps=[app]))
    assert [(p.field, p.message) for p in problems] == [("apps[0].devices[1]", f"app 'zui' needs a '{wanted}' device but no node has one")]


# -- the line of a list item -----------------------------------------------------------

def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_unknown_field_in_a_node_reports_its_line(index: int) -> None:
    nodes = [node(name, 11 + i) for i, name in enumerate("abc")]
    nodes[index]["bogus"] = True
    problems, text = load_problems(inventory(nodes))
    assert [(p.field, p.line) for p in problems] == [(f"nodes[{index}].bogus", line_of(text, "bogus:"))]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_check_error_in_a_node_reports_its_line(index: int) -> None:
    nodes = [node(name, 11 + i) for i, name in enumerate("abc")]
    nodes[index]["address"] = "10.9.0.7"
    problems, text = load_problems(inventory(nodes))
    line = line_of(text, "10.9.0.7")
    column = text.splitlines()[line - 1].index("10.9.0.7") + 1  # the value, not its key
    assert [(p.field, p.line, p.column) for p in problems] == [(f"nodes[{index}].address", line, column)]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_missing_field_in_a_node_reports_the_item_line(index: int) -> None:
    nodes = [node(name, 11 + i) for i, name in enumerate("abc")]
    del nodes[index]["name"]
    problems, text = load_problems(inventory(nodes))
    assert [(p.field, p.line, p.message) for p in problems] == [
        (f"nodes[{index}]", line_of(text, f"- address: 10.1.0.{11 + index}"), "missing required field 'name'")
    ]


@pytest.mark.parametrize("index", [0, 1])
def test_error_in_a_nested_list_item_reports_its_line(index: int) -> None:
    disks = [disk(1), disk(2)]
    disks[index]["type"] = "floppy"
    problems, text = load_problems(inventory([node("a", 11), node("b", 12, disks=disks)]))
    assert [(p.field, p.line) for p in problems] == [(f"nodes[1].disks[{index}].type", line_of(text, "floppy"))]


# -- the most specific oneOf/anyOf error -----------------------------------------------

S3 = {"endpoint": "https://minio.home.arpa:9000", "bucket": "backups"}


@pytest.mark.parametrize(
    "section, key, value, field, message",
    [
        ("network", "loadBalancerPool", ["10.1.0.200-10.1.0.210", "bogus"], "network.loadBalancerPool[1]", "'bogus' is not a valid value here"),
        ("network", "loadBalancerPool", "bogus", "network.loadBalancerPool", "'bogus' is not a valid value here"),
        ("network", "dnsServers", ["10.1.0.1", "x"], "network.dnsServers[1]", "'x' is not a valid value here"),
        ("network", "controlPlaneEndpoint", "10.1.0.999", "network.controlPlaneEndpoint", "'10.1.0.999' is not a valid value here"),
        ("network", "nodeCidr", ["10.1.0.0/24", "10.2.0.0"], "network.nodeCidr[1]", "'10.2.0.0' is not a valid value here"),
        ("components", "backup", {"s3": {"endpoint": S3["endpoint"]}}, "components.backup.s3", "missing required field 'bucket'"),
        ("components", "backup", {"s3": {**S3, "bucket": "b"}}, "components.backup.s3.bucket", "'b' is not a valid value here"),
        ("components", "backup", {"s3": S3, "keep": {"last": 0}}, "components.backup.keep.last", "0 is out of range (minimum 1)"),
        ("components", "backup", {"s3": S3, "bogus": 1}, "components.backup.bogus", "unknown field 'bogus'"),
        ("components", "backup", "yes", "components.backup", "'yes' is not a valid value here"),
    ],
)
def test_schema_error_names_the_deepest_alternative(section: str, key: str, value: Any, field: str, message: str) -> None:
    data = inventory([node("a", 11)])
    data.setdefault(section, {})[key] = value
    problems, _ = load_problems(data)
    assert {(p.field, p.message) for p in problems} == {(field, message)}


def test_node_address_list_item_error_is_the_item() -> None:
    problems, text = load_problems(inventory([node("a", 11, address=["10.1.0.11", "nope"])]))
    assert {(p.field, p.line) for p in problems} == {("nodes[0].address[1]", line_of(text, "nope"))}


# -- generate --strict -----------------------------------------------------------------

@pytest.mark.parametrize("warned, strict, code", [(False, False, 0), (False, True, 0), (True, False, 0), (True, True, 2)])
def test_strict_generate_refuses_to_write_on_warnings(warned: bool, strict: bool, code: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    facts = {} if warned else {"memory": "16Gi"}
    data = inventory([{"name": "a", "address": "10.1.0.11", "profile": "mini-pc", **facts}])
    source = tmp_path / "inventory.yaml"
    source.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    assert main(["generate", str(source), "-o", str(out), *(["--strict"] if strict else [])]) == code
    err = capsys.readouterr().err
    assert out.exists() is (code == 0)
    if code:
        assert "error" in err and "has no memory fact" in err and "Traceback" not in err
