"""symlink_out with a shared cache answers as the one-path-at-a-time walk did, on every kind
of entry a cloned repository can hold on the way to a generated file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from generator.write.paths import symlink_out


def _reference(repo: Path, rel: str) -> str | None:
    # The walk before the cache: pathlib, one path at a time.
    root = Path(os.path.realpath(repo))
    current = Path(repo)
    walked: list[str] = []
    for part in rel.split("/"):
        current = current / part
        walked.append(part)
        if current.is_symlink() and not Path(os.path.realpath(current)).is_relative_to(root):
            return "/".join(walked)
        if not current.exists() and not current.is_symlink():
            return None
    return None


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    repo = tmp_path / "repo"
    (repo / "apps" / "real").mkdir(parents=True)
    (repo / "apps" / "real" / "f.yaml").write_text("x")
    (repo / "file").write_text("x")
    (repo / "in-link").symlink_to(repo / "apps")
    (repo / "in-rel").symlink_to("apps/real")
    (repo / "out-link").symlink_to(outside)
    (repo / "apps" / "out-file").symlink_to(outside / "secret")
    (repo / "dangling-in").symlink_to(repo / "nowhere")
    (repo / "dangling-out").symlink_to(tmp_path / "nowhere")
    (repo / "loop-a").symlink_to(repo / "loop-b")
    (repo / "loop-b").symlink_to(repo / "loop-a")
    (repo / "up").symlink_to("..")
    (repo / "self").symlink_to(".")
    (tmp_path / "repo-sibling").mkdir()
    (repo / "sibling").symlink_to(tmp_path / "repo-sibling")  # shares the repo's name as a prefix
    return repo


PATHS = [
    "apps/real/f.yaml", "apps/real/new.yaml", "apps/new/deeper/x", "file", "file/under", "in-link/real/f.yaml",
    "in-rel/f.yaml", "out-link", "out-link/sub/x", "apps/out-file", "dangling-in/x", "dangling-out", "dangling-out/x",
    "loop-a/x", "up/outside/sub", "self/apps/real/f.yaml", "self/out-link/x", "sibling/x", "missing/x/y",
]


@pytest.mark.parametrize("rel", PATHS)
def test_alone(repo: Path, rel: str) -> None:
    assert symlink_out(repo, rel) == _reference(repo, rel)


def test_one_cache_for_all(repo: Path) -> None:
    seen: dict[str, str | None] = {}
    for rel in PATHS + PATHS[::-1]:
        assert symlink_out(repo, rel, seen) == _reference(repo, rel), rel
