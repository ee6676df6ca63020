"""A repository or inventory someone else wrote: generate stays inside the output folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.cli import main
from generator.shared import RenderedFile
from generator.write import open_repository
from generator.write.state import digest

from .conftest import EXAMPLES
from .regen_helpers import commit_all, generated_repo, git, tree

SHELF = EXAMPLES / "mixed-shelf.yaml"


def _inventory(tmp_path: Path, old: str, new: str, example: Path = SHELF) -> Path:
    text = example.read_text()
    assert old in text, old
    path = tmp_path / "inventory.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


# -- 1. writing outside the output folder ------------------------------------------------

@pytest.mark.parametrize("sync_path", ["../../escaped", "/tmp/abs", "clusters/../../escaped", ".git/hooks", "./x/../.."])
def test_gitops_path_outside_the_repo_is_an_inventory_error(sync_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = SHELF.read_text()
    assert "  engine: flux\n" in text
    inventory = tmp_path / "in" / "inventory.yaml"
    inventory.parent.mkdir()
    inventory.write_text(text.replace("  engine: flux\n", f"  engine: flux\n  path: {sync_path!r}\n", 1))
    out = tmp_path / "a" / "b" / "repo"
    assert main(["generate", str(inventory), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "gitops.path" in err and "hint:" in err, err
    assert f"{inventory}:" in err
    assert not out.exists()
    assert not (tmp_path / "a" / "escaped").exists() and not (tmp_path / "escaped").exists()


def test_gitops_path_on_a_generated_folder_is_an_inventory_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(SHELF.read_text().replace("  engine: flux\n", "  engine: flux\n  path: bootstrap/flux\n", 1))
    out = tmp_path / "repo"
    assert main(["generate", str(inventory), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{inventory}:17:" in err and "gitops.path" in err and "twice" in err, err
    assert not out.exists()


def test_write_refuses_rendered_paths_outside_the_repo(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for bad in ("../x.yaml", "/etc/x.yaml", "a/../../x.yaml", "a//b", ""):
        with pytest.raises(Exception) as caught, open_repository(repo) as session:
            session.write([RenderedFile(bad, b"x\n")], "inventory", lambda: None)
        assert type(caught.value).__name__ == "WriteError", bad
        assert "outside" in str(caught.value) or "not a path inside" in str(caught.value)
    assert not (tmp_path / "x.yaml").exists()


def test_generate_does_not_write_through_a_symlink_leaving_the_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine\n")
    # A cloned repository can carry symlinks: one replaces a generated folder.
    overlay = repo / "overlays" / "shelf"
    import shutil

    shutil.copytree(overlay, victim / "shelf")
    shutil.rmtree(overlay)
    overlay.symlink_to(victim / "shelf")
    commit_all(repo, "a symlinked overlay")
    before = tree(victim)
    (repo / "inventory.yaml").write_text((repo / "inventory.yaml").read_text().replace("Europe/Amsterdam", "Europe/Berlin"))
    commit_all(repo, "edit")
    monkeypatch.chdir(repo)
    capsys.readouterr()
    assert main(["generate"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "overlays/shelf" in err and "outside the repository" in err, err
    assert tree(victim) == before


# -- 2. deleting outside the repo ---------------------------------------------------------

def _forge_state(repo: Path, entries: dict[str, str]) -> None:
    state = repo / ".clustergen" / "state.yaml"
    text = state.read_text()
    lines = "".join(f"  {path!r}: {value}\n" for path, value in entries.items())
    assert "files:\n" in text
    state.write_text(text.replace("files:\n", "files:\n" + lines, 1))
    commit_all(repo, "forged state")


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink", "never-generated"])
def test_state_entries_are_untrusted(how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("precious\n")
    inside = repo / "docs" / "mine.txt"
    inside.write_text("precious\n")
    commit_all(repo, "my file")
    hashed = digest(b"precious\n")
    if how == "dotdot":
        _forge_state(repo, {"../victim.txt": hashed})
    elif how == "absolute":
        _forge_state(repo, {str(victim): hashed})
    elif how == "symlink":
        (repo / "link").symlink_to(outside)
        _forge_state(repo, {"link/victim.txt": hashed})
    else:
        _forge_state(repo, {"docs/mine.txt": hashed})
    monkeypatch.chdir(repo)
    capsys.readouterr()
    code = main(["generate"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert "state.yaml" in err and "hint:" in err, err
    assert victim.read_text() == "precious\n"
    assert (outside / "victim.txt").read_text() == "precious\n"
    assert inside.read_text() == "precious\n"


def test_a_file_the_old_inventory_rendered_is_still_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard does not stop the ordinary case: a node removed from the inventory loses its files."""
    from .regen_helpers import add_node, remove_node

    repo = generated_repo(tmp_path)
    text = (repo / "inventory.yaml").read_text()
    (repo / "inventory.yaml").write_text(add_node(text))
    monkeypatch.chdir(repo)
    assert main(["generate", "--allow-dirty"]) == 0
    commit_all(repo, "pi3")
    assert (repo / "bootstrap" / "cloud-init" / "pi3").is_dir()
    (repo / "inventory.yaml").write_text(remove_node((repo / "inventory.yaml").read_text(), "pi3"))
    assert main(["generate", "--allow-dirty"]) == 0
    assert not (repo / "bootstrap" / "cloud-init" / "pi3").exists()
    git(repo, "status")


