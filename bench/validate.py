"""Benchmark the validation stage.

Generates N mixed-kind documents (default 10,000) as plain YAML files in a
temporary directory – no kustomization.yaml, so no kustomize subprocesses –
and times the full ``validate_repository`` pipeline on it (discovery, YAML
parsing, secret scan, schema validation, cross-references), serially and
with worker processes.  Then it times the schema-validation layer alone
(documents already parsed) with jsonschema-rs and with pure-Python
jsonschema, which is the comparison that chose the backend.

    python bench/validate.py [--docs 10000] [--per-file 20] [--jobs N]
    python bench/validate.py --pipeline-only --fault-every 100   # the 1%-faulty set, serially
    python bench/validate.py --repo mixed-shelf --repeat 9 [--cold]  # a generated example, whole processes

Each pipeline figure gives wall time and this process's CPU seconds (steadier on a shared
machine); kubeconform's own figure on the same files is `kubeconform -n 1 -summary`.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generator.validate import ValidateOptions, scan, validate_repository  # noqa: E402
from generator.validate.documents import parse_documents  # noqa: E402
from generator.validate.kubernetes import validate_documents  # noqa: E402
from generator.validate.schemas import SchemaStore  # noqa: E402

SHARED_CRDS = ROOT.parent / "shared" / "schemas" / "crds"


def _deployment(i: int) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: apps
  labels: {{app: app-{i}, tier: web}}
spec:
  replicas: {i % 3 + 1}
  selector:
    matchLabels: {{app: app-{i}}}
  template:
    metadata:
      labels: {{app: app-{i}}}
    spec:
      nodeSelector: {{kubernetes.io/arch: amd64}}
      containers:
        - name: app
          image: registry.home.example.com/app:{i}
          ports: [{{containerPort: 8080, name: http}}]
          env:
            - {{name: MODE, value: production}}
          resources:
            requests: {{cpu: 100m, memory: 64Mi}}
            limits: {{memory: 128Mi}}
          readinessProbe:
            httpGet: {{path: /healthz, port: http}}
"""


def _service(i: int) -> str:
    return f"""apiVersion: v1
kind: Service
metadata: {{name: app-{i}, namespace: apps}}
spec:
  selector: {{app: app-{i}}}
  ports: [{{port: 80, targetPort: http}}]
"""


def _configmap(i: int) -> str:
    return f"""apiVersion: v1
kind: ConfigMap
metadata: {{name: config-{i}, namespace: apps}}
data:
  LOG_LEVEL: info
  FEATURE_{i}: "true"
"""


def _ingress(i: int) -> str:
    return f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: app-{i}, namespace: apps}}
spec:
  rules:
    - host: app-{i}.home.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {{service: {{name: app-{i}, port: {{number: 80}}}}}}
"""


def _pvc(i: int) -> str:
    return f"""apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data-{i}, namespace: apps}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: local-path
  resources: {{requests: {{storage: 1Gi}}}}
"""


def _helmrelease(i: int) -> str:
    return f"""apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: release-{i}, namespace: flux-system}}
spec:
  interval: 30m
  chart:
    spec:
      chart: podinfo
      version: "6.x"
      sourceRef: {{kind: HelmRepository, name: podinfo}}
  values:
    replicaCount: {i % 2 + 1}
"""


def _kustomization(i: int) -> str:
    return f"""apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: ks-{i}, namespace: flux-system}}
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef: {{kind: GitRepository, name: flux-system}}
"""


GENERATORS = [_deployment, _service, _configmap, _ingress, _pvc, _helmrelease, _kustomization]

PREAMBLE = """apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 1m, url: "https://git.home.example.com/home/cluster", ref: {branch: main}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: podinfo, namespace: flux-system}
spec: {interval: 1h, url: "https://stefanprodan.github.io/podinfo"}
"""

FACTS = """cluster: {name: home, domain: home.example.com}
distribution: k3s
engine: flux
storageClasses: [local-path]
nodes:
  - name: nuc1
    labels: {kubernetes.io/hostname: nuc1, kubernetes.io/arch: amd64, kubernetes.io/os: linux}
