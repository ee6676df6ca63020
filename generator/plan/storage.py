"""Choose the storage backend from the disks and memory the nodes really have."""

from __future__ import annotations


from typing import Any

from ..errors import Problem
from ..inventory.model import Inventory
from .model import NodePlan, replace_node
from . import backends
from .backends import storage_disks
from .rook import OSD_MEMORY_MIB


# Ceph's osd_memory_target defaults to 4 GiB per OSD (rook.OSD_MEMORY_MIB); below that Ceph
# OSDs thrash or get OOM-killed ("Ceph on 1 GB Pis can't be done"). A lower target
# (components.ceph.osdMemoryTarget, nodes[].osdMemoryTarget) trades cache for room,
# down to 2 GiB: Ceph's BlueStore docs advise against setting it any lower.
OSD_MEMORY_MIN_MIB = 2048
# What k3s, the OS and the node's own pods need before any OSD.
NODE_BASE_MEMORY_MIB = 2048
CEPH_MIN_NODES = 3  # 3 mons and 3 replicas, one per host (storage_backends.rook-ceph.min_storage_nodes)


def ceph_memory_needed_mib(node: NodePlan) -> int:
    return NODE_BASE_MEMORY_MIB + node.osd_memory_target_mib * len(storage_disks(node))


def osd_memory_targets(inv: Inventory, nodes: list[NodePlan]) -> tuple[list[NodePlan], list[Problem]]:
    """Each node's OSD memory target (node field, else cluster field, else Ceph's 4 GiB); below
    the 2 GiB floor is an error."""
    problems = []
    result = []
    cluster = inv.components.osd_memory_target_mib
    if cluster is not None and cluster < OSD_MEMORY_MIN_MIB:
        problems.append(_target_too_low(inv, cluster, ("components", "ceph", "osdMemoryTarget")))
    for node in nodes:
        own = inv.nodes[node.index].osd_memory_target_mib
        target = own or cluster or OSD_MEMORY_MIB
        if own is not None and own < OSD_MEMORY_MIN_MIB:
            problems.append(_target_too_low(inv, own, ("nodes", node.index, "osdMemoryTarget")))
        metadata = next((d for d in node.disks if d.use == "metadata"), None)
        if metadata is not None:
            problems.extend(_metadata_disk_problems(inv, node, metadata))
        result.append(replace_node(node, osd_memory_target_mib=target, metadata_disk=metadata))
    return result, problems


def ceph_shortfall(node: NodePlan) -> int:
    return max(0, ceph_memory_needed_mib(node) - node.memory_mib)


# ceph-volume puts BlueStore's DB on a metadata device only if it is of a faster class than
# the data devices ("will not use a device of the same device class as OSD devices for
# metadata", Rook's CephCluster CRD docs at v1.20.6): HDD < SSD < NVMe.
DISK_SPEED = {"hdd": 0, "usb": 0, "sd": 0, "emmc": 0, "ssd": 1, "nvme": 2}


def _metadata_disk_problems(inv: Inventory, node: NodePlan, metadata: Any) -> list[Problem]:
    where = inv.where("nodes", node.index, "disks", node.disks.index(metadata), "type")
    data = [d for d in storage_disks(node)]
    if not data:
        return [Problem(f"node '{node.name}' has a metadata disk but no disk with use: storage for it to serve",
                        hint="give the node a storage disk, or set use: none on the metadata disk", severity="warning", **where)]
    slower = [d for d in data if DISK_SPEED[d.type] >= DISK_SPEED[metadata.type]]
    if slower:
        return [Problem(
            f"node '{node.name}': metadata disk {metadata.path} ({metadata.type}) is not faster than its OSD disk(s) "
            f"({', '.join(sorted({d.type for d in slower}))}); ceph-volume refuses a DB device of the same class and the OSD is not created",
            hint="use an SSD metadata disk for HDD OSDs (NVMe for SSD OSDs), or set use: storage on it",
            code="ceph-metadata-device",
            **where,
        )]
    return []


def _target_too_low(inv: Inventory, target: int, field: tuple[str | int, ...]) -> Problem:
    return Problem(
        f"OSD memory target {target} MiB is below Ceph's {OSD_MEMORY_MIN_MIB // 1024} GiB floor: the OSD's caches shrink until it stalls",
        hint="set osdMemoryTarget to 2Gi or more, or use longhorn on nodes this small",
        code="ceph-on-small-nodes",
        **inv.where(*field),
    )


def ceph_refusal(inv: Inventory, nodes: list[NodePlan], ready: int) -> Problem:
    details = []
    for n in nodes:
        if not storage_disks(n):
            details.append(f"{n.name}: no disk with use: storage")
        elif ceph_shortfall(n):
            details.append(
                f"{n.name}: {n.memory_mib // 1024} GiB memory, needs {ceph_memory_needed_mib(n) // 1024} GiB for {len(storage_disks(n))} OSD(s)"
                + (f" of {n.osd_memory_target_mib / 1024:g} GiB" if n.osd_memory_target_mib != OSD_MEMORY_MIB else "")
            )
    return Problem(
        f"rook-ceph needs {CEPH_MIN_NODES} nodes each with a raw disk and memory for the OSD memory target of each OSD (default {OSD_MEMORY_MIB // 1024} GiB) on top of {NODE_BASE_MEMORY_MIB // 1024} GiB; "
        f"{ready} qualify ({'; '.join(details)})",
        hint="use storage: longhorn or local-path, add disks and memory, or lower components.ceph.osdMemoryTarget (at least 2Gi)",
        code="ceph-on-small-nodes",
        **inv.where("components", "storage"),
    )


def choose_storage(inv: Inventory, nodes: list[NodePlan]) -> tuple[str, list[NodePlan], list[Problem]]:
    """The backend (components.storage, or for auto the first in the catalog's order whose
    module says the nodes fit it), the nodes with their storage role, and its problems."""
    nodes, target_problems = osd_memory_targets(inv, nodes)
    if target_problems:
        return inv.components.storage, nodes, target_problems
    requested = inv.components.storage
    chosen = next(b for b in backends.auto_order() if b.fits(inv, nodes)) if requested == "auto" else backends.backend(requested)
    holders = chosen.disk_holders(nodes)
    problems = list(chosen.check(inv, nodes, holders))
    held = {n.name for n in holders}
    role = chosen.spec.node_role
    modules = chosen.spec.kernel_modules
    planned = [replace_node(n, storage_role=role if n.name in held else "none", storage_disks=storage_disks(n) if n.name in held else (),
                       kernel_modules=n.kernel_modules + tuple(m for m in modules if m not in n.kernel_modules)) for n in nodes]
    planned, more = chosen.place(inv, planned)
    problems.extend(more)
    return chosen.spec.name, planned, problems
