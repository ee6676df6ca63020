"""Regeneration over a repository the user has lived in: copier-style scenarios in real git repos."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.cli import main
from generator.validate import ValidateOptions, validate_repository
from generator.write import load_or_create_secrets
from generator.write.layout import STATE_PATH
from generator.write.state import GenerationState, digest
from generator.write.transaction import stage_folder

from .conftest import ROOT, TEST_TOKEN
from .regen_helpers import (
    RELEASES,
    add_node,
    commit_all,
    edit_inventory,
    generated_repo,
    git,
    insert_before,
    move_timezone,
    remove_node,
    render_reference,
    replace_line,
    tree,
)

RESOURCES = "    resources:\n      limits:\n        memory: 512Mi\n"
CONFLICT = """<<<<<<< yours (repository)
      TZ: UTC
||||||| clustergen base
      TZ: Europe/Amsterdam
=======
      TZ: Europe/Berlin
>>>>>>> clustergen new
"""


def regenerate(repo: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.chdir(repo)
    return main(["generate", *args])


def test_add_node_merges_like_copier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    mosquitto, home_assistant, node_red = (f"{RELEASES}/{app}-values.yaml" for app in ("mosquitto", "home-assistant", "node-red"))
    # The user's months of edits: one on the very line the next run changes, two elsewhere.
    (repo / mosquitto).write_text(replace_line((repo / mosquitto).read_text(), "      TZ: Europe/Amsterdam", "      TZ: UTC"))
    (repo / home_assistant).write_text(
        replace_line((repo / home_assistant).read_text(), "      host: home-assistant.home.arpa.example.net", "      host: ha.example.org")
    )
    (repo / node_red).write_text(insert_before((repo / node_red).read_text(), "    nodeSelector:", RESOURCES))
    (repo / "docs" / "topology.md").unlink()
    (repo / "notes").mkdir()
    (repo / "notes" / "runbook.md").write_text("# What to do when the power goes\n")
    commit_all(repo, "my edits")
    secrets_before = load_or_create_secrets(repo)
    store_before = {name: (repo / ".clustergen" / name).read_bytes() for name in ("secrets.sops.yaml", "age.key")}
    runbook_mtime = (repo / "notes" / "runbook.md").stat().st_mtime_ns

    edit_inventory(repo, add_node, move_timezone)  # a new Pi arrives, and the shelf moves to Berlin
    reference = render_reference(repo, tmp_path / "reference")
    capsys.readouterr()
    assert regenerate(repo, monkeypatch) == 1  # a conflict to resolve
    out = capsys.readouterr().out

    new = tree(reference)
    expected = dict(new)
    expected[mosquitto] = new[mosquitto].replace(b"      TZ: Europe/Berlin\n", CONFLICT.encode())
    expected[home_assistant] = replace_line(new[home_assistant].decode(), "      host: home-assistant.home.arpa.example.net", "      host: ha.example.org").encode()
    expected[node_red] = insert_before(new[node_red].decode(), "    nodeSelector:", RESOURCES).encode()
    del expected["docs/topology.md"]
    expected["notes/runbook.md"] = b"# What to do when the power goes\n"
    actual = tree(repo)
    assert sorted(actual) == sorted(expected)
    for path, content in expected.items():
        assert actual[path] == content, path
    # Spelled out, what the equality above covers:
    assert actual[f"{RELEASES}/jellyfin-values.yaml"] == new[f"{RELEASES}/jellyfin-values.yaml"]  # untouched: updated
    assert b"TZ: Europe/Berlin" in actual[f"{RELEASES}/jellyfin-values.yaml"]
    assert not (repo / "docs" / "topology.md").exists()  # deleted: stays deleted
    assert (repo / "notes" / "runbook.md").stat().st_mtime_ns == runbook_mtime  # the user's file: untouched
    for name in ("meta-data", "network-config", "user-data"):
        assert (repo / "bootstrap" / "cloud-init" / "pi3" / name).is_file()
    assert load_or_create_secrets(repo) == secrets_before
    assert {name: (repo / ".clustergen" / name).read_bytes() for name in store_before} == store_before
    assert f"merged your edits into {home_assistant}" in out and f"merged your edits into {node_red}" in out
    assert "docs/topology.md: you deleted it, so it stays deleted" in out
    lines = out.rstrip("\n").splitlines()
    assert lines[-2:] == ["conflicts: resolve the <<<<<<< markers, then commit:", f"  {mosquitto}"]
    assert not stage_folder(repo).exists()

    # The user resolves the conflict their way and commits; the next run has nothing to do.
    (repo / mosquitto).write_text(new[mosquitto].decode().replace("TZ: Europe/Berlin", "TZ: UTC"))
    commit_all(repo, "resolve")
    assert regenerate(repo, monkeypatch) == 0
    assert "0 written" in capsys.readouterr().out
    assert b"TZ: UTC" in (repo / mosquitto).read_bytes()


def test_unresolved_markers_keep_failing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    mosquitto = repo / RELEASES / "mosquitto-values.yaml"
    mosquitto.write_text(replace_line(mosquitto.read_text(), "      TZ: Europe/Amsterdam", "      TZ: UTC"))
    commit_all(repo, "edit")
    edit_inventory(repo, move_timezone)
    assert regenerate(repo, monkeypatch) == 1
    commit_all(repo, "committed with markers by mistake")
    capsys.readouterr()
    assert regenerate(repo, monkeypatch) == 1
    assert f"  {RELEASES}/mosquitto-values.yaml (markers from an earlier run)" in capsys.readouterr().out


def test_removed_node_files_go_unless_edited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    network = repo / "bootstrap" / "cloud-init" / "pi2" / "network-config"
    network.write_text(network.read_text() + "# pi2 sits behind the TV\n")
    commit_all(repo, "note")
    edit_inventory(repo, lambda text: remove_node(text, "pi2"))
    assert regenerate(repo, monkeypatch) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in network.parent.iterdir()) == ["network-config"]  # meta-data and user-data went
    assert network.read_text().endswith("# pi2 sits behind the TV\n")
    assert "bootstrap/cloud-init/pi2/network-config: no longer generated, but you changed it" in out
    assert "bootstrap/cloud-init/pi2/meta-data" not in GenerationState.read(repo).files  # type: ignore[union-attr]


def test_no_op_regeneration_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    stats = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in repo.rglob("*") if ".git" not in p.parts}
    capsys.readouterr()
    assert regenerate(repo, monkeypatch) == 0
    assert capsys.readouterr().out.startswith(f"{repo}: 0 written")
    assert {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in repo.rglob("*") if ".git" not in p.parts} == stats
    assert not stage_folder(repo).exists()
    assert git(repo, "status", "--porcelain") == ""


def test_dirty_tree_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    values = repo / RELEASES / "node-red-values.yaml"
    values.write_text(values.read_text() + "    # not committed yet\n")
    (repo / "scratch.txt").write_text("untracked\n")
    (repo / "kubeconfig").write_text("ignored, so it does not count\n")
    edit_inventory(repo, move_timezone)  # the inventory itself may be uncommitted: it is rewritten as is
    before = tree(repo)
    capsys.readouterr()
    assert regenerate(repo, monkeypatch) == 2
    err = capsys.readouterr().err
    assert "has uncommitted changes" in err and f"M {RELEASES}/node-red-values.yaml" in err and "?? scratch.txt" in err
    assert "kubeconfig" not in err and "inventory.yaml" not in err
    assert "--allow-dirty" in err
    assert tree(repo) == before
    assert regenerate(repo, monkeypatch, "--allow-dirty") == 0
    assert values.read_text().endswith("    # not committed yet\n") and "Europe/Berlin" in values.read_text()


def test_concurrent_run_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    edit_inventory(repo, move_timezone)
    before = tree(repo)
    holder = os.open(repo, os.O_RDONLY)  # what a running clustergen holds
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        capsys.readouterr()
        assert regenerate(repo, monkeypatch) == 2
        assert "another clustergen run is writing" in capsys.readouterr().err
        assert main(["diff", str(repo / "inventory.yaml")]) == 2
        assert tree(repo) == before
    finally:
        os.close(holder)
    assert regenerate(repo, monkeypatch) == 0  # the lock died with its holder


def _run_until_paused(repo: Path, phase: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "CLUSTERGEN_TEST_PAUSE_AT"}
    env.update(PYTHONPATH=str(ROOT), CLUSTERGEN_TEST_PAUSE_AT=phase)
    process = subprocess.Popen([sys.executable, "-m", "generator.cli", "generate"], cwd=repo, env=env, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    for line in process.stderr:
        if line.strip() == f"clustergen: paused at {phase}":
            return process
        assert time.monotonic() < deadline
    raise AssertionError(f"the run ended (exit {process.wait()}) without pausing at {phase}")


@pytest.mark.parametrize("phase", ["staged", "committed", "applying", "applied"])
def test_kill_9_during_the_write(phase: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    edit_inventory(repo, add_node, move_timezone)
    old = tree(repo)
    finished = tmp_path / "finished"
    shutil.copytree(repo, finished, symlinks=True)
    assert regenerate(finished, monkeypatch) == 0
    new = tree(finished)

    process = _run_until_paused(repo, phase)
    process.send_signal(signal.SIGKILL)
    process.wait()
    after_kill = tree(repo)
    assert stage_folder(repo).exists()
    if phase in ("staged", "committed"):
        assert after_kill == old  # nothing renamed yet: the previous repo, exactly
    elif phase == "applied":
        assert after_kill == new
    else:  # halfway through the renames: every file is either its old or its new version
        assert set(after_kill) <= set(old) | set(new)
        assert all(data in (old.get(path), new.get(path)) for path, data in after_kill.items())
        assert after_kill not in (old, new)

    if phase != "staged":  # a dry run cannot show a diff against a half-written tree
        monkeypatch.chdir(repo)
        capsys.readouterr()
        assert main(["diff"]) == 2 and "run clustergen generate (without --dry-run)" in capsys.readouterr().err

    # The next run finishes (journal committed) or discards (not committed) what was left.
    capsys.readouterr()
    code = regenerate(repo, monkeypatch)
    captured = capsys.readouterr()
    # What the interrupted run wrote is clustergen's own output, not the user's uncommitted
    # work: the run goes ahead, and says what it finished.
    assert code == 0, captured.err
    if phase != "staged":
        assert "finished the interrupted run's update" in captured.out, captured.out
        assert "uncommitted changes" not in captured.err
    assert tree(repo) == new
    assert not stage_folder(repo).exists()


def test_secrets_never_reach_git(tmp_path: Path) -> None:
    repo = generated_repo(tmp_path)
    tracked = git(repo, "ls-files").split()
    assert ".clustergen/secrets.sops.yaml" in tracked and ".sops.yaml" in tracked
    assert ".clustergen/age.key" not in tracked and not any(p.endswith("/user-data") for p in tracked)
    key_line = (repo / ".clustergen" / "age.key").read_text().splitlines()[1]
    for needle in (TEST_TOKEN, key_line, "AGE-SECRET-KEY-1"):
        assert subprocess.run(["git", "-C", str(repo), "grep", "-q", "-F", "-e", needle], capture_output=True, check=False).returncode == 1, needle
    faults = [f for f in validate_repository(repo, ValidateOptions(charts="local")).faults if f.check == "secrets"]
    assert faults == []


def test_sops_config_encrypts_new_secrets_to_the_repo_key(tmp_path: Path) -> None:
    from generator.write.sops import sops_binary

    repo = generated_repo(tmp_path)
    secret = repo / "overlays" / "shelf" / "mqtt-password.sops.yaml"
    secret.write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: mqtt\nstringData:\n  password: hunter2\n")
    sops = [sops_binary(), "--disable-version-check"]
    subprocess.run([*sops, "encrypt", "-i", str(secret.relative_to(repo))], cwd=repo, check=True, capture_output=True)
    text = secret.read_text()
    assert "hunter2" not in text and "kind: Secret" in text and "password: ENC[" in text  # only data/stringData
    env = dict(os.environ, SOPS_AGE_KEY_FILE=str(repo / ".clustergen" / "age.key"))
    plain = subprocess.run([*sops, "decrypt", str(secret)], env=env, check=True, capture_output=True, text=True).stdout
    assert "password: hunter2" in plain


def test_missing_age_key_is_an_error_not_a_rotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    (repo / ".clustergen" / "age.key").unlink()  # a fresh clone: the key is git-ignored
    before = tree(repo)
    capsys.readouterr()
    assert regenerate(repo, monkeypatch) == 2
    err = capsys.readouterr().err
    assert "age.key is missing" in err and "restore .clustergen/age.key from your backup" in err
    assert tree(repo) == before
    (repo / ".clustergen" / "secrets.sops.yaml").unlink()
    assert regenerate(repo, monkeypatch, "--allow-dirty") == 2  # still no new secrets for an existing cluster
    assert "git checkout -- .clustergen/secrets.sops.yaml" in capsys.readouterr().err


def test_plaintext_token_layout_is_migrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A repository from before encryption: token in .clustergen/secrets/k3s-token, no age key."""
    repo = generated_repo(tmp_path)
    state = GenerationState.read(repo)
    assert state is not None
    for path in (".clustergen/age.key", ".clustergen/secrets.sops.yaml", ".sops.yaml"):
        (repo / path).unlink()
        state.files.pop(path)
    legacy = repo / ".clustergen" / "secrets" / "k3s-token"
    legacy.parent.mkdir()
    legacy.write_text(TEST_TOKEN + "\n")
    state.files[".clustergen/secrets/k3s-token"] = digest(legacy.read_bytes())
    state.secrets_recipient = None  # states from before the store was bound to its key
    (repo / STATE_PATH).write_text(state.text())
    commit_all(repo, "as an older clustergen left it")
    user_data = (repo / "bootstrap" / "cloud-init" / "tower" / "user-data").read_bytes()

    assert regenerate(repo, monkeypatch) == 0
    assert load_or_create_secrets(repo).k3s_token == TEST_TOKEN
    assert not legacy.exists()  # recorded and unchanged, so the plaintext copy goes
    assert (repo / ".clustergen" / "age.key").stat().st_mode & 0o777 == 0o600
    assert (repo / "bootstrap" / "cloud-init" / "tower" / "user-data").read_bytes() == user_data


