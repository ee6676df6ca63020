"""What git knows about the repository: uncommitted changes, and earlier versions of a file."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from .. import tools
from ..errors import WriteError
from .merge import GIT_TIMEOUT, git_environment


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> tools.Completed:
    """Any exit status comes back (the callers read "not a git repository" as an answer);
    git missing or hung raises ToolError."""
    return tools.run(_git_command(repo, args), input=stdin, env=git_environment(), timeout=GIT_TIMEOUT, ok_codes=None)


def _start_git(repo: Path, *args: str) -> tools.Running:
    """``_git`` in the background: ``result(ok_codes=None)`` waits for it."""
    return tools.start(_git_command(repo, args), env=git_environment(), timeout=GIT_TIMEOUT)


def _git_command(repo: Path, args: tuple[str, ...]) -> list[str]:
    return ["git", "-C", str(repo), *args]


def _status_failed(repo: Path, detail: object) -> WriteError:
    return WriteError.single(f"git status failed in {repo}: {detail}", file=str(repo), hint="fix the repository, or pass --allow-dirty")


class StatusCheck:
    """`git status` for changes under a repository, running in the background (``start_status``);
    ``changes()`` waits for it."""

    def __init__(self, repo: Path, running: tools.Running | None, error: WriteError | None = None):
        self.repo = repo
        self._running = running
        self._error = error

    def changes(self) -> list[str] | None:
        """`git status` lines for changes under repo; None outside a git work tree (or without git
        where there is no .git either)."""
        if self._error is not None:
            raise self._error
        if self._running is None:
            return None
        try:
            result = self._running.result(ok_codes=None)
        except tools.ToolError as exc:
            raise _status_failed(self.repo, exc) from None
        if result.exit_code != 0:
            message = result.error_text.strip()
            if "not a git repository" in message:
                return None
            raise _status_failed(self.repo, message)
        return _status_entries(result.stdout)

    def discard(self) -> None:
        if self._running is not None:
            self._running.kill()


def start_status(repo: Path, exempt: list[str]) -> StatusCheck:
    """Start `git status` for changes under repo (see ``StatusCheck``). `exempt` paths (relative
    to repo) do not count: the inventory the user just edited is rewritten byte for byte, so
    nothing in it can be lost."""
    if shutil.which("git") is None:
        if (repo / ".git").exists():
            return StatusCheck(repo, None, WriteError.single(
                f"{repo} is a git repository but git is not installed, so uncommitted changes cannot be checked",
                hint="install git, or pass --allow-dirty",
            ))
        return StatusCheck(repo, None)
    excludes = [f":(exclude,literal){path}" for path in exempt]
    try:
        running = _start_git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".", *excludes)
    except tools.ToolError as exc:
        return StatusCheck(repo, None, _status_failed(repo, exc))
    return StatusCheck(repo, running)


def _status_entries(output: bytes) -> list[str]:
    entries = output.decode(errors="replace").split("\0")
    changes = []
    skip_next = False
    for entry in entries:
        if skip_next:  # the source path of a rename or copy
            skip_next = False
            continue
        if not entry:
            continue
        changes.append(entry)
        skip_next = entry[:1] in "RC"
    return changes


def committed_version(repo: Path, path: str, wanted_digest: str, depth: int = 30) -> bytes | None:
    """The content of `path` in recent history whose sha256 is `wanted_digest`: what clustergen
    generated last time, when re-rendering cannot reproduce it (another clustergen version)."""
    if shutil.which("git") is None:
        return None
    try:
        log = _git(repo, "log", "--format=%H", f"-n{depth}", "--", path)
    except tools.ToolError:
        return None  # no earlier version to offer: the merge is reported as approximate
    if log.exit_code != 0:
        return None
    commits = log.stdout.decode().split()
    if not commits:
        return None
    # "./" makes the path relative to repo, which may be a subfolder of the work tree.
    request = "".join(f"{commit}:./{path}\n" for commit in commits).encode()
    try:
        batch = _git(repo, "cat-file", "--batch", stdin=request)
    except tools.ToolError:
        return None
    if batch.exit_code != 0:
        return None
    out = batch.stdout
    pos = 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) != 3:  # "<name> missing"
            continue
        size = int(header[2])
        content = out[pos : pos + size]
        pos += size + 1
        if "sha256:" + hashlib.sha256(content).hexdigest() == wanted_digest:
            return content
    return None
