"""Parsed YAML files kept on disk by their bytes, so an unchanged file is not parsed again.

Parsing is most of a validate of plain manifests (libyaml composes, Python builds the
objects); reading back what an earlier run built, with ``marshal``, takes a tenth of that.
An entry is found by the SHA-256 of the file's bytes together with everything that decides
what parsing makes of them: this package's loader (the source of documents.py), PyYAML's
version and whether libyaml is used, and the interpreter's marshal format. A file that does
not parse is never kept (the next run parses it again and words the same error), nor is
one whose objects marshal cannot write exactly.

The entries live in the schema cache folder (``parsed/``), beside the kustomize builds, and
are the user's own: marshal, like a .pyc file, trusts the folder it reads.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from . import documents

KEEP = 20_000  # newest entries kept; a run that writes trims the rest
_MAX_ENTRY = 64 << 20


def _loader_identity() -> bytes:
    with open(documents.__file__, "rb") as own:
        source = own.read()
    return "\0".join((hashlib.sha256(source).hexdigest(), yaml.__version__, str(documents._BaseLoader.__name__),
                      str(marshal.version), sys.version.split()[0])).encode()


class KeptParses:
    """One process's view of the ``parsed/`` folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._identity = _loader_identity()
        self._wrote = False

    def key(self, raw: bytes) -> str:
        return hashlib.sha256(self._identity + b"\0" + raw).hexdigest()

    def get(self, key: str) -> tuple[list[Any], list[int]] | None:
        try:
            with open(self.folder / key, "rb") as stream:
                data = stream.read(_MAX_ENTRY + 1)
            if len(data) > _MAX_ENTRY:
                return None
            docs, lines = marshal.loads(data)
        except (OSError, EOFError, ValueError, TypeError):
            return None
        if not isinstance(docs, list) or not isinstance(lines, list):
            return None
        return docs, lines

    def put(self, key: str, docs: list[Any], lines: list[int]) -> None:
        try:
            # marshal writes exact builtin types only (a subclass raises), so what it reads
            # back equals what the loader built.
            data = marshal.dumps((docs, lines))
        except ValueError:
            return
        if len(data) > _MAX_ENTRY:
            return
        try:
            if not self._wrote:
                self.folder.mkdir(parents=True, exist_ok=True)
            # Written in place, no rename: a reader meeting a half-written entry (or a writer
            # of the same bytes racing it) gets data too short to unmarshal, which is a miss.
            with open(self.folder / key, "wb") as stream:
                stream.write(data)
            if not self._wrote:
                self._wrote = True
                self._trim()
        except OSError:
            pass  # an unwritable cache only means parsing again next time

    def _trim(self) -> None:
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return
        if len(entries) <= KEEP:
            return
        entries.sort(key=lambda e: e.stat().st_mtime, reverse=True)
        for old in entries[KEEP:]:
            with contextlib.suppress(OSError):
                os.unlink(old.path)