def test_base_from_git_when_another_version_wrote_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """An older clustergen rendered a file differently: the merge base is what it wrote, found in git."""
    repo = generated_repo(tmp_path)
    rel = f"{RELEASES}/node-red-values.yaml"
    old_render = "# rendered by clustergen 0.0.9\n" + (repo / rel).read_text()
    (repo / rel).write_text(old_render)
    state = GenerationState.read(repo)
    assert state is not None
    state.tool_version = "0.0.9"
    state.files[rel] = digest(old_render.encode())
    (repo / STATE_PATH).write_text(state.text())
    commit_all(repo, "as clustergen 0.0.9 generated it")
    (repo / rel).write_text(insert_before(old_render, "    nodeSelector:", RESOURCES))
    commit_all(repo, "my edit")
    edit_inventory(repo, move_timezone)
    reference = render_reference(repo, tmp_path / "reference")
    capsys.readouterr()

    assert regenerate(repo, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "generated by clustergen 0.0.9" in out and f"merged your edits into {rel}" in out
    # The old header goes (the generator dropped it), the TZ changes, the edit stays.
    assert (repo / rel).read_text() == insert_before((reference / rel).read_text(), "    nodeSelector:", RESOURCES)
    assert "approximate base" not in out


def test_fresh_clone_gets_its_git_ignored_files_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    assert not (clone / "bootstrap" / "cloud-init" / "tower" / "user-data").exists()
    shutil.copy2(repo / ".clustergen" / "age.key", clone / ".clustergen" / "age.key")  # restored from backup
    assert regenerate(clone, monkeypatch) == 0
    assert tree(clone) == tree(repo)  # user-data is not "deleted by the user": it was never in git
    assert git(clone, "status", "--porcelain") == ""


def test_staging_moves_inside_when_the_parent_is_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from generator.write.reconcile import FileUpdate
    from generator.write.transaction import apply_updates

    parent = tmp_path / "ro"
    repo = parent / "repo"
    repo.mkdir(parents=True)
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != parent)  # root ignores chmod
    assert stage_folder(repo) == repo / ".clustergen-stage"
    apply_updates(repo, [FileUpdate("a/b.txt", None, b"x\n")])
    assert tree(repo) == {"a/b.txt": b"x\n"}


def test_a_store_missing_the_token_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from generator.write.secrets import read_age_key, sops_config
    from generator.write.sops import encrypt

    repo = generated_repo(tmp_path)
    _, identity = read_age_key(repo / ".clustergen" / "age.key")
    store = repo / ".clustergen" / "secrets.sops.yaml"
    store.write_bytes(encrypt({"somethingElse": "x"}, sops_config(str(identity.to_public())), ".clustergen/secrets.sops.yaml"))
    commit_all(repo, "a bad sops edit")
    capsys.readouterr()
    assert regenerate(repo, monkeypatch) == 2
    assert "has no k3sToken" in capsys.readouterr().err


def test_inventory_error_in_a_repo_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generated_repo(tmp_path)
    edit_inventory(repo, lambda text: text.replace("cluster:\n", "cluster: [\n", 1))
    before = tree(repo)
    assert regenerate(repo, monkeypatch) == 2
    assert "not valid YAML" in capsys.readouterr().err
    assert tree(repo) == before and not stage_folder(repo).exists()
