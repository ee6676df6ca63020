"""The per-file stage: read, parse, scan for secrets, schema-check raw documents.

Parsing YAML dominates a run (~70 % of it; jsonschema-rs validates
~200k documents/s, libyaml-plus-Python builds ~15k/s), so this stage is what
runs in worker processes; each worker also validates the raw documents it
parsed, so documents cross the process boundary once, already checked.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import yaml

from ..shared.cores import usable_cores
from . import kubernetes, secrets
from .documents import Document, PathPart, TextLocator, documents_of, error_line, error_message, load_all
from .parse_cache import KeptParses
from .report import Fault, KindCounts
from .schemas import SchemaStore
import contextlib

# Measured on this 2-core VM (bench/validate.py, best of 5): 10k documents
# (3.5 MB) take 0.82 s serially and 0.89-0.96 s with two workers; 50k (17 MB)
# 4.97 s against 4.71 s.  Unpickling the parsed documents in the parent and
# starting the pool eat what the second core gains, so the pool is kept for
# big repositories (and machines with more cores).
PARALLEL_MIN_BYTES = 16_000_000
MAX_FILE_BYTES = 20_000_000


@dataclass(frozen=True)
class ScanConfig:
    root: str
    kubernetes_version: str
    schema_locations: tuple[str, ...]
    cache_dir: str
    strict: bool
    validate_schemas: bool  # False when kubeconform validates instead
    backend: str


@dataclass(frozen=True)
class FileTask:
    rel: str
    parse: bool  # YAML to parse; False for other tracked files (secrets only)
    report_yaml: bool  # parse failures are this stage's to report
    schema: bool  # validate its Kubernetes documents here


@dataclass
class FileScan:
    rel: str
    docs: list[Document] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    kinds: dict[str, KindCounts] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    parse_failed: bool = False
    kept_key: str | None = None  # the parse pack's key of a file that parsed
    parsed: tuple[list, list[int]] | None = None  # parsed now, not found in the pack


_STORES: dict[ScanConfig, SchemaStore] = {}


def store_for(config: ScanConfig) -> SchemaStore:
    if config not in _STORES:
        _STORES[config] = SchemaStore(config.kubernetes_version, config.schema_locations,
                                      Path(config.cache_dir), config.backend)
    return _STORES[config]


_KEPT: dict[str, KeptParses | None] = {}


def _kept(config: ScanConfig) -> KeptParses | None:
    """This repository's parsed files kept under the cache folder (parse_cache.py)."""
    where = f"{config.cache_dir}\0{config.root}"
    if where not in _KEPT:
        _KEPT[where] = KeptParses(Path(config.cache_dir) / "parsed", config.root) if config.cache_dir else None
    return _KEPT[where]


def _keep_parses(config: ScanConfig, results: list[FileScan]) -> None:
    kept = _kept(config)
    if kept is None:
        return
    keys = [r.kept_key for r in results if r.kept_key is not None]
    kept.save(keys, {r.kept_key: r.parsed for r in results if r.kept_key is not None and r.parsed is not None})
    kept.release()
    for r in results:
        r.parsed = None


def text_locator(text: str, docs: list[Document] | None = None) -> Callable[[Document, tuple[PathPart, ...]], int | None]:
    return TextLocator(text, docs or [])


