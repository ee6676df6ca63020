"""Choose the storage backend from the disks and memory the nodes really have."""

from __future__ import annotations

from dataclasses import replace

from ..errors import PlanError, Problem
from ..inventory.model import Inventory
from .model import NodePlan

# Rook's osd_memory_target defaults to 4 GiB per OSD; below that Ceph OSDs
# thrash or get OOM-killed ("Ceph on 1 GB Pis can't be done").
OSD_MEMORY_MIB = 4096
# What k3s, the OS and the node's own pods need before any OSD.
NODE_BASE_MEMORY_MIB = 2048
CEPH_MIN_NODES = 3  # 3 mons and 3 replicas, one per host
LONGHORN_MIN_NODES = 2


def _storage_disks(node: NodePlan) -> tuple:
    return tuple(d for d in node.disks if d.use == "storage")


def _ceph_memory_needed_mib(node: NodePlan) -> int:
    return NODE_BASE_MEMORY_MIB + OSD_MEMORY_MIB * len(_storage_disks(node))


def _ceph_shortfall(node: NodePlan) -> int:
    return max(0, _ceph_memory_needed_mib(node) - node.memory_mib)


def choose_storage(inv: Inventory, nodes: list[NodePlan]) -> tuple[str, list[NodePlan], list[Problem]]:
    requested = inv.components.storage
    with_disks = [n for n in nodes if _storage_disks(n)]
    ceph_ready = [n for n in with_disks if _ceph_shortfall(n) == 0]
    problems: list[Problem] = []
    if requested == "rook-ceph" and len(ceph_ready) < CEPH_MIN_NODES:
        details = []
        for n in nodes:
            if not _storage_disks(n):
                details.append(f"{n.name}: no disk with use: storage")
            elif _ceph_shortfall(n):
                details.append(
                    f"{n.name}: {n.memory_mib // 1024} GiB memory, needs {_ceph_memory_needed_mib(n) // 1024} GiB for {len(_storage_disks(n))} OSD(s)"
                )
        raise PlanError(
            [
                Problem(
                    f"rook-ceph needs {CEPH_MIN_NODES} nodes each with a raw disk and about {OSD_MEMORY_MIB // 1024} GiB memory per OSD on top of {NODE_BASE_MEMORY_MIB // 1024} GiB; "
                    f"{len(ceph_ready)} qualify ({'; '.join(details)})",
                    hint="use storage: longhorn or local-path, or add disks and memory",
                    code="ceph-on-small-nodes",
                    **inv.where("components", "storage"),
                )
            ]
        )
    if requested == "auto":
        if len(ceph_ready) >= CEPH_MIN_NODES:
            backend = "rook-ceph"
        elif len(with_disks) >= LONGHORN_MIN_NODES:
            backend = "longhorn"
        else:
            backend = "local-path"
    else:
        backend = requested
    if backend == "longhorn" and len(with_disks) < LONGHORN_MIN_NODES:
        problems.append(
            Problem(
                f"longhorn with {len(with_disks)} storage node(s) cannot replicate volumes across nodes",
                hint="give a second node a disk with use: storage, or use local-path",
                severity="warning",
                **inv.where("components", "storage"),
            )
        )
    role = {"rook-ceph": "ceph-osd", "longhorn": "longhorn"}.get(backend, "none")
    holders = {n.name for n in (ceph_ready if backend == "rook-ceph" else with_disks)}
    planned = [replace(n, storage_role=role if n.name in holders else "none", storage_disks=_storage_disks(n) if n.name in holders else ()) for n in nodes]
    if backend == "rook-ceph":
        for n in with_disks:
            if n.name not in holders:
                problems.append(
                    Problem(
                        f"node '{n.name}' has storage disks but too little memory for Ceph OSDs; its disks stay unused",
                        hint=f"it would need {_ceph_memory_needed_mib(n) // 1024} GiB",
                        severity="warning",
                        code="ceph-on-small-nodes",
                        **inv.where("nodes", n.index, "memory"),
                    )
                )
    return backend, planned, problems
