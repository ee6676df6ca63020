"""Backups with k8up: which namespaces get a Schedule, where their restic repositories live,
and the Pod Security settings their backup pods need. Templates only render these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import podsecurity
from ..inventory.model import Backup, Inventory
from .model import AppPlan
from .monitoring import MONITORING_NAMESPACE

# One Secret per backed-up namespace: the restic repository password and the S3 keys.
BACKUP_SECRET = "k8up-backup"
BACKUP_PODCONFIG = "k8up-restricted"
# k8up's job image runs as this uid (Dockerfile `USER 65532`, read at k8up v2.15.0).
K8UP_UID = 65532


@dataclass(frozen=True)
class BackupNamespace:
    """One k8up Schedule, its Secret and (restricted namespaces) its PodConfig."""

    name: str
    pod_security: str
    pod_security_context: dict[str, Any]
    container_security_context: dict[str, Any] | None  # set: the Schedule refers to a PodConfig

@dataclass(frozen=True)
class BackupPlan:
    s3_endpoint: str
    s3_bucket: str  # <bucket>/<cluster>: each namespace's repository sits below it
    schedule: str
    keep: dict[str, int]
    namespaces: tuple[BackupNamespace, ...]
    secret: str = BACKUP_SECRET  # each namespace's Secret: restic password and S3 keys
    podconfig: str = BACKUP_PODCONFIG  # the PodConfig restricted namespaces' Schedules refer to
    k8up_uid: int = K8UP_UID

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
