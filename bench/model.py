"""Benchmark the cluster model of `clustergen validate`.

Builds a synthetic cluster of N nodes and a repository-sized set of workloads
(Deployments, DaemonSets, Services, Ingresses, claims and namespaces in four
Flux layers), then times ``run_model`` alone, so the figure is the model's
cost without kustomize or Helm. Prints the median of R runs for each size,
so growth with the document count can be read off.

    python bench/model.py [--nodes 20] [--sizes 1000,5000,20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generator.validate.documents import Document  # noqa: E402
from generator.validate.model import build_layers, cluster_facts, run_model  # noqa: E402

LAYERS = ("infra-controllers", "infra-storage", "infra-configs", "apps")


def _objects(i: int) -> list[dict]:
    ns = f"ns{i % 50}"
    labels = {"app": f"a{i}"}
    pod = {"containers": [{"name": "c", "image": "x:1", "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}},
                           "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
           "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}}
    kind = "DaemonSet" if i % 25 == 0 else "Deployment"
    return [
        {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": f"a{i}", "namespace": ns},
         "spec": {"template": {"metadata": {"labels": labels}, "spec": pod}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"a{i}", "namespace": ns},
         "spec": {"selector": labels, "ports": [{"name": "http", "port": 80}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": f"a{i}", "namespace": ns},
         "spec": {"rules": [{"host": "h", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                  "backend": {"service": {"name": f"a{i}", "port": {"name": "http"}}}}]}}]}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": f"a{i}", "namespace": ns},
         "spec": {"storageClassName": "local-path"}},
    ]


def build(docs: int, nodes: int):
    applied: dict[str, list[Document]] = {f"Kustomization/flux-system/{n}": [] for n in LAYERS}
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns{i}"}} for i in range(50)]
    applied["Kustomization/flux-system/infra-controllers"] = [Document(d, "ns.yaml", -1, None) for d in namespaces]
    i = 0
    while sum(len(v) for v in applied.values()) < docs:
        applied[f"Kustomization/flux-system/{LAYERS[i % 4]}"] += [Document(d, "x.yaml", -1, None) for d in _objects(i)]
        i += 1
    engine = [Document({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                        "metadata": {"name": n, "namespace": "flux-system"},
                        "spec": {"dependsOn": [{"name": LAYERS[j - 1]}] if j else []}}, "e.yaml", -1, None)
              for j, n in enumerate(LAYERS)]
    facts = cluster_facts({"distribution": "k3s", "packaged": ["local-storage", "servicelb"], "nodes": [
        {"name": f"n{k}", "labels": {"kubernetes.io/arch": "amd64"}, "allocatable": {"cpu": "64", "memory": "256Gi"}}
        for k in range(nodes)]})
    return applied, engine, facts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--sizes", default="1000,5000,20000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        applied, engine, facts = build(size, args.nodes)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            layers = build_layers(applied, engine, {}, lambda d: json.dumps(d.data, sort_keys=True))
            result = run_model(layers, facts, True, lambda d, p: None)
            times.append(time.perf_counter() - start)
        med = statistics.median(times)
        print(f"model: {size:>6} documents, {args.nodes} nodes: median {med * 1000:.0f} ms, min {min(times) * 1000:.0f} ms "
              f"over {args.repeat} runs ({size / med:,.0f} docs/s), {len(result.faults)} faults")


if __name__ == "__main__":
    main()
