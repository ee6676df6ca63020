"""Decide, file by file, what a regeneration does to the repository (copier's update, per file).

For every path it compares four versions: what is on disk (the user's),
what clustergen recorded writing last time (a hash in the state), the
merge base (the previous inventory re-rendered), and the new render:

  on disk = recorded hash      untouched: replaced by the new render
  on disk ≠ recorded hash      edited: three-way merged (git merge-file)
  recorded but missing         deleted by the user: stays deleted (not a git-ignored secret file:
                               missing from a fresh clone, it is written again)
  recorded, no longer rendered removed if untouched, else kept and reported
  never recorded               the user's own file: never touched

Nothing here writes: the result is a list of FileUpdates for the transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .. import __version__
from ..errors import WriteError
from .layout import LEGACY_TOKEN_PATH, STATE_PATH, WRITE_ONCE_PATHS
from .merge import CONFLICT_START, MergeResult, merge_file
from .paths import check_inside
from .state import GenerationState, digest

if TYPE_CHECKING:
    from ..shared import RenderedFile


@dataclass(frozen=True)
class FileUpdate:
    """One file's change in a run's transaction: its bytes before and after (None: absent)."""

    path: str
    before: bytes | None  # on disk now; None: absent
    after: bytes | None  # after the run; None: removed
    mode: int = 0o644
    secret: bool = False


@dataclass
class WriteReport:
    """What a run did to each file, for the summary the CLI prints."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)  # untouched by the user: the new render replaced them
    merged: list[str] = field(default_factory=list)  # your edits replayed cleanly on the new render
    conflicts: list[str] = field(default_factory=list)  # merged with conflict markers left in the file
    unresolved: list[str] = field(default_factory=list)  # markers from an earlier run still in the file
    unchanged: list[str] = field(default_factory=list)
    # Digest of each unchanged file's bytes as read from disk (the user's, where a kept edit).
    unchanged_digests: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    kept_deleted: list[str] = field(default_factory=list)  # you deleted them and clustergen changed them since
    stale_kept: list[str] = field(default_factory=list)  # no longer generated, but you changed them
    kept_secret_edits: list[str] = field(default_factory=list)  # secret files are never merged
    approximate_base: list[str] = field(default_factory=list)  # merged against a base that is not what was generated
    notes: list[str] = field(default_factory=list)
    updates: list[FileUpdate] = field(default_factory=list)
    mode_fixes: list[tuple[str, int]] = field(default_factory=list)
    dry_run: bool = False

    @property
    def written(self) -> list[str]:
        return self.created + self.updated + self.merged + self.conflicts

    @property
    def exit_code(self) -> int:
        return 1 if self.conflicts or self.unresolved else 0


class BaseContent(Protocol):
    """The previous inventory rendered now, by path (a dict, or a lazy stand-in)."""

    def get(self, path: str) -> bytes | None: ...


_FORGED_HINT = (
    f"{STATE_PATH} is written by clustergen; restore it from a commit you trust (git log -- {STATE_PATH}), "
    "and review who changed it"
)

Merge = Callable[[bytes, bytes, bytes, str], MergeResult]
# The content clustergen wrote last time, from git history, when the base render cannot reproduce it.
FindCommitted = Callable[[str, str], "bytes | None"]


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None


def _has_markers(content: bytes) -> bool:
    return content.startswith(CONFLICT_START) or b"\n" + CONFLICT_START in content


