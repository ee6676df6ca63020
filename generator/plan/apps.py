"""Apps: chart values from the catalog or the custom definition, and where each may run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import catalog, podsecurity
from ..errors import PlanError, Problem
from ..inventory.model import App, AppVolume, Inventory
from .app_shapes import (
    JOB_KINDS,
    check_custom_only,
    containers_values,
    host_path_pin,
    main_image_values,
    rwx_persistence_problems,
    volumes_values,
    workload_values,
)
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


# charts/app's defaults for every container but the app's own (_helpers.tpl, app.container).
SAFE_CONTAINER_CONTEXT: dict[str, Any] = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "privileged": False, "capabilities": {"drop": ["ALL"]}}


def plan_apps(inv: Inventory, nodes: list[NodePlan], cluster_issuer: str | None, rwx_storage_class: str | None = None) -> tuple[list[AppPlan], list[Problem]]:
    plans, warnings = [], []
    kinds = _node_kinds(nodes)  # once, not once an app: 100 apps on 1,000 nodes
    for app in inv.apps:
        plan, more = _plan_app(inv, app, nodes, cluster_issuer, rwx_storage_class, kinds)
        plans.append(plan)
        warnings.extend(more)
    return plans, warnings


def _image_parts(image: str) -> dict[str, str]:
    return main_image_values(image)


def _base_values(inv: Inventory, app: App) -> tuple[dict[str, Any], dict[str, Any]]:
    """The generic part of an app (its base) and its catalog entry (empty for custom apps)."""
    if not app.is_custom:
        entry = catalog.apps()[app.catalog]  # type: ignore[index]
        return deep_merge(entry.get("values", {}), {"image": dict(entry["image"])}), entry
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
    values = deep_merge(values, workload_values(inv, app))
    values = deep_merge(values, containers_values(inv, app))
    entry = {
        "namespace": app.namespace or app.name,
        "arches": list(app.arches or DEFAULT_ARCHES),
        "weight": app.weight or "medium",
        # A run-to-completion job has nothing to route to.
        "web": {"port": ports[0]["name"]} if ports and app.kind not in JOB_KINDS else None,
        "devices": [],
    }
    return values, entry


def _user_overrides(app: App) -> dict[str, Any]:
    """What the inventory says about a catalog app beyond its name."""
    values: dict[str, Any] = {}
    if app.replicas is not None:
        values["controller"] = {"replicas": app.replicas}
    if app.env:
        values["env"] = dict(app.env)
    if app.persistence:
        values["persistence"] = {v.name: _persistence_entry(v) for v in app.persistence}
    return values


def _persistence_entry(v: AppVolume) -> dict[str, Any]:
    entry: dict[str, Any] = {"enabled": True, "mountPath": v.mount_path, "size": v.size}
    if v.existing_claim:
        entry["existingClaim"] = v.existing_claim
    if v.access_mode != "ReadWriteOnce":
        entry["accessMode"] = v.access_mode
    if v.storage_class:
        entry["storageClass"] = v.storage_class
    return entry


@dataclass(frozen=True)
class _Wants:
    """What an app needs from a node."""

    arches: tuple[str, ...]
    weight: str
    devices: list[str]
    gpus: int  # the pod's GPUs: the app's and its containers'


def _wants(app: App, entry: dict[str, Any]) -> _Wants:
    gpus = app.gpu + sum(c.gpu for c in app.containers + app.init_containers)
    return _Wants(tuple(app.arches or entry.get("arches") or DEFAULT_ARCHES), app.weight or entry.get("weight", "medium"), list(app.devices or entry.get("devices", [])), gpus)


def _namespace(app: App, entry: dict[str, Any]) -> str:
    if app.devices and not app.namespace:
        # Device access needs Pod Security "privileged"; a namespace of its own
        # keeps that from loosening the namespace other apps share.
        return app.name
    return app.namespace or entry.get("namespace") or app.name


def _traits(node: NodePlan) -> tuple[Any, ...]:
    """All that _why_not looks at on a node: nodes alike in these get the same answer."""
    return (node.arch, tuple((d.name, d.type) for d in node.devices), bool(node.gpus), node.memory_mib <= 1024,
            any(t.effect in ("NoSchedule", "NoExecute") for t in node.taints))


@dataclass(frozen=True)
class _NodeKinds:
    """The nodes sorted into kinds by their traits: which kind each node is (by position), and
    one node of each kind. A large inventory has a few kinds of many nodes each."""

    of_node: list[int]
    examples: list[NodePlan]


def _node_kinds(nodes: list[NodePlan]) -> _NodeKinds:
    index: dict[tuple[Any, ...], int] = {}
    of_node: list[int] = []
    examples: list[NodePlan] = []
    for node in nodes:
        kind = index.setdefault(_traits(node), len(index))
        if kind == len(examples):
            examples.append(node)
        of_node.append(kind)
    return _NodeKinds(of_node, examples)


def _eligible_nodes(inv: Inventory, app: App, nodes: list[NodePlan], wants: _Wants, kinds: _NodeKinds | None = None) -> tuple[list[NodePlan], list[str]]:
    """The nodes the app may run on, and why each other node may not; none is an error.
    Each kind of node is judged once, from one node of that kind."""
    kinds = kinds or _node_kinds(nodes)
    answers = [_why_not(node, wants.arches, wants.weight, wants.devices, wants.gpus) for node in kinds.examples]
    if all(why_not is None for why_not in answers):
        return list(nodes), []
    reasons: list[str] = []
    eligible = []
    for node, kind in zip(nodes, kinds.of_node, strict=True):
        why_not = answers[kind]
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
    return eligible, reasons


def _affinity_expressions(nodes: list[NodePlan], wants: _Wants) -> list[dict[str, Any]]:
    expressions: list[dict[str, Any]] = []
    node_arches = {n.arch for n in nodes}
    if not node_arches <= set(wants.arches):
        expressions.append({"key": "kubernetes.io/arch", "operator": "In", "values": sorted(set(wants.arches) & node_arches)})
    # Heavy apps on 1 GiB nodes push them into swap or the OOM killer.
    if wants.weight == "heavy" and any(n.memory_mib <= 1024 for n in nodes):
        expressions.append({"key": f"{LABEL_PREFIX}/small-memory", "operator": "DoesNotExist"})
    return expressions


def _device_mounts(inv: Inventory, app: App, entry: dict[str, Any], eligible: list[NodePlan], wants: _Wants, selector: dict[str, str]) -> tuple[list[dict[str, Any]], list[NodePlan], list[Problem]]:
    """hostPath mounts of the app's devices; a device with different paths pins the app."""
    warnings: list[Problem] = []
    mounts = []
    for device_name in wants.devices:
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
        if len(wants.devices) > 1:
            container_path = f"/dev/{device_name}"
        mounts.append({"name": device_name, "hostPath": carriers[0][1].path, "containerPath": container_path})
    return mounts, eligible, warnings