"""


def _faulty(text: str) -> str:
    """The document with a schema fault: a Flux object's interval, or else its namespace, a
    list instead of a string (the Flux CRDs' schemas do not describe metadata)."""
    if "\n  interval: " in text:
        return re.sub(r"\n  interval: (\S+)", r"\n  interval: [\1]", text, count=1)
    return re.sub(r"namespace: ([a-z][a-z-]*)", r"namespace: [\1]", text, count=1)


def generate(root: Path, docs: int, per_file: int, fault_every: int = 0) -> None:
    """``fault_every`` N > 0: one document in N (spread over the files) has a schema fault."""
    (root / "apps").mkdir(parents=True)
    (root / ".clustergen").mkdir()
    (root / ".clustergen" / "facts.yaml").write_text(FACTS)
    (root / "apps" / "sources.yaml").write_text(PREAMBLE)
    made = 2
    n = 0
    while made < docs:
        chunk = []
        for _ in range(min(per_file, docs - made)):
            # One of each kind per group, named alike, so Ingress, Service and Deployment meet.
            n_kind = made - 2  # after the two sources
            text = GENERATORS[n_kind % len(GENERATORS)](n_kind // len(GENERATORS))
            chunk.append(_faulty(text) if fault_every and n_kind % fault_every == fault_every // 2 else text)
            made += 1
        (root / "apps" / f"resources-{n:05d}.yaml").write_text("---\n".join(chunk))
        n += 1


def peak_mib() -> float:
    # RUSAGE_CHILDREN is no help: a forked worker (or git) reports the
    # parent's pages it shared at fork time as its own peak.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_pipeline(root: Path, jobs: int, locations: tuple[str, ...], repeat: int, cold: bool = False) -> None:
    # Several runs after a warm-up, min and median quoted: this shared 2-core VM's timings
    # wander by ±30 %. Workers are forced on (the pipeline itself keeps them for >16 MB of
    # YAML) so this measures what they would give.
    import statistics

    scan.PARALLEL_MIN_BYTES = 0 if jobs > 1 else scan.PARALLEL_MIN_BYTES
    # The cache folder sits beside the repository: inside it, its files would be scanned too.
    cache = root.parent / "cache"
    options = ValidateOptions(jobs=jobs, schema_locations=locations, cache_dir=cache, charts="local")
    validate_repository(root, options)  # warm-up: schema compilation caches, page cache
    walls, cpus = [], []
    for _ in range(repeat):
        if cold:  # every file parsed again, as by a first run
            shutil.rmtree(cache / "parsed", ignore_errors=True)
        start, start_cpu = time.perf_counter(), time.process_time()
        report = validate_repository(root, options)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)  # steadier than wall on a shared machine
    t = report.totals()
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    own = peak_mib()
    print(f"pipeline jobs={jobs} ({repeat} runs after a warm-up, {'parse cache emptied before each' if cold else 'parses kept'}): {t.total} documents in {report.files} files; "
          f"wall median {wall:.3f} s ({t.total / wall:,.0f} docs/s), min {min(walls):.3f} s ({t.total / min(walls):,.0f} docs/s); "
          f"CPU in this process median {cpu:.3f} s ({t.total / cpu:,.0f} docs/CPU-s), min {min(cpus):.3f} s "
          f"(valid {t.valid}, invalid {t.invalid}, skipped {t.skipped}, faults {len(report.faults)}); "
          f"peak RSS of this process {own:.0f} MiB")


def run_repo(example: str, repeat: int, cold: bool) -> None:
    """``clustergen validate --charts local`` of a generated example, as whole processes
    (interpreter start included): our own charts and kustomize, no network. Warm: the Helm
    results and kustomize builds kept by an earlier run are reused (one untimed run first);
    ``cold``: every cache folder is emptied before each run."""
    import os
    import statistics
    import subprocess

    tmp = Path(tempfile.mkdtemp(prefix="clustergen-bench-repo-"))
    try:
        repo = tmp / "repo"
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "xdg"), "HOME": str(tmp / "home")}
        exe = [sys.executable, "-m", "generator.cli"]
        subprocess.run([*exe, "generate", str(ROOT / "examples" / f"{example}.yaml"), "-o", str(repo)],
                       env=env, check=True, capture_output=True, cwd=ROOT)
        command = [*exe, "validate", str(repo), "--charts", "local", "-o", "json"]
        walls, peaks, outputs = [], [], set()
        for i in range(repeat + 1):
            if cold:
                shutil.rmtree(tmp / "xdg", ignore_errors=True)
                shutil.rmtree(tmp / "home", ignore_errors=True)
            start = time.perf_counter()
            proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            assert proc.stdout is not None
            out = proc.stdout.read()
            _, status, usage = os.wait4(proc.pid, 0)  # the process's own peak, not its children's
            proc.returncode = os.waitstatus_to_exitcode(status)
            proc.stdout.close()
            wall = time.perf_counter() - start
            outputs.add(out)
            if i:  # the first run fills the caches (warm) or is the warm-up (cold)
                walls.append(wall)
                peaks.append(usage.ru_maxrss / 1024)
        same = "identical" if len(outputs) == 1 else f"{len(outputs)} DIFFERENT outputs"
        peak = f"; peak RSS median {statistics.median(peaks):.0f} MiB (the validate process; the Helm worker aside)"
        print(f"repo {example} validate --charts local ({'cold caches' if cold else 'warm caches'}, {repeat} runs "
              f"after one more): wall median {statistics.median(walls):.3f} s, min {min(walls):.3f} s, "
              f"max {max(walls):.3f} s; reports {same}{peak}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_schema_layer(root: Path, locations: tuple[str, ...], backend: str, limit: int) -> None:
    docs = []
    for path in sorted((root / "apps").glob("*.yaml")):
        docs.extend(parse_documents(path.read_text(), path.name))
    docs = docs[:limit]
    store = SchemaStore("1.34.0", locations, root.parent / "cache", backend)
    validate_documents(docs[:50], store, False, lambda d, p: None)  # compile outside the timing
    start = time.perf_counter()
    result = validate_documents(docs, store, False, lambda d, p: None)
    wall = time.perf_counter() - start
    print(f"schema layer {backend:>13}: {len(docs)} documents in {wall:.3f} s, "
          f"{len(docs) / wall:,.0f} docs/s, {len(result.faults)} faults")


def run_model_layer(docs: int, repeat: int) -> None:
    """The cluster model alone on a repository-shaped document set (bench/model.py)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import json
    import statistics

    from model import build  # bench/model.py

    from generator.validate.model import build_layers, run_model

    applied, engine, facts = build(docs, 20)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run_model(build_layers(applied, engine, {}, lambda d: json.dumps(d.data, sort_keys=True)), facts, True,
                  lambda d, p: None)
        times.append(time.perf_counter() - start)
    med = statistics.median(times)
    print(f"cluster model: {docs} documents, 20 nodes: median {med:.3f} s, min {min(times):.3f} s over {repeat} runs "
          f"({docs / med:,.0f} docs/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--per-file", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--python-limit", type=int, default=3000,
                        help="documents for the slow pure-Python jsonschema measurement")
    parser.add_argument("--fault-every", type=int, default=0,
                        help="one document in N gets a schema fault (100: the 1%%-faulty set)")
    parser.add_argument("--pipeline-only", action="store_true", help="time the whole pipeline only, serially")
    parser.add_argument("--repo", metavar="EXAMPLE",
                        help="instead: time `clustergen validate --charts local` of examples/EXAMPLE.yaml's repository")
    parser.add_argument("--cold", action="store_true",
                        help="empty the caches before every counted run (--repo: all of them; else: the parse cache)")
    args = parser.parse_args()
    if args.repo:
        run_repo(args.repo, args.repeat, args.cold)
        return
    locations = (str(SHARED_CRDS),) if SHARED_CRDS.is_dir() else ()
    if not locations:
        print(f"note: {SHARED_CRDS} missing; Flux kinds will count as skipped")
    tmp = Path(tempfile.mkdtemp(prefix="clustergen-bench-"))
    try:
        repo = tmp / "repo"
        generate(repo, args.docs, args.per_file, args.fault_every)
        import os

        cores = args.jobs or len(os.sched_getaffinity(0))
        run_pipeline(repo, 1, locations, args.repeat, args.cold)
        if args.pipeline_only:
            return
        if cores > 1:
            run_pipeline(repo, cores, locations, args.repeat, args.cold)
        run_schema_layer(repo, locations, "jsonschema-rs", args.docs)
        run_schema_layer(repo, locations, "jsonschema", min(args.docs, args.python_limit))
        run_model_layer(args.docs, args.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
