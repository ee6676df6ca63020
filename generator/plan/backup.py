"""Backups: with k8up, which namespaces get a Schedule, where their restic repositories live,
and the Pod Security settings their backup pods need; with Longhorn (engine: longhorn), the
backup target and the RecurringJob that backs up the volumes. Templates only render these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import hashlib

from .. import podsecurity
from ..errors import Problem
from ..inventory.model import Backup, Inventory
from .model import AppPlan, LonghornBackup
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

# Longhorn: the backup target's credentials (longhorn-system) and the recurring job.
LONGHORN_BACKUP_SECRET = "longhorn-backup"
LONGHORN_NAMESPACE = "longhorn-system"
# Longhorn puts a volume with no recurring-job label into this group (datastore/longhorn.go at
# v1.12.1: labels[recurring-job-group.longhorn.io/default] = enabled), so a job in it backs
# up every volume without changing the StorageClasses (their parameters are immutable).
LONGHORN_DEFAULT_GROUP = "default"


@dataclass(frozen=True)
class BackupPlan:
    """Where and when the cluster's volumes are backed up, and which namespaces."""

    s3_endpoint: str
    s3_bucket: str  # <bucket>/<cluster>: each namespace's repository sits below it
    schedule: str
    keep: dict[str, int]
    namespaces: tuple[BackupNamespace, ...]  # k8up Schedules; none with engine longhorn
    secret: str = BACKUP_SECRET  # each namespace's Secret: restic password and S3 keys
    podconfig: str = BACKUP_PODCONFIG  # the PodConfig restricted namespaces' Schedules refer to
    k8up_uid: int = K8UP_UID
    engine: str = "k8up"
    longhorn: LonghornBackup | None = None

    @property
    def k8up(self) -> bool:
        return self.engine == "k8up"

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


def backup_problems(inv: Inventory, storage_backend: str, apps: list[AppPlan]) -> list[Problem]:
    backup = inv.components.backup
    if backup is None or backup.engine != "longhorn":
        return []
    if storage_backend != "longhorn":
        return [
            Problem(
                f"backup engine longhorn backs up Longhorn volumes, but the storage is {storage_backend}",
                hint="set components.storage: longhorn, or engine: k8up (file-level backups of any storage)",
                **inv.where("components", "backup", "engine"),
            )
        ]
    problems = []
    for app in inv.apps:
        if app.backup is False:
            problems.append(
                Problem(
                    f"app '{app.name}' says backup: false, but Longhorn's recurring backup takes every Longhorn volume "
                    "(its default group), so its volumes are backed up too",
                    hint="use engine: k8up to leave single apps out, or accept the extra backups",
                    severity="warning",
                    code="longhorn-backs-up-every-volume",
                    **inv.where("apps", app.index, "backup"),
                )
            )
    return problems


def longhorn_cron(schedule: str, cluster: str) -> str:
    """k8up's @<period>-random spreads jobs by a hash; Longhorn takes plain cron (and @daily),
    so the random forms become a fixed time derived from the cluster name (same every run)."""
    if not schedule.endswith("-random"):
        return schedule
    h = int(hashlib.sha256(cluster.encode()).hexdigest(), 16)
    minute, hour, weekday, day = h % 60, 1 + (h // 60) % 5, (h // 300) % 7, 1 + (h // 2100) % 28
    period = schedule.removeprefix("@").removesuffix("-random")
    return {
        "hourly": f"{minute} * * * *",
        "daily": f"{minute} {hour} * * *",
        "weekly": f"{minute} {hour} * * {weekday}",
        "monthly": f"{minute} {hour} {day} * *",
        "yearly": f"{minute} {hour} {day} 1 *",
    }[period]


def _longhorn_backup(inv: Inventory, backup: Backup) -> LonghornBackup:
    keep = dict(backup.keep)
    # One count: Longhorn keeps the newest `retain` backups (no weekly/monthly tiers).
    retain = keep.get("daily") or keep.get("last") or 1
    return LonghornBackup(
        target=f"s3://{backup.s3_bucket}@{backup.s3_region}/{inv.cluster_name}/",
        endpoint=backup.s3_endpoint,
        credential_secret=LONGHORN_BACKUP_SECRET,
        namespace=LONGHORN_NAMESPACE,
        cron=longhorn_cron(backup.schedule, inv.cluster_name),
        retain=retain,
    )


def plan_backup(inv: Inventory, apps: list[AppPlan], namespaces: dict[str, str]) -> BackupPlan | None:
    backup: Backup | None = inv.components.backup
    if backup is None:
        return None
    if backup.engine == "longhorn":
        return BackupPlan(
            s3_endpoint=backup.s3_endpoint,
            s3_bucket=f"{backup.s3_bucket}/{inv.cluster_name}",
            schedule=backup.schedule,
            keep=dict(backup.keep),
            namespaces=(),
            engine="longhorn",
            longhorn=_longhorn_backup(inv, backup),
        )
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


def longhorn_backup_values(inv: Inventory) -> dict[str, Any]:
    """Longhorn chart values (1.12.1 defaultBackupStore → the longhorn-default-resource
    ConfigMap the manager reads the default BackupTarget from)."""
    backup = inv.components.backup
    if backup is None or backup.engine != "longhorn":
        return {}
    target = _longhorn_backup(inv, backup)
    return {"defaultBackupStore": {"backupTarget": target.target, "backupTargetCredentialSecret": target.credential_secret}}
