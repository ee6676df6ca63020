"""The CLI turns only ClustergenError into "N problem(s)" and exit 2: a bug in a stage is a
traceback, an interrupt a short line, and a user's damaged file a located problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from generator import cli, tools
from generator.errors import ClustergenError, PlanError, Problem

from .conftest import EXAMPLES, ROOT, TALOS_SECRETS_FIXTURE, seed_secrets


def _raise(exc: BaseException):
    def stage(*args, **kwargs):
        raise exc
    return stage


# Each stage, and what escapes it. Only a ClustergenError becomes exit 2.
STAGES = ["generator.plan.plan_cluster", "generator.render.render_repository", "generator.write.start_secret_files"]


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("bug", [RuntimeError("a bug"), ValueError("a bug"), KeyError("a bug"),
                                 tools.ToolError(["sh"], 3, "a tool failure no stage turned into a user error")])
def test_a_bug_in_a_stage_is_a_traceback(tmp_path, monkeypatch, stage, bug):
    monkeypatch.setattr(stage, _raise(bug))
    if stage == "generator.write.start_secret_files":
        monkeypatch.setattr("generator.pipeline.start_secret_files", _raise(bug))
    with pytest.raises(type(bug)) as raised:
        cli.main(["generate", str(EXAMPLES / "single-mini-pc.yaml"), "-o", str(tmp_path / "repo")])
    assert raised.value is bug
    assert not (tmp_path / "repo" / "README.md").exists()


@pytest.mark.parametrize("stage", STAGES)
def test_a_user_error_in_a_stage_is_exit_2(tmp_path, monkeypatch, capsys, stage):
    error = PlanError([Problem("too little memory", file="inventory.yaml", line=7, field="nodes[0].memory", hint="add memory")])
    monkeypatch.setattr(stage, _raise(error))
    if stage == "generator.write.start_secret_files":
        monkeypatch.setattr("generator.pipeline.start_secret_files", _raise(error))
    assert cli.main(["generate", str(EXAMPLES / "single-mini-pc.yaml"), "-o", str(tmp_path / "repo")]) == 2
    err = capsys.readouterr().err
    assert err == ("inventory.yaml:7: error: nodes[0].memory: too little memory\n  hint: add memory\n"
                   "clustergen: 1 problem(s); nothing was written.\n")


def test_an_interrupt_is_one_line_and_130(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("generator.plan.plan_cluster", _raise(KeyboardInterrupt()))
    assert cli.main(["generate", str(EXAMPLES / "single-mini-pc.yaml"), "-o", str(tmp_path / "repo")]) == 130
    assert capsys.readouterr().err == "clustergen: interrupted\n"


def test_a_bug_reaches_the_terminal_as_a_traceback_with_status_1(tmp_path):
    """The real process: Python's own traceback and status 1, never "problem(s)" and 2."""
    script = ("import sys, generator.plan as p\n"
              "def boom(*a, **k): raise RuntimeError('a bug in plan')\n"
              "p.plan_cluster = boom\n"
              "from generator.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    done = subprocess.run([sys.executable, "-c", script, "generate", str(EXAMPLES / "single-mini-pc.yaml"), "-o", str(tmp_path / "repo")],
                          cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("Traceback (most recent call last):") and done.stderr.endswith("RuntimeError: a bug in plan\n")
    assert "problem(s)" not in done.stderr


def test_clustergen_error_is_the_only_user_error():
    """What the CLI catches: every stage's error type, and nothing Python raises by itself."""
    import generator.errors as errors

    user_errors = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    assert all(issubclass(e, ClustergenError) for e in user_errors)
    assert not issubclass(ClustergenError, (ValueError, OSError, LookupError, RuntimeError))
    assert not issubclass(tools.ToolError, ClustergenError)


def _talos_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    seed_secrets(repo, "talos")
    assert cli.main(["generate", str(EXAMPLES / "talos-rack.yaml"), "-o", str(repo)]) == 0
    return repo


def _restore_store(repo: Path, **changes: str) -> None:
    from generator.write.sops import Decryption, encrypt

    store = repo / ".clustergen" / "secrets.sops.yaml"
    values = Decryption(store, repo / ".clustergen" / "age.key").result()
    for key, (old, new) in changes.items():
        assert old in values[key]
        values[key] = values[key].replace(old, new, 1)
    store.write_bytes(encrypt(values, (repo / ".sops.yaml").read_text(), ".clustergen/secrets.sops.yaml"))


@pytest.mark.parametrize(("key", "old", "new", "said"), [
    ("talosSecrets", "bootstraptoken: ", "bootstraptoken: x", "secrets.bootstraptoken must look like abcdef.0123456789abcdef"),
    ("talosSecrets", "secretboxencryptionsecret: ", "secretboxencryptionsecret: AAAA", "secrets.secretboxencryptionsecret must decode to 32 bytes"),
    ("talosAdminClient", "key: ", "key: AAAA", "key is not a base64-encoded, unencrypted PEM private key"),
])
def test_a_damaged_talos_store_is_a_user_error_not_a_traceback(tmp_path, capsys, key, old, new, said):
    """The store is the user's file (restored from git, hand-edited): a bad value in it was a
    ValueError from render's parse_bundle, a traceback. Now a located problem, exit 2."""
    repo = _talos_repo(tmp_path)
    _restore_store(repo, **{key: (old, new)})
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert cli.main(["generate", str(repo / "inventory.yaml"), "-o", str(repo), "--allow-dirty"]) == 2
    err = capsys.readouterr().err
    store = repo / ".clustergen" / "secrets.sops.yaml"
    assert err.startswith(f"{store}: error: {key}: the ") and said in err and "hint: restore the file from git" in err
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()} == before


