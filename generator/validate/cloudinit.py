"""cloud-init seeds under bootstrap/cloud-init/<node>/ against cloud-init's own schemas.

network-config may be the bare netplan mapping or wrapped in ``network:``;
cloud-init's schema accepts both through a ``oneOf``, whose failure message
says only "not valid under any of the given schemas".  Unwrapping first and
validating against the version's definition directly gives errors with
paths.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import yaml

from .documents import Document, PathPart, error_line, error_message, json_path, locate, parse_documents
from .report import Fault
from .schemas import compile_file

CHECK = "cloud-init"
CLOUD_CONFIG_HEADER = "#cloud-config"
_NETWORK_SCHEMAS = {1: ("schema-network-config-v1.json", "network_config_version1"),
                    2: ("schema-network-config-v2.json", "network_config_version2")}


class CloudInitCheck:
    def __init__(self, root: Path, schema_dir: Path | None, strict: bool):
        self.root = root
        self.schema_dir = schema_dir
        self.strict = strict
        self.faults: list[Fault] = []
        self.skipped: list[tuple[str, str]] = []

    def run(self, files: list[str]) -> None:
        if files and self.schema_dir is None:
            reason = ("no cloud-init schema found: give a schema location inside a schemas root "
                      "holding cloud-init/upstream-26.2/, or set CLUSTERGEN_SCHEMAS")
            self.skipped.append((CHECK, reason))
            if self.strict:
                self.faults.extend(Fault(CHECK, f, None, None, None, reason + " (strict)") for f in files)
        for rel in files:
            try:
                text = (self.root / rel).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                self.faults.append(Fault(CHECK, rel, None, None, None, f"cannot read: {exc}"))
                continue
            if PurePosixPath(rel).name == "user-data":
                self._user_data(rel, text)
            else:
                self._network_config(rel, text)

    def _parse(self, rel: str, text: str) -> Document | None:
        try:
            docs = parse_documents(text, rel)
        except yaml.YAMLError as exc:
            self.faults.append(Fault(CHECK, rel, error_line(exc), None, None, error_message(exc)))
            return None
        if len(docs) != 1 or not isinstance(docs[0].data, dict):
            self.faults.append(Fault(CHECK, rel, 1, None, None, "expected a single YAML mapping"))
            return None
        return docs[0]

    def _user_data(self, rel: str, text: str) -> None:
        first = text.split("\n", 1)[0].rstrip()
        if first != CLOUD_CONFIG_HEADER:
            self.faults.append(Fault(CHECK, rel, 1, None, None,
                                     f"user-data must start with '{CLOUD_CONFIG_HEADER}' "
                                     f"(found {first[:40]!r}); cloud-init would not read it as cloud-config"))
            return
        doc = self._parse(rel, text)
        if doc is None or self.schema_dir is None:
            return
        self._validate(doc, text, self.schema_dir / "schema-cloud-config-v1.json", "", ())

    def _network_config(self, rel: str, text: str) -> None:
        doc = self._parse(rel, text)
        if doc is None or self.schema_dir is None:
            return
        prefix: tuple[PathPart, ...] = ()
        body = doc.data
        if set(body) == {"network"} and isinstance(body["network"], dict):
            prefix, body = ("network",), body["network"]
        version = body.get("version")
        if version not in _NETWORK_SCHEMAS:
            self.faults.append(Fault(CHECK, rel, locate(text, 0, (*prefix, "version")), None,
                                     json_path((*prefix, "version")),
                                     f"network config version must be 1 or 2, not {version!r}"))
            return
        file, ref = _NETWORK_SCHEMAS[version]
        self._validate(doc, text, self.schema_dir / file, ref, prefix, body)

    def _validate(self, doc: Document, text: str, schema: Path, ref: str,
                  prefix: tuple[PathPart, ...], body: object = None) -> None:
        if not schema.is_file():
            self.skipped.append((CHECK, f"schema {schema} not found"))
            return
        try:
            compiled = compile_file(schema, ref)  # the draft each file declares
        except Exception as exc:  # SchemaError, or the compiler's own error types
            self.faults.append(Fault(CHECK, doc.file, None, None, None, f"schema {schema.name}: {exc}"))
            return
        for issue in compiled.issues(doc.data if body is None else body):
            path = (*prefix, *issue.path)
            self.faults.append(Fault(CHECK, doc.file, locate(text, 0, path), None,
                                     json_path(path) or None, issue.message))
