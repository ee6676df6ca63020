"""Choose the storage backend from the disks and memory the nodes really have."""

from __future__ import annotations

from dataclasses import replace

from typing import Any

from .. import catalog
from ..errors import PlanError, Problem
from ..inventory.model import Inventory
from .merge import deep_merge
from .model import LABEL_PREFIX, NodePlan
from .nodes import HOST_LABEL, WEAR_PRONE_MEDIA, ZONE_LABEL

CEPH_AVOID_LABEL = f"{LABEL_PREFIX}/no-ceph-daemons"  # SD-booted or <= 2 GiB: no mon, mgr, MDS
ROOK_CHASSIS_LABEL = "topology.rook.io/chassis"
CEPHFS_NAME = "ceph-filesystem"
CEPHFS_STORAGE_CLASS = "ceph-filesystem"

# Ceph's osd_memory_target defaults to 4 GiB per OSD; below that Ceph OSDs
# thrash or get OOM-killed ("Ceph on 1 GB Pis can't be done"). A lower target
# (components.ceph.osdMemoryTarget, nodes[].osdMemoryTarget) trades cache for room,
# down to 2 GiB: Ceph's BlueStore docs advise against setting it any lower.
OSD_MEMORY_MIB = 4096
OSD_MEMORY_MIN_MIB = 2048
# Ceph monitors and managers keep the cluster map: an SD card's latency and a small
# node's memory pressure make them drop out of quorum, so they go elsewhere.
CEPH_DAEMON_MIN_MIB = 2048 + 1  # more than 2 GiB
CEPH_MONS = 3
# What k3s, the OS and the node's own pods need before any OSD.
NODE_BASE_MEMORY_MIB = 2048
CEPH_MIN_NODES = 3  # 3 mons and 3 replicas, one per host
LONGHORN_MIN_NODES = 2


def _storage_disks(node: NodePlan) -> tuple:
    return tuple(d for d in node.disks if d.use == "storage")


def _ceph_memory_needed_mib(node: NodePlan) -> int:
    return NODE_BASE_MEMORY_MIB + node.osd_memory_target_mib * len(_storage_disks(node))


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
        result.append(replace(node, osd_memory_target_mib=target, metadata_disk=metadata))
    return result, problems


def _ceph_shortfall(node: NodePlan) -> int:
    return max(0, _ceph_memory_needed_mib(node) - node.memory_mib)


# ceph-volume puts BlueStore's DB on a metadata device only if it is of a faster class than
# the data devices ("will not use a device of the same device class as OSD devices for
# metadata", Rook's CephCluster CRD docs at v1.20.6): HDD < SSD < NVMe.
DISK_SPEED = {"hdd": 0, "usb": 0, "sd": 0, "emmc": 0, "ssd": 1, "nvme": 2}


def _metadata_disk_problems(inv: Inventory, node: NodePlan, metadata: Any) -> list[Problem]:
    where = inv.where("nodes", node.index, "disks", node.disks.index(metadata), "type")
    data = [d for d in _storage_disks(node)]
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


