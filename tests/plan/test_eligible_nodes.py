"""_eligible_nodes judges one node of each kind and gives every node of that kind the same
answer: the eligible nodes (in inventory order) and the reasons for the others must be what
judging each node on its own gives, for nodes that differ in each trait _why_not reads."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from generator.errors import PlanError
from generator.inventory import load_inventory
from generator.inventory.model import Device, Gpu, Taint
from generator.plan import plan_cluster
from generator.plan.apps import _eligible_nodes, _node_kinds, _Wants, _why_not
from generator.plan.model import NodePlan, replace_node

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mixed-shelf.yaml"
INVENTORY, WARNINGS = load_inventory(EXAMPLE)
BASE = plan_cluster(INVENTORY, WARNINGS).nodes[0]
APP = INVENTORY.apps[0]

ZIGBEE = Device("zigbee", "zigbee", "/dev/ttyUSB0")
VARIANTS = {
    "arch": ["amd64", "arm64"],
    "devices": [(), (ZIGBEE,), (Device("stick", "zigbee", "/dev/ttyACM0"),), (Device("zwave", "zwave", "/dev/ttyUSB1"),)],
    "gpus": [(), (Gpu("nvidia", None, None, 1),)],
    "memory_mib": [1024, 1025, 16384],  # heavy apps skip 1 GiB nodes and smaller
    "taints": [(), (Taint("k", None, "PreferNoSchedule"),), (Taint("k", "v", "NoSchedule"),), (Taint("k", None, "NoExecute"),)],
}


def _fleet(count: int) -> list[NodePlan]:
    """count nodes cycling through every combination, so kinds interleave in inventory order."""
    combos = list(itertools.product(*VARIANTS.values()))
    return [replace_node(BASE, name=f"n{i}", **dict(zip(VARIANTS, combos[(i * 7) % len(combos)], strict=True))) for i in range(count)]


WANTS = [
    _Wants(("amd64", "arm64"), "medium", [], 0),
    _Wants(("amd64",), "medium", [], 0),
    _Wants(("arm64",), "heavy", [], 0),
    _Wants(("amd64", "arm64"), "heavy", ["zigbee"], 0),  # by type: the "stick" carries one too
    _Wants(("amd64", "arm64"), "light", ["zigbee", "zwave"], 0),
    _Wants(("amd64",), "medium", [], 1),
]


@pytest.mark.parametrize("wants", WANTS)
@pytest.mark.parametrize("count", [1, 2, 50, 400])
def test_same_as_judging_each_node(wants: _Wants, count: int) -> None:
    nodes = _fleet(count)
    expected_eligible = [n for n in nodes if _why_not(n, wants.arches, wants.weight, wants.devices, wants.gpus) is None]
    expected_reasons = [f"{n.name}: {why}" for n in nodes if (why := _why_not(n, wants.arches, wants.weight, wants.devices, wants.gpus)) is not None]
    if not expected_eligible:
        with pytest.raises(PlanError, match="can run on no node"):
            _eligible_nodes(INVENTORY, APP, nodes, wants, _node_kinds(nodes))
        return
    for kinds in (_node_kinds(nodes), None):
        eligible, reasons = _eligible_nodes(INVENTORY, APP, nodes, wants, kinds)
        assert [n.name for n in eligible] == [n.name for n in expected_eligible]
        assert reasons == expected_reasons


def test_kinds() -> None:
    """Nodes differing only where _why_not does not look (memory above 1 GiB, a PreferNoSchedule
    taint) share a kind; everything else it reads splits them."""
    nodes = _fleet(400)
    kinds = _node_kinds(nodes)
    assert len(kinds.examples) == 2 * 4 * 2 * 2 * 2  # arch, devices, GPU or not, 1 GiB or less, tainted or not
    for node, kind in zip(nodes, kinds.of_node, strict=True):
        example = kinds.examples[kind]
        assert example.arch == node.arch and example.devices == node.devices and bool(example.gpus) == bool(node.gpus)
        assert (example.memory_mib <= 1024) == (node.memory_mib <= 1024)
        assert any(t.effect != "PreferNoSchedule" for t in example.taints) == any(t.effect != "PreferNoSchedule" for t in node.taints)
