"""A folder's entries in one fixed order, for the caches that key on a whole tree."""

from __future__ import annotations

import os
from collections.abc import Iterator


def tree_entries(top: str, skip_at_top: frozenset[str] = frozenset()) -> Iterator[tuple[bytes, str, os.stat_result]]:
    """(relative name as bytes, path, lstat) of every folder, file and link below ``top``:
    each folder's entries sorted, folders before what they hold, links not followed.
    ``skip_at_top`` names entries of ``top`` itself to leave out (.git). OSError propagates."""
    for here, dirs, files in os.walk(top):
        if here == top and skip_at_top:
            dirs[:] = [d for d in dirs if d not in skip_at_top]
        dirs.sort()
        rel_here = os.path.relpath(here, top)
        for name in sorted(dirs + files):
            path = os.path.join(here, name)
            yield os.path.join(rel_here, name).encode("utf-8", "surrogateescape"), path, os.lstat(path)
