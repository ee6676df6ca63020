"""clustergen's own cache folder, and YAML data files parsed once per content.

Parsing the catalog's YAML took longer than planning a small cluster. Its parsed form is
kept under ``$XDG_CACHE_HOME/clustergen/parsed``, keyed by a digest of the file's bytes and
of this interpreter's marshal format, so an edited file or another Python is parsed afresh
and output never depends on the cache. An unwritable or damaged cache only means parsing.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
from pathlib import Path
from typing import Any

# Bump when the parsed form changes meaning (another loader, another YAML library).
_FORMAT = b"pyyaml-safe-1"


def cache_folder(name: str) -> Path | None:
    """``$XDG_CACHE_HOME/clustergen/<name>``, made if need be; None when it cannot be written."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "clustergen" / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


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
    import yaml

    return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _store(entry: Path, data: Any) -> None:
    try:
        blob = marshal.dumps(data)
    except ValueError:
        return  # a type marshal cannot keep (a timestamp): this file is parsed every time
    try:
        fd, scratch = tempfile.mkstemp(dir=entry.parent, prefix=".parsed-")
    except OSError:
        return  # a full or read-only disk: parsed again next time
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(scratch, entry)  # readers see the whole entry or none
    except OSError:
        Path(scratch).unlink(missing_ok=True)
