"""Pod templates, wherever a document carries one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import yaml

from ..documents import Document, PathPart, get_path, load_all, mapping
from .quantities import bytes_of, millicores

POD_SPEC_PATHS: dict[str, tuple[PathPart, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_LABEL_PATHS: dict[str, tuple[PathPart, ...]] = {
    "Pod": ("metadata", "labels"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "metadata", "labels"),
}
RESOURCES_OF_NODES = ("cpu", "memory")


@dataclass
class PodTemplate:
    doc: Document
    base: tuple[PathPart, ...]  # path of the pod spec inside the document
    spec: dict
    labels: dict

    @property
    def kind(self) -> str:
        return self.doc.kind

    @property
    def namespace(self) -> str:
        return self.doc.namespace or "default"

    @property
    def replicas(self) -> int:
        """Pods that run at once (a DaemonSet's count depends on the nodes)."""
        if self.kind in ("Deployment", "StatefulSet", "ReplicaSet"):
            value = get_path(self.doc.data, ("spec", "replicas"))
            return value if isinstance(value, int) and value >= 0 else 1
        if self.kind == "Job":
            value = get_path(self.doc.data, ("spec", "parallelism"))
            return value if isinstance(value, int) and value >= 0 else 1
        return 1

    @property
    def annotations(self) -> dict:
        meta = ("metadata",) if self.kind == "Pod" else (*self.base[:-1], "metadata")
        return mapping(get_path(self.doc.data, (*meta, "annotations")))

    def requests(self) -> tuple[int, int]:
        """(millicores, bytes) the scheduler reserves: the sum over containers, or the
        largest init container when that is more, as the scheduler computes it."""
        def total(field: str) -> tuple[int, int]:
            cpu = mem = 0
            for c in self.spec.get(field) or []:
                req = _requests_of(c)
                cpu, mem = (cpu + req[0], mem + req[1]) if field == "containers" else (max(cpu, req[0]), max(mem, req[1]))
            return cpu, mem
        run, init = total("containers"), total("initContainers")
        return max(run[0], init[0]), max(run[1], init[1])


def _requests_of(container: object) -> tuple[int, int]:
    resources = mapping(mapping(container).get("resources"))
    # A container with limits and no requests is given requests equal to its limits.
    values = {**mapping(resources.get("limits")), **mapping(resources.get("requests"))}
    return millicores(values.get("cpu")) or 0, bytes_of(values.get("memory")) or 0


def pod_templates(docs: Iterable[Document]) -> Iterator[PodTemplate]:
    for d in docs:
        base = POD_SPEC_PATHS.get(d.kind)
        if base is None or not d.api_version.startswith(("v1", "apps/", "batch/")):
            continue
        spec = get_path(d.data, base)
        if not isinstance(spec, dict):
            continue
        labels_path = _LABEL_PATHS.get(d.kind, ("spec", "template", "metadata", "labels"))
        yield PodTemplate(d, base, spec, mapping(get_path(d.data, labels_path)))


def embedded_yaml(doc: Document, marker: str) -> Iterator[tuple[str, list]]:
    """(data key, documents) for each ConfigMap value that holds YAML mentioning ``marker``:
    configuration a controller reads at run time (a StorageClass to create, a plugin config)."""
    if doc.kind != "ConfigMap":
        return
    for key, text in mapping(doc.data.get("data")).items():
        if not isinstance(text, str) or marker not in text:
            continue
        try:
            inner, _ = load_all(text)
        except yaml.YAMLError:
            continue
        yield str(key), inner


def expression_matches(expr: dict, value: str | None) -> bool:
    """One selector requirement against a label's value (None: the label is absent). Gt and Lt
    are node affinity's."""
    op = expr.get("operator")
    values = [str(v) for v in expr.get("values") or []]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and values:
        try:
            left, right = int(value), int(values[0])
        except ValueError:
            return False
        return left > right if op == "Gt" else left < right
    return False


def selector_matches(selector: object, labels: dict) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions); an empty one matches all."""
    selector = mapping(selector)
    if any(str(labels.get(k)) != str(v) for k, v in mapping(selector.get("matchLabels")).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        e = mapping(e)
        value = labels.get(str(e.get("key")))
        if not expression_matches(e, None if value is None else str(value)):
            return False
    return True
