"""Every path the write stage touches stays inside the repository.

Paths come from the render (which an inventory influences), from the state
file and from the journal, and a cloned repository may carry symlinks: none
of them is trusted.  A path is accepted when it is a plain relative POSIX
path (no empty, '.' or '..' segment, not absolute, not under .git) and,
followed through any symlinks on disk, still ends inside the repository.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..errors import WriteError


def path_problem(rel: object) -> str | None:
    """Why ``rel`` is not a plain relative path inside a repository, or None."""
    if not isinstance(rel, str) or not rel:
        return "is empty"
    if "\0" in rel or "\\" in rel:
        return "contains a NUL byte or a backslash"
    if rel.startswith("/"):
        return "is absolute"
    parts = rel.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "has an empty, '.' or '..' segment"
    if parts[0] == ".git":
        return "is inside .git"
    return None


def symlink_out(repo: Path, rel: str, seen: dict[str, str | None] | None = None) -> str | None:
    """The repo-relative path of the first symlink on the way to ``rel`` that leads out of
    the repository (the file itself included), or None when ``rel`` stays inside.

    ``seen`` carries what one batch of checks learnt about each folder on the way (a hundred
    generated files share a dozen folders), while nothing on disk changes."""
    cache: dict[str, str | None] = {} if seen is None else seen
    root = cache.get("\0root")
    if root is None:
        root = cache["\0root"] = os.path.realpath(repo)
    base = os.fspath(repo)
    walked = ""
    for part in rel.split("/"):
        walked = f"{walked}/{part}" if walked else part
        verdict = cache.get(walked)
        if verdict is None:
            verdict = cache[walked] = _step(base, walked, root)
        if verdict == "out":
            return walked
        if verdict == "end":
            return None  # nothing further on disk to follow
    return None


def _step(base: str, walked: str, root: str) -> str:
    """'out' (a symlink leading out), 'end' (nothing on disk here) or 'on'."""
    current = os.path.join(base, walked)
    try:
        info = os.lstat(current)
    except OSError as exc:
        # What Path.exists() and is_symlink() take for "not there"; anything else is raised, as they do.
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP):
            return "end"
        raise
    if stat.S_ISLNK(info.st_mode):
        real = os.path.realpath(current)
        return "on" if real == root or real.startswith(root.rstrip("/") + "/") else "out"
    return "on"


def check_inside(repo: Path, rel: object, what: str, *, file: str | None = None, hint: str | None = None,
                 seen: dict[str, str | None] | None = None) -> None:
    """Raise a WriteError unless ``rel`` is a path inside ``repo`` (after following symlinks);
    ``seen`` as for symlink_out."""
    problem = path_problem(rel)
    if problem is not None:
        raise WriteError.single(
            f"{what} {rel!r} is not a path inside the repository: it {problem}",
            file=file or str(repo),
            hint=hint or "clustergen only writes and removes files inside the repository folder",
        )
    assert isinstance(rel, str)
    link = symlink_out(repo, rel, seen)
    if link is not None:
        target = os.path.realpath(Path(repo) / link)
        raise WriteError.single(
            f"{what} {rel!r}, which goes through the symlink {link}, which leads outside the repository (to {target})",
            file=str(Path(repo) / link),
            hint=f"replace the symlink {link} with a real folder or file; clustergen never writes or removes "
            "anything outside the repository",
        )