def choose_storage(inv: Inventory, nodes: list[NodePlan]) -> tuple[str, list[NodePlan], list[Problem]]:
    nodes, target_problems = osd_memory_targets(inv, nodes)
    if target_problems:
        return inv.components.storage, nodes, target_problems
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
                    f"{n.name}: {n.memory_mib / 1024:g} GiB memory, needs {_ceph_memory_needed_mib(n) / 1024:g} GiB for {len(_storage_disks(n))} OSD(s) of {n.osd_memory_target_mib / 1024:g} GiB"
                )
        raise PlanError(
            [
                Problem(
                    f"rook-ceph needs {CEPH_MIN_NODES} nodes each with a raw disk and memory for the OSD memory target of each OSD (default {OSD_MEMORY_MIB // 1024} GiB) on top of {NODE_BASE_MEMORY_MIB // 1024} GiB; "
                    f"{len(ceph_ready)} qualify ({'; '.join(details)})",
                    hint="use storage: longhorn or local-path, add disks and memory, or lower components.ceph.osdMemoryTarget (at least 2Gi)",
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
                        hint=f"it would need {_ceph_memory_needed_mib(n) / 1024:g} GiB, or a lower osdMemoryTarget (at least 2Gi)",
                        severity="warning",
                        code="ceph-on-small-nodes",
                        **inv.where("nodes", n.index, "memory"),
                    )
                )
    if backend == "rook-ceph":
        planned, more = _ceph_daemon_placement(inv, planned)
        problems.extend(more)
    return backend, planned, problems


def ceph_daemon_ok(node: NodePlan) -> bool:
    return node.boot_medium not in WEAR_PRONE_MEDIA and node.memory_mib >= CEPH_DAEMON_MIN_MIB


def _ceph_daemon_placement(inv: Inventory, nodes: list[NodePlan]) -> tuple[list[NodePlan], list[Problem]]:
    """Mark the nodes Ceph's mons, mgrs and MDSs must avoid (a label their node affinity reads),
    and check three monitors fit on different nodes (and domains)."""
    planned = []
    for n in nodes:
        ok = ceph_daemon_ok(n)
        labels = {} if ok else {CEPH_AVOID_LABEL: "true"}
        if n.host:
            labels[ROOK_CHASSIS_LABEL] = n.host  # Rook's CRUSH map level for a shared hypervisor
        planned.append(replace(n, ceph_daemon_ok=ok, node_labels=dict(sorted({**n.node_labels, **labels}.items())),
                               labels=dict(sorted({**n.labels, **labels}.items()))))
    eligible = [n for n in planned if n.ceph_daemon_ok]
    if len(eligible) < CEPH_MONS:
        raise PlanError(
            [
                Problem(
                    f"rook-ceph runs {CEPH_MONS} monitors on different nodes, each not SD-booted and with more than 2 GiB; "
                    f"{len(eligible)} node(s) qualify ({', '.join(n.name for n in eligible) or 'none'})",
                    hint="add memory or an SSD boot disk to a node, or use storage: longhorn",
                    code="ceph-on-small-nodes",
                    **inv.where("components", "storage"),
                )
            ]
        )
    problems = []
    domains = {n.failure_domain for n in eligible if n.failure_domain}
    if domains and len(domains) < CEPH_MONS:
        problems.append(
            Problem(
                f"Ceph's {CEPH_MONS} monitors can only use {len(domains)} failure domain(s) ({', '.join(sorted(domains))}): two monitors share one, and losing it loses the monitor quorum",
                hint=f"spread the nodes over {CEPH_MONS} zones or hypervisor hosts (location), or accept the risk",
                severity="warning",
                code="quorum-shares-failure-domain",
                **inv.where("nodes"),
            )
        )
    return planned, problems


def ceph_failure_domain(nodes: list[NodePlan], replicas: int = 3) -> str:
    """The widest CRUSH level with a distinct value for each replica among the OSD nodes: zone
    (topology.kubernetes.io/zone), then chassis (the hypervisor host), else host."""
    osd = [n for n in nodes if n.storage_role == "ceph-osd"]
    if osd and all(n.zone for n in osd) and len({n.zone for n in osd}) >= replicas:
        return "zone"
    if osd and all(n.host for n in osd) and len({n.host for n in osd}) >= replicas:
        return "chassis"
    return "host"


def mon_spread_key(nodes: list[NodePlan]) -> str | None:
    """The node label monitors spread across: zone when every eligible node has one, else the
    hypervisor host label; None when the locations are incomplete."""
    eligible = [n for n in nodes if n.ceph_daemon_ok]
    if eligible and all(n.zone for n in eligible) and len({n.zone for n in eligible}) > 1:
        return ZONE_LABEL
    if eligible and all(n.host for n in eligible) and len({n.host for n in eligible}) > 1:
        return HOST_LABEL
    return None


def _affinity_avoiding_small_nodes() -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": CEPH_AVOID_LABEL, "operator": "NotIn", "values": ["true"]}]}]}}}


def rook_cluster_values(nodes: list[NodePlan]) -> dict[str, Any]:
    """The rook-ceph-cluster overlay: OSD disks (and metadata devices), memory targets, where
    mons/mgrs/MDSs may run, the CRUSH failure domain and the CephFS filesystem."""
    osd_nodes = [n for n in nodes if n.storage_role == "ceph-osd"]
    domain = ceph_failure_domain(nodes)
    mon_placement: dict[str, Any] = dict(_affinity_avoiding_small_nodes())
    spread = mon_spread_key(nodes)
    if spread:
        domains = {n.zone if spread == ZONE_LABEL else n.host for n in nodes if n.ceph_daemon_ok}
        mon_placement["topologySpreadConstraints"] = [{
            "maxSkew": 1,
            "topologyKey": spread,
            # Hard only when there are as many domains as monitors; else best effort.
            "whenUnsatisfiable": "DoNotSchedule" if len(domains) >= CEPH_MONS else "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app": "rook-ceph-mon"}},
        }]
    config: dict[str, dict[str, str]] = {}
    targets = {n.osd_memory_target_mib for n in osd_nodes}
    common = OSD_MEMORY_MIB if not osd_nodes else max(targets, key=lambda t: (sum(n.osd_memory_target_mib == t for n in osd_nodes), t))
    if common != OSD_MEMORY_MIB:
        config["osd"] = {"osd_memory_target": str(common * 1024 * 1024)}
    for n in osd_nodes:
        if n.osd_memory_target_mib != common:
            # A Ceph config mask: the OSDs on this CRUSH host only.
            config[f"osd/host:{n.name}"] = {"osd_memory_target": str(n.osd_memory_target_mib * 1024 * 1024)}
    storage_nodes = []
    for n in osd_nodes:
        entry: dict[str, Any] = {"name": n.name, "devices": [{"name": d.path} for d in n.storage_disks]}
        if n.metadata_disk is not None:
            entry["config"] = {"metadataDevice": n.metadata_disk.path}
        storage_nodes.append(entry)
    spec: dict[str, Any] = {
        "storage": {
            # Never useAllDevices: Rook would take any empty disk it finds,
            # including one the user plugged in for something else.
            "useAllNodes": False,
            "useAllDevices": False,
            "nodes": storage_nodes,
        },
        "placement": {"mon": mon_placement, "mgr": _affinity_avoiding_small_nodes()},
    }
    if config:
        spec["cephConfig"] = config
    pool = {"failureDomain": domain, "replicated": {"size": 3}}
    return {
        "cephClusterSpec": spec,
        "cephBlockPools": [deep_merge(catalog.component("rook-ceph-cluster")["values"]["cephBlockPools"][0], {"spec": {"failureDomain": domain}})],
        "cephFileSystems": [cephfs_filesystem(pool)],
    }