def test_an_intact_talos_store_regenerates(tmp_path):
    repo = _talos_repo(tmp_path)
    _restore_store(repo, talosSecrets=("bootstraptoken: ", "bootstraptoken: "))  # re-encrypted, same values
    assert cli.main(["generate", str(repo / "inventory.yaml"), "-o", str(repo), "--allow-dirty"]) == 0
    assert (TALOS_SECRETS_FIXTURE / "age.key").read_bytes() == (repo / ".clustergen" / "age.key").read_bytes()


def test_a_repository_git_cannot_read_is_a_validate_error(tmp_path, capsys):
    """git ls-files failing (a corrupt index) escaped validate as a ToolError traceback."""
    from .regen_helpers import git

    (tmp_path / "a.yaml").write_text("a: 1\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "a.yaml")
    (tmp_path / ".git" / "index").write_bytes(b"garbage\n")
    assert cli.main(["validate", "--charts", "local", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{tmp_path}: error: git cannot list the files of {tmp_path}: `git -C {tmp_path} ls-files ")
    assert "exited with status 128: fatal: .git/index: index file smaller than expected" in err
    assert "hint: repair the repository" in err


@pytest.mark.parametrize(("args", "tail"), [
    (["generate", "{missing}", "-o", "{tmp}/repo"], "clustergen: 1 problem(s); nothing was written.\n"),
    (["init", "{tmp}/a-file"], "clustergen: 1 problem(s); nothing was written.\n"),
    (["plan", "{missing}"], "clustergen: 1 problem(s).\n"),  # it never writes: no "nothing was written"
    (["diff", "{missing}", "-o", "{tmp}/repo"], "clustergen: 1 problem(s).\n"),
    (["validate", "{tmp}/a-file"], "clustergen: 1 problem(s).\n"),
    (["catalog", "no-such-app"], "clustergen: 1 problem(s).\n"),
])
def test_the_closing_line_says_nothing_was_written_only_for_commands_that_write(tmp_path, capsys, args, tail):
    (tmp_path / "a-file").write_text("x\n")
    filled = [a.format(tmp=tmp_path, missing=tmp_path / "missing.yaml") for a in args]
    assert cli.main(filled) == 2
    assert capsys.readouterr().err.endswith(tail)
