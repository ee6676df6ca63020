"""Rook Ceph: where its daemons may run, the CRUSH failure domain, OSD memory targets and
metadata devices, and the CephFS filesystem (the rook-ceph-cluster chart's values at v1.20.6)."""

from __future__ import annotations

from typing import Any

from .. import catalog
from ..errors import PlanError, Problem
from ..inventory.model import Inventory
from .merge import deep_merge
from .model import LABEL_PREFIX, NodePlan, replace_node
from .nodes import HOST_LABEL, WEAR_PRONE_MEDIA, ZONE_LABEL

OSD_MEMORY_MIB = 4096  # Ceph's default osd_memory_target
# Ceph monitors and managers keep the cluster map: an SD card's latency and a small
# node's memory pressure make them drop out of quorum, so they go elsewhere.
CEPH_DAEMON_MIN_MIB = 2048 + 1  # more than 2 GiB
CEPH_MONS = 3
CEPH_AVOID_LABEL = f"{LABEL_PREFIX}/no-ceph-daemons"  # SD-booted or <= 2 GiB: no mon, mgr, MDS
ROOK_CHASSIS_LABEL = "topology.rook.io/chassis"  # the CRUSH level Rook reads for a hypervisor
CEPHFS_NAME = "ceph-filesystem"
CEPHFS_STORAGE_CLASS = catalog.storage_backends()["rook-ceph"]["rwx_storage_class"]  # the RWX class


def ceph_daemon_ok(node: NodePlan) -> bool:
    return node.boot_medium not in WEAR_PRONE_MEDIA and node.memory_mib >= CEPH_DAEMON_MIN_MIB


def ceph_daemon_placement(inv: Inventory, nodes: list[NodePlan]) -> tuple[list[NodePlan], list[Problem]]:
    """Mark the nodes Ceph's mons, mgrs and MDSs must avoid (a label their node affinity reads),
    and check three monitors fit on different nodes (and domains)."""
    planned = []
    for n in nodes:
        ok = ceph_daemon_ok(n)
        labels = {} if ok else {CEPH_AVOID_LABEL: "true"}
        if n.host:
            labels[ROOK_CHASSIS_LABEL] = n.host  # Rook's CRUSH map level for a shared hypervisor
        planned.append(replace_node(n, ceph_daemon_ok=ok, node_labels=dict(sorted({**n.node_labels, **labels}.items())),
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


def _mon_placement(nodes: list[NodePlan]) -> dict[str, Any]:
    placement: dict[str, Any] = dict(_affinity_avoiding_small_nodes())
    spread = mon_spread_key(nodes)
    if spread:
        domains = {n.zone if spread == ZONE_LABEL else n.host for n in nodes if n.ceph_daemon_ok}
        placement["topologySpreadConstraints"] = [{
            "maxSkew": 1,
            "topologyKey": spread,
            # Hard only when there are as many domains as monitors; else best effort.
            "whenUnsatisfiable": "DoNotSchedule" if len(domains) >= CEPH_MONS else "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app": "rook-ceph-mon"}},
        }]
    return placement


def osd_memory_config(osd_nodes: list[NodePlan]) -> dict[str, dict[str, str]]:
    """cephConfig entries: the most common target for every OSD (when not Ceph's default), and a
    `osd/host:<node>` mask for each node whose target differs."""
    if not osd_nodes:
        return {}
    targets = [n.osd_memory_target_mib for n in osd_nodes]
    common = max(set(targets), key=lambda t: (targets.count(t), t))
    config: dict[str, dict[str, str]] = {}
    if common != OSD_MEMORY_MIB:
        config["osd"] = {"osd_memory_target": str(common * 1024 * 1024)}
    for n in osd_nodes:
        if n.osd_memory_target_mib != common:
            config[f"osd/host:{n.name}"] = {"osd_memory_target": str(n.osd_memory_target_mib * 1024 * 1024)}
    return config


def _storage_nodes(osd_nodes: list[NodePlan]) -> list[dict[str, Any]]:
    result = []
    for n in osd_nodes:
        entry: dict[str, Any] = {"name": n.name, "devices": [{"name": d.path} for d in n.storage_disks]}
        if n.metadata_disk is not None:
            entry["config"] = {"metadataDevice": n.metadata_disk.path}
        result.append(entry)
    return result


def rook_cluster_values(nodes: list[NodePlan]) -> dict[str, Any]:
    """The rook-ceph-cluster overlay: OSD disks (and metadata devices), memory targets, where
    mons/mgrs/MDSs may run, the CRUSH failure domain and the CephFS filesystem."""
    osd_nodes = [n for n in nodes if n.storage_role == "ceph-osd"]
    domain = ceph_failure_domain(nodes)
    spec: dict[str, Any] = {
        "storage": {
            # Never useAllDevices: Rook would take any empty disk it finds,
            # including one the user plugged in for something else.
            "useAllNodes": False,
            "useAllDevices": False,
            "nodes": _storage_nodes(osd_nodes),
        },
        "placement": {"mon": _mon_placement(nodes), "mgr": _affinity_avoiding_small_nodes()},
    }
    config = osd_memory_config(osd_nodes)
    if config:
        spec["cephConfig"] = config
    pool = {"failureDomain": domain, "replicated": {"size": 3}}
    block_pool = catalog.component("rook-ceph-cluster")["values"]["cephBlockPools"][0]
    return {
        "cephClusterSpec": spec,
        "cephBlockPools": [deep_merge(block_pool, {"spec": {"failureDomain": domain}})],
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
