"""This checkout of clustergen against another one, paired and interleaved.

On a shared machine whose speed drifts by tens of percent within minutes, two medians taken
one after the other say little; the ratio of runs made side by side, A B A B ..., holds.
The other checkout is any folder with clustergen's sources, for instance
``git worktree add ../base <commit>``. Each side runs its own generator with this interpreter,
its own bytecode and cache folders, as whole processes (interpreter start included).

    python bench/paired.py --vs ../base [--case fresh|add-node] [--runs 21]

fresh     generate mixed-shelf into a new empty folder
add-node  append a node to a copy of mixed-shelf's generated repository and regenerate it
Prints min and median wall seconds of each side, and the median of the per-pair ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from peer_makejinja import timed  # noqa: E402
from regenerate import NEW_NODE  # noqa: E402


def environment(tree: Path, scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(tree), PYTHONPYCACHEPREFIX=str(scratch / "pycache"), XDG_CACHE_HOME=str(scratch / "cache"))
    return env


class Side:
    """One checkout's runs of the case."""

    def __init__(self, tree: Path, scratch: Path, case: str, inventory: Path):
        self.tree, self.scratch, self.case = tree, scratch, case
        self.env = environment(tree, scratch)
        self.inventory = inventory
        self.repo = scratch / "repo"
        if case == "add-node":
            self._run(["generate", str(inventory), "-o", str(self.repo)], tree)
            for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", "generated"]):
                subprocess.run(["git", "-C", str(self.repo), *args], check=True, capture_output=True)

    def _run(self, arguments: list[str], cwd: Path) -> tuple[float, float]:
        return timed([sys.executable, "-m", "generator.cli", *arguments], cwd, self.env)

    def once(self) -> float:
        work = self.scratch / "run"
        shutil.rmtree(work, ignore_errors=True)
        if self.case == "fresh":
            wall = self._run(["generate", str(self.inventory), "-o", str(work)], self.tree)[0]
        else:
            shutil.copytree(self.repo, work, symlinks=True)
            inventory = work / "inventory.yaml"
            inventory.write_text(inventory.read_text().replace("components:", NEW_NODE + "components:", 1))
            wall = self._run(["generate"], work)[0]
        shutil.rmtree(work, ignore_errors=True)
        return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vs", type=Path, required=True, help="the other checkout (a folder holding generator/)")
    parser.add_argument("--case", choices=("fresh", "add-node"), default="fresh")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--inventory", type=Path, default=ROOT / "examples" / "mixed-shelf.yaml")
    args = parser.parse_args()
    other = args.vs.resolve()
    if not (other / "generator" / "cli.py").is_file():
        raise SystemExit(f"{other} holds no clustergen checkout (no generator/cli.py)")
    with tempfile.TemporaryDirectory() as tmp:
        sides = [Side(tree, Path(tmp) / name, args.case, args.inventory.resolve()) for tree, name in ((ROOT, "this"), (other, "other"))]
        for side in sides:
            side.once()  # warms bytecode and caches; not counted
        this, that = [], []
        for i in range(args.runs):
            first, second = (sides[0], sides[1]) if i % 2 == 0 else (sides[1], sides[0])
            walls = {id(first): first.once(), id(second): second.once()}
            this.append(walls[id(sides[0])])
            that.append(walls[id(sides[1])])
    print(f"{args.case} of {args.inventory.name}: {ROOT} against {other} ({args.runs} pairs, interleaved, order alternating)")
    for label, runs in (("this", this), ("other", that)):
        print(f"  {label:6} wall min {min(runs):.3f} s, median {statistics.median(runs):.3f} s")
    ratios = [a / b for a, b in zip(this, that, strict=True)]
    print(f"  median of pair ratios this/other: {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")


if __name__ == "__main__":
    main()