@dataclass
class Reconciler:
    """Decides each rendered file's fate against the disk, the last state and the merge base."""

    repo: Path
    previous: GenerationState | None
    base: BaseContent | None  # None when the previous inventory cannot be rendered
    merge: Merge = merge_file
    find_committed: FindCommitted | None = None
    report: WriteReport = field(default_factory=WriteReport)

    def run(self, files: list[RenderedFile]) -> WriteReport:
        recorded = self.previous.files if self.previous else {}
        for f in files:
            self._generated(f, recorded.get(f.path))
        produced = {f.path for f in files}
        for path, recorded_digest in sorted(recorded.items()):
            if path not in produced:
                self._dropped(path, recorded_digest)
        return self.report

    def _generated(self, f: RenderedFile, recorded: str | None) -> None:
        report = self.report
        disk = _read(self.repo / f.path)
        if disk is None:
            # Secret files are git-ignored: missing in a fresh clone is not a
            # deletion, and the user needs them (user-data to flash a node).
            if recorded is None or f.secret:
                self._change(f, None, f.content, report.created)
            elif digest(f.content) != recorded:
                report.kept_deleted.append(f.path)
            return
        if disk == f.content:
            self._unchanged(f.path, disk)
            if f.secret and ((self.repo / f.path).stat().st_mode & 0o777) != f.mode:
                report.mode_fixes.append((f.path, f.mode))
            return
        if recorded is not None and digest(disk) == recorded:
            self._change(f, disk, f.content, report.updated)
        elif f.path in WRITE_ONCE_PATHS or f.path.endswith(".sops.yaml"):
            # (Every rendered *.sops.yaml is made from the secrets store, and ciphertext never merges.)
            # Derived from what is on disk (decrypted), so replacing loses nothing.
            self._change(f, disk, f.content, report.updated)
        elif f.secret:
            # Git-ignored, so no history to recover from, and conflict markers
            # around a token help nobody: the user's version stays.
            report.kept_secret_edits.append(f.path)
        else:
            self._merge(f, disk, recorded)

    def _unchanged(self, path: str, disk: bytes) -> None:
        self.report.unchanged.append(path)
        self.report.unchanged_digests[path] = digest(disk)

    def _merge(self, f: RenderedFile, disk: bytes, recorded: str | None) -> None:
        report = self.report
        base = self._base(f.path, recorded)
        if base == f.content:
            # The generator's side did not change: the user's version stands.
            self._unchanged(f.path, disk)
            if _has_markers(disk):
                report.unresolved.append(f.path)
            return
        result = self.merge(disk, base, f.content, f.path)
        if result.content == disk:
            self._unchanged(f.path, disk)
            if result.conflicts:
                report.conflicts.append(f.path)
            return
        # The file is the user's now: it keeps their mode (say, an executable bit they set).
        mode = (self.repo / f.path).stat().st_mode & 0o7777
        self.report.updates.append(FileUpdate(f.path, disk, result.content, mode))
        (report.conflicts if result.conflicts else report.merged).append(f.path)

    def _base(self, path: str, recorded: str | None) -> bytes:
        """What the user's edits started from. A file that was never recorded
        (the user's own file at a path clustergen now generates) merges against
        an empty base, so differences show up as conflicts, not silent wins."""
        if recorded is None:
            return b""
        rendered = self.base.get(path) if self.base is not None else None
        if rendered is not None and digest(rendered) == recorded:
            return rendered
        committed = self.find_committed(path, recorded) if self.find_committed else None
        if committed is not None:
            return committed
        self.report.approximate_base.append(path)
        return rendered if rendered is not None else b""

    def _dropped(self, path: str, recorded: str) -> None:
        # The state file is the repository's, so anyone may have written it: its paths are
        # checked like any other (and GenerationState.read already refused absolute and '..').
        state_file = str(self.repo / STATE_PATH)
        check_inside(self.repo, path, f"the state file ({STATE_PATH}) lists", file=state_file, hint=_FORGED_HINT)
        disk = _read(self.repo / path)
        if disk is None:
            return
        if digest(disk) != recorded:
            self.report.stale_kept.append(path)
            return
        produced = self._produced_before(path)
        if produced is None:
            self.report.notes.append(
                f"{path} is listed in the state as generated, but the previous inventory no longer renders it with "
                "this clustergen, so clustergen cannot confirm it wrote it: kept; delete it if you no longer need it"
            )
            return
        if not produced:
            raise WriteError.single(
                f"the state file lists {path} as generated, but the inventory it records does not produce that file: "
                "clustergen never wrote it, so it is not removed",
                file=state_file,
                hint=_FORGED_HINT,
            )
        self.report.updates.append(FileUpdate(path, disk, None))
        self.report.removed.append(path)

    def _produced_before(self, path: str) -> bool | None:
        """Whether the previous inventory, rendered again, produces ``path``; None when that
        cannot be told (no previous inventory, it no longer renders, or another clustergen
        version wrote the state: its file set may differ from this version's)."""
        if path == LEGACY_TOKEN_PATH:
            return True  # an earlier clustergen's plaintext token, migrated into the encrypted store
        if self.base is None or self.previous is None or self.previous.inventory is None:
            return None
        if self.base.get(path) is not None:
            return True
        available = getattr(self.base, "available", None)
        if (available is not None and not available()) or self.previous.tool_version != __version__:
            return None
        return False

    def _change(self, f: RenderedFile, before: bytes | None, after: bytes, bucket: list[str]) -> None:
        self.report.updates.append(FileUpdate(f.path, before, after, f.mode, f.secret))
        bucket.append(f.path)
