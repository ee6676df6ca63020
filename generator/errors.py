"""The one user-facing error type, and the problems it carries.

Every stage raises a subclass of ``ClustergenError``; only the CLI catches it,
prints each problem, and exits with status 2.  Anything else (a ``ValueError``, a
``tools.ToolError`` no stage turned into a user error) is a bug in clustergen and
reaches the user as a traceback.  A ``Problem`` is also how
stages report warnings, so ``plan`` can show them and ``--strict`` can
promote them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Self


def closest_match(word: str, choices: Iterable[str]) -> str | None:
    """The choice a mistyped ``word`` most likely meant, for a "did you mean" hint."""
    import difflib  # only a run with a mistake pays for it

    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return close[0] if close else None


@dataclass(frozen=True)
class Problem:
    """One mistake or warning, located in its file (line, column, field) with a hint how to fix it."""

    message: str
    file: str | None = None
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    field: str | None = None  # dotted path such as nodes[2].address
    hint: str | None = None
    severity: str = "error"  # error | warning
    code: str | None = None  # a named rule, e.g. etcd-on-sd-card, for docs and tests

    def location(self) -> str:
        where = self.file or "<inventory>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def format(self) -> str:
        text = f"{self.location()}: {self.severity}" + (f"[{self.code}]" if self.code else "")
        if self.field:
            text += f": {self.field}"
        text += f": {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


@dataclass
class ClustergenError(Exception):
    """A mistake the user can fix; never a bug in clustergen."""

    problems: list[Problem] = field(default_factory=list)
    # What the run did write before it stopped (finishing an interrupted run), or None.
    wrote: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.summary())

    @classmethod
    def single(cls, message: str, **where: Any) -> Self:
        return cls([Problem(message, **where)])

    def summary(self) -> str:
        return "\n".join(p.format() for p in self.problems)


class InventoryError(ClustergenError):
    """The inventory file cannot be read, or breaks the schema or a rule."""


class PlanError(ClustergenError):
    """The hardware cannot carry what the inventory asks for."""


class RenderError(ClustergenError):
    """A template or catalog entry could not be rendered."""


class WriteError(ClustergenError):
    """The output directory cannot be written safely."""


class OutputError(ClustergenError):
    """Standard output cannot be written: a full disk, a closed pipe. ``closed_pipe`` when the
    reader stopped reading (``clustergen plan | head``), which is no mistake to report."""

    closed_pipe: bool = False

    @classmethod
    def writing(cls, exc: OSError) -> Self:
        error = cls([Problem(f"standard output cannot be written: {exc.strerror or exc}",
                             file="<stdout>", hint="free space where the output goes, or send it elsewhere; files the command "
                                  "wrote before this are kept")])
        error.closed_pipe = isinstance(exc, BrokenPipeError)
        return error


class ValidateError(ClustergenError):
    """The repository cannot be validated at all (git cannot list its files). A problem
    found in the repository is a validation fault in the report, not this."""


class ValidateUsageError(ValidateError):
    """`clustergen validate` was asked for something it cannot do (an unknown engine, a bad
    schema-location template, a path that is no folder, an unknown report format)."""

    @classmethod
    def because(cls, message: str, hint: str | None = None) -> Self:
        return cls([Problem(message, hint=hint)])
