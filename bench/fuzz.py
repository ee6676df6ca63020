"""Fuzz the loader and planner with structured mutations of the bundled examples; print figures.

Usage: python bench/fuzz.py [--cases 10000] [--seed 14] [--jobs N]

Each case is an example inventory with one to three mutations (wrong types, huge numbers,
weird strings, deleted keys, duplicated or emptied lists, unknown keys; see
tests/fuzz_inventory.py), loaded and planned in-process. The contract: a ClustergenError
(the CLI's exit 2) or a plan (exit 0), never any other exception. Prints cases/s, the
count of each outcome, and every distinct crash with the index that reproduces it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz_inventory import Outcome, run  # noqa: E402


def _chunk(args: tuple[int, int, int]) -> Outcome:
    return run(*args, keep=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    size = max(1, args.cases // (args.jobs * 4))
    chunks = [(args.seed, min(size, args.cases - start), start) for start in range(0, args.cases, size)]
    started = time.perf_counter()
    counts: Counter = Counter()
    crashes = []
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        for outcome in pool.map(_chunk, chunks):
            counts.update(outcome.counts)
            crashes.extend(outcome.crashes)
    elapsed = time.perf_counter() - started
    total = sum(counts.values())
    print(f"{total} cases in {elapsed:.1f} s with {args.jobs} worker(s): {total / elapsed:.0f} cases/s "
          f"({elapsed / total * 1000 * args.jobs:.1f} ms per case per worker)")
    for outcome_name in ("ok", "error", "crash"):
        print(f"  {outcome_name:6} {counts[outcome_name]:6}  ({counts[outcome_name] / total:.1%})")
    distinct: dict[str, int] = {}
    for index, error, _ in crashes:
        distinct.setdefault(error.splitlines()[0], index)
    for error, index in distinct.items():
        print(f"crash (seed {args.seed}, case {index}): {error}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
