"""The clustergen program as a process (cli.run): main's status and every byte of its output,
with the collector off and the interpreter's teardown skipped only once all else is done."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from generator.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _program(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "generator.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=120, env=env)


def _script(body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``body`` replaces main, then the program's entry runs as the console script runs it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    script = "import generator.cli as cli\n" + body + "\ncli.run()\n"
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False,
                          timeout=120, env=env)


def test_piped_output_arrives_whole():
    """Block-buffered stdout (a pipe) is flushed before the quick exit: the JSON plan parses,
    down to print's last newline, which stays in the buffer after the text went through."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    done = _program("plan", "--json", str(EXAMPLES / "mixed-shelf.yaml"), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("}\n")
    assert {n["name"] for n in json.loads(done.stdout)["nodes"]} >= {"pi1", "pi2"}


def test_a_user_error_keeps_status_2_and_its_message(tmp_path):
    broken = tmp_path / "inventory.yaml"
    broken.write_text("apiVersion: clustergen.dev/v1alpha1\nkind: Inventory\ncluster: {name: x}\nnodes: 3\n")
    done = _program("generate", str(broken), "-o", str(tmp_path / "repo"))
    assert done.returncode == 2
    assert done.stderr.endswith("nothing was written.\n")
    assert not (tmp_path / "repo").exists()


def test_main_runs_with_the_collector_off_and_its_status_is_the_exit_status(tmp_path):
    done = _script("import gc, sys\n"
                   "def main():\n"
                   "    print('collector on:', gc.isenabled())\n"
                   "    return 7\n"
                   "cli.main = main", tmp_path)
    assert done.returncode == 7
    assert done.stdout == "collector on: False\n"


def test_exit_handlers_added_during_the_run_still_run(tmp_path):
    """A TemporaryDirectory left open and a handler registered by the command are both
    finished before the process ends."""
    marker = tmp_path / "handler-ran"
    done = _script("import atexit, tempfile, pathlib\n"
                   "kept = []\n"
                   "def main():\n"
                   "    kept.append(tempfile.TemporaryDirectory(dir=%r))\n"
                   "    print(kept[0].name)\n"
                   "    atexit.register(pathlib.Path(%r).write_text, 'yes')\n"
                   "    return 0\n"
                   "cli.main = main" % (str(tmp_path), str(marker)), tmp_path)
    assert done.returncode == 0, done.stderr
    assert not Path(done.stdout.strip()).exists()
    assert marker.read_text() == "yes"


def test_a_bug_still_ends_in_pythons_traceback_and_status_1(tmp_path):
    done = _script("def main():\n    raise RuntimeError('a bug')\ncli.main = main", tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("Traceback (most recent call last):")
    assert done.stderr.endswith("RuntimeError: a bug\n")


def test_the_dataclass_table_is_saved_before_the_quick_exit(tmp_path):
    """Its exit handler was registered at import, before the quick exit's, so it would be
    skipped: run saves it itself."""
    done = _script("def main():\n    return 0\ncli.main = main", tmp_path)
    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "cache" / "clustergen" / "code").glob("dataclasses-*.marshal"))


def test_a_closed_stdout_is_no_error_at_exit():
    """Started with stdout closed, Python has no sys.stdout: the exit flushes what there is."""
    command = f"exec {sys.executable} -m generator.cli schema >&-"
    done = subprocess.run(["sh", "-c", command], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0
    assert done.stderr == ""


def test_a_full_disk_under_stdout_is_a_user_error_not_a_traceback():
    """`clustergen plan > /dev/full` used to end in OSError's traceback from rich, status 1."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "generator.cli", "plan", str(EXAMPLES / "mixed-shelf.yaml")],
                              cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True, check=False, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.endswith("<stdout>: error: standard output cannot be written: No space left on device\n"
                                "  hint: free space where the output goes, or send it elsewhere; files the "
                                "command wrote before this are kept\n")


@pytest.mark.parametrize("args", [["plan", str(EXAMPLES / "mixed-shelf.yaml")], ["schema"], ["--help"]])
def test_a_reader_that_stopped_reading_ends_the_program_quietly_with_sigpipes_status(args):
    """The pipe's read end is closed before the program writes (`clustergen plan | head`
    once head has had enough): status 141, as a shell shows for a program SIGPIPE ended,
    and nothing on stderr."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", "generator.cli", *args], cwd=ROOT, stdout=write,
                              stderr=subprocess.PIPE, text=True, check=False, timeout=120)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")


class _FailingStream(io.StringIO):
    def __init__(self, error: OSError, after: int):
        super().__init__()
        self.error, self.after = error, after

    def write(self, text: str) -> int:
        if self.tell() + len(text) > self.after:
            raise self.error
        return super().write(text)


@pytest.mark.parametrize(("after", "error", "status"), [
    (0, OSError(errno.ENOSPC, "No space left on device"), 2),  # the first write fails
    (200, OSError(errno.EIO, "Input/output error"), 2),  # one fails half way
    (0, BrokenPipeError(errno.EPIPE, "Broken pipe"), 141),
])
def test_main_turns_a_failed_write_to_stdout_into_its_status(monkeypatch, capsys, after, error, status):
    stream = _FailingStream(error, after)
    monkeypatch.setattr(sys, "stdout", stream)
    assert main(["plan", str(EXAMPLES / "mixed-shelf.yaml")]) == status
    assert sys.stdout is stream  # main's guard is gone again
    err = capsys.readouterr().err
    if status == 141:
        assert "standard output" not in err
    else:
        assert f"standard output cannot be written: {error.strerror}" in err


def test_main_leaves_a_working_stdout_alone(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    assert main(["plan", "--json", str(EXAMPLES / "mixed-shelf.yaml")]) == 0
    assert sys.stdout is stream
    assert json.loads(stream.getvalue())["nodes"]
