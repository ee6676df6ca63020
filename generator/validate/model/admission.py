"""Rule `pod-security`: the API server admits every pod at its namespace's enforce level."""

from __future__ import annotations

from ... import podsecurity
from ..documents import Document, mapping
from .facts import ClusterFacts
from .finding import Finding
from .workloads import PodTemplate

RULE = "pod-security"
ENFORCE = "pod-security.kubernetes.io/enforce"
# Talos's API server enforces baseline wherever a namespace says nothing, and exempts kube-system.
DEFAULT_LEVEL = {"talos": "baseline"}
EXEMPT = {"talos": {"kube-system"}}



def namespace_levels(docs: list[Document]) -> dict[str, str]:
    return {d.name: str(mapping(d.metadata.get("labels")).get(ENFORCE))
            for d in docs if d.kind == "Namespace" and mapping(d.metadata.get("labels")).get(ENFORCE)}


def check_admission(templates: list[PodTemplate], docs: list[Document], facts: ClusterFacts) -> list[Finding]:
    levels = namespace_levels(docs)
    default = DEFAULT_LEVEL.get(facts.distribution, "privileged")
    exempt = EXEMPT.get(facts.distribution, set())
    findings = []
    for t in templates:
        if t.namespace in exempt:
            continue
        level = levels.get(t.namespace, default)
        if level not in podsecurity.LEVELS:
            continue  # the schema check reports an unknown level
        for v in podsecurity.admitted(level, podsecurity.evaluate(t.spec, t.annotations)):
            findings.append(Finding(t.doc, (*t.base, *v.path),
                                    f"rejected by Pod Security {level!r} in namespace {t.namespace} "
                                    f"({v.control}): {v.message}"))
    return findings
