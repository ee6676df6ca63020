"""Fuzz: 2,000 structured mutations of the bundled examples per run, loader and planner
in-process (two worker processes), never an exception but ClustergenError; a few of the
cases then go through the CLI, where an error must mean exit 2 and nothing written.

The seed changes every day (CLUSTERGEN_FUZZ_SEED fixes it), so runs explore new cases
while a failure stays reproducible: its message names the seed and the case."""

from __future__ import annotations

import datetime
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from generator.cli import main

from .fuzz_inventory import Outcome, run

CASES = 2000
TIME_LIMIT = 300.0  # a guard against a hang: about 28 s on an idle 2-core machine, 124 s under heavy load
SEED = int(os.environ.get("CLUSTERGEN_FUZZ_SEED") or datetime.date.today().strftime("%Y%m%d"))


def test_fuzzed_inventories_never_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = min(2, len(os.sched_getaffinity(0)))
    started = time.monotonic()
    chunks = [(SEED, CASES // jobs, i * (CASES // jobs)) for i in range(jobs)]
    counts: Counter = Counter()
    crashes = []
    samples = Outcome()
    # spawn: this test process may hold threads (Go's, from earlier Helm tests) that fork would copy.
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        for outcome in pool.map(run, *zip(*chunks, strict=True)):
            counts.update(outcome.counts)
            crashes.extend(outcome.crashes)
            samples.error_texts.extend(outcome.error_texts)
            samples.ok_texts.extend(outcome.ok_texts)
    elapsed = time.monotonic() - started
    assert sum(counts.values()) == CASES
    assert not crashes, f"seed {SEED}: {len(crashes)} crash(es); first, case {crashes[0][0]}:\n{crashes[0][1]}\n{crashes[0][2][:2000]}"
    assert elapsed < TIME_LIMIT, f"{CASES} cases took {elapsed:.0f} s"
    assert counts["ok"] and counts["error"], counts

    # The same contract through the CLI, on a few of them: exit 2 writes nothing.
    for i, text in enumerate(samples.error_texts[:4] + samples.ok_texts[:1]):
        inventory = tmp_path / f"case{i}.yaml"
        inventory.write_text(text, encoding="utf-8", errors="surrogatepass")
        out = tmp_path / f"out{i}"
        code = main(["generate", str(inventory), "-o", str(out)])
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert code in (0, 2), err
        if code == 2:
            assert not out.exists(), f"exit 2 but {out} was written"
