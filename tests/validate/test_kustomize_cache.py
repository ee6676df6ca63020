"""Kustomize builds are kept by the repository's content: a second validate of the same tree
runs no kustomize, says exactly what the first said, and any edit builds again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.validate import ValidateOptions, render_report, validate_repository
from generator.validate import tool as tool_module

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kustomize runs of a validate (the real tool still runs)."""
    runs: list[str] = []
    real = tool_module.run

    def run(command, **kwargs):  # type: ignore[no-untyped-def]
        if len(command) > 1 and command[1] in ("kustomize", "build"):
            runs.append(str(command[-1]))
        return real(command, **kwargs)

    monkeypatch.setattr(tool_module, "run", run)
    return runs


def _validate(repo: Path, cache: Path) -> str:
    import io

    report = validate_repository(repo, ValidateOptions(charts="local", offline=True, cache_dir=cache))
    out = io.StringIO()
    render_report(report, "json", out)
    return out.getvalue()


def _repo(tmp_path: Path) -> Path:
    from generator.cli import main

    repo = tmp_path / "repo"
    assert main(["generate", str(ROOT / "examples" / "single-mini-pc.yaml"), "-o", str(repo)]) == 0
    return repo


def test_unchanged_tree_is_not_built_again(tmp_path: Path, counted: list[str]) -> None:
    repo, cache = _repo(tmp_path), tmp_path / "cache"
    first = _validate(repo, cache)
    built = len(counted)
    assert built >= 2
    assert _validate(repo, cache) == first
    assert len(counted) == built  # no kustomize at all the second time


def test_an_edit_builds_again_and_is_seen(tmp_path: Path, counted: list[str]) -> None:
    repo, cache = _repo(tmp_path), tmp_path / "cache"
    _validate(repo, cache)
    built = len(counted)
    configs = next(repo.glob("overlays/*/infrastructure/configs"))
    extra = configs / "extra.yaml"
    extra.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: added, namespace: default}\ndata: {a: '1'}\n")
    kfile = configs / "kustomization.yaml"
    kfile.write_text(kfile.read_text().replace("resources:\n", "resources:\n  - extra.yaml\n", 1))
    assert "added" not in _validate(repo, cache)
    assert len(counted) > built
    # The new object is in what was checked: an edit that breaks it is a fault, not a stale pass.
    extra.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: added, namespace: default}\ndata: {a: [1]}\n")
    assert "added" in _validate(repo, cache)


def test_a_failed_build_is_not_kept(tmp_path: Path, counted: list[str]) -> None:
    repo, cache = _repo(tmp_path), tmp_path / "cache"
    configs = next(repo.glob("overlays/*/infrastructure/configs"))
    kfile = configs / "kustomization.yaml"
    kfile.write_text(kfile.read_text().replace("resources:\n", "resources:\n  - missing.yaml\n", 1))
    first = _validate(repo, cache)
    assert "missing.yaml" in first
    runs = len(counted)
    assert _validate(repo, cache) == first
    assert len(counted) > runs  # the broken kustomization was built again, not read from the cache
    assert str(configs) in counted[runs:]


def test_a_symlink_retarget_counts_as_a_change(tmp_path: Path) -> None:
    from generator.validate.kustomize import _tree_digest

    repo = tmp_path / "r"
    (repo / "a").mkdir(parents=True)
    (repo / "b").mkdir()
    (repo / "a" / "x.yaml").write_text("x: 1\n")
    (repo / "b" / "x.yaml").write_text("x: 1\n")
    (repo / "link").symlink_to("a")
    first = _tree_digest(repo)
    (repo / "link").unlink()
    (repo / "link").symlink_to("b")
    assert _tree_digest(repo) != first
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD").write_text("ref\n")
    assert _tree_digest(repo) == _tree_digest(repo)
    second = _tree_digest(repo)
    (repo / ".git" / "HEAD").write_text("other\n")  # git's own files do not count
    assert _tree_digest(repo) == second
    (repo / "a" / "x.yaml").chmod(0o755)
    assert _tree_digest(repo) != second
    shutil.rmtree(repo / ".git")
