"""Local Helm charts: ``helm lint --strict`` and rendering the releases that use them.

Helm runs in-process through helm-python (Helm v4's SDK over a C ABI), so
there is no helm binary to find.  The library is imported only when the
repository has charts, and called from one thread.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
from pathlib import Path
from typing import Any

import yaml

from .documents import RENDERED, Document, PathPart, get_path, json_path, load_all, mapping, parse_documents
from .report import Fault
from .sources import LocalSources

CHECK = "helm"
_TEMPLATE_AT = re.compile(r"(?:^|[\s(])(?:[\w.-]+/)*?((?:charts/[\w.-]+/)*templates/[^:()\s]+):(\d+)")

Locate = Any  # Callable[[Document, tuple[PathPart, ...]], int | None]


def _helm() -> Any:
    import helm_python

    return helm_python


def _chart_file(chart_dir: str, message: str, fallback: str) -> tuple[str, int | None]:
    m = _TEMPLATE_AT.search(message)
    if m:
        return posixpath.join(chart_dir, m.group(1)), int(m.group(2))
    return fallback, None


def _value_sets(root: Path, chart: str) -> list[tuple[str, dict | None]]:
    """chart-testing's convention: a chart whose defaults are deliberately
    incomplete keeps installable values in ci/*-values.yaml; lint with each."""
    sets: list[tuple[str, dict | None]] = []
    for path in sorted((root / chart / "ci").glob("*-values.yaml")):
        try:
            docs, _ = load_all(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue  # the YAML check reports it
        sets.append((path.relative_to(root / chart).as_posix(), docs[0] if docs and isinstance(docs[0], dict) else {}))
    return sets or [("", None)]


def lint_charts(root: Path, chart_dirs: list[str], k8s_version: str) -> list[Fault]:
    helm = _helm()
    faults = []
    for chart in chart_dirs:
        for label, values in _value_sets(root, chart):
            faults.extend(_lint(helm, root, chart, label, values, k8s_version))
    return faults


def _lint(helm: Any, root: Path, chart: str, label: str, values: dict | None, k8s_version: str) -> list[Fault]:
    chart_yaml = posixpath.join(chart, "Chart.yaml")
    using = f" with {label}" if label else ""
    faults = []
    try:
        result = helm.lint(str(root / chart), values, strict=True,
                           kube_version="v" + k8s_version.removeprefix("v"))
    except helm.HelmError as exc:
        return [Fault(CHECK, chart_yaml, None, None, None, f"helm lint{using} failed: {exc}")]
    for msg in result.get("messages", []):
        if msg.get("severity", 0) < 2:  # INFO ("icon is recommended") is advice
            continue
        text = " ".join(str(msg.get("error", "")).split())  # one fault, one line
        where = posixpath.join(chart, str(msg.get("path", "")))
        if not (root / where).is_file():  # "templates/" and the like
            where = chart_yaml
        file, line = _chart_file(chart, text, where)
        level = "error" if msg.get("severity") == 3 else "warning"
        faults.append(Fault(CHECK, file, line, None, None, f"helm lint{using} {level}: {text}"))
    return faults


def merge(base: dict, overlay: dict) -> dict:
    """Helm's value coalescing: maps merge, everything else replaces."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _set_path(values: dict, dotted: str, value: Any) -> None:
    parts = [p for p in re.split(r"(?<!\\)\.", dotted) if p]
    node = values
    for p in parts[:-1]:
        node = node.setdefault(p.replace("\\.", "."), {})
        if not isinstance(node, dict):
            return
    if parts:
        node[parts[-1].replace("\\.", ".")] = value


class Renderer:
    """Renders HelmReleases (Flux) and Applications (Argo CD) whose chart is in the repo."""

    def __init__(self, root: Path, objects: dict[tuple[str, str, str], Document], sources: LocalSources,
                 locate: Locate):
        self.root = root
        self.sources = sources
        self.objects = objects  # (kind, namespace, name) -> document, for valuesFrom
        self.locate = locate
        self.faults: list[Fault] = []
        self.docs: list[Document] = []

    def _fault(self, doc: Document, path: tuple[PathPart, ...], message: str) -> None:
        self.faults.append(Fault(CHECK, doc.file, self.locate(doc, path), doc.ident,
                                 json_path(path) or None, message))

    def _chart_dir(self, doc: Document, raw: Any, path: tuple[PathPart, ...]) -> str | None:
        if not isinstance(raw, str) or not raw.strip():
            self._fault(doc, path, "chart path is empty")
            return None
        rel = posixpath.normpath(raw.strip().lstrip("/"))
        if rel.startswith(".."):
            self._fault(doc, path, f"chart path {raw!r} points outside the repository")
            return None
        if not (self.root / rel / "Chart.yaml").is_file():
            self._fault(doc, path, f"chart path {raw!r} has no Chart.yaml in the repository")
            return None
        return "" if rel == "." else rel

    def helm_release(self, doc: Document) -> bool:
        """Render a release whose chart is here; whether it was rendered."""
        spec = mapping(doc.data.get("spec"))
        chart_spec = mapping(get_path(spec, ("chart", "spec")))
        ref = mapping(chart_spec.get("sourceRef"))
        if ref.get("kind") != "GitRepository":
            return False
        if not self.sources.is_local(ref.get("name"), ref.get("namespace") or doc.namespace):
            return False  # a chart in an upstream project's git
        chart = self._chart_dir(doc, chart_spec.get("chart"), ("spec", "chart", "spec", "chart"))
        if chart is None:
            return False
        namespace = spec.get("targetNamespace") or doc.namespace or "default"
        release = spec.get("releaseName") or (
            f"{spec['targetNamespace']}-{doc.name}" if spec.get("targetNamespace") else doc.name)
        values: dict = {}
        unavailable = []
        for i, item in enumerate(spec.get("valuesFrom") or []):
            got = self._values_from(doc, i, item)
            if got is None:
                unavailable.append(f"{item.get('kind')}/{item.get('name')}")
            elif item.get("targetPath"):
                _set_path(values, str(item["targetPath"]), got)
            elif isinstance(got, dict):
                values = merge(values, got)
        if isinstance(spec.get("values"), dict):
            values = merge(values, spec["values"])
        return self._render(doc, chart, values, release, namespace, unavailable)

    def _values_from(self, doc: Document, i: int, item: Any) -> Any:
        if not isinstance(item, dict):
            return None
        kind, name = item.get("kind"), item.get("name")
        key = item.get("valuesKey") or "values.yaml"
        source = self.objects.get((str(kind), doc.namespace, str(name)))
        if source is None:
            if not item.get("optional"):
                self._fault(doc, ("spec", "valuesFrom", i, "name"),
                            f"valuesFrom {kind} {doc.namespace}/{name} not found in the repository")
            return None
        if source.sops_encrypted:
            return None  # cannot decrypt here; rendered without it
        data = source.data.get("data") or {}
        raw = data.get(key)
        if kind == "Secret":
            raw = (source.data.get("stringData") or {}).get(key, raw)
            if raw is not None and key not in (source.data.get("stringData") or {}):
                try:
                    raw = base64.b64decode(str(raw)).decode()
                except (binascii.Error, UnicodeDecodeError):
                    raw = None
        if raw is None:
            if not item.get("optional"):
                self._fault(doc, ("spec", "valuesFrom", i, "valuesKey"),
                            f"{kind} {doc.namespace}/{name} has no key {key!r}")
            return None
        if item.get("targetPath"):
            return raw
        try:
            docs, _ = load_all(str(raw))
        except yaml.YAMLError as exc:
            self._fault(doc, ("spec", "valuesFrom", i), f"{kind} {name} key {key!r} is not YAML: {exc}")
            return None
        return docs[0] if docs and isinstance(docs[0], dict) else {}

    def application(self, doc: Document) -> bool:
        spec = mapping(doc.data.get("spec"))
        sources: list[tuple[PathPart, ...]] = [("spec", "source")] if isinstance(spec.get("source"), dict) else []
        sources += [("spec", "sources", i) for i, s in enumerate(spec.get("sources") or [])
                    if isinstance(s, dict)]
        # Multi-source Applications name a source by `ref` and read its files as $ref/<path>.
        refs = {src["ref"]: src for src in (get_path(doc.data, b) for b in sources)
                if isinstance(src.get("ref"), str) and src["ref"]}
        namespace = get_path(spec, ("destination", "namespace")) or doc.namespace or "default"
        rendered = False
        for base in sources:
            src = get_path(doc.data, base)
            path = src.get("path")
            if src.get("chart") or not self.sources.is_local_url(src.get("repoURL")):
                continue  # a chart from a Helm or OCI repository, or another repository's folder
            if not isinstance(path, str) or not (self.root / posixpath.normpath(path)).is_dir():
                continue  # the references check reports a missing folder
            chart = posixpath.normpath(path)
            if not (self.root / chart / "Chart.yaml").is_file():
                continue  # plain manifests or kustomize: built elsewhere
            h = mapping(src.get("helm"))
            values: dict = {}
            for i, vf in enumerate(h.get("valueFiles") or []):
                file = self._value_file(chart, str(vf), refs)
                if file is None:
                    continue  # a file in another repository
                try:
                    loaded, _ = load_all((self.root / file).read_text(encoding="utf-8"))
                    if loaded and isinstance(loaded[0], dict):
                        values = merge(values, loaded[0])
                except (OSError, yaml.YAMLError) as exc:
                    self._fault(doc, (*base, "helm", "valueFiles", i), f"value file {vf}: {exc}")
            if isinstance(h.get("values"), str):
                try:
                    loaded, _ = load_all(h["values"])
                    if loaded and isinstance(loaded[0], dict):
                        values = merge(values, loaded[0])
                except yaml.YAMLError as exc:
                    self._fault(doc, (*base, "helm", "values"), f"helm.values is not YAML: {exc}")
            if isinstance(h.get("valuesObject"), dict):
                values = merge(values, h["valuesObject"])
            release = h.get("releaseName") or doc.name
            rendered |= self._render(doc, "" if chart == "." else chart, values, release, namespace, [])
        return rendered

    def _value_file(self, chart: str, raw: str, refs: dict[str, dict]) -> str | None:
        """Repo-relative path of a valueFiles entry: relative to the chart, or $ref/<path>."""
        if raw.startswith("$"):
            name, _, rest = raw[1:].partition("/")
            ref = refs.get(name)
            if ref is None or not self.sources.is_local_url(ref.get("repoURL")):
                return None
            return posixpath.normpath(rest)
        return posixpath.normpath(posixpath.join(chart, raw))

    def _render(self, doc: Document, chart: str, values: dict, release: str, namespace: str,
                unavailable: list[str]) -> bool:
        helm = _helm()
        origin = f"helm template {doc.ident}"
        try:
            with helm.Chart.load(str(self.root / chart if chart else self.root)) as loaded:
                manifests = loaded.render(values, name=release, namespace=namespace)
        except helm.HelmError as exc:
            note = f" (values from {', '.join(unavailable)} were not available)" if unavailable else ""
            file, line = _chart_file(chart, str(exc), doc.file)
            if file == doc.file:  # no template named: point at the release itself
                line = self.locate(doc, ())
            self.faults.append(Fault(CHECK, file, line, doc.ident, None,
                                     f"chart {chart or '.'} does not render: {exc}{note}"))
            return True  # rendering was attempted: what failed is reported, not undecided
        for template, text in sorted(manifests.items()):
            if template.endswith("NOTES.txt") or not text.strip():
                continue
            file = posixpath.join(chart, template.split("/", 1)[1] if "/" in template else template)
            try:
                rendered = parse_documents(text, file, RENDERED, origin)
            except yaml.YAMLError as exc:
                self.faults.append(Fault(CHECK, file, None, doc.ident, None,
                                         f"rendered with {doc.ident}'s values, not valid YAML: {exc}"))
                continue
            for d in rendered:
                d.index, d.line, d.namespace_default = -1, None, namespace
            self.docs.extend(rendered)
        return True
