"""Apps: chart values from the catalog or the custom definition, and where each may run."""

from __future__ import annotations

from typing import Any

from .. import catalog, podsecurity
from ..errors import PlanError, Problem
from ..inventory.model import App, Inventory
from .merge import deep_merge
from .model import DEVICE_LABEL_PREFIX, LABEL_PREFIX, AppPlan, NodePlan


def gateway_parent_ref(inv: Inventory, cluster_issuer: str | None) -> dict[str, str] | None:
    from .gateway import plan_gateway

    gateway = plan_gateway(inv, cluster_issuer, None)
    return gateway.parent_ref() if gateway is not None else None

INGRESS_CLASS = {"ingress-nginx": "nginx", "traefik": "traefik"}
DEFAULT_ARCHES = ("amd64", "arm64")
# A hostPath character device opens only in a privileged container: the runtime's device
# cgroup denies every device node it did not grant. Device apps get a namespace of their
# own, so privileged loosens nothing else. dialout (gid 20 on Debian, Ubuntu, Raspberry Pi
# OS and Alpine) owns the serial adapters; the process itself stays uid 1000.
DEVICE_ACCESS: dict[str, Any] = {
    "securityContext": {"privileged": True, "allowPrivilegeEscalation": True},
    "podSecurityContext": {"supplementalGroups": [20]},
}


def plan_apps(inv: Inventory, nodes: list[NodePlan], cluster_issuer: str | None) -> tuple[list[AppPlan], list[Problem]]:
    plans, warnings = [], []
    for app in inv.apps:
        plan, more = _plan_app(inv, app, nodes, cluster_issuer)
        plans.append(plan)
        warnings.extend(more)
    return plans, warnings


def _image_parts(image: str) -> dict[str, str]:
    digest = ""
    if "@" in image:
        image, digest = image.split("@", 1)
    repository, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    return {"repository": repository, "tag": tag or digest.split(":", 1)[-1][:12], "digest": digest}


def _base_values(inv: Inventory, app: App) -> tuple[dict[str, Any], dict[str, Any]]:
    """The generic part of an app (its base) and its catalog entry (empty for custom apps)."""
    if not app.is_custom:
        entry = catalog.apps()[app.catalog]  # type: ignore[index]
        values = deep_merge(entry.get("values", {}), {"image": dict(entry["image"])})
        return values, entry
    ports = [{"name": p.name, "port": p.port, "protocol": p.protocol} for p in app.ports]
    values: dict[str, Any] = {
        "image": _image_parts(app.image or ""),
        "service": {"enabled": bool(ports), "ports": ports},
        "probes": {
            "liveness": {"enabled": bool(ports)},
            "readiness": {"enabled": bool(ports)},
        },
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        "emptyDirs": {"tmp": "/tmp"},
    }
    entry = {
        "namespace": app.namespace or app.name,
        "arches": list(app.arches or DEFAULT_ARCHES),
        "weight": app.weight or "medium",
        "web": {"port": ports[0]["name"]} if ports else None,
        "devices": [],
    }
    return values, entry


def _user_overrides(app: App) -> dict[str, Any]:
    """What the inventory says about a catalog app beyond its name."""
    values: dict[str, Any] = {}
    if app.replicas is not None:
        values["controller"] = {"replicas": app.replicas}
    if app.env and not app.is_custom:
        values["env"] = dict(app.env)
    elif app.env:
        values["env"] = dict(app.env)
    if app.persistence:
        values["persistence"] = {
            v.name: {"enabled": True, "mountPath": v.mount_path, "size": v.size, **({"existingClaim": v.existing_claim} if v.existing_claim else {})}
            for v in app.persistence
        }
    return values


