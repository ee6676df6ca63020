"""Apply a set of file updates so that a crash at any moment loses nothing.

Why per file with a journal, not a swap of the whole folder: the repository
folder itself must stay the same inode.  The user's shell, editor and git
are usually *inside* it (`clustergen generate` with no arguments is the
normal flow), and a renamed-away folder would leave them in a deleted
directory; moving `.git` and the user's own files across is a crash window
of its own.

The protocol (a redo log):
  1. stage   every new content goes to a sibling folder `.<repo>.clustergen-stage/files/`
             (same filesystem; `<repo>/.clustergen-stage/` when the repository is a mount
             point of its own), written with its final mode, named by its place in the
             journal's list (one flat folder: no tree of folders to make and remove);
  2. commit  the list of writes and removals is written to `journal.tmp`; one syncfs(2)
             makes the staged files, their folders and the list durable together; it is
             renamed to `journal` and the stage folder fsynced: that rename is the commit point;
  3. apply   each staged file is renamed over its target (atomic per file),
             removed files are unlinked, and one syncfs(2) makes all of it durable;
  4. finish  the journal and the stage folder are removed.
One filesystem sync per step instead of an fsync per file and folder: every staged file and
every target lives on the stage's filesystem (stage_folder keeps them together), so a sync of
that filesystem orders the same writes before the commit point, for about the cost of one fsync.
A crash before 3 leaves the repository exactly as it was (the next run
discards the stage folder); from 3 on, the next run finds the journal and
finishes it, which is idempotent: a staged file already renamed is gone.

One run at a time: an exclusive flock on the repository folder itself.  The
kernel drops it when the process dies, so a crash never leaves a stale lock,
and there is no lock file to ignore, commit or clean up.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import WriteError
from .paths import check_inside
from .reconcile import FileUpdate

JOURNAL = "journal"
PAUSE_ENV = "CLUSTERGEN_TEST_PAUSE_AT"


def pause_point(phase: str) -> None:
    """Test hook: with CLUSTERGEN_TEST_PAUSE_AT=<phase> the run stops here (announcing it on
    stderr) so a test can kill -9 it mid-write. Phases: staged, committed, applying, applied."""
    if os.environ.get(PAUSE_ENV) == phase:
        print(f"clustergen: paused at {phase}", file=sys.stderr, flush=True)
        time.sleep(600)


def _stage_candidates(repo: Path) -> tuple[Path, Path]:
    repo = repo.resolve()
    return repo.parent / f".{repo.name}.clustergen-stage", repo / ".clustergen-stage"


def stage_folder(repo: Path) -> Path:
    """Beside the repository; inside it only when the repository is a mount point of its own
    (a container's bind mount) or its parent is not writable, since renames must not cross
    filesystems."""
    beside, inside = _stage_candidates(repo)
    for existing in (beside, inside):
        if existing.exists():
            return existing
    parent = beside.parent
    if os.access(parent, os.W_OK | os.X_OK) and os.stat(parent).st_dev == os.stat(repo).st_dev:
        return beside
    return inside


@contextmanager
def repository_lock(repo: Path, *, shared: bool = False) -> Iterator[None]:
    """Exclusive for a run that writes; shared for a dry run, which only needs no writer meanwhile."""
    fd = os.open(repo, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WriteError.single(
                f"another clustergen run is writing {repo}",
                file=str(repo),
                hint="wait for it to finish and run again (the lock goes away by itself when that process ends)",
            ) from None
        yield
    finally:
        os.close(fd)


def pending_recovery(repo: Path) -> bool:
    return (stage_folder(repo) / JOURNAL).is_file()


def recover(repo: Path) -> tuple[str, list[str]] | None:
    """Finish or discard what an interrupted run left behind; returns a note for the user and
    the paths the interrupted run's update wrote or removed (all clustergen's own output, so
    the uncommitted-changes check does not count them as the user's)."""
    repo = repo.resolve()
    stage = stage_folder(repo)
    if not stage.exists():
        return None
    if (stage / JOURNAL).is_file():
        journal = _read_journal(repo, stage)
        paths = list(journal["write"]) + list(journal["remove"])
        count = _roll_forward(repo, stage)
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        return (
            f"finished the interrupted run's update: {len(paths)} file(s) written or removed ({shown}), "
            f"{count} of them still pending when it stopped; they are clustergen's output, review and commit them "
            "with this run's changes",
            paths,
        )
    shutil.rmtree(stage, ignore_errors=True)
    return "removed the staging folder of an interrupted run; it had not changed the repository", []


def apply_updates(repo: Path, updates: list[FileUpdate]) -> None:
    if not updates:
        return
    repo = repo.resolve()
    _check_targets(repo, updates)
    stage = stage_folder(repo)
    try:
        os.mkdir(stage, 0o700)  # private: it holds secret files before they reach their 0600 targets
    except FileExistsError:
        raise WriteError.single(f"{stage} is in the way", file=str(stage), hint="remove it; it is left over from an interrupted run") from None
    except OSError as exc:
        raise WriteError.single(
            f"cannot create {stage}: {exc.strerror}",
            file=str(stage),
            hint=f"clustergen stages its writes next to the repository; it needs write access to {repo.parent}",
        ) from None
    writes = [u for u in updates if u.after is not None]
    removals = [u.path for u in updates if u.after is None]
    try:
        files = stage / "files"
        os.mkdir(files, 0o700)
        for i, update in enumerate(writes):
            _write_file(files / str(i), update.after or b"", update.mode)
        pause_point("staged")
        journal = {"repository": str(repo), "write": [u.path for u in writes], "remove": removals, "staged": "numbered"}
        _write_file(stage / (JOURNAL + ".tmp"), json.dumps(journal, indent=1).encode(), 0o600)
        # The staged files, their folders and the journal's text reach the disk before the rename
        # that commits them.
        sync_filesystem(stage)
        os.replace(stage / (JOURNAL + ".tmp"), stage / JOURNAL)
        _fsync_dir(stage)
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise WriteError.single(f"cannot stage the new files: {exc}", file=str(stage)) from None
    pause_point("committed")
    try:
        _roll_forward(repo, stage, journal)
    except OSError as exc:
        raise WriteError.single(
            f"writing {repo} stopped halfway: {exc}",
            file=str(repo),
            hint="fix the cause and run clustergen generate again; it finishes the committed update first",
        ) from None


def _roll_forward(repo: Path, stage: Path, journal: dict | None = None) -> int:
    """Apply the journal; returns how many files this call changed (fewer when resuming).
    ``journal`` is given by the run that just wrote it from checked paths; a journal found on
    disk came with the repository and is checked first."""
    if journal is None:
        journal = _read_journal(repo, stage)
    writes: list[str] = journal["write"]
    # A journal of a clustergen before numbered staging keeps each file at its own path.
    numbered = journal.get("staged") == "numbered"
    changed = 0
    # Plain strings: thousands of files made pathlib's joins most of this loop's time.
    root, staged = str(repo), os.path.join(stage, "files")
    made: set[str] = set()
    for i, path in enumerate(writes):
        source = os.path.join(staged, str(i) if numbered else path)
        target = os.path.join(root, path)
        folder = os.path.dirname(target)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        try:
            os.replace(source, target)
            changed += 1
        except FileNotFoundError:
            if os.path.exists(source):  # the target's folder vanished: a real failure
                raise
            # else: renamed into place before the interruption
        if i == len(writes) // 2:
            pause_point("applying")
    for path in journal["remove"]:
        target_path = repo / path
        if target_path.exists():
            target_path.unlink()
            changed += 1
        _remove_empty_parents(target_path.parent, repo)
    # Every rename and removal is on disk before the journal that would redo them goes.
    sync_filesystem(repo)
    pause_point("applied")
    (stage / JOURNAL).unlink()
    shutil.rmtree(stage, ignore_errors=True)
    _fsync_dir(stage.parent)
    return changed


def _read_journal(repo: Path, stage: Path) -> dict:
    """The journal, every path in it checked: a stage folder inside the repository came with
    the repository, so its journal is no more trusted than the rest of it."""
    where = stage / JOURNAL
    hint = f"it is not what clustergen writes; remove {stage} and run again"
    try:
        journal = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise WriteError.single(f"cannot read the journal of an interrupted run: {exc}", file=str(where), hint=hint) from None
    if not isinstance(journal, dict) or not all(isinstance(journal.get(k), list) for k in ("write", "remove")):
        raise WriteError.single("the journal of an interrupted run is damaged", file=str(where), hint=hint)
    seen: dict[str, str | None] = {}
    for rel in journal["write"] + journal["remove"]:
        check_inside(repo, rel, "the journal of an interrupted run lists", file=str(where), hint=hint, seen=seen)
    return journal


def _check_targets(repo: Path, updates: list[FileUpdate]) -> None:
    """Refuse before the commit point what would make the apply step fail halfway."""
    # Thousands of files share a few folders: each folder is looked at once, as a plain string
    # (pathlib's joins and parents were most of this loop's time).
    root = str(repo)
    writable: set[str] = set()
    missing: set[str] = set()
    for update in updates:
        target = os.path.join(root, update.path)
        if _is_real_folder(target):
            raise WriteError.single(f"{target} is a folder, but clustergen generates a file there", file=target, hint="move the folder away")
        parent = target
        while parent != root:
            parent = os.path.dirname(parent)
            if parent in writable:
                break
            if parent in missing:
                continue
            mode = _mode(parent)
            if mode is None:
                missing.add(parent)
                continue
            if not stat.S_ISDIR(mode):
                raise WriteError.single(f"{parent} is a file, but clustergen needs a folder there", file=parent, hint="move the file away")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise WriteError.single(f"cannot write into {parent}: permission denied", file=parent, hint="fix its permissions")
            writable.add(parent)
            break  # the nearest existing folder is the one that matters


def _mode(path: str) -> int | None:
    """The file type and mode bits of ``path`` (links followed); None where nothing is."""
    try:
        return os.stat(path).st_mode
    except OSError as exc:
        if exc.errno in _ABSENT:
            return None
        raise


def _is_real_folder(path: str) -> bool:
    """A folder itself, not a link to one (a link is replaced like a file)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError as exc:
        if exc.errno in _ABSENT:
            return False
        raise


# What pathlib's exists() and is_dir() take for "nothing there".
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})


def _write_file(path: Path, data: bytes, mode: int) -> None:
    # Made 0600 and given its mode only once written: a secret is never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def sync_filesystem(path: Path) -> None:
    """Make every write to the filesystem holding `path` durable: file data, and the folder
    entries of creates and renames. Linux has syncfs(2), which waits for just that filesystem;
    elsewhere sync(2) does it for all of them."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        syncfs = _syncfs()
        if syncfs is None or syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


_SYNCFS: list = []


def _syncfs():  # -> the libc function, or None where there is none
    if not _SYNCFS:
        function = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                function = ctypes.CDLL(None, use_errno=True).syncfs
                function.argtypes = [ctypes.c_int]
            except (OSError, AttributeError):
                function = None
        _SYNCFS.append(function)
    return _SYNCFS[0]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems cannot fsync a directory; the data files are synced
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _remove_empty_parents(folder: Path, repo: Path) -> None:
    while folder != repo and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
