"""A progress bar on stderr, only when someone is watching it.

Never drawn unless asked for and stderr is a terminal, so json/junit on
stdout and CI logs stay clean.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Advance = Callable[[int], None]


class Progress:
    def __init__(self, enabled: bool):
        self._bar: Any = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=Console(stderr=True), transient=True,
            )

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    @contextmanager
    def stage(self, description: str, total: int) -> Iterator[Advance]:
        if self._bar is None or total <= 0:
            yield lambda n: None
            return
        task = self._bar.add_task(description, total=total)
        try:
            yield lambda n: self._bar.advance(task, n)
        finally:
            self._bar.update(task, completed=total)
