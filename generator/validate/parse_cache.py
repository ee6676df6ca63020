"""Parsed YAML files kept on disk by their bytes, so an unchanged file is not parsed again.

Parsing is most of a validate of plain manifests (libyaml composes, Python builds the
objects); reading back what an earlier run built, with ``marshal``, takes a fraction of that.
An entry is found by the SHA-256 of the file's bytes together with everything that decides
what parsing makes of them: this package's loader (the source of documents.py), PyYAML's
version and whether libyaml is used, and the interpreter's marshal format. A file that does
not parse is never kept (the next run parses it again and words the same error), nor is an
object marshal cannot write exactly (it writes exact builtin types or raises).

One pack per repository folder holds the entries of every file its last run parsed, written
whole (by rename) and only when some file changed: one file, not one per YAML file, since
creating hundreds of small files costs more than the parses they save. The packs live in the
schema cache folder (``parsed/``), beside the kustomize builds, and are the user's own:
marshal, like a .pyc file, trusts the folder it reads.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from ..shared.cache import keep_newest, store_entry
from . import documents

KEEP = 64  # newest packs (repositories) kept; a run that writes one trims the rest
_MAX_PACK = 1 << 30

Entry = tuple[list[Any], list[int]]  # load_all's documents and start lines


def _loader_identity() -> bytes:
    with open(documents.__file__, "rb") as own:
        source = own.read()
    return "\0".join((hashlib.sha256(source).hexdigest(), yaml.__version__, str(documents._BaseLoader.__name__),
                      str(marshal.version), sys.version.split()[0])).encode()


class KeptParses:
    """One process's view of one repository's pack."""

    def __init__(self, folder: Path, root: str):
        self.folder = folder
        self._identity = _loader_identity()
        name = hashlib.sha256(self._identity + b"\0" + os.path.realpath(root).encode("utf-8", "surrogateescape"))
        self.path = folder / f"{name.hexdigest()}.pack"
        self._entries: dict[str, Entry] | None = None
        self._given: set[str] = set()

    def key(self, raw: bytes) -> str:
        return hashlib.sha256(self._identity + b"\0" + raw).hexdigest()

    def _pack(self) -> dict[str, Entry]:
        if self._entries is None:
            self._entries = {}
            try:
                with open(self.path, "rb") as stream:
                    data = stream.read(_MAX_PACK + 1)
                loaded = marshal.loads(data) if len(data) <= _MAX_PACK else None
            except (OSError, EOFError, ValueError, TypeError):
                loaded = None
            if isinstance(loaded, dict):
                self._entries = loaded
        return self._entries

    def get(self, key: str) -> Entry | None:
        """The kept parse of a file with these bytes; each entry once a run, so two files
        alike never share objects (a second one is parsed, as without the cache)."""
        entry = self._pack().get(key)
        if key in self._given or not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], list)
                                      and isinstance(entry[1], list)):
            return None
        self._given.add(key)
        return entry

    def save(self, keys: list[str], fresh: dict[str, Entry]) -> None:
        """Keep this run's files: ``keys`` of every file parsed or found, ``fresh`` the
        entries parsed now. Nothing is written when every file was found."""
        pack = self._pack()
        if not fresh and set(keys) == set(pack):
            return
        entries = {k: fresh[k] if k in fresh else pack[k] for k in keys if k in fresh or k in pack}
        try:
            data = marshal.dumps(entries)
        except ValueError:  # an object marshal cannot write: keep the entries it can
            entries = {k: e for k, e in entries.items() if _marshals(e)}
            data = marshal.dumps(entries)
        self._entries = entries
        if store_entry(self.path, data):  # unwritable: parsing again next time
            keep_newest(self.folder, ".pack", KEEP)

    def release(self) -> None:
        """Forget the loaded pack (its objects live on in the documents built from it)."""
        self._entries = None
        self._given = set()


def _marshals(entry: Entry) -> bool:
    try:
        marshal.dumps(entry)
    except ValueError:
        return False
    return True
