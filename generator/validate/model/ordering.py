"""Rule `ordering`: everything an object needs exists by the time it is applied.

An object needs the CRD of its kind, its Namespace, and the RuntimeClass,
PriorityClass, ServiceAccount, StorageClass, IngressClass and cert-manager
issuer it names; those must come from its own layer, one applied before it, or
the distribution. ConfigMaps and Secrets may be made at run time (by charts'
hooks, cert-manager, controllers), so only one that the repository creates in a
later layer is a fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from ..documents import Document, PathPart, get_path, mapping
from .facts import ClusterFacts
from .finding import Finding
from .layers import Layers
from .workloads import POD_SPEC_PATHS

RULE = "ordering"
BUILTIN_GROUPS = frozenset({
    "", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io",
    "storage.k8s.io", "node.k8s.io", "scheduling.k8s.io", "admissionregistration.k8s.io",
    "apiextensions.k8s.io", "apiregistration.k8s.io", "coordination.k8s.io", "discovery.k8s.io",
    "certificates.k8s.io", "events.k8s.io", "flowcontrol.apiserver.k8s.io", "resource.k8s.io",
    "internal.apiserver.k8s.io", "authentication.k8s.io", "authorization.k8s.io", "metrics.k8s.io",
    "kustomize.config.k8s.io",
})
CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "StorageClass", "CSIDriver", "CSINode", "VolumeAttachment",
    "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "RuntimeClass", "PriorityClass",
    "IngressClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "APIService", "ComponentStatus",
    "CertificateSigningRequest", "FlowSchema", "PriorityLevelConfiguration", "IPAddress", "ServiceCIDR",
    "DeviceClass", "GatewayClass",
})


class Need(NamedTuple):
    """One object another one needs. A named tuple, not a frozen dataclass: 10,000 documents
    make tens of thousands, and building and hashing them as dataclasses took a sixth of this
    rule's time."""

    path: tuple[PathPart, ...]
    kind: str
    namespace: str  # "" for cluster-scoped
    name: str
    hard: bool = True  # a missing soft need may be created at run time

    @property
    def what(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"



def group_of(doc: Document) -> str:
    return doc.api_version.split("/")[0] if "/" in doc.api_version else ""


def cluster_scoped_kinds(docs: list[Document]) -> set[str]:
    kinds = set(CLUSTER_SCOPED)
    for d in docs:
        if d.kind == "CustomResourceDefinition" and get_path(d.data, ("spec", "scope")) == "Cluster":
            kind = get_path(d.data, ("spec", "names", "kind"))
            if isinstance(kind, str):
                kinds.add(kind)
    return kinds


def needs(doc: Document, scoped: set[str], facts: ClusterFacts) -> Iterator[Need]:
    group = group_of(doc)
    if group not in BUILTIN_GROUPS and group not in facts.shipped_groups:
        yield Need(("apiVersion",), "CustomResourceDefinition", "", f"{doc.kind} ({group})")
    ns = doc.namespace
    if doc.kind not in scoped and ns and doc.kind != "Namespace":
        yield Need(("metadata", "namespace"), "Namespace", "", ns)
    base = POD_SPEC_PATHS.get(doc.kind)
    if base is not None:
        spec = get_path(doc.data, base)
        if isinstance(spec, dict):
            yield from _pod_needs(base, spec, ns)
    yield from _claim_needs(doc)
    if doc.kind == "Ingress":
        cls = get_path(doc.data, ("spec", "ingressClassName"))
        if isinstance(cls, str) and cls:
            yield Need(("spec", "ingressClassName"), "IngressClass", "", cls)
    yield from _issuer_needs(doc, ns)


def _pod_needs(base: tuple[PathPart, ...], spec: dict, ns: str) -> Iterator[Need]:
    for field, kind in (("runtimeClassName", "RuntimeClass"), ("priorityClassName", "PriorityClass")):
        if isinstance(spec.get(field), str) and spec[field]:
            yield Need((*base, field), kind, "", spec[field])
    sa = spec.get("serviceAccountName")
    if isinstance(sa, str) and sa and sa != "default":
        yield Need((*base, "serviceAccountName"), "ServiceAccount", ns, sa)
    for i, vol in enumerate(spec.get("volumes") or []):
        vol = mapping(vol)
        for field, kind, name_key in (("configMap", "ConfigMap", "name"), ("secret", "Secret", "secretName")):
            ref = mapping(vol.get(field))
            if ref.get(name_key) and not ref.get("optional"):
                yield Need((*base, "volumes", i, field), kind, ns, str(ref[name_key]), hard=False)
    for path, c in _containers(base, spec):
        for j, src in enumerate(c.get("envFrom") or []):
            src = mapping(src)
            for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                ref = mapping(src.get(field))
                if ref.get("name") and not ref.get("optional"):
                    yield Need((*path, "envFrom", j, field), kind, ns, str(ref["name"]), hard=False)


def _containers(base: tuple[PathPart, ...], spec: dict) -> Iterator[tuple[tuple[PathPart, ...], dict]]:
    for field in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(field) or []):
            if isinstance(c, dict):
                yield (*base, field, i), c


