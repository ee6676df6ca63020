"""Infrastructure components: which pinned charts the cluster gets, and their cluster-specific values."""

from __future__ import annotations

import copy
from typing import Any

from .. import catalog
from . import backends
from ..inventory.model import Inventory
from .backup import longhorn_backup_values
from .dns import external_dns_values
from .gateway import uses_gateway_api
from .lan import k8s_gateway_values
from .load_balancer import ingress_without_load_balancer
from .monitoring import monitoring_values, service_monitor_values
from .merge import deep_merge
from .wiring import CNPG, wants_database
from .model import LABEL_PREFIX, ComponentPlan, NodePlan

# Annotation each load balancer reads to give a Service a fixed address.
LB_IP_ANNOTATION = {"metallb": "metallb.io/loadBalancerIPs", "kube-vip": "kube-vip.io/loadbalancerIPs"}

def cluster_issuer_name(inv: Inventory) -> str | None:
    comps = inv.components
    if comps.tls_issuer == "letsencrypt":
        return "letsencrypt-staging" if comps.tls_staging else "letsencrypt-production"
    if comps.tls_issuer == "selfsigned":
        return "homelab-ca"
    return None


def ingress_address(inv: Inventory) -> str | None:
    from ..inventory.checks import pool_addresses

    if inv.network.ingress_address is not None:
        return str(inv.network.ingress_address)
    if inv.network.load_balancer_pools:
        return str(pool_addresses(inv.network.load_balancer_pools[0])[0])
    return None


def wanted_components(inv: Inventory) -> list[str]:
    comps = inv.components
    keys = []
    if comps.tls_issuer != "none":
        keys.append("cert-manager")
    if comps.ingress != "none":
        keys.append(comps.ingress)
    if comps.load_balancer == "metallb":
        keys.append("metallb")
    elif comps.load_balancer == "kube-vip":
        keys.append("kube-vip-cloud-provider")
    if comps.external_dns_provider != "none":
        keys.append("external-dns")
    if comps.lan_dns is not None:
        keys.append("k8s-gateway")
    if comps.monitoring:
        keys.append(MONITORING_CRDS)
    if comps.backup is not None and comps.backup.engine == "k8up":
        keys.append("k8up")
    if wants_database(inv):
        keys.append(CNPG)
    return keys


MONITORING = "kube-prometheus-stack"
MONITORING_CRDS = "kube-prometheus-stack-crds"
# Components that hold data, besides every storage backend's: their namespaces are never pruned.
# The monitoring CRDs' release declares the namespace that holds monitoring's volumes, and
# pruning its CRDs would delete every ServiceMonitor and rule with them.
MONITORING_DATA_COMPONENTS = frozenset({MONITORING, MONITORING_CRDS})


def keeps_data(key: str) -> bool:
    return key in MONITORING_DATA_COMPONENTS or key in backends.storage_component_keys()


def storage_provider(storage_backend: str) -> str:
    """namespace/release of the HelmRelease after which the default StorageClass provisions:
    monitoring's volumes wait for it."""
    key = backends.backend(storage_backend).spec.ready_when
    entry = catalog.component(key)
    return f"{entry['namespace']}/{entry.get('release_name', key)}"


