"""Rule `services`: traffic has somewhere to go.

Every Ingress or HTTPRoute backend is a Service with that port; every Service
selector matches a pod template in its namespace; every LoadBalancer Service has
something to give it an address; an ACME HTTP-01 solver is only used where the
internet can reach the ingress.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..documents import Document, PathPart, get_path, mapping
from .facts import ClusterFacts
from .finding import Finding
from .workloads import PodTemplate

RULE = "services"
# Pod labels a controller adds to its own pods at run time, so no template carries them:
# longhorn-manager labels itself to serve its webhook and recovery backend Services
# (app/daemon.go and controller/node_controller.go in longhorn-manager v1.12.1).
RUNTIME_POD_LABELS = frozenset({"longhorn.io/admission-webhook", "longhorn.io/recovery-backend"})
# Pods an operator makes from a custom resource, by (API group, kind): the labels it gives
# them (prometheus-operator v0.93 pkg/prometheus and pkg/alertmanager; CloudNativePG's
# cnpg.io/cluster), so the chart's Service in front of them is not an orphan.
OPERATOR_POD_LABELS = {
    ("monitoring.coreos.com", "Prometheus"): lambda name: {
        "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": "prometheus-operator", "operator.prometheus.io/name": name,
        "operator.prometheus.io/shard": "0", "prometheus": name},
    ("monitoring.coreos.com", "Alertmanager"): lambda name: {
        "app.kubernetes.io/name": "alertmanager", "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": "prometheus-operator", "alertmanager": name},
    ("postgresql.cnpg.io", "Cluster"): lambda name: {"cnpg.io/cluster": name},
}



def backends(doc: Document) -> Iterator[tuple[tuple[PathPart, ...], str, object]]:
    """(path, service name, port name or number) of each backend."""
    if doc.kind == "Ingress":
        default = mapping(get_path(doc.data, ("spec", "defaultBackend", "service")))
        if default.get("name"):
            port = mapping(default.get("port"))
            yield ("spec", "defaultBackend", "service"), str(default["name"]), port.get("name", port.get("number"))
        for i, rule in enumerate(get_path(doc.data, ("spec", "rules")) or []):
            for j, p in enumerate(get_path(rule, ("http", "paths")) or []):
                svc = mapping(get_path(p, ("backend", "service")))
                if svc.get("name"):
                    port = mapping(svc.get("port"))
                    yield (("spec", "rules", i, "http", "paths", j, "backend", "service"), str(svc["name"]),
                           port.get("name", port.get("number")))
    elif doc.kind == "HTTPRoute" and doc.api_version.startswith("gateway.networking.k8s.io/"):
        for i, rule in enumerate(get_path(doc.data, ("spec", "rules")) or []):
            for j, ref in enumerate(mapping(rule).get("backendRefs") or []):
                ref = mapping(ref)
                if ref.get("kind", "Service") == "Service" and ref.get("name"):
                    yield ("spec", "rules", i, "backendRefs", j), str(ref["name"]), ref.get("port")


def _port_matches(service: Document, port: object) -> bool:
    for p in get_path(service.data, ("spec", "ports")) or []:
        p = mapping(p)
        if port is None or p.get("name") == port or p.get("port") == port:
            return True
    return False


def _selects(selector: dict, labels: dict) -> bool:
    return all(str(labels.get(k)) == str(v) for k, v in selector.items())


def check_services(templates: list[PodTemplate], docs: list[Document], facts: ClusterFacts) -> list[Finding]:
    findings: list[Finding] = []
    services = {(d.namespace or "default", d.name): d for d in docs if d.kind == "Service" and d.api_version == "v1"}
    for d in docs:
        for path, name, port in backends(d):
            ns = d.namespace or "default"
            svc = services.get((ns, name))
            if svc is None:
                findings.append(Finding(d, path, f"backend Service {ns}/{name} does not exist"))
            elif not _port_matches(svc, port):
                findings.append(Finding(d, path, f"backend Service {ns}/{name} has no port {port}"))
    # Pod templates by namespace and label: a selector's first pair narrows the search.
    by_label: dict[tuple[str, str, str], list[dict]] = {}
    for ns, labels in [(t.namespace, t.labels) for t in templates] + _pods_made_elsewhere(docs, facts):
        for k, v in labels.items():
            by_label.setdefault((ns, str(k), str(v)), []).append(labels)
    for (ns, _name), svc in services.items():
        full = mapping(get_path(svc.data, ("spec", "selector")))
        selector = {k: v for k, v in full.items() if k not in RUNTIME_POD_LABELS}
        first = next(iter(selector.items()), None)
        candidates = by_label.get((ns, str(first[0]), str(first[1])), []) if first else []
        if selector and not any(_selects(selector, labels) for labels in candidates):
            pairs = ", ".join(f"{k}={v}" for k, v in selector.items())
            findings.append(Finding(svc, ("spec", "selector"), f"selector {pairs} matches no pod in namespace {ns}"))
    findings.extend(_load_balancers(services.values(), docs, facts))
    findings.extend(_acme_reachability(docs, facts))
    return findings


def _pods_made_elsewhere(docs: list[Document], facts: ClusterFacts) -> list[tuple[str, dict]]:
    """(namespace, labels) of pods no template in the repository describes: an operator's, from its
    custom resources (with their podMetadata labels), and the distribution's own."""
    made = list(facts.shipped_pods)
    for d in docs:
        labels_of = OPERATOR_POD_LABELS.get((d.api_version.split("/", 1)[0], d.kind))
        if labels_of is not None and d.name:
            extra = mapping(get_path(d.data, ("spec", "podMetadata", "labels")))
            made.append((d.namespace or "default", {**{str(k): str(v) for k, v in extra.items()}, **labels_of(d.name)}))
    return made