def _placement_values(inv: Inventory, app: App, entry: dict[str, Any], nodes: list[NodePlan], eligible: list[NodePlan], wants: _Wants) -> tuple[dict[str, Any], list[NodePlan], list[Problem]]:
    """Node selector, affinity, devices and GPUs: where the app runs and what it gets there."""
    cluster: dict[str, Any] = {}
    selector: dict[str, str] = {}
    expressions = _affinity_expressions(nodes, wants)
    device_mounts, eligible, warnings = _device_mounts(inv, app, entry, eligible, wants, selector)
    if device_mounts:
        cluster["devices"] = device_mounts
        cluster.update(deep_merge(cluster, DEVICE_ACCESS))
    pinned, pin_warnings = host_path_pin(inv, app, [n.name for n in eligible])
    if pinned:
        selector["kubernetes.io/hostname"] = pinned
        eligible = [n for n in eligible if n.name == pinned]
        warnings.extend(pin_warnings)
    if app.gpu:
        cluster["gpu"] = {"enabled": True, "count": app.gpu}
    if wants.gpus:
        selector[f"{LABEL_PREFIX}/gpu"] = "nvidia"
        cluster["runtimeClassName"] = "nvidia"
    if selector:
        cluster["nodeSelector"] = dict(sorted(selector.items()))
    if expressions:
        cluster["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": expressions}]}}}
    return cluster, eligible, warnings


def _check_host(inv: Inventory, app: App, host: str, *field: str | int) -> None:
    if not (host == inv.domain or host.endswith("." + inv.domain)):
        raise PlanError([Problem(f"host {host} is not under the cluster domain {inv.domain}", hint=f"use {app.name}.{inv.domain}", **inv.where("apps", app.index, *field))])


