"""Helm: ``helm lint --strict`` of local charts, and rendering every release.

A release's chart is either in this repository (a path of the GitRepository
being validated, or an Argo CD source that is this repository) or elsewhere:
an HTTP or OCI Helm repository, an upstream project's git.  The latter come
from ``charts.ChartStore`` when remote rendering is on; either way the values
are merged as the controller merges them and the chart is rendered with the
release name and namespace the controller would use.  The chart's ``crds/``
join the rendered documents unless the release skips CRDs.

Helm runs through helm-python (Helm v4's SDK over a C ABI), so there is no
helm binary to find.  Lint and template run in one worker process per run,
bounded in time and memory (helm_worker.py); parsing --set strings stays here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .charts import ChartSource, ChartStore, NotAChart, Unavailable, exact_version, is_commit
from .documents import RENDERED, Document, PathPart, get_path, json_path, load_all, mapping, parse_documents
from . import chartvalues
from .files import inside, under
from .helm_worker import HelmFailed, HelmWorker, WorkerLimit
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


def lint_charts(root: Path, chart_dirs: list[str], k8s_version: str, worker: HelmWorker | None = None) -> list[Fault]:
    """``helm lint --strict`` of each chart, in ``worker`` (a worker of its own when None)."""
    if worker is None:
        with HelmWorker() as own:
            return lint_charts(root, chart_dirs, k8s_version, own)
    faults = []
    for chart in chart_dirs:
        for label, values in _value_sets(root, chart):
            faults.extend(_lint(worker, root, chart, label, values, k8s_version))
    return faults


def _lint_args(root: Path, chart: str, values: dict | None, k8s_version: str) -> tuple[Any, ...]:
    return str(root / chart), values, True, "v" + k8s_version.removeprefix("v")


def lint_kept(root: Path, chart_dirs: list[str], k8s_version: str, worker: HelmWorker) -> bool:
    """Whether every lint of ``chart_dirs`` is answered from the worker's kept results."""
    return all(worker.cached("lint", *_lint_args(root, chart, values, k8s_version))
               for chart in chart_dirs for _, values in _value_sets(root, chart))


def _lint(worker: HelmWorker, root: Path, chart: str, label: str, values: dict | None, k8s_version: str) -> list[Fault]:
    chart_yaml = posixpath.join(chart, "Chart.yaml")
    using = f" with {label}" if label else ""
    faults = []
    try:
        result = worker.call("lint", *_lint_args(root, chart, values, k8s_version))
    except HelmFailed as exc:
        return [Fault(CHECK, chart_yaml, None, None, None, f"helm lint{using} failed: {exc}")]
    except WorkerLimit as exc:
        return [Fault(CHECK, chart_yaml, None, None, None, f"helm lint{using} of chart {chart or '.'} stopped: {exc}")]
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


FLUX_SOURCES = ("GitRepository", "HelmRepository", "OCIRepository")
_TAG_REF = re.compile(r"^refs/tags/(.+)$")


@dataclass(frozen=True)
class _Chart:
    """A chart ready to render."""

    folder: Path  # on disk: in the repository or in the chart cache
    label: str  # what faults name: the repo-relative folder, or ChartSource.label
    # Value files are relative to where the chart sits in its source (Argo CD)
    # or to the source's root (Flux valuesFiles), and must stay inside the source.
    origin: Path
    source_root: Path


