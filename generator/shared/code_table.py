"""Where the tables of compiled code live (dataclass_code.py, regex_code.py, and the inventory
schema's verdict, inventory/schema_code.py): one file per kind
and interpreter build under ``$XDG_CACHE_HOME/clustergen/code``, so that another Python, another
marshal format or another optimisation level never reads what this one wrote."""

from __future__ import annotations

import hashlib
import marshal
import sys
from pathlib import Path
from typing import Any

from .cache import cache_folder


def table_path(kind: str, *build: str) -> Path | None:
    """The table file of ``kind`` for this interpreter (``build``: more that the table's content
    depends on); None without a usable cache folder."""
    folder = cache_folder("code")
    if folder is None:
        return None
    key = "\0".join([sys.version, sys.implementation.cache_tag, str(marshal.version), str(sys.flags.optimize), *build])
    return folder / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:24]}.marshal"


def read_table(path: Path) -> Any:
    """What the table file at ``path`` holds; None when there is none yet, or it is damaged
    or another marshal format (the caller then compiles afresh)."""
    try:
        return marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
