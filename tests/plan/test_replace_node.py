"""replace_node stands in for dataclasses.replace in the plan's passes over every node: for a
change to any one field, the node it builds equals replace's, leaves the original as it was,
and refuses a field NodePlan does not have."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from generator.inventory import load_inventory
from generator.plan import plan_cluster
from generator.plan.model import NodePlan, replace_node

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _nodes() -> list[NodePlan]:
    nodes = []
    for example in ("mixed-shelf", "talos-rack"):
        inventory, warnings = load_inventory(EXAMPLES / f"{example}.yaml")
        nodes.extend(plan_cluster(inventory, warnings).nodes)
    return nodes


NODES = _nodes()
SENTINEL = object()


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(NodePlan)])
def test_one_field_changed(field: str) -> None:
    for node in NODES:
        before = dataclasses.asdict(node)
        new = replace_node(node, **{field: SENTINEL})
        assert new == dataclasses.replace(node, **{field: SENTINEL})
        assert type(new) is NodePlan and getattr(new, field) is SENTINEL
        assert dataclasses.asdict(node) == before
        for other in dataclasses.fields(NodePlan):
            if other.name != field:
                assert getattr(new, other.name) is getattr(node, other.name)


def test_no_change_and_several_changes() -> None:
    node = NODES[0]
    assert replace_node(node) == node and replace_node(node) is not node
    changed = replace_node(node, role="worker", first_server=False, labels={"a": "b"})
    assert changed == dataclasses.replace(node, role="worker", first_server=False, labels={"a": "b"})


def test_unknown_field_is_refused() -> None:
    with pytest.raises(TypeError, match="no field rolle"):
        replace_node(NODES[0], rolle="worker")
    with pytest.raises(dataclasses.FrozenInstanceError):
        replace_node(NODES[0]).role = "worker"  # type: ignore[misc]