class Renderer:
    """Renders HelmReleases (Flux) and Applications (Argo CD): charts in the
    repository always, charts from elsewhere when given a ``ChartStore``."""

    def __init__(self, root: Path, objects: dict[tuple[str, str, str], Document], sources: LocalSources,
                 locate: Locate, store: ChartStore | None = None, strict: bool = False,
                 links_out: dict[str, str] | None = None, worker: HelmWorker | None = None):
        self.root = root
        self.worker = worker if worker is not None else HelmWorker()
        # Symlinks leaving the repository: a chart folder holding one is not rendered.
        self.links_out = links_out or {}
        self.sources = sources
        # (kind, namespace, name) -> document: ConfigMaps and Secrets for
        # valuesFrom, Flux sources for where a chart comes from.
        self.objects = objects
        self.locate = locate
        self.store = store
        self.strict = strict
        self.faults: list[Fault] = []
        self.skipped: list[tuple[str, str]] = []
        self.docs: list[Document] = []
        # One render per chart, values, release and namespace: a base seen
        # again through an overlay costs nothing.
        self._renders: dict[tuple[str, str, str, str], tuple[dict[str, str], list[dict]] | Exception] = {}

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

    def _local(self, rel: str) -> _Chart | None:
        if any(under(link, rel) for link in self.links_out) or not inside(self.root, self.root / rel):
            return None  # reported once, on the chart (runner._helm)
        folder = self.root / rel if rel else self.root
        return _Chart(folder, rel, folder, self.root)

    # -- fetching ------------------------------------------------------------------

    def _fetch(self, doc: Document, path: tuple[PathPart, ...], source: ChartSource,
               not_a_chart_is_fine: bool = False) -> _Chart | None:
        assert self.store is not None
        try:
            folder = self.store.get(source)
        except NotAChart as exc:
            if not not_a_chart_is_fine:
                self._fault(doc, path, f"{source.describe()}: {exc}")
            return None
        except Unavailable as exc:
            self._unavailable(doc, path, source.describe(), str(exc), exc.fault)
            return None
        if source.kind == "git":  # value files may sit anywhere in the checkout
            try:
                checkout = self.store.checkout(source)
                return _Chart(folder, source.label, checkout / source.chart, checkout)
            except Unavailable:
                pass  # the checkout was cleared from the cache: the chart's own files still do
        return _Chart(folder, source.label, folder, folder)

    def _unavailable(self, doc: Document, path: tuple[PathPart, ...], what: str, why: str, fault: bool) -> None:
        """A chart that could not be had: the repository's fault when it names
        something wrong; otherwise a skip, which ``strict`` makes a fault."""
        if fault:
            self._fault(doc, path, f"{what}: {why}")
        elif self.strict:
            self._fault(doc, path, f"{what} not rendered: {why} (strict)")
        else:
            # Named by release, not file: a base and its overlays are one skip.
            self.skipped.append((CHECK, f"{doc.ident}: {what} not rendered: {why}"))

    def _source_object(self, kind: str, namespace: str, name: Any) -> dict | None:
        found = self.objects.get((kind, namespace, str(name)))
        if found is None or not found.api_version.startswith("source.toolkit.fluxcd.io/"):
            return None  # the references check reports a missing source
        spec = mapping(found.data.get("spec"))
        return spec if isinstance(spec.get("url"), str) and spec["url"].strip() else None

    # -- Flux ------------------------------------------------------------------------

    def helm_release(self, doc: Document) -> bool:
        """Render one Flux release; whether its chart was had (the model needs to know
        which releases it sees whole)."""
        spec = mapping(doc.data.get("spec"))
        chart = self._flux_chart(doc, spec)
        if chart is None:
            return False
        namespace = spec.get("targetNamespace") or doc.namespace or "default"
        release = spec.get("releaseName") or _short_release_name(
            f"{spec['targetNamespace']}-{doc.name}" if spec.get("targetNamespace") else doc.name)
        values, unavailable = self._flux_values(doc, spec)
        values = self._flux_values_files(doc, spec, chart, values)
        # Flux installs crds/ unless told to Skip (the default is Create).
        crds = get_path(spec, ("install", "crds")) != "Skip"
        self._unread_values(doc, ("spec", "values"), chart, spec.get("values"))
        self._render(doc, chart, values, release, namespace, unavailable, crds)
        return True

    def _flux_chart(self, doc: Document, spec: dict) -> _Chart | None:
        if isinstance(spec.get("chartRef"), dict):
            return self._flux_chart_ref(doc, spec["chartRef"])
        at: tuple[PathPart, ...] = ("spec", "chart", "spec")
        chart_spec = mapping(get_path(spec, ("chart", "spec")))
        ref = mapping(chart_spec.get("sourceRef"))
        kind, namespace = ref.get("kind"), ref.get("namespace") or doc.namespace
        if kind == "GitRepository" and self.sources.is_local(ref.get("name"), namespace):
            rel = self._chart_dir(doc, chart_spec.get("chart"), (*at, "chart"))
            return None if rel is None else self._local(rel)
        if self.store is None or kind not in ("GitRepository", "HelmRepository"):
            return None
        repo = self._source_object(kind, namespace, ref.get("name"))
        if repo is None:
            return None
        url = repo["url"].strip()
        name = str(chart_spec.get("chart") or "").strip()
        version = str(chart_spec.get("version") or "*").strip()  # Flux's default is any version
        if kind == "GitRepository":
            pin = _git_pin(mapping(repo.get("ref")))
            if not pin:
                self._unavailable(doc, (*at, "sourceRef"), f"chart {name or '.'} from {url}",
                                  f"GitRepository {namespace}/{ref.get('name')} follows a branch, not a tag or "
                                  "commit; only pinned charts are fetched", False)
                return None
            source = ChartSource("git", url, posixpath.normpath(name.lstrip("/") or "."), pin)
            return self._fetch(doc, (*at, "chart"), source)
        if repo.get("type") == "oci" or url.startswith("oci://"):
            # Flux resolves a range against the tags
            if not self._pinned(doc, (*at, "version"), f"chart {name} from {url}", "version", version, version):
                return None
            source = ChartSource("oci", f"{url.rstrip('/')}/{name}", version=version,
                                 plain_http=bool(repo.get("insecure")))
        else:
            source = ChartSource("helm", url, name, version)
        return self._fetch(doc, (*at, "version"), source)

    def _flux_chart_ref(self, doc: Document, chart_ref: dict) -> _Chart | None:
        if self.store is None or chart_ref.get("kind") != "OCIRepository":
            return None  # a HelmChart object: nothing of its own to fetch
        namespace = chart_ref.get("namespace") or doc.namespace
        repo = self._source_object("OCIRepository", namespace, chart_ref.get("name"))
        if repo is None:
            return None
        ref = mapping(repo.get("ref"))
        tag, semver, digest = (str(ref.get(k) or "").strip() for k in ("tag", "semver", "digest"))
        if semver and exact_version(semver):
            tag = tag or semver
        source = ChartSource("oci", repo["url"].strip(), version=tag, digest=digest,
                             plain_http=bool(repo.get("insecure")))
        if not (tag or digest):
            why = (f"OCIRepository {namespace}/{chart_ref.get('name')} ref.semver {semver!r} is a range"
                   if semver else f"OCIRepository {namespace}/{chart_ref.get('name')} has no ref.tag or ref.digest")
            self._unavailable(doc, ("spec", "chartRef"), f"chart {source.url}",
                              why + "; only pinned charts are fetched", False)
            return None
        return self._fetch(doc, ("spec", "chartRef"), source)

    def _flux_values(self, doc: Document, spec: dict) -> tuple[dict, list[str]]:
        """Flux's order: chart defaults (Helm adds them) < valuesFrom in order < spec.values."""
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
        return values, unavailable

    def _flux_values_files(self, doc: Document, spec: dict, chart: _Chart, values: dict) -> dict:
        """``chart.spec.valuesFiles`` replace the chart's values.yaml with their
        merge (values.yaml itself only when listed), paths relative to the
        source's root.  Helm always coalesces the chart's own values.yaml, so
        the keys it has and the files do not are handed to Helm as null,
        which is how Helm deletes a value."""
        at: tuple[PathPart, ...] = ("spec", "chart", "spec", "valuesFiles")
        files = get_path(spec, at[1:])
        if not isinstance(files, list) or not files:
            return values
        ignore_missing = get_path(spec, ("chart", "spec", "ignoreMissingValuesFiles")) is True
        merged: dict = {}
        for i, raw in enumerate(files):
            file = _inside(chart.source_root / str(raw), chart.source_root)
            if file is None:
                self._fault(doc, (*at, i), f"values file {raw} is outside the chart's source")
                continue
            if not file.is_file():
                if not ignore_missing:
                    self._fault(doc, (*at, i), f"values file {raw} not found in the chart's source")
                continue
            try:
                loaded, _ = load_all(file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                self._fault(doc, (*at, i), f"values file {raw}: {exc}")
                continue
            if loaded and isinstance(loaded[0], dict):
                merged = merge(merged, loaded[0])
        try:
            defaults, _ = load_all((chart.folder / "values.yaml").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            defaults = []
        own = defaults[0] if defaults and isinstance(defaults[0], dict) else {}
        return _replacing(own, merge(merged, values))

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

    # -- Argo CD ----------------------------------------------------------------------

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
            chart = self._argo_chart(doc, base, src)
            if chart is None:
                continue
            rendered = True
            h = mapping(src.get("helm"))
            values = self._argo_values(doc, base, h, chart, refs)
            self._unread_values(doc, (*base, "helm", "valuesObject"), chart, h.get("valuesObject"))
            release = h.get("releaseName") or doc.name
            self._render(doc, chart, values, release, namespace, [], not h.get("skipCrds"))
        return rendered

    def _pinned(self, doc: Document, path: tuple[PathPart, ...], what: str, field: str, version: str,
                shown: str) -> bool:
        """Whether ``version`` is exact; a range or a missing one is a reported skip, never fetched."""
        if exact_version(version):
            return True
        self._unavailable(doc, path, what, f"{field} {shown!r} is not an exact version; only pinned charts are fetched", False)
        return False

    def _argo_oci_source(self, doc: Document, base: tuple[PathPart, ...], url: str, path: object,
                         revision: str) -> _Chart | None:
        """Argo CD's native OCI source (repoURL oci://…, no chart): the artifact is the chart."""
        if self.store is None:
            return None
        what = f"chart {url}"
        if not self._pinned(doc, (*base, "targetRevision"), what, "targetRevision", revision, revision or "(none)"):
            return None
        if posixpath.normpath(str(path or ".")) != ".":
            self._unavailable(doc, (*base, "path"), what,
                              f"path {path!r} inside the artifact: only a chart at its root (path: .) is rendered", False)
            return None
        return self._fetch(doc, (*base, "targetRevision"), ChartSource("oci", url, version=revision))

    def _argo_chart(self, doc: Document, base: tuple[PathPart, ...], src: dict) -> _Chart | None:
        url, path, revision = src.get("repoURL"), src.get("path"), str(src.get("targetRevision") or "").strip()
        if src.get("chart"):
            if self.store is None or not isinstance(url, str) or not url.strip():
                return None
            name, url = str(src["chart"]).strip(), url.strip()
            if url.startswith(("http://", "https://")):
                source = ChartSource("helm", url, name, revision or "*")
            else:  # Argo CD writes OCI Helm repositories with or without oci://
                if not self._pinned(doc, (*base, "targetRevision"), f"chart {name} from {url}", "targetRevision",
                                    revision, revision or "(none)"):
                    return None
                oci = url if url.startswith("oci://") else "oci://" + url
                source = ChartSource("oci", f"{oci.rstrip('/')}/{name}", version=revision)
            return self._fetch(doc, (*base, "targetRevision"), source)
        if isinstance(url, str) and url.strip().startswith("oci://"):
            return self._argo_oci_source(doc, base, url.strip(), path, revision)
        if self.sources.is_local_url(url):
            if not isinstance(path, str) or not (self.root / posixpath.normpath(path)).is_dir():
                return None  # the references check reports a missing folder
            rel = posixpath.normpath(path)
            if not (self.root / rel / "Chart.yaml").is_file():
                return None  # plain manifests or kustomize: built elsewhere
            return self._local("" if rel == "." else rel)
        if self.store is None or not isinstance(url, str) or url.startswith("oci://") or not isinstance(path, str):
            return None  # no folder of another repository to look at
        if not (is_commit(revision) or exact_version(revision)):
            # A branch (or HEAD) moves: what it renders today says little about what was committed.
            self._unavailable(doc, (*base, "targetRevision"), f"{path} from {url}",
                              f"targetRevision {revision or 'HEAD'!r} is not a version tag or commit; "
                              "only pinned sources are fetched", False)
            return None
        source = ChartSource("git", url.strip(), posixpath.normpath(path.strip().lstrip("/") or "."), revision)
        return self._fetch(doc, (*base, "targetRevision"), source, not_a_chart_is_fine=True)

    def _argo_values(self, doc: Document, base: tuple[PathPart, ...], h: dict, chart: _Chart,
                     refs: dict[str, dict]) -> dict:
        """Argo CD's order: valueFiles in order < values (a YAML string) < valuesObject < parameters."""
        values: dict = {}
        for i, vf in enumerate(h.get("valueFiles") or []):
            file = self._value_file(chart, str(vf), refs)
            if file is None:
                continue  # a file in another repository
            if h.get("ignoreMissingValueFiles") and not file.is_file():
                continue
            try:
                loaded, _ = load_all(file.read_text(encoding="utf-8"))
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
        for i, p in enumerate(h.get("parameters") or []):  # --set, last of all
            values = self._argo_parameter(doc, (*base, "helm", "parameters", i), values, p)
        return values

    def _argo_parameter(self, doc: Document, at: tuple[PathPart, ...], values: dict, param: Any) -> dict:
        if not isinstance(param, dict) or not isinstance(param.get("name"), str) or not param["name"]:
            return values
        value = "" if param.get("value") is None else str(param["value"])
        if param.get("forceString"):
            _set_path(values, param["name"], value)
            return values
        helm = _helm()
        try:  # Helm's --set typing: true is a bool, 3 a number; Argo CD escapes commas
            return merge(values, helm.parse_set_string(f"{param['name']}={value.replace(',', chr(92) + ',')}"))
        except helm.HelmError as exc:
            self._fault(doc, at, f"helm parameter {param['name']!r}: {exc}")
            return values

    def _value_file(self, chart: _Chart, raw: str, refs: dict[str, dict]) -> Path | None:
        """A valueFiles entry: relative to the chart (staying inside its
        repository, or inside a fetched chart), or $ref/<path> in this repository."""
        if raw.startswith("$"):
            name, _, rest = raw[1:].partition("/")
            ref = refs.get(name)
            if ref is None or not self.sources.is_local_url(ref.get("repoURL")):
                return None
            rel = posixpath.normpath(rest)
            if rel.startswith("..") or not inside(self.root, self.root / rel):
                return None
            return self.root / rel
        return _inside(chart.origin / raw, chart.source_root)

    def _unread_values(self, doc: Document, at: tuple[PathPart, ...], chart: _Chart, values: Any) -> None:
        for path, why in chartvalues.unread_keys(chart.folder, values):
            self.faults.append(Fault(chartvalues.CHECK, doc.file, self.locate(doc, (*at, *path)), doc.ident,
                                     json_path((*at, *path)), why))

    # -- rendering -----------------------------------------------------------------------

    def _template(self, chart: _Chart, values: dict, release: str,
                  namespace: str) -> tuple[dict[str, str], list[dict]] | Exception:
        key = (str(chart.folder), json.dumps(values, sort_keys=True, default=str), release, namespace)
        if key not in self._renders:
            try:
                # In the worker process, bounded in time and memory (helm_worker.py).
                self._renders[key] = self.worker.call("render", str(chart.folder), values, release, namespace)
            except HelmFailed as exc:
                self._renders[key] = exc
            except WorkerLimit as exc:
                self._renders[key] = WorkerLimit(f"rendering release {release} stopped: it {exc}")
        return self._renders[key]

    def _render(self, doc: Document, chart: _Chart, values: dict, release: str, namespace: str,
                unavailable: list[str], crds: bool = True) -> None:
        origin = f"helm template {doc.ident}"
        label = chart.label
        got = self._template(chart, values, release, namespace)
        if isinstance(got, Exception):
            note = f" (values from {', '.join(unavailable)} were not available)" if unavailable else ""
            file, line = _chart_file(label, str(got), doc.file)
            if file == doc.file:  # no template named: point at the release itself
                line = self.locate(doc, ())
            self.faults.append(Fault(CHECK, file, line, doc.ident, None,
                                     f"chart {label or '.'} does not render: {got}{note}"))
            return
        manifests, crd_files = got
        texts = [(t, text) for t, text in sorted(manifests.items()) if not t.endswith("NOTES.txt")]
        if crds:
            texts += [(str(c.get("filename") or c.get("name") or ""), str(c.get("data") or ""))
                      for c in crd_files if str(c.get("name", "")).endswith((".yaml", ".yml", ".json"))]
        for template, text in texts:
            if not text.strip():
                continue
            file = posixpath.join(label, template.split("/", 1)[1] if "/" in template else template)
            try:
                rendered = [d for piece in split_manifest(text) for d in parse_documents(piece, file, RENDERED, origin)]
            except yaml.YAMLError as exc:
                self.faults.append(Fault(CHECK, file, None, doc.ident, None,
                                         f"rendered with {doc.ident}'s values, not valid YAML: {exc}"))
                continue
            for d in rendered:
                d.index, d.line = -1, None
                d.default_namespace(namespace)
            self.docs.extend(rendered)


# Helm cuts a template's output into documents with this pattern, not with a YAML parser: a
# separator glued to the next line by whitespace trimming (`---# comment`) still separates.
_HELM_SEPARATOR = re.compile(r"(?:^|\s*\n)---\s*")


def split_manifest(text: str) -> list[str]:
    """A template's rendered text as the documents Helm sends to the API server."""
    return [piece for piece in _HELM_SEPARATOR.split(text) if piece.strip()]


def _git_pin(ref: dict) -> str:
    """The tag or commit a GitRepository's ref pins, or "" when it follows a branch."""
    for key in ("commit", "tag"):
        if isinstance(ref.get(key), str) and ref[key].strip():
            return ref[key].strip()
    m = _TAG_REF.match(str(ref.get("name") or ""))
    if m:
        return m.group(1)
    if exact_version(ref.get("semver")):
        return str(ref["semver"]).strip()
    return ""


def _inside(path: Path, root: Path) -> Path | None:
    resolved = path.resolve()
    return resolved if resolved.is_relative_to(root.resolve()) else None


def _replacing(defaults: dict, wanted: dict) -> dict:
    """Values that make Helm's coalescing over ``defaults`` come out as ``wanted``."""
    out = dict(wanted)
    for key, value in defaults.items():
        if key not in wanted:
            out[key] = None
        elif isinstance(value, dict) and isinstance(wanted[key], dict):
            out[key] = _replacing(value, wanted[key])
    return out


def _short_release_name(name: str) -> str:
    """helm-controller's ShortenName: Helm allows 53 characters, so a longer
    <targetNamespace>-<name> keeps 40 and adds 12 of its sha256."""
    if len(name) <= 53:
        return name
    return f"{name[:40]}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"
