"""Talos machine configs under bootstrap/talos/ against Talos's config JSON Schema.

The schema's root is a ``oneOf`` over every document kind; validating a
document against the one definition its kind selects turns "matches none
of 44 alternatives" into errors with real paths.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from .documents import Document, error_line, error_message, json_path, locate, parse_documents
from .report import Fault
from .schemas import compile_file

CHECK = "talos"
MACHINE_CONFIG = "v1alpha1.Config"


def _definitions_by_kind(schema_file: Path) -> dict[tuple[str, str], str]:
    """(apiVersion, kind) -> $defs name, read from each definition's enums."""
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    out = {}
    for name, definition in schema.get("$defs", {}).items():
        props = definition.get("properties", {}) if isinstance(definition, dict) else {}
        kinds = props.get("kind", {}).get("enum", [])
        versions = props.get("apiVersion", {}).get("enum", [])
        for kind in kinds:
            for version in versions:
                out[(version, kind)] = name
    return out


def definition_for(doc: Document, by_kind: dict[tuple[str, str], str]) -> str | None:
    data = doc.data
    if not isinstance(data, dict):
        return None
    if data.get("version") == "v1alpha1" and ("machine" in data or "cluster" in data):
        return MACHINE_CONFIG
    if doc.api_version and doc.kind:
        return by_kind.get((doc.api_version, doc.kind), "")
    return None  # a patch or some other YAML: not a Talos document


class TalosCheck:
    def __init__(self, root: Path, schema_file: Path | None, strict: bool):
        self.root = root
        self.schema_file = schema_file
        self.strict = strict
        self.faults: list[Fault] = []
        self.skipped: list[tuple[str, str]] = []
        self._texts: dict[str, str] = {}

    def _line(self, doc: Document, path: tuple) -> int | None:
        if not path:
            return doc.line
        if doc.file not in self._texts:
            self._texts[doc.file] = (self.root / doc.file).read_text(encoding="utf-8", errors="replace")
        return locate(self._texts[doc.file], doc.index, path)

    def run(self, files: list[str], tracked: set[str]) -> None:
        docs: list[Document] = []
        for rel in files:
            try:
                text = (self.root / rel).read_text(encoding="utf-8", errors="replace")
                docs.extend(parse_documents(text, rel))
                self._texts[rel] = text
            except OSError as exc:
                self.faults.append(Fault(CHECK, rel, None, None, None, f"cannot read: {exc.strerror}"))
            except yaml.YAMLError as exc:
                if rel not in tracked:  # tracked files already failed the YAML check
                    self.faults.append(Fault(CHECK, rel, error_line(exc), None, None, error_message(exc)))
        by_kind = _definitions_by_kind(self.schema_file) if self.schema_file else {}
        targets = [(d, definition_for(d, by_kind)) for d in docs]
        targets = [(d, name) for d, name in targets if name is not None]
        if targets and self.schema_file is None:
            reason = ("no Talos config schema found: give a schema location inside a schemas root "
                      "holding talos/v1.13/, or set CLUSTERGEN_SCHEMAS")
            self.skipped.append((CHECK, reason))
            if self.strict:
                self.faults.extend(Fault(CHECK, d.file, d.line, None, None, reason + " (strict)")
                                   for d, _ in targets)
            return
        for doc, name in targets:
            label = doc.kind or "MachineConfig"
            if not name:
                self.faults.append(Fault(CHECK, doc.file, doc.line, label, None,
                                         f"unknown Talos document {doc.api_version} {doc.kind}"))
                continue
            assert self.schema_file is not None
            data = doc.data
            if doc.sops_encrypted:
                data = {k: v for k, v in data.items() if k != "sops"}
            for issue in compile_file(self.schema_file, name).issues(data):
                if doc.sops_encrypted and isinstance(issue.instance, str) and issue.instance.startswith("ENC["):
                    continue
                self.faults.append(Fault(CHECK, doc.file, self._line(doc, issue.path), label,
                                         json_path(issue.path) or None, issue.message))