def _load_balancers(services, docs: list[Document], facts: ClusterFacts) -> Iterator[Finding]:
    served = set(facts.load_balancers)
    if any(d.kind == "IPAddressPool" and d.api_version.startswith("metallb.io/") for d in docs):
        served.add("metallb")
    for svc in services:
        if get_path(svc.data, ("spec", "type")) == "LoadBalancer" and not served:
            yield Finding(svc, ("spec", "type"),
                          "LoadBalancer Service, but nothing gives it an address (no MetalLB pool, kube-vip or "
                          "k3s servicelb): it stays pending")


def _acme_reachability(docs: list[Document], facts: ClusterFacts) -> Iterator[Finding]:
    if facts.ingress_public:
        return
    for d in docs:
        if d.kind not in ("ClusterIssuer", "Issuer") or not d.api_version.startswith("cert-manager.io/"):
            continue
        for i, solver in enumerate(get_path(d.data, ("spec", "acme", "solvers")) or []):
            if "http01" in mapping(solver):
                yield Finding(d, ("spec", "acme", "solvers", i, "http01"),
                              "ACME HTTP-01 needs the ingress reachable from the internet, and this cluster's is "
                              "not said to be: use a DNS-01 solver")


def _longhorn_backed_classes(docs: list[Document]) -> tuple[set[str], str | None]:
    """StorageClasses whose volumes a Longhorn backup RecurringJob takes: with a job in the
    `default` group (where Longhorn puts every volume without a recurring-job label), all
    Longhorn classes. Also the default StorageClass's name."""
    default = next((d.name for d in docs if d.kind == "StorageClass"
                    and str(mapping(get_path(d.data, ("metadata", "annotations"))).get("storageclass.kubernetes.io/is-default-class")) == "true"), None)
    jobs = [d for d in docs if d.kind == "RecurringJob" and d.api_version.startswith("longhorn.io/")
            and get_path(d.data, ("spec", "task")) in ("backup", "backup-force-create")
            and "default" in (get_path(d.data, ("spec", "groups")) or [])]
    if not jobs:
        return set(), default
    return {d.name for d in docs if d.kind == "StorageClass" and get_path(d.data, ("provisioner",)) == "driver.longhorn.io"}, default


def _claim_classes(d: Document) -> list[str | None]:
    if d.kind == "PersistentVolumeClaim":
        return [get_path(d.data, ("spec", "storageClassName"))]
    return [mapping(t).get("spec", {}).get("storageClassName") for t in get_path(d.data, ("spec", "volumeClaimTemplates")) or []]


def check_backups(docs: list[Document], facts: ClusterFacts) -> list[Finding]:
    """Rule `backup`: with backups on, every namespace that holds claims has a k8up Schedule,
    or its claims are Longhorn volumes a Longhorn backup RecurringJob takes."""
    if not facts.backups:
        return []
    scheduled = {d.namespace for d in docs if d.kind == "Schedule" and d.api_version.startswith("k8up.io/")}
    longhorn, default_class = _longhorn_backed_classes(docs)
    findings, seen = [], set()
    for d in docs:
        holds = d.kind == "PersistentVolumeClaim" or (d.kind == "StatefulSet" and get_path(d.data, ("spec", "volumeClaimTemplates")))
        if holds and longhorn and all((c or default_class) in longhorn for c in _claim_classes(d)):
            continue
        if holds and d.namespace not in scheduled and d.namespace not in seen:
            seen.add(d.namespace)
            findings.append(Finding(d, ("metadata",), f"backups are on, but namespace {d.namespace} holds volumes and "
                                                     "has no k8up Schedule (nor a Longhorn backup job for their class): nothing backs them up"))
    return findings
