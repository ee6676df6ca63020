"""The one place that starts external programs: sops, git, kubectl/kustomize, kubeconform,
and the Helm worker process.

Like flux-local's ``Command``: every call names its command, timeout, environment,
input bytes and folder, and every failure arrives as a ``ToolError`` carrying the
command, exit code and stderr (``ToolMissing`` when the program is not there,
``ToolTimeout`` when it overran).  A ``ToolError`` is not a user error by itself: the
stage that ran the tool decides whether the failure is the user's to fix and turns it
into a ``ClustergenError`` subclass (or a validation fault) naming the file and a fix.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# A kustomize build of a big overlay takes well under a second; minutes means hung.
DEFAULT_TIMEOUT = 300.0
# How much of a failed command's stderr a message quotes; the exception keeps all of it.
_STDERR_QUOTE = 2000
# Linux's default pipe buffer: input up to this size is written without waiting for the reader.
PIPE_CAPACITY = 65536


class ToolError(Exception):
    """An external program failed: it exited with a code the caller does not accept,
    could not be started, or overran its time."""

    def __init__(self, command: Sequence[str], exit_code: int, stderr: str, hint: str | None = None):
        self.command = [str(part) for part in command]
        self.exit_code = exit_code
        self.stderr = stderr
        self.hint = hint
        super().__init__(self.message())

    def name(self) -> str:
        return Path(self.command[0]).name if self.command else "the command"

    def describe(self) -> str:
        """One line for a report: the program and the line of stderr a user acts on."""
        detail = first_error_line(self.stderr) or f"exit code {self.exit_code}"
        text = f"{self.name()} failed: {detail}"
        return f"{text} ({self.hint})" if self.hint else text

    def message(self) -> str:
        """The whole story: the command line, its exit code and its stderr."""
        stderr = self.stderr.strip()
        if len(stderr) > _STDERR_QUOTE:
            stderr = "…" + stderr[-_STDERR_QUOTE:]
        text = f"`{shlex.join(self.command)}` exited with status {self.exit_code}"
        text += f": {stderr}" if stderr else " and printed nothing on stderr"
        return f"{text} ({self.hint})" if self.hint else text


class ToolMissing(ToolError):
    """The program is not installed; exit code 127 like a shell would say."""

    def __init__(self, name: str, hint: str, command: Sequence[str] | None = None):
        super().__init__(list(command) if command else [name], 127, f"{name}: command not found", hint)

    def describe(self) -> str:
        return f"{self.command[0]} is not installed ({self.hint})"

    def message(self) -> str:
        return self.describe()


class ToolTimeout(ToolError):
    """The program overran its time and was killed; exit code -1."""

    def __init__(self, command: Sequence[str], timeout: float, stderr: str = ""):
        self.timeout = timeout
        self.partial_stderr = stderr  # what it printed before it was killed
        # A reader of .stderr alone (kustomize's summary) still learns what happened.
        super().__init__(command, -1, stderr or f"timed out after {timeout:g}s")

    def describe(self) -> str:
        return f"{self.name()} timed out after {self.timeout:.0f}s"

    def message(self) -> str:
        stderr = self.partial_stderr.strip()[-_STDERR_QUOTE:]
        return f"`{shlex.join(self.command)}` timed out after {self.timeout:g}s and was killed" + (f"; its stderr so far: {stderr}" if stderr else "")


@dataclass(frozen=True)
class Completed:
    """A finished external program: its command, exit status and captured output."""

    command: list[str]
    exit_code: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def error_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")

    def error(self, hint: str | None = None) -> ToolError:
        return ToolError(self.command, self.exit_code, self.error_text, hint)


def first_error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if ln.lower().startswith("error"):
            return ln
    return lines[0] if lines else ""


def environment(add: Mapping[str, str] | None = None, drop: Collection[str] = (), drop_prefixes: Collection[str] = ()) -> dict[str, str]:
    """This process's environment in the C locale (messages we parse stay English), without
    ``drop`` and names starting with ``drop_prefixes``, plus ``add``."""
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith(tuple(drop_prefixes))}
    env["LC_ALL"] = "C"
    env.update(add or {})
    return env


def _missing(command: Sequence[str], exc: OSError, cwd: Path | None) -> ToolError:
    if cwd is not None and exc.filename is not None and Path(str(exc.filename)) == Path(cwd):
        return ToolError(command, 126, f"cannot run in {cwd}: {exc.strerror}")
    if isinstance(exc, FileNotFoundError):
        return ToolMissing(str(command[0]), "not found on PATH", command)
    return ToolError(command, 126, f"cannot run {command[0]}: {exc.strerror or exc}")


def run(
    command: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    input: bytes | str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
    ok_codes: Collection[int] | None = (0,),
) -> Completed:
    """Run ``command`` to its end and return what it printed.

    ``env`` is the complete environment (build one with ``environment()``); by default this
    process's, in the C locale.  ``input`` (str is sent as UTF-8) goes to stdin.  An exit code
    outside ``ok_codes`` raises ``ToolError``; ``ok_codes=None`` accepts any exit status, for tools
    whose status is a result (kubeconform's 1, git merge-file's conflict count)."""
    argv = [os.fspath(part) for part in command]
    data = input.encode("utf-8") if isinstance(input, str) else input
    try:
        proc = subprocess.run(argv, cwd=cwd, input=data, capture_output=True, timeout=timeout,
                              env=dict(env) if env is not None else environment(), check=False)
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode("utf-8", errors="replace") if isinstance(exc.stderr, bytes) else ""
        raise ToolTimeout(argv, timeout, stderr) from None
    except OSError as exc:
        raise _missing(argv, exc, cwd) from exc
    done = Completed(argv, proc.returncode, proc.stdout, proc.stderr)
    if ok_codes is not None and done.exit_code not in ok_codes:
        raise done.error()
    return done


def output(command: Sequence[str | os.PathLike[str]], **options: Any) -> str:
    """``run`` for a program whose stdout is text: stdout as str."""
    return run(command, **options).text


# What ``start`` runs, for callers that speak to the process themselves (the Helm worker).
Process = subprocess.Popen


def finish(process: subprocess.Popen[bytes], grace: float) -> int:
    """End a process that stops at the end of its input: close its stdin, wait up to
    ``grace`` seconds, then kill it. Its exit status."""
    try:
        if process.stdin is not None:
            process.stdin.close()
        return process.wait(timeout=grace)
    except (OSError, subprocess.TimeoutExpired):
        process.kill()
        return process.wait()


class Running:
    """A program started in the background (``start``); ``result()`` waits for it."""

    def __init__(self, command: list[str], process: subprocess.Popen[bytes], timeout: float):
        self.command = command
        self.process = process
        self.timeout = timeout

    def result(self, ok_codes: Collection[int] | None = (0,)) -> Completed:
        try:
            out, err = self.process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ToolTimeout(self.command, self.timeout) from None
        done = Completed(self.command, self.process.returncode, out or b"", err or b"")
        if ok_codes is not None and done.exit_code not in ok_codes:
            raise done.error()
        return done

    def send(self, data: bytes) -> None:
        """Hand a program started with ``stdin=True`` its whole input (at most ``PIPE_CAPACITY``
        bytes, which the pipe takes without waiting) and close its stdin."""
        if len(data) > PIPE_CAPACITY:
            raise ValueError(f"send() takes at most {PIPE_CAPACITY} bytes of input; use run() for more")
        pipe, self.process.stdin = self.process.stdin, None  # communicate() must not flush a closed pipe
        if pipe is None:
            raise ValueError("send() needs a program started with stdin=True, and only once")
        # A program that exits without reading breaks the pipe: result() reports its exit and stderr.
        with contextlib.suppress(BrokenPipeError):
            try:
                pipe.write(data)
            finally:
                pipe.close()

    def kill(self) -> None:
        """Stop it and reap it; nothing of its output is wanted any more. (Its pipes are closed,
        not drained: a child it left behind may hold them open.)"""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def start(
    command: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
    stdin: bool = False,
    input: bytes | None = None,
    stderr: IO[bytes] | None = None,
) -> Running:
    """Start ``command`` without waiting, stdout (and stderr, unless a file is given) piped.

    ``stdin=True`` gives the caller a pipe to its stdin (the Helm worker's protocol), or the
    input later through ``Running.send`` (a program started before its input is known);
    ``input`` is written to stdin now and stdin closed, so the program works while the caller
    does; otherwise stdin is empty.  ``timeout`` bounds ``Running.result()``."""
    if input is not None and len(input) > PIPE_CAPACITY:
        # Written before anyone reads the program's output, more than a pipe holds could deadlock.
        raise ValueError(f"start() takes at most {PIPE_CAPACITY} bytes of input; use run() for more")
    argv = [os.fspath(part) for part in command]
    try:
        process = subprocess.Popen(
            argv, cwd=cwd, env=dict(env) if env is not None else environment(), close_fds=True,
            stdin=subprocess.PIPE if stdin or input is not None else subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=stderr if stderr is not None else subprocess.PIPE,
        )
    except OSError as exc:
        raise _missing(argv, exc, cwd) from exc
    running = Running(argv, process, timeout)
    if input is not None:
        running.send(input)
    return running
