"""Keeping data: k8up backups of the volumes, and monitoring that keeps its own history.

Both decide sizes, schedules and Pod Security settings here; templates only render them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import podsecurity
from ..inventory.model import Backup, Inventory
from .model import AppPlan, NodePlan

BACKUP_ANNOTATION = "k8up.io/backup"
# One Secret per backed-up namespace: the restic repository password and the S3 keys.
BACKUP_SECRET = "k8up-backup"
BACKUP_PODCONFIG = "k8up-restricted"
# k8up's job image runs as this uid (Dockerfile `USER 65532`, read at k8up v2.15.0).
K8UP_UID = 65532
GRAFANA_SECRET = "grafana-admin"
# kube-prometheus-stack names Prometheus's ServiceAccount <release>-prometheus.
PROMETHEUS_SERVICE_ACCOUNT = "kube-prometheus-stack-prometheus"
MONITORING_NAMESPACE = "monitoring"


@dataclass(frozen=True)
class BackupNamespace:
    """One k8up Schedule, its Secret and (restricted namespaces) its PodConfig."""

    name: str
    pod_security: str
    pod_security_context: dict[str, Any]
    container_security_context: dict[str, Any] | None  # set: the Schedule refers to a PodConfig

    @property
    def restic_path(self) -> str:
        return self.name


@dataclass(frozen=True)
class BackupPlan:
    s3_endpoint: str
    s3_bucket: str  # <bucket>/<cluster>: each namespace's repository sits below it
    schedule: str
    keep: dict[str, int]
    namespaces: tuple[BackupNamespace, ...]

    def bucket_for(self, namespace: str) -> str:
        # restic reads s3:<endpoint>/<bucket>/<path>: a path after the bucket is a prefix,
        # so every namespace gets a repository of its own (no shared locks, no cross-namespace prune).
        return f"{self.s3_bucket}/{namespace}"


def restricted_container_context() -> dict[str, Any]:
    """k8up's documented PodConfig for namespaces enforcing `restricted` (docs how-tos/schedules.adoc @v2.15.0)."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def backup_namespace(name: str, level: str, app_groups: list[int]) -> BackupNamespace:
    if level == "restricted":
        # Non-root: the job reads what the apps' groups may read (their fsGroups).
        context: dict[str, Any] = {"runAsNonRoot": True, "runAsUser": K8UP_UID, "seccompProfile": {"type": "RuntimeDefault"}}
        if app_groups:
            context["supplementalGroups"] = sorted(set(app_groups))
        return BackupNamespace(name, level, context, restricted_container_context())
    # Root reads the files of every app uid; baseline admits it.
    return BackupNamespace(name, level, {"runAsUser": 0}, None)


def backup_pod_spec(ns: BackupNamespace) -> dict[str, Any]:
    """The security-relevant part of a k8up backup Job's pod, as far as it can be derived:
    operator/job/job.go (v2.15.0) sets the pod securityContext from the Schedule's
    podSecurityContext and gives the `k8up` container no securityContext of its own; a
    PodConfig's container securityContext is merged in. The job mounts the PVCs; it uses
    no host namespaces, hostPath or capabilities."""
    container: dict[str, Any] = {"name": "k8up"}
    if ns.container_security_context is not None:
        container["securityContext"] = ns.container_security_context
    return {
        "securityContext": ns.pod_security_context,
        "containers": [container],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
    }


def plan_backup(inv: Inventory, apps: list[AppPlan], namespaces: dict[str, str]) -> BackupPlan | None:
    backup: Backup | None = inv.components.backup
    if backup is None:
        return None
    groups: dict[str, list[int]] = {}
    for app in apps:
        if app.has_data:
            groups.setdefault(app.namespace, []).extend([app.fs_group] if app.fs_group is not None else [])
    planned = [backup_namespace(ns, namespaces[ns], groups[ns]) for ns in sorted(groups)]
    if inv.components.monitoring:
        # Grafana's dashboards and users live on its volume.
        planned.append(backup_namespace(MONITORING_NAMESPACE, "privileged", []))
    for ns in planned:
        needed = podsecurity.required_level(backup_pod_spec(ns))
        order = ("restricted", "baseline", "privileged")
        assert order.index(needed) <= order.index(ns.pod_security), f"k8up pods would be rejected in {ns.name}"
    return BackupPlan(
        s3_endpoint=backup.s3_endpoint,
        s3_bucket=f"{backup.s3_bucket}/{inv.cluster_name}",
        schedule=backup.schedule,
        keep=dict(backup.keep),
        namespaces=tuple(sorted(planned, key=lambda n: n.name)),
    )


