"""A model of what the cluster will do with the repository.

Built from `.clustergen/facts.yaml` (the machines: labels, taints, allocatable
CPU and memory, what the distribution ships) and the fully rendered documents,
owner by owner. Each rule returns findings that point at a document and field;
this module turns them into faults (and warnings) named after the rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..documents import Document, PathPart, json_path
from ..report import Fault
from .admission import RULE as ADMISSION, check_admission
from .devices import RULE as DEVICES, check_devices
from .facts import ClusterFacts, cluster_facts
from .layers import Layers, build_layers
from .network import RULE as NETWORK, check_network
from .ordering import RULE as ORDERING, check_ordering
from .scheduling import RULE as SCHEDULING, schedule
from .services import RULE as SERVICES, backends, check_backups, check_services
from .storage import RULE as STORAGE, check_storage
from .workloads import pod_templates

RULES = (SCHEDULING, ORDERING, STORAGE, ADMISSION, DEVICES, SERVICES, NETWORK, "backup")
Locate = Callable[[Document, tuple[PathPart, ...]], "int | None"]

__all__ = ["RULES", "ModelResult", "cluster_facts", "build_layers", "run_model", "ClusterFacts", "Layers"]


@dataclass
class ModelResult:
    faults: list[Fault] = field(default_factory=list)
    warnings: list[Fault] = field(default_factory=list)
    daemonsets: dict[str, list[str]] = field(default_factory=dict)
    undecided: list[tuple[str, str]] = field(default_factory=list)  # (rule, what)


def run_model(layers: Layers, facts: ClusterFacts, complete: bool, locate: Locate) -> ModelResult:
    """``complete``: every release was rendered, so what is absent is really absent."""
    docs = _applied(layers)
    templates = list(pod_templates(docs))
    result = ModelResult()

    def add(rule: str, doc: Document, path: tuple[PathPart, ...], message: str, warning: bool = False) -> None:
        fault = Fault(rule, doc.file, locate(doc, path), doc.ident, json_path(path) or None, message)
        (result.warnings if warning else result.faults).append(fault)

    if facts.nodes:
        placed = schedule(templates, facts.nodes)
        result.daemonsets = placed.daemonsets
        result.undecided += [(SCHEDULING, w) for w in placed.dormant]
        for f in placed.findings:
            add(SCHEDULING, f.doc, f.path, f.message)
    ordered, undecided = check_ordering(layers, facts, complete)
    for f in ordered:
        add(ORDERING, f.doc, f.path, f.message)
    result.undecided += [(ORDERING, w) for w in undecided]
    stored, undecided = check_storage(docs, facts, complete)
    for f in stored:
        add(STORAGE, f.doc, f.path, f.message, f.warning)
    result.undecided += [(STORAGE, w) for w in undecided]
    for f in check_admission(templates, docs, facts):
        add(ADMISSION, f.doc, f.path, f.message)
    for f in check_devices(templates, docs):
        add(DEVICES, f.doc, f.path, f.message)
    for f in check_services(templates, docs, facts):
        add(SERVICES, f.doc, f.path, f.message)
    reached, undecided = check_network(templates, docs, ((d, *b) for d in docs for b in backends(d)))
    for f in reached:
        add(NETWORK, f.doc, f.path, f.message)
    result.undecided += [(NETWORK, w) for w in undecided]
    for f in check_backups(docs, facts):
        add("backup", f.doc, f.path, f.message)
    return result


def _applied(layers: Layers) -> list[Document]:
    seen: set[int] = set()
    out = []
    for owner in layers.owners.values():
        for d in owner.docs:
            if id(d) not in seen and d.is_kubernetes:
                seen.add(id(d))
                out.append(d)
    return out
