"""Where the chart, Kustomize, bootstrap and example sources are.

A wheel carries them under generator/_data; a source checkout (or an
editable install) has them at the top of the tree.  Both look the same to
the rest of the code.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def data_root() -> Path:
    bundled = _PACKAGE / "_data"
    if (bundled / "charts").is_dir():
        return bundled
    return _PACKAGE.parent


def source_dir(name: str) -> Path:
    """One of charts, bases, overlays, bootstrap, examples."""
    return data_root() / name


def package_file(*parts: str) -> Path:
    return _PACKAGE.joinpath(*parts)
