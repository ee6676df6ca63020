"""Benchmark regenerating an existing repository: wall time, interpreter start included.

Two cases on the mixed-shelf example, each run as `clustergen generate` in a
subprocess inside the repository, as a user would:
  no-op      nothing changed: must write zero files (checked), target ≤ 0.15 s; the run finds
             the previous run's record (write/uptodate.py) and replays it
  no-op, full the same with the record removed first: what a no-op costs without it
  add node   one node appended to inventory.yaml: merges, new cloud-init files, target ≤ 0.20 s
Bytecode is cached (in a private folder) as it is for an installed package;
the first run warms it and is not counted.
With --nodes N the repository is bench/generate.py's synthetic k3s inventory of N nodes and
100 apps instead (the large-inventory case; the targets above are mixed-shelf's).
Usage: python bench/regenerate.py [--repeat N] [--nodes N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEW_NODE = """  - name: pi3
    address: 192.168.50.23
    mac: "b8:27:eb:00:00:23"
    profile: rpi3
    memory: 1Gi
"""


def environment(pycache: Path, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(pycache), XDG_CACHE_HOME=str(cache))
    return env


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def timed_generate(repo: Path, env: dict[str, str], expect: int) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "generator.cli", "generate"], cwd=repo, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if result.returncode != expect:
        raise SystemExit(f"generate exited {result.returncode}, expected {expect}:\n{result.stdout}{result.stderr}")
    return wall


def mtimes(repo: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}


SYNTHETIC_NEW_NODE = """  - name: nodenew
    address: 10.20.100.1
    mac: "02:00:00:01:00:01"
    profile: mini-pc
    memory: 16Gi
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=0, help="a synthetic inventory of this many nodes and 100 apps instead of mixed-shelf")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = environment(Path(tmp) / "pycache", Path(tmp) / "cache")
        records = Path(tmp) / "cache" / "clustergen" / "runs"
        repo = Path(tmp) / "repo"
        source = ROOT / "examples" / "mixed-shelf.yaml"
        new_node, new_name, title = NEW_NODE, "pi3", "mixed-shelf regeneration"
        if args.nodes:
            sys.path.insert(0, str(ROOT / "bench"))
            from generate import synthetic_inventory

            source = Path(tmp) / "synthetic.yaml"
            source.write_text(synthetic_inventory(args.nodes, 100))
            new_node, new_name, title = SYNTHETIC_NEW_NODE, "nodenew", f"{args.nodes} nodes, 100 apps"
        subprocess.run([sys.executable, "-m", "generator.cli", "generate", str(source), "-o", str(repo)], env=env, check=True, capture_output=True)
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", "generated")
        timed_generate(repo, env, 0)  # warm the bytecode cache
        before = mtimes(repo)
        noop = [timed_generate(repo, env, 0) for _ in range(args.repeat)]
        full_noop = []
        for _ in range(args.repeat):
            shutil.rmtree(records, ignore_errors=True)
            full_noop.append(timed_generate(repo, env, 0))
        if mtimes(repo) != before:
            raise SystemExit("a no-op regeneration wrote files")
        add_node = []
        for i in range(args.repeat):
            copy = Path(tmp) / f"copy{i}"
            shutil.copytree(repo, copy, symlinks=True)
            inventory = copy / "inventory.yaml"
            inventory.write_text(inventory.read_text().replace("components:", new_node + "components:", 1))
            add_node.append(timed_generate(copy, env, 0))
            if not (copy / "bootstrap" / "cloud-init" / new_name / "user-data").is_file():
                raise SystemExit("the add-node regeneration did not write the new node's files")
            shutil.rmtree(copy)
    print(f"{title:28} {'median s':>9} {'min s':>7} {'max s':>7}  (n={args.repeat}, interpreter start included)")
    targets = not args.nodes
    for label, runs in (("no-op" + (" (target <= 0.15 s)" if targets else ""), noop), ("no-op, full run", full_noop),
                        ("add a node" + (" (target <= 0.2 s)" if targets else ""), add_node)):
        print(f"{label:28} {statistics.median(runs):9.3f} {min(runs):7.3f} {max(runs):7.3f}")


if __name__ == "__main__":
    main()