def _ingress_values(inv: Inventory, app: App, entry: dict[str, Any], cluster_issuer: str | None) -> tuple[dict[str, Any], str | None, list[Problem]]:
    """The app's Ingress (its web port at its host) and its extra routes."""
    web = entry.get("web")
    ingress_class = INGRESS_CLASS.get(inv.components.ingress)
    gateway_ref = gateway_parent_ref(inv, cluster_issuer)
    wants_ingress = app.ingress if app.ingress is not None else bool(web)
    if (wants_ingress or app.routes) and not (ingress_class or gateway_ref):
        return {}, None, [Problem(f"app '{app.name}' wants an ingress but components.ingress is none", severity="warning", **inv.where("apps", app.index, "name"))]
    if app.routes and not web:
        raise PlanError([Problem(f"app '{app.name}' has routes but no port to route to", hint="add ports: [{name: http, port: 8080}]", **inv.where("apps", app.index, "routes"))])
    host = None
    ingress: dict[str, Any] = {}
    if wants_ingress and web:
        host = app.host or f"{app.name}.{inv.domain}"
        _check_host(inv, app, host, "host")
        ingress = {"host": host}
    if app.routes and web:
        ingress["routes"] = _routes_values(inv, app, web["port"], gateway=gateway_ref is not None)
    if gateway_ref and ingress and web:
        # Gateway API: HTTPRoutes on the cluster's Gateway (charts/app/templates/httproute.yaml)
        # from the same host, port and routes; the Gateway holds the TLS certificate.
        return {"ingress": {"enabled": False, **ingress, "servicePort": web["port"], "gateway": gateway_ref}}, host, []
    if not ingress or not web:  # an ingress is only ever made for a web port
        return {}, None, []
    values = {"enabled": True, "className": ingress_class, **({"host": host} if host else {}), "servicePort": web["port"],
              "tls": {"enabled": cluster_issuer is not None, "clusterIssuer": cluster_issuer or ""}}
    if "routes" in ingress:
        values["routes"] = ingress["routes"]
    return {"ingress": values}, host, []


def _routes_values(inv: Inventory, app: App, web_port: str, gateway: bool = False) -> list[dict[str, Any]]:
    """apps[].routes as charts/app ingress.routes: hosts default to the app's, under the domain."""
    routes = []
    for route in app.routes:
        route_host = route.host or app.host or f"{app.name}.{inv.domain}"
        _check_host(inv, app, route_host, "routes", route.index, "host")
        values: dict[str, Any] = {"name": route.name, "host": route_host, "path": route.path, "servicePort": route.port or web_port}
        if route.strip_prefix:
            values["stripPrefix"] = True
        for field, what in (("middlewares", route.middlewares), ("annotations", route.annotations)):
            if gateway and what:
                raise PlanError([Problem(f"app '{app.name}' route '{route.name}' sets {field}, which are Ingress-controller settings, but the ingress is Gateway API (envoy-gateway)",
                                         hint="drop them: a Gateway API route takes host, path, port and stripPrefix (a URLRewrite filter); or use ingress: traefik",
                                         **inv.where("apps", app.index, "routes", route.index, field))])
        if route.middlewares and inv.components.ingress != "traefik":
            raise PlanError([Problem(f"app '{app.name}' route '{route.name}' names Traefik middlewares, but the ingress is {inv.components.ingress}", hint="put the controller's settings in the route's annotations", **inv.where("apps", app.index, "routes", route.index, "middlewares"))])
        if route.middlewares:
            values["middlewares"] = list(route.middlewares)
        if route.annotations:
            values["annotations"] = dict(route.annotations)
        routes.append(values)
    return routes


def _backup_claims(inv: Inventory, app: App, base: dict[str, Any], cluster: dict[str, Any]) -> dict[str, Any]:
    """With backups on, every claim says whether k8up backs it up (it skips unannotated ones)."""
    if inv.components.backup is None:
        return cluster
    merged = deep_merge(base, cluster)
    claims = {name: {"backup": app.backup} for name, entry in (merged.get("persistence") or {}).items() if isinstance(entry, dict) and "backup" not in entry}
    return deep_merge(cluster, {"persistence": claims}) if claims else cluster


def _fs_group(chart_values: dict[str, Any]) -> int | None:
    """The pod's fsGroup, from the app's values over the chart's defaults."""
    pod_context = chart_values.get("podSecurityContext")
    # A context that is no mapping is the chart schema's to refuse, not a crash here.
    fs_group = pod_context.get("fsGroup") if isinstance(pod_context, dict) else None
    return fs_group if isinstance(fs_group, int) else None