def _plan_app(inv: Inventory, app: App, nodes: list[NodePlan], cluster_issuer: str | None) -> tuple[AppPlan, list[Problem]]:
    warnings: list[Problem] = []
    base, entry = _base_values(inv, app)
    arches = tuple(app.arches or entry.get("arches") or DEFAULT_ARCHES)
    weight = app.weight or entry.get("weight", "medium")
    wanted_devices = list(app.devices or entry.get("devices", []))
    gpu_count = app.gpu
    namespace = app.namespace or entry.get("namespace") or app.name
    if app.devices and not app.namespace:
        # Device access needs Pod Security "privileged"; a namespace of its own
        # keeps that from loosening the namespace other apps share.
        namespace = app.name

    reasons: list[str] = []
    eligible = []
    for node in nodes:
        why_not = _why_not(node, arches, weight, wanted_devices, gpu_count)
        if why_not is None:
            eligible.append(node)
        else:
            reasons.append(f"{node.name}: {why_not}")
    if not eligible:
        raise PlanError(
            [
                Problem(
                    f"app '{app.name}' can run on no node (" + "; ".join(reasons) + ")",
                    hint="add a node that fits, or change the app's arches/devices/gpu",
                    **inv.where("apps", app.index, "name"),
                )
            ]
        )

    cluster: dict[str, Any] = {"env": {"TZ": inv.timezone}}
    selector: dict[str, str] = {}
    expressions: list[dict[str, Any]] = []
    node_arches = {n.arch for n in nodes}
    if not node_arches <= set(arches):
        expressions.append({"key": "kubernetes.io/arch", "operator": "In", "values": sorted(set(arches) & node_arches)})
    # Heavy apps on 1 GiB nodes push them into swap or the OOM killer.
    if weight == "heavy" and any(n.memory_mib <= 1024 for n in nodes):
        expressions.append({"key": f"{LABEL_PREFIX}/small-memory", "operator": "DoesNotExist"})

    device_mounts = []
    for device_name in wanted_devices:
        carriers = [(n, d) for n in eligible for d in n.devices if device_name in (d.name, d.type)]
        paths = sorted({d.path for _, d in carriers})
        selector[f"{DEVICE_LABEL_PREFIX}/{device_name}"] = "true"
        if len(paths) > 1:
            first_node = carriers[0][0]
            selector["kubernetes.io/hostname"] = first_node.name
            warnings.append(
                Problem(
                    f"app '{app.name}': the '{device_name}' device has different paths on different nodes; pinning the app to {first_node.name}",
                    hint="give the device the same stable path on every node (a udev symlink) so the app may move",
                    severity="warning",
                    **inv.where("apps", app.index, "name"),
                )
            )
            eligible = [first_node]
        container_path = entry.get("device_path") or f"/dev/{device_name}"
        if len(wanted_devices) > 1:
            container_path = f"/dev/{device_name}"
        device_mounts.append({"name": device_name, "hostPath": carriers[0][1].path, "containerPath": container_path})
    if device_mounts:
        cluster["devices"] = device_mounts
        cluster.update(deep_merge(cluster, DEVICE_ACCESS))
    if gpu_count:
        selector[f"{LABEL_PREFIX}/gpu"] = "nvidia"
        cluster["gpu"] = {"enabled": True, "count": gpu_count}
        cluster["runtimeClassName"] = "nvidia"
    if selector:
        cluster["nodeSelector"] = dict(sorted(selector.items()))
    if expressions:
        cluster["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": expressions}]}}}

    web = entry.get("web")
    ingress_class = INGRESS_CLASS.get(inv.components.ingress)
    gateway_ref = gateway_parent_ref(inv, cluster_issuer)
    wants_ingress = app.ingress if app.ingress is not None else bool(web)
    host = None
    if wants_ingress and (ingress_class or gateway_ref) and web:
        host = app.host or f"{app.name}.{inv.domain}"
        if not (host == inv.domain or host.endswith("." + inv.domain)):
            raise PlanError([Problem(f"host {host} is not under the cluster domain {inv.domain}", hint=f"use {app.name}.{inv.domain}", **inv.where("apps", app.index, "host"))])
        if gateway_ref:
            # Gateway API: an HTTPRoute on the cluster's Gateway (charts/app/templates/httproute.yaml)
            # from the same host and port; the Gateway holds the TLS certificate.
            cluster["ingress"] = {"enabled": False, "host": host, "servicePort": web["port"], "gateway": gateway_ref}
        else:
            cluster["ingress"] = {
                "enabled": True,
                "className": ingress_class,
                "host": host,
                "servicePort": web["port"],
                "tls": {"enabled": cluster_issuer is not None, "clusterIssuer": cluster_issuer or ""},
            }
    elif wants_ingress and not (ingress_class or gateway_ref):
        warnings.append(Problem(f"app '{app.name}' wants an ingress but components.ingress is none", severity="warning", **inv.where("apps", app.index, "name")))

    cluster = deep_merge(cluster, _user_overrides(app))
    cluster = deep_merge(cluster, app.values)
    merged = deep_merge(base, cluster)
    if inv.components.backup is not None:
        # k8up backs up only annotated claims (skipWithoutAnnotation): the app says yes or no.
        claims = {name: {"backup": app.backup} for name, entry in (merged.get("persistence") or {}).items() if isinstance(entry, dict) and "backup" not in entry}
        if claims:
            cluster = deep_merge(cluster, {"persistence": claims})
            merged = deep_merge(base, cluster)
    placement = ", ".join(n.name for n in eligible)
    reason = "any node" if len(eligible) == len(nodes) else f"only {placement}"
    if reasons:
        reason += " (" + "; ".join(reasons) + ")"
    image = merged["image"]
    pod_context = deep_merge(catalog.app_chart_defaults(), merged).get("podSecurityContext")
    # A context that is no mapping is the chart schema's to refuse, not a crash here.
    fs_group = pod_context.get("fsGroup") if isinstance(pod_context, dict) else None
    return (
        AppPlan(
            index=app.index,
            name=app.name,
            namespace=namespace,
            catalog=app.catalog,
            base_values=base,
            cluster_values=cluster,
            eligible_nodes=tuple(n.name for n in eligible),
            placement_reason=reason,
            pod_security=pod_security_level(merged),
            host=host,
            notes=entry.get("notes") or "",
            image=f"{image['repository']}:{image['tag']}",
            fs_group=fs_group if isinstance(fs_group, int) else None,
        ),
        warnings,
    )


