"""Fresh `clustergen generate` against a makejinja render, paired and interleaved.

The peer is any makejinja project you have: a folder with a makejinja.toml (we used
onedr0p/cluster-template's own fixture, rendered by makejinja from the package registry in a
venv of its own). Nothing is fetched: pass the folder and the makejinja program.

    python bench/peer_makejinja.py --project ~/src/cluster-template --makejinja ~/mj/bin/makejinja [--runs 15]

Each pair runs clustergen into a new empty folder (interpreter start included, bytecode cached
in a private folder as for an installed package) and then makejinja in its project (which
overwrites its output). Prints min and median wall and CPU seconds of each, and the median
of the per-pair ratios, which holds when the machine's speed drifts during the run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, children included) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} exited {done.returncode}:\n{done.stderr.decode(errors='replace')}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, required=True, help="a folder with a makejinja.toml")
    parser.add_argument("--makejinja", required=True, help="the makejinja program")
    parser.add_argument("--inventory", type=Path, default=ROOT / "examples" / "mixed-shelf.yaml")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    if not (args.project / "makejinja.toml").is_file():
        raise SystemExit(f"{args.project} has no makejinja.toml")
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"), XDG_CACHE_HOME=str(Path(tmp) / "cache"))
        output = Path(tmp) / "repo"
        ours_command = [sys.executable, "-m", "generator.cli", "generate", str(args.inventory), "-o", str(output)]
        peer_command = [args.makejinja]
        ours, peer = [], []
        for i in range(args.runs + 1):
            shutil.rmtree(output, ignore_errors=True)
            a = timed(ours_command, ROOT, env)
            b = timed(peer_command, args.project, env)
            if i:  # the first pair warms bytecode and caches
                ours.append(a)
                peer.append(b)
    print(f"fresh generate of {args.inventory.name} vs makejinja in {args.project} ({args.runs} pairs, interleaved)")
    print(f"{'':12} {'wall min':>9} {'wall med':>9} {'cpu min':>9} {'cpu med':>9}")
    for label, runs in (("clustergen", ours), ("makejinja", peer)):
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(f"{label:12} {min(walls):9.3f} {statistics.median(walls):9.3f} {min(cpus):9.3f} {statistics.median(cpus):9.3f}")
    print(f"median of pair ratios clustergen/makejinja: wall {statistics.median(a[0] / b[0] for a, b in zip(ours, peer, strict=True)):.3f}, "
          f"cpu {statistics.median(a[1] / b[1] for a, b in zip(ours, peer, strict=True)):.3f}")


if __name__ == "__main__":
    main()
