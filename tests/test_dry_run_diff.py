"""`clustergen diff` / `generate --dry-run`: exactly what the real run would change, and nothing written."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from generator.cli import main
from generator.write.diff import unified_diff
from generator.write.reconcile import FileUpdate
from generator.write.transaction import stage_folder

from .regen_helpers import (
    RELEASES,
    add_node,
    commit_all,
    edit_inventory,
    generated_repo,
    git,
    insert_before,
    move_timezone,
    replace_line,
    tree,
)


def _secret_paths(diff: str) -> set[str]:
    return {line.split()[3] for line in diff.splitlines() if line.startswith("# secret file ")}


def test_applying_the_diff_gives_the_real_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    mosquitto, node_red = (repo / RELEASES / f"{app}-values.yaml" for app in ("mosquitto", "node-red"))
    mosquitto.write_text(replace_line(mosquitto.read_text(), "      TZ: Europe/Amsterdam", "      TZ: UTC"))  # will conflict
    node_red.write_text(insert_before(node_red.read_text(), "    nodeSelector:", "    # mine\n"))  # will merge
    (repo / "docs" / "topology.md").unlink()
    facts = repo / ".clustergen" / "facts.yaml"  # the new node is appended right where the edit is
    facts.write_bytes(facts.read_bytes().rstrip(b"\n"))
    commit_all(repo, "edits")
    edit_inventory(repo, add_node, move_timezone)
    before = tree(repo)
    patched = tmp_path / "patched"
    shutil.copytree(repo, patched, symlinks=True)

    monkeypatch.chdir(repo)
    capsys.readouterr()
    assert main(["diff"]) == 0  # even with a conflict ahead
    captured = capsys.readouterr()
    diff = captured.out
    assert "would be" in captured.err and mosquitto.relative_to(repo).as_posix() in captured.err
    assert tree(repo) == before and not stage_folder(repo).exists()  # wrote nothing
    assert main(["generate", "--dry-run"]) == 0
    assert capsys.readouterr().out == diff
    assert "--- /dev/null\n+++ b/bootstrap/cloud-init/pi3/meta-data\n" in diff  # new files
    assert "+<<<<<<< yours (repository)\n" in diff  # the merge result, conflict and all
    assert "\\ No newline at end of file\n" in diff

    applied = subprocess.run(["git", "-C", str(patched), "apply", "--whitespace=nowarn", "-"], input=diff, text=True, capture_output=True, check=False)
    assert applied.returncode == 0, applied.stderr
    assert main(["generate"]) == 1
    real, from_diff = tree(repo), tree(patched)
    # Secret files are named, not shown: they alone differ, and exactly they were announced.
    changed_secrets = {p for p in set(real) | set(from_diff) if real.get(p) != from_diff.get(p)}
    assert changed_secrets == _secret_paths(diff)
    assert changed_secrets and all(p.endswith("/user-data") for p in changed_secrets)
    assert {p: d for p, d in real.items() if p not in changed_secrets} == {p: d for p, d in from_diff.items() if p not in changed_secrets}


def test_diff_of_an_up_to_date_repo_is_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    monkeypatch.chdir(repo)
    capsys.readouterr()
    assert main(["diff"]) == 0
    assert capsys.readouterr().out == ""


def test_diff_of_a_new_repo_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from .conftest import EXAMPLES

    target = tmp_path / "new"
    assert main(["diff", str(EXAMPLES / "single-mini-pc.yaml"), "-o", str(target)]) == 0
    diff = capsys.readouterr().out
    assert not target.exists()
    assert "+++ b/inventory.yaml" in diff and "# secret file .clustergen/age.key would be created" in diff
    assert "AGE-SECRET-KEY" not in diff


def test_diff_format_applies_with_git(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "a.txt").write_bytes(b"one\ntwo\nthree")
    (repo / "gone.txt").write_bytes(b"bye\n")
    updates = [
        FileUpdate("a.txt", b"one\ntwo\nthree", b"one\n2\nthree\n"),
        FileUpdate("gone.txt", b"bye\n", None),
        FileUpdate("new/dir/b.txt", None, b"x\ry\n\x0cz"),  # only \n ends a line
        FileUpdate("empty.txt", None, b""),
        FileUpdate("secret", None, b"token", 0o600, secret=True),
    ]
    diff = unified_diff(updates)
    assert "token" not in diff
    applied = subprocess.run(["git", "-C", str(repo), "apply", "-"], input=diff.encode(), capture_output=True, check=False)
    assert applied.returncode == 0, applied.stderr
    assert (repo / "a.txt").read_bytes() == b"one\n2\nthree\n"
    assert not (repo / "gone.txt").exists()
    assert (repo / "new" / "dir" / "b.txt").read_bytes() == b"x\ry\n\x0cz"
    assert (repo / "empty.txt").read_bytes() == b""
