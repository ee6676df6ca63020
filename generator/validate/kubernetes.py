"""Kubernetes documents against their JSON Schemas (the builtin engine)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .documents import RENDERED, Document, PathPart, json_path
from .report import Fault, KindCounts
from .schemas import Issue, SchemaError, SchemaStore

CHECK = "schema"

# Build input, not cluster objects: kustomize's config and clustergen's own
# files (the inventory) that a generated repository carries.
_NOT_RESOURCES = ("kustomize.config.k8s.io/", "clustergen.dev/")

Locator = Callable[[Document, tuple[PathPart, ...]], "int | None"]


@dataclass
class SchemaResult:
    faults: list[Fault] = field(default_factory=list)
    kinds: dict[str, KindCounts] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def count(self, kind: str) -> KindCounts:
        return self.kinds.setdefault(kind, KindCounts())

    def skip(self, doc: Document, strict: bool, locate: Locator) -> None:
        """A document with no schema: counted as skipped, and a fault under --strict."""
        self.count(doc.kind).skipped += 1
        reason = missing_schema_reason(doc)
        if (doc.kind, reason) not in self.skipped:
            self.skipped.append((doc.kind, reason))
        if strict:
            self.faults.append(_fault(doc, (), reason + " (strict)", locate))

    def extend(self, other: SchemaResult) -> None:
        self.faults.extend(other.faults)
        for kind, counts in other.kinds.items():
            self.count(kind).add(counts)
        for item in other.skipped:
            if item not in self.skipped:
                self.skipped.append(item)


def is_schema_subject(doc: Document) -> bool:
    return doc.is_kubernetes and not doc.api_version.startswith(_NOT_RESOURCES)


def missing_schema_reason(doc: Document) -> str:
    return f"no schema for {doc.api_version} {doc.kind} in the schema locations"


def _encrypted_value(issue: Issue) -> bool:
    # SOPS replaces values with ENC[...] strings, so a type error on one says
    # nothing about the decrypted document.
    return isinstance(issue.instance, str) and issue.instance.startswith("ENC[")


def validate_documents(docs: Iterable[Document], store: SchemaStore, strict: bool,
                       locate: Locator) -> SchemaResult:
    result = SchemaResult()
    for doc in docs:
        if not is_schema_subject(doc):
            continue
        counts = result.count(doc.kind)
        try:
            compiled = store.validator(doc.api_version, doc.kind)
        except SchemaError as exc:
            counts.errors += 1
            result.faults.append(_fault(doc, (), str(exc), locate))
            continue
        if compiled is None:
            result.skip(doc, strict, locate)
            continue
        data: Any = doc.data
        encrypted = doc.sops_encrypted
        if encrypted:
            data = {k: v for k, v in data.items() if k != "sops"}
        try:
            issues = compiled.issues(data)
        except (ValueError, TypeError) as exc:  # non-JSON values such as !!binary or int keys
            counts.errors += 1
            result.faults.append(_fault(doc, (), f"not representable as JSON: {exc}", locate))
            continue
        if encrypted:
            issues = [i for i in issues if not _encrypted_value(i)]
        if issues:
            counts.invalid += 1
            result.faults.extend(_fault(doc, i.path, i.message, locate) for i in issues)
        else:
            counts.valid += 1
    return result


def _fault(doc: Document, path: tuple[PathPart, ...], message: str, locate: Locator) -> Fault:
    if doc.source == RENDERED:
        # The template file alone does not say which release's values broke it.
        message += f" ({doc.origin})"
    return Fault(CHECK, doc.file, locate(doc, path), doc.ident, json_path(path) or None, message)
