"""The write path's durability order, read from the system calls of a real run (strace).

kill -9 tests (test_regenerate.py) show the journal's logic; a power cut also needs the
disk to hold the staged files before the journal that commits them exists, and the renamed
targets before the journal that would redo them is removed. One filesystem sync per step
gives that order; these tests read it off the calls a real `clustergen generate` makes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT
from .regen_helpers import add_node, edit_inventory, generated_repo

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")

CALLS = "fsync,fdatasync,sync,syncfs,rename,renameat,renameat2,unlink,unlinkat,openat"


def _calls(args: list[str], cwd: Path, tmp_path: Path) -> list[str]:
    log = tmp_path / "strace.txt"
    result = subprocess.run(["strace", "-f", "-qq", "-e", f"trace={CALLS}", "-o", str(log), sys.executable, "-m", "generator.cli", *args],
                            cwd=cwd, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    if "ptrace" in result.stderr and "Operation not permitted" in result.stderr:
        pytest.skip("ptrace is not permitted here")
    assert result.returncode == 0, result.stderr
    # Only the main process: sops and git children sync nothing of ours.
    lines = log.read_text().splitlines()
    main_pid = lines[0].split()[0]
    return [line.split(None, 1)[1] for line in lines if line.split()[0] == main_pid and "= -1" not in line]


def _index(calls: list[str], pattern: str, last: bool = False) -> int:
    found = [i for i, call in enumerate(calls) if re.search(pattern, call)]
    assert found, pattern
    return found[-1] if last else found[0]


def _check_order(calls: list[str]) -> None:
    commit = _index(calls, r'^rename(at2?)?\(.*journal\.tmp", .*journal"')
    last_staged = _index(calls[:commit], r'^openat\(.*clustergen-stage/files/.*O_CREAT', last=True)
    assert any(c.startswith("syncfs(") or c.startswith("sync(") for c in calls[last_staged:commit]), \
        "no filesystem sync between the last staged file and the commit rename"
    done = _index(calls, r'^unlink(at)?\(.*clustergen-stage/journal"')
    last_target = _index(calls[:done], r'^rename(at2?)?\(.*clustergen-stage/files/', last=True)
    assert any(c.startswith("syncfs(") or c.startswith("sync(") for c in calls[last_target:done]), \
        "no filesystem sync between the last rename into the repository and the journal's removal"
    assert commit < last_target < done
    # The commit rename itself is made durable (the stage folder fsynced) before applying.
    first_target = _index(calls, r'^rename(at2?)?\(.*clustergen-stage/files/')
    assert any(c.startswith(("fsync(", "syncfs(", "sync(")) for c in calls[commit:first_target])


def test_fresh_generate_syncs_before_commit_and_before_finishing(tmp_path: Path) -> None:
    calls = _calls(["generate", str(ROOT / "examples" / "mixed-shelf.yaml"), "-o", str(tmp_path / "repo")], ROOT, tmp_path)
    _check_order(calls)
    # One sync per step, not one per file: a hundred files, a handful of sync calls.
    syncs = [c for c in calls if c.startswith(("fsync(", "fdatasync(", "syncfs(", "sync("))]
    assert len(syncs) <= 6, syncs


def test_regeneration_keeps_the_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = generated_repo(tmp_path)
    edit_inventory(repo, add_node)
    _check_order(_calls(["generate"], repo, tmp_path))


def _convert_to_old_layout(stage: Path) -> list[str]:
    """A committed stage as a clustergen before numbered staging left it: each file at its path."""
    import json

    journal = json.loads((stage / "journal").read_text())
    assert journal.pop("staged") == "numbered"
    numbered = sorted((stage / "files").iterdir(), key=lambda p: int(p.name))
    assert [p.name for p in numbered] == [str(i) for i in range(len(journal["write"]))]
    assert all(p.is_file() and not p.is_symlink() for p in numbered)  # one flat folder
    for i, path in enumerate(journal["write"]):
        target = stage / "files" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        (stage / "files" / str(i)).rename(target)
    (stage / "journal").write_text(json.dumps(journal))
    return journal["write"]


@pytest.mark.parametrize("layout", ["numbered", "old"])
def test_a_committed_stage_is_finished_in_either_layout(layout: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    from generator.cli import main
    from generator.write.transaction import recover, stage_folder

    from .regen_helpers import tree
    from .test_regenerate import _run_until_paused

    repo = generated_repo(tmp_path)
    edit_inventory(repo, add_node)
    finished = tmp_path / "finished"
    shutil.copytree(repo, finished, symlinks=True)
    monkeypatch.chdir(finished)
    assert main(["generate"]) == 0
    process = _run_until_paused(repo, "committed")
    process.send_signal(signal.SIGKILL)
    process.wait()
    stage = stage_folder(repo)
    if layout == "old":
        written = _convert_to_old_layout(stage)
        assert any("/" in path for path in written)
    # The recovery alone (not the regeneration that follows it) brings the new tree.
    note = recover(repo)
    assert note is not None and note[0].startswith("finished the interrupted run's update")
    assert tree(repo) == tree(finished)
    assert not stage.exists()
