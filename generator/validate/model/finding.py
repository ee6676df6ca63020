"""What a model rule found: a document, the field inside it, and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass

from ..documents import Document, PathPart


@dataclass
class Finding:
    doc: Document
    path: tuple[PathPart, ...]
    message: str
    warning: bool = False  # needs a person (a claim to make by hand), not a fix
