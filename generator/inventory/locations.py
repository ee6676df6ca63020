"""Map a field path inside the parsed YAML back to its line and column.

ruamel.yaml's round-trip loader remembers where every key and item stood;
this keeps that knowledge next to the plain data so that any later check can
point the user at the exact spot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Path = Sequence[str | int]


def format_path(path: Path) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "<root>"


class SourceMap:
    """Line/column lookup over a ruamel round-trip document."""

    def __init__(self, filename: str, root: Any) -> None:
        self.filename = filename
        self._root = root

    def locate(self, path: Path) -> tuple[int | None, int | None]:
        """Return the 1-based line and column of the deepest part of path that exists."""
        node = self._root
        best: tuple[int | None, int | None] = (1, 1) if node is not None else (None, None)
        for part in path:
            lc = getattr(node, "lc", None)
            try:
                if isinstance(part, int):
                    if lc is not None:
                        line, col = lc.item(part)
                        best = (line + 1, col + 1)
                    node = node[part]
                else:
                    if lc is not None and part in node:
                        line, col = lc.value(part) if _is_scalar(node[part]) else lc.key(part)
                        best = (line + 1, col + 1)
                    node = node[part]
            except (KeyError, IndexError, TypeError, AttributeError):
                break
        return best


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))
