"""A regeneration with nothing to do skips planning and rendering (write/uptodate.py), prints
exactly what the full run prints, and anything that could change the output sends it back to
the full run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import generator.pipeline as pipeline
from generator.cli import main
from generator.write import uptodate
from generator.write.layout import STATE_PATH

from .regen_helpers import RELEASES, commit_all, edit_inventory, generated_repo, insert_before, move_timezone


@pytest.fixture
def full_runs(monkeypatch):
    """How many runs planned (the full path) rather than replaying."""
    count: list[int] = []
    original = pipeline.build_plan

    def counting(path):
        count.append(1)
        return original(path)

    monkeypatch.setattr(pipeline, "build_plan", counting)
    return count


@pytest.fixture
def repo(tmp_path, monkeypatch):
    repo = generated_repo(tmp_path)
    monkeypatch.chdir(repo)
    return repo


def _generate(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["generate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_second_run_replays_exactly_what_the_full_run_printed(repo, capsys, full_runs):
    full = _generate(capsys)  # the first run here: it records its inputs
    replayed = _generate(capsys)
    assert full_runs == [1]
    assert replayed == full
    code, out, err = replayed
    assert code == 0 and " 0 written, " in out and "warning" in err  # mixed-shelf's SD card warnings, again


def test_a_replay_writes_nothing(repo, capsys, full_runs):
    _generate(capsys)
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    _generate(capsys)
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert full_runs == [1] and after == before


def _edit_inventory(repo: Path) -> None:
    inventory = repo / "inventory.yaml"
    inventory.write_text(inventory.read_text() + "\n")  # the same data, other bytes: the full run decides
    commit_all(repo, "inventory")


def _edit_generated_file(repo: Path) -> None:
    readme = repo / "README.md"
    readme.write_text(readme.read_text() + "\nMy own notes.\n")
    commit_all(repo, "readme")


def _delete_generated_file(repo: Path) -> None:
    (repo / "docs" / "topology.md").unlink()
    commit_all(repo, "no topology")


def _change_a_mode(repo: Path) -> None:
    os.chmod(repo / "README.md", 0o600)


def _edit_state(repo: Path) -> None:
    state = repo / STATE_PATH
    state.write_text(state.read_text().replace("# Written by clustergen", "# written by clustergen", 1))
    commit_all(repo, "state")


def _another_clustergen(repo: Path, monkeypatch) -> None:
    monkeypatch.setattr(uptodate, "code_fingerprint", lambda: "another clustergen")


def _damage_the_record(repo: Path) -> None:
    records = list((Path(os.environ["XDG_CACHE_HOME"]) / "clustergen" / "runs").iterdir())
    for record in records:
        record.write_text("{not json")


def _link_a_folder(repo: Path) -> None:
    outside = repo.parent / "outside-docs"
    (repo / "docs").rename(outside)
    (repo / "docs").symlink_to(outside)
    commit_all(repo, "docs elsewhere")


@pytest.mark.parametrize("change", [
    _edit_inventory, _edit_generated_file, _delete_generated_file, _change_a_mode, _edit_state, _damage_the_record, _link_a_folder,
])
def test_anything_that_could_change_the_output_means_the_full_run(repo, capsys, full_runs, change):
    _generate(capsys)
    change(repo)
    _generate(capsys)
    assert full_runs == [1, 1]


def test_another_clustergen_means_the_full_run(repo, capsys, full_runs, monkeypatch):
    _generate(capsys)
    _another_clustergen(repo, monkeypatch)
    _generate(capsys)
    assert full_runs == [1, 1]


def test_the_same_inventory_given_by_another_path_is_run_in_full(repo, capsys, full_runs):
    # Warnings name the inventory as it was given, so a replay would print the wrong name.
    _generate(capsys)
    code, _, err = _generate(capsys, str(repo / "inventory.yaml"))
    assert full_runs == [1, 1] and code == 0 and f"{repo / 'inventory.yaml'}:" in err


def test_a_dry_run_is_never_a_replay(repo, capsys, full_runs):
    _generate(capsys)
    code, out, err = _generate(capsys, "--dry-run")
    assert full_runs == [1, 1] and code == 0 and "dry run, nothing written; 0 file(s) would change" in err


def test_strict_fails_on_the_replayed_warnings_as_on_the_full_run(repo, capsys, full_runs):
    full = _generate(capsys, "--strict")
    assert full[0] == 2 and full_runs == [1]  # the strict run wrote nothing and recorded nothing
    _generate(capsys)
    replayed = _generate(capsys, "--strict")
    assert full_runs == [1, 1] and replayed == full


def test_a_kept_edit_replays_what_the_full_run_prints(repo, capsys, full_runs):
    _edit_generated_file(repo)
    _generate(capsys)  # keeps the user's README: the repository is as this run leaves it
    replayed = _generate(capsys)
    _damage_the_record(repo)
    full = _generate(capsys)
    assert full_runs == [1, 1] and replayed == full


def test_a_run_that_merged_is_not_recorded(repo, capsys, full_runs):
    node_red = repo / RELEASES / "node-red-values.yaml"
    node_red.write_text(insert_before(node_red.read_text(), "    nodeSelector:", "    resources:\n      limits:\n        memory: 512Mi\n"))
    edit_inventory(repo, move_timezone)  # changes node-red's values elsewhere: a clean merge
    commit_all(repo, "my edits")
    code, out, _ = _generate(capsys)
    assert code == 0 and "merged your edits into" in out
    commit_all(repo, "regenerated")
    assert _generate(capsys)[0] == 0
    assert full_runs == [1, 1]


@pytest.fixture
def fake_clustergen(tmp_path, monkeypatch):
    """clustergen's own files, as a small tree the fingerprint is taken over."""
    package = tmp_path / "generator"
    (package / "catalog").mkdir(parents=True)
    (package / "catalog" / "apps.yaml").write_text("apps: {}\n")
    (package / "__pycache__").mkdir()
    data = tmp_path / "data"
    for name in ("charts", "bases", "overlays", "bootstrap"):
        (data / name).mkdir(parents=True)
    (data / "bases" / "release.yaml.j2").write_text("kind: HelmRelease\n")
    monkeypatch.setattr(uptodate, "_PACKAGE", package)
    monkeypatch.setattr(uptodate, "data_root", lambda: data)
    uptodate.code_fingerprint.cache_clear()
    yield package, data
    uptodate.code_fingerprint.cache_clear()


