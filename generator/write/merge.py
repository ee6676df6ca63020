"""Three-way merge of one file with `git merge-file`, the merge git itself uses.

The labels say which side is which in the conflict markers; diff3 style
shows what clustergen generated last time too, so the user can see what
the generator changed, not only the two results.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import tools
from ..errors import WriteError

OURS_LABEL = "yours (repository)"
BASE_LABEL = "clustergen base"
THEIRS_LABEL = "clustergen new"
CONFLICT_START = f"<<<<<<< {OURS_LABEL}".encode()


@dataclass(frozen=True)
class MergeResult:
    """A three-way merge's result and how many hunks conflicted."""

    content: bytes
    conflicts: int  # conflicting hunks; 0 is a clean merge


def git_binary() -> str:
    found = shutil.which("git")
    if not found:
        raise WriteError.single("git is not installed; clustergen needs `git merge-file` to merge your edits", hint="install git")
    return found


# A merge of one file or a status of one repository takes milliseconds; minutes means hung.
GIT_TIMEOUT = 120.0


def git_environment() -> dict[str, str]:
    # Our own markers and messages, whatever the user's locale and config say, and the
    # repository named on the command line, not one an outer GIT_DIR points at.
    return tools.environment({"GIT_OPTIONAL_LOCKS": "0"}, drop=("GIT_DIR", "GIT_WORK_TREE"))


def merge_file(ours: bytes, base: bytes, theirs: bytes, path: str) -> MergeResult:
    """Replay the user's edits (base → ours) onto the new render (theirs)."""
    if b"\0" in ours or b"\0" in base or b"\0" in theirs:
        # git merge-file refuses binary content; keep the user's file and say so.
        return MergeResult(ours, 1)
    with tempfile.TemporaryDirectory(prefix="clustergen-merge-") as tmp:
        names = []
        for name, data in (("ours", ours), ("base", base), ("theirs", theirs)):
            Path(tmp, name).write_bytes(data)
            names.append(str(Path(tmp, name)))
        command = [
            git_binary(), "merge-file", "-p", "--diff3",
            "-L", OURS_LABEL, "-L", BASE_LABEL, "-L", THEIRS_LABEL, *names,
        ]  # fmt: skip
        try:
            # The exit status is the number of conflicts (capped at 127); above that, an error.
            result = tools.run(command, env=git_environment(), timeout=GIT_TIMEOUT, ok_codes=range(128))
        except tools.ToolError as exc:
            raise WriteError.single(f"git merge-file failed on {path}: {exc}", file=path) from None
    return MergeResult(result.stdout, result.exit_code)
