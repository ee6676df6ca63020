"""Rule `scheduling`: every pod finds a node, as the scheduler would decide it.

Node selectors, required node affinity, taints against tolerations, and requests
against what is left of each node's allocatable CPU and memory once the
DaemonSets (on every node they match) and the workloads placed before have
taken theirs. Required pod anti-affinity on the hostname, and topology spread
with minDomains, cap how many replicas the eligible nodes can hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..documents import PathPart, get_path, mapping
from .facts import Node
from .finding import Finding
from .quantities import show_bytes, show_cpu
from .workloads import PodTemplate, expression_matches, selector_matches

RULE = "scheduling"
_HOSTNAME = "kubernetes.io/hostname"
# Node labels that a controller sets at run time, so a DaemonSet waiting for one is dormant
# by design until it appears, not misplaced.
RUNTIME_LABELS = {
    "nvidia.com/mps.capable": "NVIDIA's GPU feature discovery sets on nodes configured for MPS sharing",
}
_AFFINITY_TERMS = ("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")



@dataclass
class Schedule:
    findings: list[Finding] = field(default_factory=list)
    daemonsets: dict[str, list[str]] = field(default_factory=dict)  # ident -> nodes it lands on
    dormant: list[str] = field(default_factory=list)  # DaemonSets waiting for a run-time label


def unmet_term(template: PodTemplate, node: Node) -> tuple[tuple[PathPart, ...], str] | None:
    """Why ``node`` cannot run the pod (the field, and the term it fails), or None."""
    spec = template.spec
    for key, value in mapping(spec.get("nodeSelector")).items():
        if node.labels.get(str(key)) != str(value):
            return ("nodeSelector", str(key)), f"nodeSelector {key}={value}"
    terms = get_path(spec, _AFFINITY_TERMS)
    if isinstance(terms, list) and not any(_term_matches(t, node) for t in terms):
        return _AFFINITY_TERMS, "required node affinity " + " OR ".join(_show_term(t) for t in terms)
    for taint in node.taints:
        if taint.effect in ("NoSchedule", "NoExecute") and not _tolerated(taint, spec.get("tolerations") or []):
            value = f"={taint.value}" if taint.value else ""
            return ("tolerations",), f"taint {taint.key}{value}:{taint.effect} not tolerated"
    return None


def _term_matches(term: object, node: Node) -> bool:
    term = mapping(term)
    exprs = [(e, node.labels.get(str(e.get("key")))) for e in term.get("matchExpressions") or [] if isinstance(e, dict)]
    exprs += [(e, node.name if e.get("key") == "metadata.name" else None)
              for e in term.get("matchFields") or [] if isinstance(e, dict)]
    return bool(exprs) and all(expression_matches(e, v) for e, v in exprs)  # an empty term selects nothing


def _show_term(term: object) -> str:
    parts = []
    for e in mapping(term).get("matchExpressions") or []:
        e = mapping(e)
        values = ",".join(str(v) for v in e.get("values") or [])
        parts.append(f"{e.get('key')} {e.get('operator')}{' ' + values if values else ''}")
    return "(" + " AND ".join(parts) + ")" if parts else "(empty term)"


def _tolerated(taint, tolerations: Iterable[object]) -> bool:
    for raw in tolerations:
        t = mapping(raw)
        if t.get("effect") not in (None, "", taint.effect):
            continue
        if t.get("operator") == "Exists":
            if t.get("key") in (None, "", taint.key):
                return True
        elif t.get("key") == taint.key and str(t.get("value") or "") == str(taint.value or ""):
            return True
    return False


def schedule(templates: list[PodTemplate], nodes: list[Node]) -> Schedule:
    result = Schedule()
    free = {n.name: [n.cpu_m, n.memory] for n in nodes}
    daemonsets = [t for t in templates if t.kind == "DaemonSet"]
    others = [t for t in templates if t.kind != "DaemonSet"]
    for t in daemonsets:
        _place_daemonset(t, nodes, free, result)
    for t in others:
        _place_workload(t, nodes, free, result)
    return result


def _eligible(t: PodTemplate, nodes: list[Node]) -> tuple[list[Node], list[tuple[str, tuple, str]]]:
    fit, why = [], []
    for node in nodes:
        unmet = unmet_term(t, node)
        if unmet is None:
            fit.append(node)
        else:
            why.append((node.name, *unmet))
    return fit, why


def _no_node(t: PodTemplate, why: list[tuple[str, tuple, str]], result: Schedule, what: str) -> None:
    reasons = "; ".join(f"{name}: {reason}" for name, _, reason in why)
    path = why[0][1] if why and all(w[1] == why[0][1] for w in why) else ()
    result.findings.append(Finding(t.doc, (*t.base, *path), f"{what} matches no node ({reasons})"))


def _place_daemonset(t: PodTemplate, nodes: list[Node], free: dict, result: Schedule) -> None:
    fit, why = _eligible(t, nodes)
    result.daemonsets[t.doc.ident] = [n.name for n in fit]
    if not fit:
        waits = {path[-1] for _, path, _ in why if len(path) == 2 and path[0] == "nodeSelector"}
        if why and len(waits) == 1 and len(why) == len(nodes) and next(iter(waits)) in RUNTIME_LABELS:
            label = next(iter(waits))
            result.dormant.append(f"{t.doc.ident} lands on no node until it sees node label {label}, "
                                  f"which {RUNTIME_LABELS[label]}")
            return
        _no_node(t, why, result, "DaemonSet lands on no node: its pod")
        return
    cpu, mem = t.requests()
    for node in fit:
        if not _reserve(free[node.name], cpu, mem):
            result.findings.append(Finding(t.doc, (*t.base, "containers"),
                                           f"DaemonSet pod does not fit on {node.name}: needs {show_cpu(cpu)} CPU and "
                                           f"{show_bytes(mem)} memory, {_left(free[node.name])} left"))


def _place_workload(t: PodTemplate, nodes: list[Node], free: dict, result: Schedule) -> None:
    fit, why = _eligible(t, nodes)
    if not fit:
        _no_node(t, why, result, "pod")
        return
    replicas = t.replicas
    cap, path, reason = _spread_capacity(t, len(fit))
    if cap is not None and replicas > cap:
        result.findings.append(Finding(t.doc, (*t.base, *path),
                                       f"{replicas} replicas cannot be placed: {reason} and only "
                                       f"{len(fit)} node(s) are eligible ({', '.join(n.name for n in fit)})"))
        replicas = cap
    cpu, mem = t.requests()
    distinct = cap is not None
    used: set[str] = set()
    for _ in range(replicas):
        candidates = [n for n in fit if not (distinct and n.name in used)]
        # The scheduler's spreading is approximated by the node with the most memory left.
        candidates.sort(key=lambda n: -(free[n.name][1] if free[n.name][1] is not None else 2**62))
        placed = next((n for n in candidates if _reserve(free[n.name], cpu, mem)), None)
        if placed is None:
            left = ", ".join(f"{n.name} {_left(free[n.name])}" for n in fit)
            result.findings.append(Finding(t.doc, (*t.base, "containers"),
                                           f"pod needs {show_cpu(cpu)} CPU and {show_bytes(mem)} memory; no eligible node "
                                           f"has that left ({left})"))
            return
        used.add(placed.name)


def _spread_capacity(t: PodTemplate, eligible: int) -> tuple[int | None, tuple, str]:
    """How many replicas the eligible nodes can hold under required anti-affinity or
    topology spread on the hostname; None when nothing caps it."""
    terms = get_path(t.spec, ("affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution")) or []
    for i, term in enumerate(terms if isinstance(terms, list) else []):
        term = mapping(term)
        if term.get("topologyKey") == _HOSTNAME and _selects_some(mapping(term.get("labelSelector")), t.labels):
            return eligible, ("affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution", i), \
                "required pod anti-affinity puts each replica on its own node"
    for i, c in enumerate(t.spec.get("topologySpreadConstraints") or []):
        c = mapping(c)
        min_domains = c.get("minDomains")
        if (c.get("topologyKey") == _HOSTNAME and c.get("whenUnsatisfiable") == "DoNotSchedule"
                and isinstance(min_domains, int) and min_domains > eligible
                and _selects_some(mapping(c.get("labelSelector")), t.labels)):
            max_skew = c.get("maxSkew")
            skew = max_skew if isinstance(max_skew, int) else 1
            return eligible * skew, ("topologySpreadConstraints", i), \
                f"topology spread wants {min_domains} nodes with at most {skew} replica(s) each"
    return None, (), ""


def _selects_some(selector: dict, labels: dict) -> bool:
    """A pod selector that is set and matches (an absent one caps nothing)."""
    return bool(selector) and selector_matches(selector, labels)


def _reserve(free: list, cpu: int, mem: int) -> bool:
    if (free[0] is not None and cpu > free[0]) or (free[1] is not None and mem > free[1]):
        return False
    if free[0] is not None:
        free[0] -= cpu
    if free[1] is not None:
        free[1] -= mem
    return True


def _left(free: list) -> str:
    cpu = "? CPU" if free[0] is None else f"{show_cpu(free[0])} CPU"
    mem = "? memory" if free[1] is None else f"{show_bytes(free[1])} memory"
    return f"{cpu}, {mem}"