def plan_components(inv: Inventory, nodes: list[NodePlan], storage_backend: str) -> list[ComponentPlan]:
    keyed = [(key, "controllers") for key in wanted_components(inv)]
    if any(n.has_nvidia_gpu for n in nodes):
        keyed.append(("nvidia-device-plugin", "controllers"))
    backend = backends.backend(storage_backend)
    keyed += [(key, "storage") for key in backend.spec.components]
    if inv.components.monitoring:
        # Its Prometheus, Alertmanager and Grafana claims bind only once storage runs; a Helm
        # wait on an unbindable claim in an earlier layer would hold every later layer back.
        keyed.append((MONITORING, "storage"))
    plans = []
    # kube-system belongs to Kubernetes itself and is never declared.
    declared = {"kube-system"}
    monitoring = inv.components.monitoring
    for key, layer in keyed:
        entry = catalog.component(key)
        host_ports = ingress_without_load_balancer(inv, key) or {}
        depends_on: tuple[str, ...] = backends.depends_on().get(key, ())
        monitor_values = service_monitor_values(key)
        if monitoring and monitor_values is not None and layer == "controllers":
            # Their ServiceMonitors need the operator's CRDs, which come up in the same layer:
            # install after them (later layers wait for this one anyway).
            depends_on += (f"monitoring/{MONITORING_CRDS}",)
        if key == MONITORING:
            depends_on += (storage_provider(storage_backend),)
        cluster_values = backend.chart_values(key, inv, nodes) if key in backend.spec.components else _cluster_values(inv, key, nodes)
        if monitoring and monitor_values is not None:
            cluster_values = deep_merge(cluster_values, monitor_values)
        if key == MONITORING:
            cluster_values = deep_merge(cluster_values, monitoring_values(nodes, storage_backend, backend.spec.storage_class,
                                                                          inv.components.backup is not None and inv.components.backup.engine == "k8up"))
        if key == "longhorn":
            cluster_values = deep_merge(cluster_values, longhorn_backup_values(inv))
        if key == "k8up":
            cluster_values = deep_merge(cluster_values, {"k8up": {"timezone": inv.timezone}})
        owns_namespace = entry["namespace"] not in declared
        declared.add(entry["namespace"])
        plans.append(
            ComponentPlan(
                key=key,
                layer=layer,
                namespace=entry["namespace"],
                pod_security=host_ports.get("pod_security", entry.get("pod_security", "baseline")),
                chart=dict(entry["chart"]),
                values=entry.get("values") or {},
                cluster_values=cluster_values,
                release_name=entry.get("release_name", key),
                keeps_data=keeps_data(key),
                depends_on=depends_on,
                install_step=max((install_step(d.rsplit("/", 1)[-1]) + 1 for d in depends_on), default=0),
                owns_namespace=owns_namespace,
            )
        )
    return plans


def install_step(key: str) -> int:
    return max((install_step(d) + 1 for d in backends.depends_on().get(key, ())), default=0)


def _cluster_values(inv: Inventory, key: str, nodes: list[NodePlan]) -> dict[str, Any]:
    comps = inv.components
    address = ingress_address(inv)
    annotation = LB_IP_ANNOTATION.get(comps.load_balancer)
    lb_annotations = {annotation: address} if annotation and address else {}
    host_ports = ingress_without_load_balancer(inv, key)
    if host_ports is not None:
        return copy.deepcopy(host_ports["values"])
    if key == "ingress-nginx" and lb_annotations:
        return {"controller": {"service": {"annotations": lb_annotations}}}
    if key == "traefik" and lb_annotations:
        return {"service": {"annotations": lb_annotations}}
    if key == "nvidia-device-plugin":
        return nvidia_values(nodes)
    if key == "kube-vip-cloud-provider":
        pools = inv.network.load_balancer_pools
        data = {}
        cidrs = [p for p in pools if "/" in p]
        ranges = [p for p in pools if "/" not in p]
        if cidrs:
            data["cidr-global"] = ",".join(cidrs)
        if ranges:
            data["range-global"] = ",".join(ranges)
        return {"cm": {"data": data}}
    if key == "external-dns":
        return external_dns_values(inv, {n.arch for n in nodes})
    if key == "k8s-gateway":
        return k8s_gateway_values(inv, nodes, gateway_api=uses_gateway_api(inv))
    return {}


def time_slicing_config(replicas: int) -> str:
    """The device plugin's config for one GPU shared ``replicas`` ways. An exclusive GPU gets
    no sharing block at all: the plugin refuses time-slicing with fewer than 2 replicas."""
    config = "version: v1\nflags:\n  migStrategy: none\n"
    if replicas < 2:
        return config
    return config + (
        "sharing:\n  timeSlicing:\n    renameByDefault: false\n"
        f"    failRequestsGreaterThanOne: false\n    resources:\n      - name: nvidia.com/gpu\n        replicas: {replicas}\n"
    )


def gpu_config_name(sharing: int) -> str:
    return f"time-slicing-{sharing}" if sharing > 1 else "exclusive"


def nvidia_values(nodes: list[NodePlan]) -> dict[str, Any]:
    """Time-slicing per node: each GPU node is labelled with the config matching its sharing."""
    sharings = sorted({g.sharing for n in nodes for g in n.gpus if g.vendor == "nvidia"})
    return {
        # The chart's default affinity wants node-feature-discovery labels, which nothing sets
        # here; a required affinity of our own replaces it (Helm replaces lists), so the
        # plugin lands on exactly the GPU nodes.
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": f"{LABEL_PREFIX}/gpu", "operator": "In", "values": ["nvidia"]}]}]}}},
        "config": {"default": gpu_config_name(sharings[0]), "map": {gpu_config_name(s): time_slicing_config(s) for s in sharings}},
    }
