"""Every path the write stage touches stays inside the repository.

Paths come from the render (which an inventory influences), from the state
file and from the journal, and a cloned repository may carry symlinks: none
of them is trusted.  A path is accepted when it is a plain relative POSIX
path (no empty, '.' or '..' segment, not absolute, not under .git) and,
followed through any symlinks on disk, still ends inside the repository.
"""

from __future__ import annotations

import os
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


def symlink_out(repo: Path, rel: str) -> str | None:
    """The repo-relative path of the first symlink on the way to ``rel`` that leads out of
    the repository (the file itself included), or None when ``rel`` stays inside."""
    root = Path(os.path.realpath(repo))
    current = Path(repo)
    walked: list[str] = []
    for part in rel.split("/"):
        current = current / part
        walked.append(part)
        if current.is_symlink() and not Path(os.path.realpath(current)).is_relative_to(root):
            return "/".join(walked)
        if not current.exists() and not current.is_symlink():
            return None  # nothing further on disk to follow
    return None


def check_inside(repo: Path, rel: object, what: str, *, file: str | None = None, hint: str | None = None) -> None:
    """Raise a WriteError unless ``rel`` is a path inside ``repo`` (after following symlinks)."""
    problem = path_problem(rel)
    if problem is not None:
        raise WriteError.single(
            f"{what} {rel!r} is not a path inside the repository: it {problem}",
            file=file or str(repo),
            hint=hint or "clustergen only writes and removes files inside the repository folder",
        )
    assert isinstance(rel, str)
    link = symlink_out(repo, rel)
    if link is not None:
        target = os.path.realpath(Path(repo) / link)
        raise WriteError.single(
            f"{what} {rel!r}, which goes through the symlink {link}, which leads outside the repository (to {target})",
            file=str(Path(repo) / link),
            hint=f"replace the symlink {link} with a real folder or file; clustergen never writes or removes "
            "anything outside the repository",
        )
