"""Regular expressions compiled once per interpreter build, not once per run of the program.

``re`` compiles a pattern in Python: it parses it, then generates the engine's code, whose
character-set optimisation is most of the work. A fresh generate compiles about 150 patterns,
nearly all of them in PyYAML's, Jinja's and the standard library's modules as they load: 12 to
15 ms of a 200 ms run (one of PyYAML's, a negated Unicode class, takes 4 to 5 ms alone).

``cache_regex_code`` makes ``re`` keep, for each (pattern, flags), the arguments its compiler
hands to ``_sre.compile`` (the engine code, flags and group names), in a table under
``$XDG_CACHE_HOME/clustergen/code`` (one file per interpreter build and engine version), and
replay them: a pattern seen before costs microseconds. The arguments are what the compiler
itself produced, so a cached pattern equals a fresh one, code and all. ``_sre.compile`` checks
the code it is given, and the table file carries a digest of its content: a damaged, stale or
foreign table only means compiling as before. Only the clustergen program installs it (cli.run):
a library or test process importing clustergen keeps ``re`` as it is.
"""

from __future__ import annotations

import _sre
import _thread
import hashlib
import marshal
import re
from typing import Any

from .cache import store_entry
from .code_table import table_path

# A table that has grown past this (patterns of many clustergen and library versions) is
# rewritten with only what this process used.
MAX_ENTRIES = 2000

Key = tuple[Any, int]  # (pattern as str or bytes, flags)

_table: dict[Key, tuple[Any, ...]] = {}
_used: set[Key] = set()
_added: list[Key] = []
_table_file: list[Any] = []  # where the installed table is saved (empty until installed)


class _Recorder:
    """Stands in for ``_sre`` inside re's compiler: the arguments of a ``compile`` made by the
    thread compiling through the cache are noted; everything else is ``_sre``'s own."""

    def __init__(self) -> None:
        self.owner: int | None = None
        self.captured: tuple[Any, ...] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(_sre, name)

    def compile(self, *args: Any) -> Any:
        if self.owner == _thread.get_ident():
            self.captured = args
        return _sre.compile(*args)


def cache_regex_code() -> None:
    """Install the cached compile into ``re`` (once; later calls do nothing). Without a usable
    cache folder, or on an interpreter whose ``re`` is laid out otherwise, nothing changes."""
    compiler = getattr(re, "_compiler", None)
    original = getattr(compiler, "compile", None)
    if compiler is None or original is None or getattr(original, "_clustergen_cached", False):
        return
    if not isinstance(getattr(compiler, "_sre", None), type(re)):
        return  # not the module it calls into: leave re alone
    path = table_path("regex", str(_sre.MAGIC))
    if path is None:
        return
    _table.update(_read_table(path))
    recorder = _Recorder()
    lock = _thread.allocate_lock()

    def cached_compile(p: Any, flags: int = 0) -> Any:
        if type(p) not in (str, bytes) or flags & re.DEBUG:  # a parsed pattern (re.Scanner), or one to print
            return original(p, flags)
        key = (p, int(flags))
        arguments = _table.get(key)
        if arguments is not None:
            try:
                pattern = _sre.compile(*arguments)
            except Exception:  # noqa: BLE001 - not what this engine takes: compiled afresh below
                del _table[key]
            else:
                _used.add(key)
                return pattern
        with lock:
            recorder.owner, recorder.captured = _thread.get_ident(), None
            try:
                pattern = original(p, flags)
                captured = recorder.captured
            finally:
                recorder.owner = None
        plain = _plain(captured) if captured is not None else None
        if plain is not None:
            _table[key] = plain
            _used.add(key)
            _added.append(key)
        return pattern

    cached_compile._clustergen_cached = True  # type: ignore[attr-defined]
    compiler._sre = recorder
    compiler.compile = cached_compile
    _table_file.append(path)


def save_regex_code() -> None:
    """Save the table if this process compiled patterns it did not hold."""
    if not _added:
        return
    keep = _table if len(_table) <= MAX_ENTRIES else {key: _table[key] for key in _used if key in _table}
    try:
        payload = marshal.dumps(keep)
    except ValueError:  # cannot happen with _plain's types; never worth a failed run
        return
    for path in _table_file:
        store_entry(path, marshal.dumps((hashlib.sha256(payload).digest(), payload)))
    _added.clear()


def _plain(value: Any) -> Any:
    """``value`` in the types marshal writes (re's opcodes are int subclasses); None for anything
    else, which is then not kept."""
    kind = type(value)
    if value is None or kind in (str, bytes, int):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if kind in (list, tuple):
        items = [_plain(item) for item in value]
        if any(item is None and original is not None for item, original in zip(items, value, strict=True)):
            return None
        return items if kind is list else tuple(items)
    if kind is dict:
        entries = {_plain(k): _plain(v) for k, v in value.items()}
        return None if None in entries or None in entries.values() else entries
    return None


def _read_table(path: Any) -> dict[Key, tuple[Any, ...]]:
    try:
        digest, payload = marshal.loads(path.read_bytes())
        if hashlib.sha256(payload).digest() != digest:
            return {}  # damaged: compile afresh
        table = marshal.loads(payload)
    except (OSError, EOFError, ValueError, TypeError):
        return {}  # none yet, or not a table this module wrote
    if not isinstance(table, dict):
        return {}
    return {key: value for key, value in table.items() if _well_formed(key, value)}


def _well_formed(key: Any, value: Any) -> bool:
    return (isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], (str, bytes)) and isinstance(key[1], int)
            and isinstance(value, tuple) and len(value) > 1 and value[0] == key[0])