def _fingerprint() -> str:
    uptodate.code_fingerprint.cache_clear()
    return uptodate.code_fingerprint()


def test_the_fingerprint_follows_every_file_that_shapes_output(fake_clustergen):
    package, data = fake_clustergen
    first = _fingerprint()
    assert _fingerprint() == first  # nothing changed
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    assert _fingerprint() == first  # bytecode is not a source
    template = data / "bases" / "release.yaml.j2"
    template.write_text("kind: Kustomization\n")  # same size, new time
    os.utime(template, ns=(template.stat().st_atime_ns, template.stat().st_mtime_ns + 1_000_000))
    second = _fingerprint()
    assert second != first
    (package / "catalog" / "apps.yaml").write_text("apps: {a: 1}\n")
    third = _fingerprint()
    assert third not in (first, second)
    (data / "overlays" / "new.yaml").write_text("")
    assert _fingerprint() not in (first, second, third)


def test_a_library_that_shapes_output_is_part_of_the_fingerprint(fake_clustergen, monkeypatch):
    original = uptodate._library_stamp
    first = _fingerprint()
    assert "jinja2" in uptodate._OUTPUT_LIBRARIES and "/jinja2" in original("jinja2")
    monkeypatch.setattr(uptodate, "_library_stamp", lambda name: original(name) + ("\0reinstalled" if name == "jinja2" else ""))
    assert _fingerprint() != first


def test_the_up_to_date_check_reads_the_inventory_through_its_checks(repo, tmp_path):
    """A FIFO given as the inventory is refused, as the full run refuses it; read plainly, it
    would block the check forever."""
    import subprocess
    import sys

    fifo = tmp_path / "inventory-fifo.yaml"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "generator.cli", "generate", str(fifo), "-o", str(repo)],
                          capture_output=True, text=True, timeout=120, check=False, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 2
    assert "is not a regular file (it is a FIFO)" in done.stderr


def test_only_the_most_recently_used_run_records_are_kept(tmp_path, monkeypatch, capsys, full_runs):
    """One record per repository folder: every folder ever generated into (a test's, a
    benchmark's) left one behind, 90 MB in a day."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(uptodate, "RUN_RECORDS_KEPT", 2)
    runs = tmp_path / "xdg" / "clustergen" / "runs"
    runs.mkdir(parents=True, mode=0o700)
    (tmp_path / "xdg" / "clustergen").chmod(0o700)
    now = 1_700_000_000
    for age, name in ((30, "a"), (20, "b"), (10, "c")):
        (runs / f"{name}.json").write_text("{}")
        os.utime(runs / f"{name}.json", (now - age, now - age))
    repo = generated_repo(tmp_path)  # records its run: the newest
    [record] = [p for p in runs.iterdir() if p.stem not in ("a", "b", "c")]
    assert sorted(p.name for p in runs.iterdir()) == sorted(["c.json", record.name])
    monkeypatch.chdir(repo)
    _generate(capsys)  # the inventory by its own path: a full run, recorded
    os.utime(record, (now - 100, now - 100))
    _generate(capsys)  # a replay: the record is used again
    assert full_runs == [1, 1]
    assert record.stat().st_mtime > (runs / "c.json").stat().st_mtime
