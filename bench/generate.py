"""Benchmark `clustergen generate`: wall time (interpreter start included) and peak memory.

Runs the CLI as a subprocess, as a user would, over the mixed-shelf example and
synthetic inventories of 10/50/200 nodes with 20/50/100 apps. Prints a table.
Usage: python bench/generate.py [--repeat N]
       python bench/generate.py --scale   # 100-1,000 nodes with 100 apps: time per node, peak memory
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def synthetic_inventory(nodes: int, apps: int, distribution: str = "k3s", engine: str = "flux") -> str:
    lines = [
        "apiVersion: clustergen.dev/v1alpha1",
        "kind: Inventory",
        "cluster: {name: bench, domain: bench.example.com}",
        f"distribution: {{name: {distribution}}}",
        f"gitops: {{repository: https://github.com/example/bench.git, engine: {engine}}}",
        "network:",
        "  nodeCidr: 10.20.0.0/16",
        "  gateway: 10.20.0.1",
        "  controlPlaneEndpoint: 10.20.0.5",
        "  loadBalancerPool: 10.20.255.0/24",
        "nodes:",
    ]
    profiles = ["mini-pc", "server", "laptop", "rpi4"]
    for i in range(nodes):
        profile = profiles[i % len(profiles)]
        lines += [
            f"  - name: node{i:03d}",
            f"    address: 10.20.{1 + i // 250}.{1 + i % 250}",
            f'    mac: "02:00:00:00:{i // 256:02x}:{i % 256:02x}"',
            f"    profile: {profile}",
            f"    memory: {4 if profile == 'rpi4' else 16}Gi",
        ]
        if i == 1:
            lines += ["    devices:", "      - {name: zigbee, type: zigbee, path: /dev/serial/by-id/usb-bench-zigbee}"]
    lines += ["components: {ingress: traefik, tls: {issuer: selfsigned}, loadBalancer: metallb, monitoring: true}", "apps:"]
    catalog = ["mosquitto", "home-assistant", "zigbee2mqtt", "node-red"]
    for j in range(apps):
        if j < len(catalog):
            lines.append(f"  - name: {catalog[j]}")
        else:
            lines += [
                f"  - name: app{j:03d}",
                f"    image: docker.io/example/app{j:03d}:1.{j}.0",
                "    ports: [{name: http, port: 8080}]",
                "    ingress: true",
                "    persistence: [{name: data, mountPath: /data, size: 2Gi}]",
            ]
    return "\n".join(lines) + "\n"


def run_once(inventory: Path, keep_in: Path | None = None) -> tuple[float, float]:
    """One fresh generate; its output is removed afterwards, or with keep_in kept there (to be
    removed after the whole series, so that no run starts right after thousands of deletions)."""
    if keep_in is not None:
        return _timed_generate(inventory, Path(tempfile.mkdtemp(dir=keep_in)) / "repo")
    with tempfile.TemporaryDirectory() as tmp:
        return _timed_generate(inventory, Path(tmp) / "repo")


def _timed_generate(inventory: Path, out: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "generator.cli", "generate", str(inventory), "-o", str(out)], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"generate failed for {inventory}:\n{result.stderr}")
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return wall, peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scale", action="store_true",
                        help="only synthetic k3s inventories of 100/250/500/1000 nodes with 100 apps, for the linearity check")
    parser.add_argument("--defer-cleanup", action="store_true",
                        help="with --scale: remove the outputs after the whole series, not after each run (on ext4, creating "
                        "thousands of files right after deleting thousands is several times slower than on a quiet disk)")
    args = parser.parse_args()
    if args.scale:
        scale(args.repeat, args.defer_cleanup)
        return
    cases: list[tuple[str, Path]] = [
        ("mixed-shelf example (5 nodes, 4 apps)", ROOT / "examples" / "mixed-shelf.yaml"),
        # A fresh Talos repository also makes its CAs, one of them an RSA-4096 key.
        ("talos-argocd example (4 nodes, 4 apps)", ROOT / "examples" / "talos-argocd.yaml"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for nodes, apps in ((10, 20), (50, 50), (200, 100)):
            path = Path(tmp) / f"bench-{nodes}-{apps}.yaml"
            path.write_text(synthetic_inventory(nodes, apps))
            cases.append((f"synthetic {nodes} nodes, {apps} apps", path))
        path = Path(tmp) / "bench-talos-argocd-200-100.yaml"
        path.write_text(synthetic_inventory(200, 100, "talos", "argocd"))
        cases.append(("synthetic talos+argocd 200 nodes, 100 apps", path))
        print(f"{'case':46} {'median s':>9} {'min s':>7} {'peak MiB':>9}")
        for label, path in cases:
            runs = [run_once(path) for _ in range(args.repeat)]
            walls = [w for w, _ in runs]
            print(f"{label:46} {statistics.median(walls):9.3f} {min(walls):7.3f} {max(p for _, p in runs):9.1f}")


def scale(repeat: int, defer_cleanup: bool = False) -> None:
    """Fresh generate of 100-1,000 nodes with 100 apps: wall, peak memory, and ms per node
    beyond the first 100 (flat when time is linear in nodes)."""
    cleanup = "outputs removed after the series" if defer_cleanup else "each output removed before the next run"
    print(f"{'nodes':>6} {'median s':>9} {'min s':>7} {'peak MiB':>9} {'ms/node over 100':>17}  (n={repeat}, 100 apps, {cleanup})")
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        keep_in = Path(tmp) / "outputs" if defer_cleanup else None
        if keep_in is not None:
            keep_in.mkdir()
        for nodes in (100, 250, 500, 1000):
            path = Path(tmp) / f"scale-{nodes}.yaml"
            path.write_text(synthetic_inventory(nodes, 100))
            runs = [run_once(path, keep_in) for _ in range(repeat)]
            med = statistics.median(w for w, _ in runs)
            base = med if base is None else base
            slope = f"{(med - base) / (nodes - 100) * 1000:17.2f}" if nodes > 100 else f"{'':17}"
            print(f"{nodes:6} {med:9.3f} {min(w for w, _ in runs):7.3f} {max(p for _, p in runs):9.1f} {slope}")


if __name__ == "__main__":
    main()