def _claim_needs(doc: Document) -> Iterator[Need]:
    specs: list[tuple[tuple[PathPart, ...], object]] = []
    if doc.kind == "PersistentVolumeClaim":
        specs.append((("spec",), get_path(doc.data, ("spec",))))
    elif doc.kind == "StatefulSet":
        for i, t in enumerate(get_path(doc.data, ("spec", "volumeClaimTemplates")) or []):
            specs.append((("spec", "volumeClaimTemplates", i, "spec"), get_path(t, ("spec",))))
    for path, spec in specs:
        name = mapping(spec).get("storageClassName")
        if isinstance(name, str) and name:
            yield Need((*path, "storageClassName"), "StorageClass", "", name)


def _issuer_needs(doc: Document, ns: str) -> Iterator[Need]:
    annotations = mapping(doc.metadata.get("annotations"))
    if doc.kind == "Ingress":
        if annotations.get("cert-manager.io/cluster-issuer"):
            yield Need(("metadata", "annotations"), "ClusterIssuer", "", str(annotations["cert-manager.io/cluster-issuer"]))
        if annotations.get("cert-manager.io/issuer"):
            yield Need(("metadata", "annotations"), "Issuer", ns, str(annotations["cert-manager.io/issuer"]))
    if doc.kind == "Certificate" and group_of(doc) == "cert-manager.io":
        ref = mapping(get_path(doc.data, ("spec", "issuerRef")))
        if ref.get("name") and ref.get("group", "cert-manager.io") == "cert-manager.io":
            kind = str(ref.get("kind") or "Issuer")
            yield Need(("spec", "issuerRef"), kind, ns if kind == "Issuer" else "", str(ref["name"]))


def provided(doc: Document, scoped: set[str]) -> Iterator[tuple[str, str, str]]:
    if doc.kind == "CustomResourceDefinition":
        kind, group = get_path(doc.data, ("spec", "names", "kind")), get_path(doc.data, ("spec", "group"))
        yield ("CustomResourceDefinition", "", f"{kind} ({group})")
    yield (doc.kind, "" if doc.kind in scoped else doc.namespace, doc.name)


_NONE: frozenset[str] = frozenset()


def check_ordering(layers: Layers, facts: ClusterFacts, complete: bool) -> tuple[list[Finding], list[str]]:
    """Faults, and what could not be decided because some releases were not rendered."""
    all_docs = [d for o in layers.owners.values() for d in o.docs]
    scoped = cluster_scoped_kinds(all_docs)
    providers: dict[tuple[str, str, str], set[str]] = {}
    for owner in layers.owners.values():
        for d in owner.docs:
            for key in provided(d, scoped):
                providers.setdefault(key, set()).add(owner.key)
        for ns in owner.created_namespaces:
            providers.setdefault(("Namespace", "", ns), set()).add(owner.key)
    findings: list[Finding] = []
    undecided: set[str] = set()
    seen: set[tuple[int, Need]] = set()
    for owner in layers.owners.values():
        ready = layers.before(owner.key) | {owner.key}
        for d in owner.docs:
            for need in needs(d, scoped, facts):
                if (id(d), need) in seen or (need.kind, need.name) in facts.shipped:
                    continue
                seen.add((id(d), need))
                found = providers.get((need.kind, need.namespace, need.name), _NONE)
                if not found.isdisjoint(ready):
                    continue
                if found:
                    later = ", ".join(sorted(found))
                    findings.append(Finding(d, need.path, f"needs {need.what}, which only {later} creates, and that "
                                                          f"is not applied before {owner.key}: it waits forever or fails"))
                elif need.hard and need.kind != "StorageClass":  # a missing class is the storage rule's
                    if complete:
                        findings.append(Finding(d, need.path, f"needs {need.what}, which nothing in the repository "
                                                              f"or the {facts.distribution} distribution creates"))
                    else:
                        undecided.add(need.what)
    return findings, sorted(undecided)
