"""clustergen's own cache folder, and YAML data files parsed once per content.

Parsing the catalog's YAML took longer than planning a small cluster. Its parsed form is
kept under ``$XDG_CACHE_HOME/clustergen/parsed``, keyed by a digest of the file's bytes and
of this interpreter's marshal format, so an edited file or another Python is parsed afresh
and output never depends on the cache. An unwritable or damaged cache only means parsing.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Bump when the parsed form changes meaning (another loader, another YAML library).
_FORMAT = b"pyyaml-safe-1"


def cache_folder(name: str) -> Path | None:
    """``$XDG_CACHE_HOME/clustergen/<name>``, made if need be; None when it cannot be written,
    or when it is not this user's own (see ``_private``)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "clustergen" / name
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    if not (_private(folder.parent) and _private(folder)):
        return None
    return folder if os.access(folder, os.W_OK) else None


def _private(folder: Path) -> bool:
    """The folder is a real folder of this user's that no one else may write into. Two of the
    caches hold code that runs (compiled templates, dataclass methods): with a cache folder
    another account could write (an XDG_CACHE_HOME under /tmp, say), that account could plant
    code for clustergen to run. Such a folder is not used; clustergen then works uncached."""
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        return False  # a link could lead anywhere
    owner = getattr(os, "geteuid", None)
    if owner is None:
        return True  # no POSIX owners to compare (Windows): the folder's ACLs decide
    return info.st_uid == owner() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def parsed_yaml_file(path: Path) -> Any:
    """The data of one trusted YAML file of clustergen's own (never the user's inventory)."""
    raw = path.read_bytes()
    key = hashlib.sha256(_FORMAT + b"\0" + str(marshal.version).encode() + b"\0" + raw).hexdigest()
    folder = cache_folder("parsed")
    entry = folder / f"{key}.marshal" if folder is not None else None
    if entry is not None:
        try:
            return marshal.loads(entry.read_bytes())
        except (OSError, EOFError, ValueError, TypeError):
            pass  # absent or damaged: parse it again
    data = _parse(raw)
    if entry is not None:
        _store(entry, data)
    return data


def _parse(raw: bytes) -> Any:
    from .yamltext import safe_load

    return safe_load(raw)


def _store(entry: Path, data: Any) -> None:
    try:
        blob = marshal.dumps(data)
    except ValueError:
        return  # a type marshal cannot keep (a timestamp): this file is parsed every time
    if store_entry(entry, blob):
        keep_newest(entry.parent, ".marshal", PARSED_KEPT)  # each clustergen version adds its files'


# Parsed files kept: a few clustergen versions' catalogs and charts' defaults.
PARSED_KEPT = 64


def store_entry(path: Path, data: bytes) -> bool:
    """Write one cache entry whole or not at all: a reader (another run at the same moment)
    sees the old entry, the new one, or none. False when it could not be written (a full or
    read-only disk), which for a cache only means doing the work again next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, data)
    except OSError:
        return False
    return True


def write_atomically(path: Path, data: bytes, prefix: str = ".entry-") -> None:
    """Put ``data`` at ``path`` through a scratch file beside it (named ``prefix``…) that one
    rename puts in place; a failure raises and leaves no scratch file behind."""
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def installed_files(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every file under ``root`` but bytecode, in a fixed order, with its stat: what a cache
    key reads of installed code (its size and modification time, not its bytes)."""
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            path = os.path.join(folder, name)
            yield path, os.stat(path)


def keep_newest(folder: Path, suffix: str, keep: int) -> None:
    """Remove all but the ``keep`` most recently written entries ending in ``suffix``."""
    try:
        entries = [e for e in os.scandir(folder) if e.name.endswith(suffix)]
    except OSError:
        return
    if len(entries) <= keep:
        return
    dated = []
    for entry in entries:
        with contextlib.suppress(OSError):  # another run trimming the same folder removed it first
            dated.append((entry.stat().st_mtime, entry.path))
    dated.sort(reverse=True)
    for _, path in dated[keep:]:
        with contextlib.suppress(OSError):  # another run removed it first
            os.unlink(path)
