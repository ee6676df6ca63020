"""What the render stage produces: files as data, not yet on disk."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RenderedFile:
    """One file of the generated repository, as bytes with its mode, before it is written."""

    path: str  # POSIX path relative to the repository root
    content: bytes
    mode: int = 0o644
    # Secret-bearing files are git-ignored and written 0600.
    secret: bool = False

    @classmethod
    def text(cls, path: str, text: str, *, mode: int = 0o644, secret: bool = False) -> "RenderedFile":
        if not text.endswith("\n"):
            text += "\n"
        return cls(path, text.encode("utf-8"), 0o600 if secret else mode, secret)
