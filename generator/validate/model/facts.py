"""What the cluster is, from `.clustergen/facts.yaml`: nodes and what the distribution ships."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...shared.engines import DEFAULT_ENGINE, ENGINES
from ..documents import mapping
from .quantities import bytes_of, millicores


@dataclass(frozen=True)
class Taint:
    key: str
    value: str | None
    effect: str


@dataclass
class Node:
    name: str
    labels: dict[str, str]
    taints: list[Taint] = field(default_factory=list)
    cpu_m: int | None = None  # allocatable; None when the inventory does not say
    memory: int | None = None  # allocatable bytes

    @property
    def arch(self) -> str:
        return self.labels.get("kubernetes.io/arch", "")


@dataclass
class ClusterFacts:
    distribution: str = "k3s"
    engine: str = DEFAULT_ENGINE
    nodes: list[Node] = field(default_factory=list)
    # Objects the distribution or the GitOps engine creates without a manifest here:
    # (kind, name) for cluster-scoped objects.
    shipped: set[tuple[str, str]] = field(default_factory=set)
    shipped_provisioners: set[str] = field(default_factory=set)
    shipped_groups: set[str] = field(default_factory=set)  # API groups whose CRDs come installed
    load_balancers: set[str] = field(default_factory=set)  # servicelb when k3s serves LoadBalancers
    backups: bool = False
    ingress_public: bool = False
    # (namespace, labels) of pods the distribution runs itself, which Services may select.
    shipped_pods: list[tuple[str, dict[str, str]]] = field(default_factory=list)


# What each distribution creates on its own (k3s: its packaged components and the
# RuntimeClasses of its runtimes.yaml; Talos: nothing of the sort). What the GitOps
# engine brings (its namespace, its CRDs' groups) is in shared/engines.py.
_K3S_RUNTIME_CLASSES = ("nvidia", "nvidia-experimental", "crun")
_K3S_GROUPS = {"helm.cattle.io", "k3s.cattle.io"}
# Pod labels of what k3s packages (its manifests/coredns.yaml and metrics-server/) and of
# the CoreDNS Talos deploys (it keeps the kube-dns label, as kube-prometheus-stack expects).
_K3S_PODS = {"coredns": {"k8s-app": "kube-dns"}, "metrics-server": {"k8s-app": "metrics-server"}}
_TALOS_PODS = ({"k8s-app": "kube-dns"},)


def cluster_facts(data: Any) -> ClusterFacts:
    data = mapping(data)
    facts = ClusterFacts(distribution=str(data.get("distribution") or "k3s"),
                         engine=str(data.get("engine") or DEFAULT_ENGINE))
    engine = ENGINES.get(facts.engine)
    for raw in data.get("nodes") or []:
        if isinstance(raw, dict):
            facts.nodes.append(_node(raw))
    packaged = {str(p) for p in data.get("packaged") or []}
    facts.shipped |= {("Namespace", n) for n in ("default", "kube-system", "kube-public", "kube-node-lease")}
    # An engine this clustergen does not know: its namespace is taken to be the default engine's.
    facts.shipped.add(("Namespace", (engine or ENGINES[DEFAULT_ENGINE]).namespace))
    facts.shipped |= {("PriorityClass", "system-cluster-critical"), ("PriorityClass", "system-node-critical")}
    facts.shipped_groups |= engine.api_groups if engine else set()
    if facts.distribution == "k3s":
        facts.shipped_groups |= _K3S_GROUPS
        facts.shipped |= {("RuntimeClass", n) for n in _K3S_RUNTIME_CLASSES}
        if "local-storage" in packaged:
            facts.shipped |= {("StorageClass", "local-path")}
            facts.shipped_provisioners.add("rancher.io/local-path")
        if "traefik" in packaged:
            facts.shipped |= {("IngressClass", "traefik")}
        if "servicelb" in packaged:
            facts.load_balancers.add("servicelb")
        facts.shipped_pods += [("kube-system", labels) for name, labels in _K3S_PODS.items() if name in packaged]
    elif facts.distribution == "talos":
        facts.shipped_pods += [("kube-system", labels) for labels in _TALOS_PODS]
    facts.load_balancers |= {str(lb) for lb in data.get("loadBalancers") or [] if lb != "metallb"}
    facts.backups = bool(data.get("backups"))
    facts.ingress_public = bool(data.get("ingressPublic"))
    return facts


def _node(raw: dict) -> Node:
    labels = {str(k): str(v) for k, v in mapping(raw.get("labels")).items()}
    taints = [Taint(str(t.get("key")), None if t.get("value") is None else str(t.get("value")), str(t.get("effect")))
              for t in raw.get("taints") or [] if isinstance(t, dict)]
    allocatable = mapping(raw.get("allocatable"))
    return Node(str(raw.get("name", "?")), labels, taints,
                millicores(allocatable.get("cpu")), bytes_of(allocatable.get("memory")))
