"""Knowing, without planning or rendering, that a regeneration would change nothing.

Output is a pure function of the inventory's text, the secrets store (files in the
repository) and clustergen itself (its code, templates, catalog and the libraries that
shape its output). After a run that left every file exactly as rendered, a record of those
inputs goes to clustergen's cache folder (never the repository: it holds this machine's file
times). The next run with the same inputs, finding every file as recorded, has nothing to
write: it replays the report and warnings and stops, like make with an up-to-date target.
Any difference at all (an edited or deleted file, a changed mode, another clustergen, a
record that is missing or unreadable) means the full run, which is always correct.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import stat
import sys
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from .. import __version__
from ..errors import Problem
from ..resources import data_root
from ..shared.cache import cache_folder, installed_files, keep_newest, store_entry
from .layout import STATE_PATH
from .reconcile import WriteReport
from .state import digest

# Bump when the record's meaning changes.
_RECORD_FORMAT = 1
# Repositories whose last run is remembered: the most recently used ones.
RUN_RECORDS_KEPT = 64
_PACKAGE = Path(__file__).resolve().parents[1]
# Everything outside clustergen's own files whose version can change what it writes.
_OUTPUT_LIBRARIES = ("jinja2", "markupsafe", "yaml", "ruamel", "jsonschema", "pyrage", "cryptography")


@dataclass(frozen=True)
class Replay:
    """What the full run printed, for a run that has nothing to write."""

    warnings: list[Problem]
    report: WriteReport


@cache
def code_fingerprint() -> str:
    """clustergen's own files and the output libraries, by path, size and modification time."""
    entries: list[str] = [__version__, sys.version]
    # An installed wheel keeps the data folders inside the package; a checkout beside it.
    data = [data_root() / name for name in ("charts", "bases", "overlays", "bootstrap")]
    for root in [_PACKAGE, *(d for d in data if not d.is_relative_to(_PACKAGE))]:
        entries.extend(f"{path}\0{info.st_size}\0{info.st_mtime_ns}" for path, info in installed_files(root))
    for library in _OUTPUT_LIBRARIES:
        entries.append(_library_stamp(library))
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


def _library_stamp(name: str) -> str:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return f"{name}\0absent"
    places = list(spec.submodule_search_locations or []) if spec else []
    if spec is None or not (spec.origin or places):
        return f"{name}\0absent"
    # A reinstall or upgrade rewrites the package folder (its entries' times change with it).
    where = places[0] if places else spec.origin
    assert where is not None
    info = os.stat(where)
    return f"{name}\0{where}\0{info.st_mtime_ns}\0{info.st_size}"


def _record_path(repo: Path) -> Path | None:
    folder = cache_folder("runs")
    if folder is None:
        return None
    return folder / (hashlib.sha256(str(repo.resolve()).encode()).hexdigest() + ".json")


def _inputs(inventory_path: Path, inventory_text: str) -> dict[str, str]:
    # The inventory's path is part of it: warnings name the file as it was given.
    return {"code": code_fingerprint(), "inventory": digest(inventory_text.encode()), "inventoryPath": str(inventory_path)}


def record_run(repo: Path, inventory_path: Path, inventory_text: str, warnings: list[Problem], report: WriteReport, notes: list[str]) -> None:
    """Remember a run that merged nothing and had nothing to skip; the next one with the same
    inputs replays it. The files' digests come from the run (what it wrote, and what it read of
    the files it left alone), not from reading them all again."""
    where = _record_path(repo)
    if where is None:
        return
    if report.dry_run or any((report.merged, report.conflicts, report.unresolved, report.kept_deleted, report.stale_kept,
                              report.kept_secret_edits, report.approximate_base)):
        where.unlink(missing_ok=True)
        return
    known = {**report.unchanged_digests, **{u.path: digest(u.after) for u in report.updates if u.after is not None}}
    files = _on_disk(repo, [*report.created, *report.updated, *report.unchanged, STATE_PATH], known)
    if files is None:
        where.unlink(missing_ok=True)
        return
    record = {
        "format": _RECORD_FORMAT, "inputs": _inputs(inventory_path, inventory_text), "files": files,
        "unchanged": sorted({*report.created, *report.updated, *report.unchanged}),
        "warnings": [asdict(w) for w in warnings], "notes": notes,
    }
    if store_entry(where, json.dumps(record, sort_keys=True).encode("utf-8")):
        # One record per repository folder: a record for every folder ever generated into (a
        # test's, a benchmark's) added up to 90 MB in a day.
        keep_newest(where.parent, ".json", RUN_RECORDS_KEPT)


def replay_if_unchanged(repo: Path, inventory_path: Path, inventory_text: str) -> Replay | None:
    """The previous run's report and warnings, when nothing it depended on has changed."""
    where = _record_path(repo)
    if where is None:
        return None
    try:
        record = json.loads(where.read_text(encoding="utf-8"))
        if record.get("format") != _RECORD_FORMAT or record.get("inputs") != _inputs(inventory_path, inventory_text):
            return None
        recorded: dict[str, list] = record["files"]
        if _on_disk(repo, list(recorded)) != recorded:
            return None
        warnings = [Problem(**w) for w in record["warnings"]]
        report = WriteReport(unchanged=list(record["unchanged"]), notes=list(record["notes"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no record, or not one this clustergen wrote: the full run decides
    with contextlib.suppress(OSError):
        os.utime(where)  # used now: the records kept are the most recently used
    return Replay(warnings, report)


def _on_disk(repo: Path, paths: list[str], known: dict[str, str] | None = None) -> dict[str, list] | None:
    """Each path's digest (from ``known`` when given there, else read) and mode, or None when
    one is missing, not a plain file, or reached through a linked folder (what it names would
    not be inside the repository)."""
    root = os.path.realpath(repo)
    folders_inside: set[str] = set()
    found: dict[str, list] = {}
    for rel in paths:
        if rel.startswith("/") or ".." in rel.split("/"):
            return None
        path = os.path.join(root, rel)
        folder = os.path.dirname(path)
        if folder not in folders_inside:
            if os.path.realpath(folder) != folder:
                return None
            folders_inside.add(folder)
        try:
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode):
                return None
            if known is not None and rel in known:
                found[rel] = [known[rel], stat.S_IMODE(info.st_mode)]
            else:
                with open(path, "rb") as fh:
                    found[rel] = [digest(fh.read()), stat.S_IMODE(info.st_mode)]
        except OSError:
            return None
    return found
