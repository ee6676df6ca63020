"""Monitoring that keeps its history and sees the components: kube-prometheus-stack's volumes
and Grafana login, and the values that turn each component's ServiceMonitor on."""

from __future__ import annotations

from typing import Any

from .model import ComponentPlan, MonitoringPlan, NodePlan

BACKUP_ANNOTATION = "k8up.io/backup"
GRAFANA_SECRET = "grafana-admin"
MONITORING_NAMESPACE = "monitoring"
# kube-prometheus-stack names Prometheus's ServiceAccount <release>-prometheus.
PROMETHEUS_SERVICE_ACCOUNT = "kube-prometheus-stack-prometheus"

DEFAULT_PROMETHEUS_GIB = 20


def prometheus_volume_gib(nodes: list[NodePlan], storage_backend: str) -> int:
    """20 GiB, or a tenth of the smallest disk a volume may land on when that is less
    (never under 5 GiB): Prometheus must not fill a small SSD. A backend that takes the
    storage disks puts volumes there; else they land on a node's data or other disk."""
    from . import backends

    if backends.backend(storage_backend).spec.needs_storage_disks:
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
# research notes; metallb needs Prometheus's namespace and ServiceAccount for its RBAC). A
# storage backend's are in its catalog entry (storage_backends.*.monitoring_values).
SERVICE_MONITOR_VALUES: dict[str, dict[str, Any]] = {
    # traefik's chart refuses to render a ServiceMonitor unless the API already exists, which
    # a render outside the cluster cannot see; dependsOn on kube-prometheus-stack-crds (below)
    # is what makes it exist, so the check is off (templates/servicemonitor.yaml at 41.x).
    "traefik": {"metrics": {"prometheus": {"service": {"enabled": True}, "serviceMonitor": {"enabled": True},
                                           "disableAPICheck": True}}},
    "ingress-nginx": {"controller": {"metrics": {"enabled": True, "serviceMonitor": {"enabled": True}}}},
    "cert-manager": {"prometheus": {"enabled": True, "servicemonitor": {"enabled": True}}},
    "metallb": {"prometheus": {"serviceMonitor": {"enabled": True}, "namespace": MONITORING_NAMESPACE, "serviceAccount": PROMETHEUS_SERVICE_ACCOUNT}},
    "k8up": {"metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}}},
}


def service_monitor_values(key: str) -> dict[str, Any] | None:
    """The values that switch a component's ServiceMonitor on; None: it has none."""
    from . import backends

    return SERVICE_MONITOR_VALUES.get(key, backends.monitoring_values().get(key))


def plan_monitoring(monitoring: bool, components: list[ComponentPlan]) -> MonitoringPlan | None:
    """What render writes for monitoring besides chart values: Grafana's login Secret, and which
    components Prometheus scrapes (for the README)."""
    if not monitoring:
        return None
    scraped = tuple(c.key for c in components if service_monitor_values(c.key) is not None)
    return MonitoringPlan(namespace=MONITORING_NAMESPACE, grafana_secret=GRAFANA_SECRET, scraped=scraped)
