"""Custom-app workload shapes: kind, containers, per-replica files, volumes, shared claims.

Each function turns one part of an inventory app into charts/app values, or refuses it with
the field that is wrong. plan.apps composes them with placement and ingress.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from ..errors import PlanError, Problem
from ..inventory.model import App, AppContainer, AppMount, Inventory
from .model import PULL_SECRET

JOB_KINDS = ("CronJob", "Job")
DEFAULT_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
# Directories a hostPath volume may not be, nor be inside: the node's own system, the
# kubelet's and the container runtime's state, and the kernel's interfaces. A pod that
# writes there can take the node (or every pod on it) down; devices go through devices:.
SYSTEM_PATHS = (
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root", "/run", "/sbin", "/sys",
    "/usr", "/var/lib/containerd", "/var/lib/docker", "/var/lib/etcd", "/var/lib/kubelet", "/var/lib/rancher",
    "/var/lib/cni", "/var/run", "/system",
)
# Refused only as the directory itself (their subdirectories are where data usually lives).
SYSTEM_PARENTS = ("/", "/var", "/var/lib")


@dataclass(frozen=True)
class SharedVolumePlan:
    """A claim declared once (inventory volumes:) in the one namespace of the apps that mount it."""

    name: str
    namespace: str
    size: str
    access_mode: str
    storage_class: str | None  # None: the cluster's default class
    apps: tuple[str, ...]


def image_values(image: str) -> dict[str, str]:
    """repository, tag and digest of an image reference; the registry's port stays in the
    repository (kube-registry:5000/app:1.2 has repository kube-registry:5000/app)."""
    digest = ""
    if "@" in image:
        image, digest = image.split("@", 1)
    last = image.rsplit("/", 1)[-1]
    repository, tag = (image.rsplit(":", 1) if ":" in last else (image, ""))
    return {"repository": repository, "tag": tag, "digest": digest}


def main_image_values(image: str) -> dict[str, str]:
    """The main container's image: charts/app labels pods with its tag, so a digest-only
    reference takes the digest's first 12 characters as the tag (the digest decides)."""
    parts = image_values(image)
    if not parts["tag"]:
        parts["tag"] = parts["digest"].split(":", 1)[-1][:12]
    return parts


def workload_values(inv: Inventory, app: App) -> dict[str, Any]:
    """The custom app's kind and its schedule, command and replica files, as chart values."""
    _check_kind_fields(inv, app)
    values: dict[str, Any] = {"controller": {"type": app.kind}} if app.kind != "Deployment" else {}
    if app.command:
        values["command"] = list(app.command)
    if app.args:
        values["args"] = list(app.args)
    if app.kind == "CronJob":
        cron = dict(app.cron_job or {})
        values["cronJob"] = {"timeZone": inv.timezone, **cron}
    if app.kind in JOB_KINDS:
        values["service"] = {"enabled": False}
    if app.replica_files:
        values["replicaConfig"] = {
            "mountPath": app.replica_mount_path,
            "replicas": {str(ordinal): dict(files) for ordinal, files in enumerate(app.replica_files)},
        }
        values.setdefault("controller", {})["replicas"] = len(app.replica_files)
    if app.pull_secret:
        values["imagePullSecrets"] = [PULL_SECRET]
    return values