def cephfs_filesystem(pool: dict[str, Any]) -> dict[str, Any]:
    """One CephFS filesystem for ReadWriteMany claims, Retain like every clustergen class."""
    return {
        "name": CEPHFS_NAME,
        "spec": {
            "metadataPool": {"failureDomain": pool["failureDomain"], "replicated": {"size": 3}},
            "dataPools": [{"name": "data0", **pool}],
            "metadataServer": {
                "activeCount": 1,
                "activeStandby": True,
                # The chart asks 4 GiB per MDS; a homelab's metadata fits in far less.
                "resources": {"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
                "priorityClassName": "system-cluster-critical",
                "placement": _affinity_avoiding_small_nodes(),
            },
        },
        "storageClass": {
            "enabled": True,
            "isDefault": False,
            "name": CEPHFS_STORAGE_CLASS,
            "pool": "data0",
            "reclaimPolicy": "Retain",
            "allowVolumeExpansion": True,
            "volumeBindingMode": "Immediate",
            "parameters": {
                "csi.storage.k8s.io/provisioner-secret-name": "rook-csi-cephfs-provisioner",
                "csi.storage.k8s.io/provisioner-secret-namespace": "rook-ceph",
                "csi.storage.k8s.io/controller-expand-secret-name": "rook-csi-cephfs-provisioner",
                "csi.storage.k8s.io/controller-expand-secret-namespace": "rook-ceph",
                "csi.storage.k8s.io/controller-publish-secret-name": "rook-csi-cephfs-provisioner",
                "csi.storage.k8s.io/controller-publish-secret-namespace": "rook-ceph",
                "csi.storage.k8s.io/node-stage-secret-name": "rook-csi-cephfs-node",
                "csi.storage.k8s.io/node-stage-secret-namespace": "rook-ceph",
                "csi.storage.k8s.io/fstype": "ext4",
            },
        },
    }


def longhorn_values(nodes: list[NodePlan]) -> dict[str, Any]:
    """Replicas of one volume in different zones when the storage nodes span enough of them
    (Longhorn reads topology.kubernetes.io/zone); otherwise Longhorn's soft default stays."""
    holders = [n for n in nodes if n.storage_role == "longhorn"]
    zones = {n.zone for n in holders}
    if holders and all(n.zone for n in holders) and len(zones) >= LONGHORN_MIN_NODES:
        return {"defaultSettings": {"replicaZoneSoftAntiAffinity": False}}
    return {}


def rwx_storage_class(backend: str) -> str | None:
    """The class a ReadWriteMany claim uses: CephFS on Rook; on Longhorn its own classes serve
    RWX through a share-manager (NFS, hence nfs-common on every node)."""
    return {"rook-ceph": CEPHFS_STORAGE_CLASS, "longhorn": "longhorn-2-replicas"}.get(backend)
