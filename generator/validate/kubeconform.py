"""The ``engine="kubeconform"`` alternative: the same documents, judged by kubeconform.

Documents are piped on stdin, so kubeconform only knows them as "stdin";
results are matched back by (apiVersion, kind, name), in order.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Iterable
from typing import Any

import yaml

from ..errors import ValidateUsageError
from . import tool
from .documents import Document, PathPart
from .kubernetes import Locator, SchemaResult, _fault, is_schema_subject
from .options import ValidateOptions
from .schemas import expand_location

try:
    _Dumper: type = yaml.CSafeDumper
except AttributeError:  # pragma: no cover
    _Dumper = yaml.SafeDumper


def require() -> str:
    exe = tool.kubeconform_path()
    if exe is None:
        raise ValidateUsageError.because("engine 'kubeconform' needs the kubeconform program on PATH; "
                         "install it or use the builtin engine")
    return exe


def command(exe: str, options: ValidateOptions) -> list[str]:
    cmd = [exe, "-output", "json", "-summary", "-verbose", "-strict", "-ignore-missing-schemas",
           "-kubernetes-version", options.kubernetes_version.removeprefix("v"),
           "-cache", str(options.schema_cache_dir), "-schema-location", "default"]
    for loc in options.schema_locations:
        if loc != "default":
            # Bare locations mean the CRDs-catalog layout here; spell it out
            # because kubeconform would read them as kubernetesjsonschema.dev.
            cmd += ["-schema-location", expand_location(loc)]
    if options.jobs:
        cmd += ["-n", str(options.jobs)]
    return cmd


def pointer_parts(pointer: str) -> tuple[PathPart, ...]:
    """JSON Pointer (/spec/containers/0) -> ('spec', 'containers', 0)."""
    parts: list[PathPart] = []
    for raw in pointer.split("/")[1:] if pointer.startswith("/") else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        parts.append(int(token) if token.isdigit() else token)
    return tuple(parts)


def parse_output(stdout: str, docs: list[Document], strict: bool, locate: Locator) -> SchemaResult:
    """Turn kubeconform's ``-output json`` into faults and per-kind counts."""
    try:
        payload: dict[str, Any] = json.loads(stdout)
    except ValueError as exc:
        raise tool.ToolError(["kubeconform"], 1, f"unreadable JSON output: {exc}") from exc
    queues: dict[tuple[str, str, str], deque[Document]] = defaultdict(deque)
    for d in docs:
        queues[(d.api_version, d.kind, d.name)].append(d)
    result = SchemaResult()
    for res in payload.get("resources") or []:
        key = (str(res.get("version", "")), str(res.get("kind", "")), str(res.get("name", "")))
        queue = queues.get(key)
        if not queue:
            continue
        doc = queue.popleft() if len(queue) > 1 else queue[0]
        counts = result.count(doc.kind)
        status = str(res.get("status", ""))
        if status.endswith("Valid") and not status.endswith("Invalid"):
            counts.valid += 1
        elif status.endswith("Invalid"):
            counts.invalid += 1
            errors = res.get("validationErrors") or [{"path": "", "msg": res.get("msg", "invalid")}]
            for err in errors:
                result.faults.append(_fault(doc, pointer_parts(str(err.get("path", ""))),
                                            str(err.get("msg", "")), locate))
        elif status.endswith("Error"):
            counts.errors += 1
            result.faults.append(_fault(doc, (), str(res.get("msg", "error")), locate))
        elif status.endswith("Skipped"):
            result.skip(doc, strict, locate)
    return result


def validate(docs: Iterable[Document], options: ValidateOptions, locate: Locator) -> SchemaResult:
    subjects = [d for d in docs if is_schema_subject(d)]
    if not subjects:
        return SchemaResult()
    exe = require()
    stream = yaml.dump_all([d.data for d in subjects], Dumper=_Dumper, sort_keys=False)
    code, stdout, stderr = tool.run_with_stderr(command(exe, options), input=stream)
    if code not in (0, 1) or not stdout.strip():
        raise tool.ToolError(command(exe, options), code, stderr)
    return parse_output(stdout, subjects, options.strict, locate)