def scan_file(config: ScanConfig, task: FileTask) -> FileScan:
    """Every tracked file's bytes are scanned for secrets: a file too big to parse, or
    binary, is streamed through the key patterns and its skipped parse reported."""
    result = FileScan(task.rel)
    path = Path(config.root) / task.rel
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            with path.open("rb") as stream:
                result.faults.extend(secrets.scan_stream(task.rel, stream.read))
            if task.parse:
                result.skipped.append(("yaml", f"{task.rel}: {size} bytes, over the {MAX_FILE_BYTES // 1_000_000} MB "
                                               "parse limit: scanned for secrets only, not parsed"))
            return result
        raw = path.read_bytes()
    except OSError as exc:
        result.faults.append(Fault("yaml", task.rel, None, None, None, f"cannot read: {exc.strerror}"))
        result.skipped.append(("secrets", f"{task.rel}: not scanned for secrets: cannot read it ({exc.strerror})"))
        result.parse_failed = task.report_yaml
        return result
    if b"\0" in raw:
        # Binary: no YAML parser or text decoder sees it whole, so the patterns run on the bytes.
        result.faults.extend(secrets.scan_bytes(task.rel, raw))
        if task.report_yaml:
            line = raw.count(b"\n", 0, raw.index(b"\0")) + 1
            result.faults.append(Fault("yaml", task.rel, line, None, None, "holds a NUL byte: not a YAML text file"))
            result.parse_failed = True
        elif task.parse:
            result.skipped.append(("yaml", f"{task.rel}: holds NUL bytes (binary): scanned for secrets only, not parsed"))
        return result
    text = raw.decode("utf-8", errors="replace")
    if task.parse:
        kept = _kept(config)
        key = kept.key(raw) if kept is not None else None
        loaded = kept.get(key) if kept is not None and key is not None else None
        try:
            if loaded is None:
                loaded = load_all(text)
                result.parsed = loaded  # for the pack, which the scan's caller writes
            result.docs = documents_of(*loaded, task.rel)
            result.kept_key = key
        except yaml.YAMLError as exc:
            if task.report_yaml:
                result.parse_failed = True
                result.faults.append(Fault("yaml", task.rel, error_line(exc), None, None,
                                           error_message(exc)))
    find = text_locator(text, result.docs)
    result.faults.extend(secrets.scan(task.rel, text, result.docs, find))
    if task.schema and config.validate_schemas and result.docs:
        checked = kubernetes.validate_documents(result.docs, store_for(config), config.strict, find)
        result.faults.extend(checked.faults)
        result.kinds = checked.kinds
        result.skipped = checked.skipped
    return result


def _scan_chunk(config: ScanConfig, tasks: list[FileTask]) -> list[FileScan]:
    return [scan_file(config, t) for t in tasks]


def scan_files(config: ScanConfig, tasks: list[FileTask], jobs: int,
               advance: Callable[[int], None] = lambda n: None,
               min_bytes: int | None = None) -> list[FileScan]:
    """Scan every task, in worker processes when the repository is big enough."""
    root = Path(config.root)
    size = 0
    for t in tasks:
        if t.parse:
            with contextlib.suppress(OSError):
                size += (root / t.rel).stat().st_size
    threshold = PARALLEL_MIN_BYTES if min_bytes is None else min_bytes
    if jobs <= 1 or size < threshold or len(tasks) < 2 * jobs:
        results = []
        for t in tasks:
            results.append(scan_file(config, t))
            advance(1)
        _keep_parses(config, results)
        return results
    # Several chunks per worker balance uneven files; few enough to keep
    # per-chunk pickling overhead negligible.
    n_chunks = min(len(tasks), jobs * 8)
    chunks = [tasks[i::n_chunks] for i in range(n_chunks)]
    results = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context(_start_method())) as pool:
        futures = {pool.submit(_scan_chunk, config, chunk): len(chunk) for chunk in chunks}
        for fut in as_completed(futures):
            results.extend(fut.result())
            advance(futures[fut])
    order = {t.rel: i for i, t in enumerate(tasks)}
    results.sort(key=lambda r: order[r.rel])
    _keep_parses(config, results)
    return results


def _start_method() -> str:
    """fork starts workers ~0.2 s sooner, but forking a process that runs other
    threads (rich's refresher, the Go runtime behind helm) can deadlock the
    child on a lock held at fork time; count OS threads, not Python's."""
    try:
        single = len(os.listdir("/proc/self/task")) == 1
    except OSError:
        single = False
    return "fork" if single else "forkserver"


def default_jobs(jobs: int | None) -> int:
    return jobs if jobs is not None else usable_cores()