def _check_kind_fields(inv: Inventory, app: App) -> None:
    problems = []
    if app.kind == "CronJob" and app.cron_job is None:
        problems.append(Problem(f"app '{app.name}' is a CronJob without a schedule", hint='add cronJob: {schedule: "0 3 * * *"}', **inv.where("apps", app.index, "kind")))
    if app.cron_job is not None and app.kind != "CronJob":
        problems.append(Problem(f"app '{app.name}' has cronJob but kind {app.kind}", hint="set kind: CronJob, or remove cronJob", **inv.where("apps", app.index, "cronJob")))
    new_claims = [v for v in app.persistence if not v.existing_claim and v.access_mode in ("ReadWriteOnce", "ReadWriteOncePod")]
    if app.kind == "DaemonSet" and new_claims:
        problems.append(
            Problem(
                f"app '{app.name}' is a DaemonSet with the ReadWriteOnce claim '{new_claims[0].name}': its pods on other nodes could not mount it",
                hint="give each node's pod a hostPath directory (volumes:), or use accessMode: ReadWriteMany",
                **inv.where("apps", app.index, "persistence", app.persistence.index(new_claims[0]), "name"),
            )
        )
    if app.replica_files and app.kind != "StatefulSet":
        problems.append(
            Problem(
                f"app '{app.name}' has replicaConfig but kind {app.kind}: only a StatefulSet's replicas have ordinals",
                hint="set kind: StatefulSet",
                **inv.where("apps", app.index, "replicaConfig"),
            )
        )
    if app.replica_files and app.replicas is not None and app.replicas != len(app.replica_files):
        problems.append(
            Problem(
                f"app '{app.name}' has {app.replicas} replicas but {len(app.replica_files)} replica configurations",
                hint="give one replicaConfig.replicas entry per replica (or leave replicas out: it defaults to their number)",
                **inv.where("apps", app.index, "replicas"),
            )
        )
    if problems:
        raise PlanError(problems)


def check_custom_only(inv: Inventory, app: App) -> None:
    """Fields that define a workload belong to custom apps: a catalog app's shape is the catalog's."""
    raw = inv.raw["apps"][app.index] if inv.raw else {}
    fields = [f for f in ("kind", "command", "args", "cronJob", "containers", "initContainers", "replicaConfig") if f in raw]
    if fields and not app.is_custom:
        raise PlanError(
            [
                Problem(
                    f"app '{app.name}' is the catalog app '{app.catalog}'; {', '.join(fields)} only apply to custom apps",
                    hint="give the app an image: to define it yourself, or remove these fields",
                    **inv.where("apps", app.index, fields[0]),
                )
            ]
        )


def volume_names(app: App) -> set[str]:
    """The names a container's volumeMounts may use."""
    names = {v.name for v in app.persistence} | {v.name for v in app.volumes}
    if app.is_custom:
        names.add("tmp")
    if app.replica_files:
        names.add("replica-config")
    return names


def _chart_volume_name(name: str) -> str:
    return "empty-tmp" if name == "tmp" else name


