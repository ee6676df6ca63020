"""The uncommitted-changes check runs beside the inventory's loading, and its verdict still comes
first: a dirty repository is refused before an inventory mistake, a no-op replay or a write."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.cli import main
from generator.write.layout import STATE_PATH

from .regen_helpers import add_node, edit_inventory, generated_repo


def _generate(repo: Path, *extra: str) -> int:
    return main(["generate", str(repo / "inventory.yaml"), "-o", str(repo), *extra])


def _dirty(repo: Path) -> None:
    (repo / "scratch.txt").write_text("work in progress\n")


def test_a_dirty_repository_is_refused_before_an_inventory_mistake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    _dirty(repo)
    edit_inventory(repo, lambda text: text.replace("name: pi1", "name: PI_1", 1))
    capsys.readouterr()
    assert _generate(repo) == 2
    err = capsys.readouterr().err
    assert "has uncommitted changes" in err and "?? scratch.txt" in err
    assert "PI_1" not in err


def test_an_inventory_mistake_in_a_clean_repository_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    edit_inventory(repo, lambda text: text.replace("name: pi1", "name: PI_1", 1))
    capsys.readouterr()
    assert _generate(repo) == 2
    err = capsys.readouterr().err
    assert "PI_1" in err and "uncommitted" not in err


def test_a_dirty_repository_is_refused_even_when_nothing_would_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An untracked file leaves every generated file as recorded, so the run could replay: it
    is refused all the same."""
    repo = generated_repo(tmp_path)
    assert _generate(repo) == 0  # records the run
    _dirty(repo)
    state = (repo / STATE_PATH).read_bytes()
    capsys.readouterr()
    assert _generate(repo) == 2
    assert "?? scratch.txt" in capsys.readouterr().err
    assert (repo / STATE_PATH).read_bytes() == state


def test_a_dirty_repository_gets_nothing_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    edit_inventory(repo, add_node)
    _dirty(repo)
    capsys.readouterr()
    assert _generate(repo) == 2
    assert "nothing was written" in capsys.readouterr().err
    assert not (repo / "bootstrap" / "cloud-init" / "pi3").exists()
    assert _generate(repo, "--allow-dirty") == 0
    assert (repo / "bootstrap" / "cloud-init" / "pi3" / "user-data").is_file()
