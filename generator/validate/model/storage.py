"""Rule `storage`: every StorageClass has a driver, keeps data, and every claim is made.

A class's provisioner is served by a CSIDriver object, a ceph-csi-operator
Driver, a provisioner whose container names it in its arguments or
environment, a driver deployer known to create it at run time, or the
distribution. A class that deletes its volume with the claim loses data the
seeds lost; a ConfigMap that carries a StorageClass for a controller to create
(Longhorn's) counts as that class. Prometheus and Alertmanager without storage
keep their data on an emptyDir.
"""

from __future__ import annotations

from collections.abc import Iterator

from ... import catalog
from ..documents import Document, PathPart, get_path, mapping
from .facts import ClusterFacts
from .finding import Finding
from .workloads import embedded_yaml, pod_templates

RULE = "storage"
STATIC_PROVISIONERS = frozenset({"kubernetes.io/no-provisioner"})
_DATA_KEEPERS = {("monitoring.coreos.com", "Prometheus"): ("spec", "storage"),
                 ("monitoring.coreos.com", "Alertmanager"): ("spec", "storage")}


def runtime_drivers() -> dict[tuple[str, str], str]:
    """Controllers that create their CSIDriver at run time, so no manifest names it: each storage
    backend's runtime_drivers in the catalog (Longhorn's driver deployer)."""
    return {(d["kind"], d["name"]): d["provisioner"]
            for b in catalog.storage_backends().values() for d in b.get("runtime_drivers") or ()}


def storage_classes(docs: list[Document]) -> Iterator[tuple[Document, tuple[PathPart, ...], dict]]:
    """(document, path of the class inside it, the class) for real and ConfigMap-borne classes."""
    for d in docs:
        if d.kind == "StorageClass":
            yield d, (), d.data
        else:
            for key, inner in embedded_yaml(d, "StorageClass"):
                for obj in inner:
                    if isinstance(obj, dict) and obj.get("kind") == "StorageClass":
                        yield d, ("data", key), obj


def served_provisioners(docs: list[Document], facts: ClusterFacts) -> set[str]:
    served = set(STATIC_PROVISIONERS) | facts.shipped_provisioners
    drivers = runtime_drivers()
    for d in docs:
        if d.kind == "CSIDriver" or (d.kind == "Driver" and d.api_version.startswith("csi.ceph.io/")):
            served.add(d.name)
        if (d.kind, d.name) in drivers:
            served.add(drivers[(d.kind, d.name)])
    for t in pod_templates(docs):
        for c in list(t.spec.get("containers") or []) + list(t.spec.get("initContainers") or []):
            c = mapping(c)
            words = [str(a) for a in (c.get("args") or []) + (c.get("command") or [])]
            words += [str(mapping(e).get("value")) for e in c.get("env") or []]
            for w in words:
                served.add(w)
                if "=" in w:
                    served.add(w.split("=", 1)[1])
    return served


def check_storage(docs: list[Document], facts: ClusterFacts, complete: bool) -> tuple[list[Finding], list[str]]:
    findings: list[Finding] = []
    undecided: list[str] = []
    served = served_provisioners(docs, facts)
    for d, path, sc in storage_classes(docs):
        name = get_path(sc, ("metadata", "name"))
        provisioner = sc.get("provisioner")
        if isinstance(provisioner, str) and provisioner not in served:
            if complete:
                findings.append(Finding(d, path or ("provisioner",),
                                        f"StorageClass {name} uses provisioner {provisioner}, which no CSI driver or "
                                        "provisioner in the repository or the distribution serves: its volumes never provision"))
            else:
                undecided.append(f"provisioner {provisioner} of StorageClass {name}")
        if sc.get("reclaimPolicy", "Delete") != "Retain":
            findings.append(Finding(d, path or ("reclaimPolicy",),
                                    f"StorageClass {name} has reclaimPolicy {sc.get('reclaimPolicy', 'Delete (the default)')}: "
                                    "deleting a claim, or its namespace, deletes the data; use Retain"))
    findings.extend(_unmade_claims(docs))
    findings.extend(_ephemeral_data(docs))
    return findings, undecided


def _unmade_claims(docs: list[Document]) -> Iterator[Finding]:
    made = {(d.namespace, d.name) for d in docs if d.kind == "PersistentVolumeClaim"}
    for t in pod_templates(docs):
        templates = {mapping(mapping(c).get("metadata")).get("name")
                     for c in get_path(t.doc.data, ("spec", "volumeClaimTemplates")) or []}
        for i, vol in enumerate(t.spec.get("volumes") or []):
            claim = mapping(mapping(vol).get("persistentVolumeClaim")).get("claimName")
            if isinstance(claim, str) and (t.namespace, claim) not in made and claim not in templates:
                yield Finding(t.doc, (*t.base, "volumes", i, "persistentVolumeClaim", "claimName"),
                              f"claim {claim} is not created in the repository: make it by hand in namespace "
                              f"{t.namespace} before this pod can start", warning=True)


def _ephemeral_data(docs: list[Document]) -> Iterator[Finding]:
    for d in docs:
        group = d.api_version.split("/")[0]
        path = _DATA_KEEPERS.get((group, d.kind))
        if path is not None and not get_path(d.data, path):
            yield Finding(d, path[:-1], f"{d.kind} {d.name} has no spec.storage: its data lives on an emptyDir "
                                        "and is lost whenever the pod restarts")
