"""What the write stage refuses before its commit point: a target it could not put a file at.

Each refusal leaves the repository as it was and no staging folder behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from generator.errors import WriteError
from generator.write.reconcile import FileUpdate
from generator.write.transaction import apply_updates, stage_folder


def _update(path: str, content: bytes = b"new\n") -> FileUpdate:
    return FileUpdate(path, None, content)


def _refused(repo: Path, updates: list[FileUpdate]) -> str:
    before = sorted(str(p.relative_to(repo)) for p in repo.rglob("*"))
    with pytest.raises(WriteError) as caught:
        apply_updates(repo, updates)
    assert sorted(str(p.relative_to(repo)) for p in repo.rglob("*")) == before
    assert not stage_folder(repo.resolve()).exists()
    return caught.value.problems[0].message


def test_a_folder_where_a_file_goes_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "apps" / "README.md").mkdir(parents=True)
    message = _refused(repo, [_update("apps/other.yaml"), _update("apps/README.md")])
    assert message.endswith("apps/README.md is a folder, but clustergen generates a file there")


def test_a_link_to_a_folder_where_a_file_goes_is_replaced(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "elsewhere").mkdir(parents=True)
    (repo / "README.md").symlink_to("elsewhere")
    apply_updates(repo, [_update("README.md")])
    assert not (repo / "README.md").is_symlink()
    assert (repo / "README.md").read_bytes() == b"new\n"


@pytest.mark.parametrize("depth", [1, 3])
def test_a_file_where_a_folder_is_needed_is_refused(tmp_path: Path, depth: int) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "bases").write_text("a file\n")
    nested = "/".join(["bases"] + [f"level{i}" for i in range(depth)])
    message = _refused(repo, [_update("README.md"), _update(f"{nested}/kustomization.yaml")])
    assert message.endswith("/repo/bases is a file, but clustergen needs a folder there")


def test_missing_folders_under_the_repository_are_made(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    paths = ["a/b/c/one.yaml", "a/b/two.yaml", "a/three.yaml", "four.yaml"]
    apply_updates(repo, [_update(p) for p in paths])
    assert all((repo / p).read_bytes() == b"new\n" for p in paths)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder, so there is no refusal to see")
def test_a_folder_without_write_permission_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "locked").mkdir(parents=True)
    (repo / "locked").chmod(0o555)
    try:
        message = _refused(repo, [_update("locked/deeper/file.yaml")])
    finally:
        (repo / "locked").chmod(0o755)
    assert message.endswith("/repo/locked: permission denied")