# ---- monitoring ------------------------------------------------------------------------

DEFAULT_PROMETHEUS_GIB = 20


def prometheus_volume_gib(nodes: list[NodePlan], storage_backend: str) -> int:
    """20 GiB, or a tenth of the smallest disk a volume may land on when that is less
    (never under 5 GiB): Prometheus must not fill a small SSD."""
    if storage_backend in ("longhorn", "rook-ceph"):
        disks = [d for n in nodes for d in n.storage_disks]
    else:
        disks = [n.data_disk for n in nodes if n.data_disk] or [d for n in nodes for d in n.disks]
    sizes = [d.size_mib // 1024 for d in disks if d and d.size_mib]
    if not sizes:
        return DEFAULT_PROMETHEUS_GIB
    return max(5, min(DEFAULT_PROMETHEUS_GIB, min(sizes) // 10))


def monitoring_values(nodes: list[NodePlan], storage_backend: str, storage_class: str, backups: bool) -> dict[str, Any]:
    """kube-prometheus-stack values that keep its data (keys read at chart 88.5.3, pinned 91.5.0)."""
    gib = prometheus_volume_gib(nodes, storage_backend)

    def claim(size: str, backed_up: bool) -> dict[str, Any]:
        template: dict[str, Any] = {"spec": {"storageClassName": storage_class, "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}}
        if backups:
            template["metadata"] = {"annotations": {BACKUP_ANNOTATION: "true" if backed_up else "false"}}
        return {"volumeClaimTemplate": template}

    grafana_persistence: dict[str, Any] = {"enabled": True, "type": "pvc", "storageClassName": storage_class, "accessModes": ["ReadWriteOnce"], "size": "5Gi"}
    if backups:
        grafana_persistence["annotations"] = {BACKUP_ANNOTATION: "true"}
    return {
        "prometheus": {
            "prometheusSpec": {
                # The TSDB is not worth a file-level backup; 85% leaves room for compaction.
                "storageSpec": claim(f"{gib}Gi", False),
                "retentionSize": f"{gib * 85 // 100}GiB",
            }
        },
        "alertmanager": {"alertmanagerSpec": {"storage": claim("1Gi", False)}},
        "grafana": {
            "admin": {"existingSecret": GRAFANA_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
            "persistence": grafana_persistence,
            # One RWO volume: a rolling update's second pod would wait on it forever.
            "deploymentStrategy": {"type": "Recreate"},
        },
    }


# Values that turn each component's ServiceMonitor on (keys confirmed per chart pin in the
# research notes; metallb needs Prometheus's namespace and ServiceAccount for its RBAC).
SERVICE_MONITOR_VALUES: dict[str, dict[str, Any]] = {
    "traefik": {"metrics": {"prometheus": {"service": {"enabled": True}, "serviceMonitor": {"enabled": True}}}},
    "ingress-nginx": {"controller": {"metrics": {"enabled": True, "serviceMonitor": {"enabled": True}}}},
    "cert-manager": {"prometheus": {"enabled": True, "servicemonitor": {"enabled": True}}},
    "metallb": {"prometheus": {"serviceMonitor": {"enabled": True}, "namespace": MONITORING_NAMESPACE, "serviceAccount": PROMETHEUS_SERVICE_ACCOUNT}},
    "longhorn": {"metrics": {"serviceMonitor": {"enabled": True}}},
    "rook-ceph": {"monitoring": {"enabled": True}},
    "rook-ceph-cluster": {"monitoring": {"enabled": True}},
    "k8up": {"metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}}},
}
