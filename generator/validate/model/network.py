"""Rule `network`: the ingress controller can reach every Ingress backend through the
NetworkPolicies of the backend's namespace.

A namespace with a policy selecting a pod for Ingress admits only what some rule of
those policies allows (the Kubernetes semantics: policies add up, none deny). The
controller's namespace is the IngressClass's, as its chart renders it; where the
IngressClass was not rendered, nothing is decided.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..documents import Document, PathPart, get_path, mapping
from .finding import Finding
from .workloads import PodTemplate, selector_matches

RULE = "network"
_NAME_LABEL = "kubernetes.io/metadata.name"



def _peer_matches(peer: object, from_ns: str, own_ns: str, from_labels: dict) -> bool:
    peer = mapping(peer)
    if "ipBlock" in peer:
        return False  # pod-to-pod traffic is not from an ipBlock
    ns_selector, pod_selector = peer.get("namespaceSelector"), peer.get("podSelector")
    in_namespace = from_ns == own_ns if ns_selector is None else selector_matches(ns_selector, {_NAME_LABEL: from_ns})
    return in_namespace and (pod_selector is None or selector_matches(pod_selector, from_labels))


def _port_matches(ports: object, port: int | str, protocol: str) -> bool:
    if not ports:
        return True
    for p in ports if isinstance(ports, list) else []:
        p = mapping(p)
        if str(p.get("protocol") or "TCP") != protocol:
            continue
        if p.get("port") is None or p.get("port") == port:
            return True
        end = p.get("endPort")
        if isinstance(p.get("port"), int) and isinstance(end, int) and isinstance(port, int) and p["port"] <= port <= end:
            return True
    return False


def ingress_allowed(policies: list[Document], namespace: str, pod_labels: dict, from_ns: str,
                    from_labels: dict, port: int | str, protocol: str = "TCP") -> bool:
    selecting = [p for p in policies if p.namespace == namespace
                 and "Ingress" in (get_path(p.data, ("spec", "policyTypes")) or ["Ingress"])
                 and selector_matches(get_path(p.data, ("spec", "podSelector")), pod_labels)]
    if not selecting:
        return True
    for p in selecting:
        for rule in get_path(p.data, ("spec", "ingress")) or []:
            rule = mapping(rule)
            sources = rule.get("from")
            if (not sources or any(_peer_matches(s, from_ns, namespace, from_labels) for s in sources)) \
                    and _port_matches(rule.get("ports"), port, protocol):
                return True
    return False


def _controller_namespaces(docs: list[Document]) -> dict[str, str]:
    """IngressClass name -> the namespace its controller runs in (as its chart rendered it)."""
    return {d.name: d.namespace for d in docs if d.kind == "IngressClass" and d.namespace}


def _target_port(service: Document, port: object, templates: list[PodTemplate]) -> tuple[int | str, str, list[PodTemplate]]:
    selector = mapping(get_path(service.data, ("spec", "selector")))
    pods = [t for t in templates if t.namespace == (service.namespace or "default") and selector
            and all(str(t.labels.get(k)) == str(v) for k, v in selector.items())]
    for p in get_path(service.data, ("spec", "ports")) or []:
        p = mapping(p)
        if port is None or p.get("name") == port or p.get("port") == port:
            target = p.get("targetPort", p.get("port"))
            return target if isinstance(target, (int, str)) else 0, str(p.get("protocol") or "TCP"), pods
    return port if isinstance(port, (int, str)) else 0, "TCP", pods


def _container_port(target: int | str, pod: PodTemplate) -> int | str:
    if isinstance(target, int):
        return target
    for c in pod.spec.get("containers") or []:
        for p in mapping(c).get("ports") or []:
            if mapping(p).get("name") == target:
                return mapping(p).get("containerPort", target)
    return target


def check_network(templates: list[PodTemplate], docs: list[Document],
                  backends: Iterator[tuple[Document, tuple[PathPart, ...], str, object]]) -> tuple[list[Finding], list[str]]:
    policies = [d for d in docs if d.kind == "NetworkPolicy" and d.api_version.startswith("networking.k8s.io/")]
    if not policies:
        return [], []
    controllers = _controller_namespaces(docs)
    services = {(d.namespace or "default", d.name): d for d in docs if d.kind == "Service" and d.api_version == "v1"}
    findings, undecided = [], []
    for ingress, path, name, port in backends:
        cls = get_path(ingress.data, ("spec", "ingressClassName"))
        from_ns = controllers.get(str(cls)) if cls else None
        if ingress.kind == "HTTPRoute":
            # Traffic comes from the parent Gateway's data plane; Envoy Gateway (clustergen's
            # Gateway API choice) runs it in the Gateway's namespace.
            parents = [mapping(r) for r in get_path(ingress.data, ("spec", "parentRefs")) or []]
            gateways = {str(r.get("namespace") or ingress.namespace or "default") for r in parents if r.get("kind", "Gateway") == "Gateway"}
            cls = "Gateway"
            from_ns = gateways.pop() if len(gateways) == 1 else None
        service = services.get((ingress.namespace or "default", name))
        if service is None:
            continue  # the services rule reports it
        if from_ns is None:
            undecided.append(f"whether the {cls} ingress controller reaches {ingress.ident}'s backend")
            continue
        target, protocol, pods = _target_port(service, port, templates)
        for pod in pods:
            number = _container_port(target, pod)
            if not ingress_allowed(policies, pod.namespace, pod.labels, from_ns, {}, number, protocol):
                findings.append(Finding(ingress, path, f"the NetworkPolicies of namespace {pod.namespace} let no "
                                                       f"traffic from the {cls} controller (namespace {from_ns}) reach "
                                                       f"{pod.doc.ident} on port {number}: the site answers 504"))
    return findings, undecided
