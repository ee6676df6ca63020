"""Reading the inventory file safely: the one reader for every stage that needs its bytes.

It lives outside the inventory stage so that a run with nothing to do (write/uptodate.py)
can read the file through the same checks without loading the inventory machinery.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import InventoryError

# An inventory is a few kilobytes; this bound keeps a hostile file from taking the machine.
MAX_INVENTORY_BYTES = 1 << 20


def read_inventory_file(path: Path) -> str:
    """The inventory's text; only a regular file is read (a FIFO or /dev/zero would block
    or never end), and only up to MAX_INVENTORY_BYTES."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InventoryError.single(
            f"inventory file not found: {path}",
            hint="create one with 'clustergen init' or pass the right path",
        ) from None
    except OSError as exc:
        raise InventoryError.single(f"cannot read {path}: {exc.strerror}", file=str(path)) from None
    _regular_and_small(path, info)
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, opening it does not wait.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InventoryError.single(f"cannot read {path}: {exc.strerror}", file=str(path)) from None
    with os.fdopen(fd, "rb") as stream:
        _regular_and_small(path, os.fstat(stream.fileno()))
        data = stream.read(MAX_INVENTORY_BYTES + 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InventoryError.single(
            f"the file is not UTF-8 text: {exc.reason} at byte {exc.start}", file=str(path), line=line,
            hint="save the inventory as UTF-8",
        ) from None
    return text


def _regular_and_small(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        what = "a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode) else \
            "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "a socket or other special file"
        raise InventoryError.single(
            f"{path} is not a regular file (it is {what})", file=str(path),
            hint="pass the inventory YAML file itself, e.g. inventory.yaml",
        )
    if info.st_size > MAX_INVENTORY_BYTES:
        raise InventoryError.single(
            f"{path} is larger than {MAX_INVENTORY_BYTES >> 20} MiB ({info.st_size} bytes): not an inventory", file=str(path),
            hint="an inventory lists machines and apps in a few kilobytes; check you passed the right file",
        )