def _why_not(node: NodePlan, arches: tuple[str, ...], weight: str, devices: list[str], gpus: int) -> str | None:
    if node.arch not in arches:
        return f"no {node.arch} image"
    for device in devices:
        if not any(device in (d.name, d.type) for d in node.devices):
            return f"no {device} device"
    if gpus and not node.gpus:
        return "no GPU"
    if weight == "heavy" and node.memory_mib <= 1024:
        return "too little memory for a heavy app"
    if any(t.effect in ("NoSchedule", "NoExecute") for t in node.taints):
        return "tainted"
    return None


def pod_security_level(values: dict[str, Any]) -> str:
    """The Pod Security Standard an app's pods need, from its chart values."""
    return podsecurity.required_level(app_pod_spec(deep_merge(catalog.app_chart_defaults(), values)))


def app_pod_spec(values: dict[str, Any]) -> dict[str, Any]:
    """The security-relevant part of the pod that charts/app renders from ``values``:
    what the API server's Pod Security admission will look at."""
    def as_map(value: Any) -> dict:
        return value if isinstance(value, dict) else {}

    container: dict[str, Any] = {"name": "app", "securityContext": as_map(values.get("securityContext"))}
    spec: dict[str, Any] = {"containers": [container], "securityContext": as_map(values.get("podSecurityContext"))}
    if values.get("hostNetwork"):
        spec["hostNetwork"] = True
    volumes: list[dict[str, Any]] = []
    for device in values.get("devices") or []:
        device = as_map(device)
        volumes.append({"name": f"dev-{device.get('name')}", "hostPath": {"path": device.get("hostPath")}})
    for name, entry in as_map(values.get("persistence")).items():
        volumes.append({"name": str(name), "persistentVolumeClaim": {"claimName": str(name)}})
    for name in as_map(values.get("emptyDirs")):
        volumes.append({"name": f"empty-{name}", "emptyDir": {}})
    if volumes:
        spec["volumes"] = volumes
    return spec