# -- 8. kill -9 during the apply phase ---------------------------------------------------------

def test_interrupted_run_is_not_taken_for_user_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import signal

    from generator.write.transaction import stage_folder

    from .regen_helpers import add_node, edit_inventory, move_timezone
    from .test_regenerate import _run_until_paused

    repo = generated_repo(tmp_path)
    edit_inventory(repo, add_node, move_timezone)
    commit_all(repo, "edit")
    process = _run_until_paused(repo, "applying")
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert stage_folder(repo).exists()
    # A change of the user's own, made after the crash: that one does stop the run.
    (repo / "docs" / "mine.txt").write_text("work in progress\n")
    monkeypatch.chdir(repo)
    capsys.readouterr()
    assert main(["generate"]) == 2
    err = capsys.readouterr().err
    assert "docs/mine.txt" in err and "uncommitted changes" in err, err
    assert "nothing was written" not in err, err
    assert "finished the interrupted run's update" in err, err
    # Only the user's file is in the way: the interrupted run's files are not listed as theirs.
    listed = err.split("uncommitted changes:")[1].split("hint:")[0]
    assert listed.strip().splitlines() == ["?? docs/mine.txt"], listed
    assert not stage_folder(repo).exists()
    # As the message says: commit (the interrupted run's files and the user's), and run again.
    commit_all(repo, "the interrupted run's files, and mine")
    assert main(["generate"]) == 0


# -- 9. another cluster's secrets ---------------------------------------------------------------

def _other_cluster(tmp_path: Path) -> Path:
    """single-mini-pc generated with secrets of its own (a new age key and store)."""
    other = tmp_path / "other"
    assert main(["generate", str(EXAMPLES / "single-mini-pc.yaml"), "-o", str(other)]) == 0
    return other


def test_another_clusters_secrets_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    repo = generated_repo(tmp_path)
    other = _other_cluster(tmp_path)
    for name in ("age.key", "secrets.sops.yaml"):
        shutil.copy2(other / ".clustergen" / name, repo / ".clustergen" / name)
    commit_all(repo, "someone swapped the secrets")
    before = tree(repo)
    monkeypatch.chdir(repo)
    capsys.readouterr()
    assert main(["generate"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "another cluster" in err and "hint:" in err, err
    assert tree(repo) == before


def test_another_clusters_store_in_a_fresh_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    other = _other_cluster(tmp_path)
    fresh = tmp_path / "fresh" / ".clustergen"
    fresh.mkdir(parents=True)
    for name in ("age.key", "secrets.sops.yaml"):
        shutil.copy2(other / ".clustergen" / name, fresh / name)
    capsys.readouterr()
    assert main(["generate", str(SHELF), "-o", str(fresh.parent)]) == 2
    err = capsys.readouterr().err
    assert "'tiny'" in err or "another cluster" in err, err
    assert "hint:" in err


def test_own_secrets_still_work_after_a_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = _other_cluster(tmp_path)
    git(other, "init", "-q", "-b", "main")
    commit_all(other, "generated")
    inventory = other / "inventory.yaml"
    text = inventory.read_text()
    assert "  name: tiny\n" in text
    inventory.write_text(text.replace("  name: tiny\n", "  name: tiny2\n", 1))
    monkeypatch.chdir(other)
    assert main(["generate", "--allow-dirty"]) == 0