def _plan_app(inv: Inventory, app: App, nodes: list[NodePlan], cluster_issuer: str | None, rwx_storage_class: str | None = None,
              kinds: _NodeKinds | None = None) -> tuple[AppPlan, list[Problem]]:
    check_custom_only(inv, app)
    problems = rwx_persistence_problems(inv, app, rwx_storage_class)
    if problems:
        raise PlanError(problems)
    base, entry = _base_values(inv, app)
    base = deep_merge(base, volumes_values(inv, app))
    wants = _wants(app, entry)
    eligible, reasons = _eligible_nodes(inv, app, nodes, wants, kinds)
    placement, eligible, warnings = _placement_values(inv, app, entry, nodes, eligible, wants)
    ingress, host, ingress_warnings = _ingress_values(inv, app, entry, cluster_issuer)
    warnings.extend(ingress_warnings)
    if app.kind == "Job":
        warnings.append(Problem(
            f"app '{app.name}' is a Job: it runs once, and Kubernetes refuses changes to a Job's pods, so changing it later fails the release until the old Job is deleted",
            hint="use kind: CronJob for anything that runs again",
            severity="warning",
            code="job-is-immutable",
            **inv.where("apps", app.index, "kind"),
        ))
    cluster = deep_merge(deep_merge({"env": {"TZ": inv.timezone}}, placement), ingress)
    cluster = deep_merge(cluster, _user_overrides(app))
    cluster = deep_merge(cluster, app.values)
    cluster = _backup_claims(inv, app, base, cluster)
    merged = deep_merge(base, cluster)
    reason = "any node" if len(eligible) == len(nodes) else "only " + ", ".join(n.name for n in eligible)
    if reasons:
        reason += " (" + "; ".join(reasons) + ")"
    image = merged["image"]
    chart_values = deep_merge(catalog.app_chart_defaults(), merged)
    plan = AppPlan(
        index=app.index,
        name=app.name,
        namespace=_namespace(app, entry),
        catalog=app.catalog,
        base_values=base,
        cluster_values=cluster,
        eligible_nodes=tuple(n.name for n in eligible),
        placement_reason=reason,
        pod_security=podsecurity.required_level(app_pod_spec(chart_values)),
        host=host,
        notes=entry.get("notes") or "",
        image=f"{image['repository']}:{image['tag']}",
        fs_group=_fs_group(chart_values),
        pull_secret=app.pull_secret,
        route_hosts=tuple(dict.fromkeys(r["host"] for r in (ingress.get("ingress") or {}).get("routes", []))),
    )
    return plan, warnings


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
    what the API server's Pod Security admission will look at. Every container counts:
    the chart merges each one's securityContext over the top-level one, as here."""
    def as_map(value: Any) -> dict:
        return value if isinstance(value, dict) else {}

    def as_list(value: Any) -> list:
        return value if isinstance(value, list) else []

    top = as_map(values.get("securityContext"))

    def container(name: str, own: Any) -> dict[str, Any]:
        # As the chart does: the app starts from securityContext, the others from the safe defaults.
        base = top if name == "app" else SAFE_CONTAINER_CONTEXT
        spec = as_map(own)
        own = as_map(spec.get("securityContext"))
        context = {**base, **own}
        if isinstance(own.get("capabilities"), dict):  # add and drop separately, as the chart does
            context["capabilities"] = {**as_map(base.get("capabilities")), **own["capabilities"]}
        return {"name": name, "securityContext": context}

    spec: dict[str, Any] = {
        "containers": [container("app", {})] + [container(str(as_map(c).get("name")), c) for c in as_list(values.get("containers"))],
        "securityContext": as_map(values.get("podSecurityContext")),
    }
    init = [container(str(as_map(c).get("name")), c) for c in as_list(values.get("initContainers"))]
    if as_map(as_map(values.get("replicaConfig")).get("replicas")):
        init.insert(0, container("replica-config", {}))
    if init:
        spec["initContainers"] = init
    if values.get("hostNetwork"):
        spec["hostNetwork"] = True
    volumes: list[dict[str, Any]] = []
    for device in as_list(values.get("devices")):
        device = as_map(device)
        volumes.append({"name": f"dev-{device.get('name')}", "hostPath": {"path": device.get("hostPath")}})
    for name in as_map(values.get("persistence")):
        volumes.append({"name": str(name), "persistentVolumeClaim": {"claimName": str(name)}})
    for name in as_map(values.get("emptyDirs")):
        volumes.append({"name": f"empty-{name}", "emptyDir": {}})
    for name, entry in as_map(values.get("volumes")).items():
        sources = {k: v for k, v in as_map(entry).items() if k not in ("mountPath", "subPath", "readOnly")}
        volumes.append({"name": str(name), **sources})
    if volumes:
        spec["volumes"] = volumes
    return spec
