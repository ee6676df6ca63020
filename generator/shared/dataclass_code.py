"""The methods the dataclass decorator writes, compiled once per interpreter instead of once per run.

The decorator writes each method it adds (``__init__``, ``__eq__``, ``__repr__``, ``__hash__``,
a frozen class's ``__setattr__`` and ``__delattr__``) as source text and hands it to ``exec``,
which compiles it. clustergen defines about 70 dataclasses, so starting a run compiled about
400 small functions: a third of its startup.

`cache_dataclass_code` gives the dataclasses module an ``exec`` of its own that looks the text
of a clustergen class's method up in a table of code objects kept under ``$XDG_CACHE_HOME/clustergen/code`` (one file per
interpreter build and optimisation level). A text seen before runs the code object compiled
from it; a new one is compiled exactly as the builtin ``exec`` would (file name ``<string>``,
no ``__future__`` flags inherited) and saved when the process ends. The classes come out the
same with or without the table, so an unwritable, stale or damaged cache only means compiling.
"""

from __future__ import annotations

import atexit
import builtins
import dataclasses
import marshal
from types import CodeType
from typing import Any

from .cache import store_entry
from .code_table import read_table, table_path

# A table that has grown past this (texts from many clustergen versions) is rewritten with
# only what this process used.
MAX_ENTRIES = 1500
# Only clustergen's own classes go into the table: another program importing clustergen (a
# test runner) must not fill it with classes no run of clustergen builds.
_PACKAGE = __name__.split(".")[0]

_table: dict[str, CodeType] = {}
_used: set[str] = set()
_compiled: list[str] = []
_table_file: list[Any] = []  # where the installed table is saved (empty until installed)


def cache_dataclass_code() -> None:
    """Install the cached ``exec`` into the dataclasses module (once; later calls do nothing)."""
    if getattr(dataclasses, "exec", None) is _cached_exec:
        return
    path = table_path("dataclasses")
    if path is None:
        return
    _table.update(_read_table(path))
    dataclasses.exec = _cached_exec  # type: ignore[attr-defined]  # shadows the builtin for that module only
    _table_file.append(path)
    atexit.register(_save_table, path)


def compile_like_exec(text: str) -> CodeType:
    """What the builtin ``exec`` compiles when the dataclasses module passes it ``text``
    (that module has no ``__future__`` imports, so none may leak in from this one)."""
    return compile(text, "<string>", "exec", dont_inherit=True)


def _cached_exec(source: Any, globals_: dict[str, Any] | None = None, locals_: dict[str, Any] | None = None) -> None:
    if isinstance(source, str):
        # Never the builtin on the text itself: it would compile it with this module's
        # __future__ flags.
        if _is_ours(globals_):
            code = _table.get(source)
            if code is None:
                code = _table[source] = compile_like_exec(source)
                _compiled.append(source)
            _used.add(source)
        else:
            code = compile_like_exec(source)
        source = code
    builtins.exec(source, globals_, locals_)


def _is_ours(globals_: dict[str, Any] | None) -> bool:
    """The decorator passes the class's module namespace as the globals."""
    name = globals_.get("__name__") if globals_ is not None else None
    return isinstance(name, str) and name.split(".")[0] == _PACKAGE


def _read_table(path: Any) -> dict[str, CodeType]:
    table = read_table(path)
    if not isinstance(table, dict):
        return {}  # none yet, or damaged: compile afresh
    return {k: v for k, v in table.items() if isinstance(k, str) and isinstance(v, CodeType)}


def save_dataclass_code() -> None:
    """Save the table now if this process compiled anything new (the ``clustergen`` program
    calls it before an exit that skips the exit handlers; see cli.run)."""
    for path in _table_file:
        _save_table(path)


def _save_table(path: Any) -> None:
    if not _compiled:
        return
    keep = _table if len(_table) <= MAX_ENTRIES else {text: _table[text] for text in _used}
    store_entry(path, marshal.dumps(keep))
    _compiled.clear()  # saved: a later call (the exit handler after an explicit save) has nothing to add