def containers_values(inv: Inventory, app: App) -> dict[str, Any]:
    """containers and initContainers of a custom app as chart values."""
    known = volume_names(app)
    values: dict[str, Any] = {}
    for field, containers in (("containers", app.containers), ("initContainers", app.init_containers)):
        if containers:
            values[field] = [_container_values(inv, app, field, c, known) for c in containers]
    names = [c.name for c in app.containers + app.init_containers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PlanError([Problem(f"app '{app.name}' has two containers named {duplicates[0]}", hint="container names must differ within a pod", **inv.where("apps", app.index, "containers"))])
    return values


def _container_values(inv: Inventory, app: App, field: str, c: AppContainer, known: set[str]) -> dict[str, Any]:
    for k, mount in enumerate(c.volume_mounts):
        if mount["name"] not in known:
            raise PlanError(
                [
                    Problem(
                        f"container '{c.name}' of app '{app.name}' mounts '{mount['name']}', which the app does not have",
                        hint="name one of: " + ", ".join(sorted(known)) + " (persistence and volumes entries)",
                        **inv.where("apps", app.index, field, c.index, "volumeMounts", k, "name"),
                    )
                ]
            )
    values: dict[str, Any] = {
        "name": c.name,
        "image": image_values(c.image),
        "resources": c.resources or DEFAULT_RESOURCES,
    }
    for key, value in (("command", list(c.command)), ("args", list(c.args)), ("env", dict(c.env))):
        if value:
            values[key] = value
    if c.ports:
        values["ports"] = [{"name": p.name, "containerPort": p.port, "protocol": p.protocol} for p in c.ports]
    if c.probes:
        values["probes"] = {name: dict(p) for name, p in c.probes.items()}
    if c.security_context:
        values["securityContext"] = dict(c.security_context)
    if c.volume_mounts:
        values["volumeMounts"] = [{**m, "name": _chart_volume_name(m["name"])} for m in c.volume_mounts]
    if c.gpu:
        values["gpu"] = {"count": c.gpu}
    if c.sidecar:
        values["restartPolicy"] = "Always"
    return values


def host_path_problems(inv: Inventory, app: App, mount: AppMount) -> list[Problem]:
    """A hostPath outside the node's system directories, or why not."""
    path = posixpath.normpath(mount.config)
    where = inv.where("apps", app.index, "volumes", mount.index, "hostPath")
    system = next((p for p in SYSTEM_PATHS if path == p or path.startswith(p + "/")), None)
    if system is None and path in SYSTEM_PARENTS:
        system = path
    if system is None:
        return []
    hint = "use a data directory such as /srv/<app> or /var/mnt/<disk>/<app>"
    if system == "/dev":
        hint = "give the device to the node's devices: and the app's devices: instead"
    return [Problem(f"app '{app.name}' mounts the host's {path}: {system} belongs to the node's system, and a pod writing there can break the node", hint=hint, **where)]


def _volume_source(inv: Inventory, app: App, mount: AppMount) -> dict[str, Any]:
    """The chart volume source of one apps[].volumes entry (a hostPath or shared name checked)."""
    if mount.source == "hostPath":
        problems = host_path_problems(inv, app, mount)
        if problems:
            raise PlanError(problems)
        return {"hostPath": {"path": posixpath.normpath(mount.config), "type": "Directory"}}
    if mount.source == "nfs":
        return {"nfs": {"server": mount.config["server"], "path": mount.config["path"]}}
    if mount.source == "emptyDir":
        empty = {"medium": "Memory"} if mount.config.get("memory") else {}
        if "sizeLimit" in mount.config:
            empty["sizeLimit"] = mount.config["sizeLimit"]
        return {"emptyDir": empty}
    if mount.source == "configMap":
        return {"configMap": {"name": mount.config}}
    if mount.source == "secret":
        return {"secret": {"secretName": mount.config}}
    shared = {v.name for v in inv.volumes}
    if mount.config not in shared:
        raise PlanError(
            [
                Problem(
                    f"app '{app.name}' mounts the shared volume '{mount.config}', which volumes: does not declare",
                    hint=f"declare it in the top-level volumes: list (declared: {', '.join(sorted(shared)) or 'none'})",
                    **inv.where("apps", app.index, "volumes", mount.index, "shared"),
                )
            ]
        )
    return {"persistentVolumeClaim": {"claimName": mount.config}}


def volumes_values(inv: Inventory, app: App) -> dict[str, Any]:
    """apps[].volumes as chart volumes (hostPath, nfs, emptyDir, configMap, secret, a shared claim)."""
    volumes: dict[str, Any] = {}
    for mount in app.volumes:
        entry = _volume_source(inv, app, mount)
        if mount.mount_path:
            entry["mountPath"] = mount.mount_path
        if mount.sub_path:
            entry["subPath"] = mount.sub_path
        if mount.read_only:
            entry["readOnly"] = True
        volumes[mount.name] = entry
    return {"volumes": volumes} if volumes else {}


def host_path_pin(inv: Inventory, app: App, eligible: list[str]) -> tuple[str | None, list[Problem]]:
    """The node a hostPath app must run on, and the warning that it cannot move."""
    mounts = [m for m in app.volumes if m.source == "hostPath"]
    if not mounts or app.kind == "DaemonSet":  # a DaemonSet's pod on each node reads that node's directory
        return None, []
    named = sorted({m.node for m in mounts if m.node})
    where = inv.where("apps", app.index, "volumes", mounts[0].index, "hostPath")
    if len(named) > 1:
        raise PlanError([Problem(f"app '{app.name}' has hostPath volumes on different nodes ({', '.join(named)})", hint="a pod runs on one node: keep its host directories on one", **where)])
    if named:
        node = named[0]
        if node not in eligible:
            raise PlanError(
                [
                    Problem(
                        f"app '{app.name}' keeps its host directory on {node}, where it cannot run",
                        hint="it may run on: " + ", ".join(eligible),
                        **inv.where("apps", app.index, "volumes", next(m.index for m in mounts if m.node), "node"),
                    )
                ]
            )
    elif len(eligible) == 1:
        node = eligible[0]
    else:
        raise PlanError(
            [
                Problem(
                    f"app '{app.name}' mounts {mounts[0].config} from a node, but could run on {len(eligible)} nodes",
                    hint="say which node has the directory: node: " + eligible[0] + " (one of " + ", ".join(eligible) + ")",
                    **where,
                )
            ]
        )
    warning = Problem(
        f"app '{app.name}' is pinned to {node} by its hostPath volume {mounts[0].config}: it does not move when {node} is down",
        hint="use a claim (persistence, or a shared volume) for data that should follow the app",
        severity="warning",
        code="host-path-pins-app",
        **where,
    )
    return node, [warning]


def plan_shared_volumes(inv: Inventory, app_namespaces: dict[str, str], rwx_storage_class: str | None) -> tuple[tuple[SharedVolumePlan, ...], list[Problem]]:
    """Each declared shared claim in the namespace of the apps that mount it."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    plans = []
    for volume in inv.volumes:
        users = [(app, m) for app in inv.apps for m in app.volumes if m.source == "shared" and m.config == volume.name]
        where = inv.where("volumes", volume.index, "name")
        if not users:
            warnings.append(Problem(f"shared volume '{volume.name}' is mounted by no app, so no claim is made", hint="mount it with volumes: [{name: ..., shared: " + volume.name + "}] or remove it", severity="warning", **where))
            continue
        namespaces = sorted({app_namespaces[app.name] for app, _ in users})
        if len(namespaces) > 1:
            app, mount = next((a, m) for a, m in users if app_namespaces[a.name] != app_namespaces[users[0][0].name])
            problems.append(
                Problem(
                    f"shared volume '{volume.name}' is mounted from namespaces {', '.join(namespaces)}; a claim lives in one namespace",
                    hint=f"give the apps that share it the same namespace: (e.g. namespace: {app_namespaces[users[0][0].name]})",
                    **inv.where("apps", app.index, "volumes", mount.index, "shared"),
                )
            )
            continue
        storage_class = volume.storage_class
        if storage_class is None and volume.access_mode == "ReadWriteMany":
            storage_class = rwx_storage_class
            if storage_class is None:
                problems.append(
                    Problem(
                        f"shared volume '{volume.name}' is ReadWriteMany, but the cluster has no storage class that serves ReadWriteMany",
                        hint="set storageClass: to a class that does (CephFS, Longhorn with an RWX share manager, an NFS provisioner), or mount an nfs: volume in each app",
                        code="rwx-without-class",
                        **where,
                    )
                )
                continue
        plans.append(SharedVolumePlan(volume.name, namespaces[0], volume.size, volume.access_mode, storage_class, tuple(a.name for a, _ in users)))
    if problems:
        raise PlanError(problems)
    return tuple(plans), warnings


def rwx_persistence_problems(inv: Inventory, app: App, rwx_storage_class: str | None) -> list[Problem]:
    """A new ReadWriteMany claim needs a class that serves it."""
    problems = []
    for i, volume in enumerate(app.persistence):
        if volume.access_mode == "ReadWriteMany" and not volume.storage_class and not volume.existing_claim and rwx_storage_class is None:
            problems.append(
                Problem(
                    f"app '{app.name}' asks for a ReadWriteMany claim '{volume.name}', but the cluster has no storage class that serves ReadWriteMany",
                    hint="set storageClass: to a class that does (CephFS, Longhorn RWX, an NFS provisioner), or use ReadWriteOnce",
                    code="rwx-without-class",
                    **inv.where("apps", app.index, "persistence", i, "accessMode"),
                )
            )
    return problems
