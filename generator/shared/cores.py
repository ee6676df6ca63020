"""How many cores this process may run on: what side-by-side work is sized by."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may be scheduled on (its affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
