"""One validation run: files → kustomize → helm → schemas → bootstrap → references."""

from __future__ import annotations

import importlib.util
import json
import posixpath
from pathlib import Path

from ..errors import ValidateUsageError
from ..shared.collector import collector_paused
from . import downloads, helm, kubeconform, kubernetes, kustomize, model, tool
from .charts import ChartStore, Network
from .cloudinit import CloudInitCheck
from .documents import Document, PathPart, TextLocator
from .helm_cache import HelmResults
from .files import RepoLayout, bootstrap_files, discover, links_leaving, under
from .options import ValidateOptions
from .progress import Progress
from .references import FACTS_FILE, ReferenceCheck, facts_from, read_facts
from .report import Fault, ValidationReport
from .scan import FileTask, ScanConfig, default_jobs, scan_files
from .schemas import DEFAULT_BACKEND, SchemaStore, bootstrap_schema_paths, expand_location
from .sources import LocalSources, application_sources
from .talos import TalosCheck


class Locator:
    """Line of a JSON path in a document's source file; texts read once, lazily, and only
    the document at fault composed (see TextLocator), from the documents the scan parsed."""

    def __init__(self, root: Path):
        self.root = root
        self.parsed: dict[str, list[Document]] = {}  # the scan's documents of each file
        self._files: dict[str, TextLocator | None] = {}

    def __call__(self, doc: Document, path: tuple[PathPart, ...]) -> int | None:
        if doc.index < 0 or not path:
            return doc.line
        if doc.file not in self._files:
            try:
                text = (self.root / doc.file).read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = None
            self._files[doc.file] = TextLocator(text, self.parsed.get(doc.file, [])) if text is not None else None
        found = self._files[doc.file]
        if found is None:
            return doc.line
        line = found(doc, path)
        return doc.line if line is None and found.broken else line


def _tasks(layout: RepoLayout) -> list[FileTask]:
    tasks = []
    cloud_init = set(layout.cloud_init_files)
    yaml_files = set(layout.yaml_files)
    for rel in layout.files:
        if rel in yaml_files:
            tasks.append(FileTask(rel, parse=True, report_yaml=True, schema=layout.schema_role(rel) is None))
        elif rel in cloud_init:
            # Parsed for the secret check; the cloud-init check reports its syntax.
            tasks.append(FileTask(rel, parse=True, report_yaml=False, schema=False))
        else:  # any other tracked file, chart templates included: secrets scan only
            tasks.append(FileTask(rel, parse=False, report_yaml=False, schema=False))
    return tasks


def _dedupe(docs: list[Document]) -> list[Document]:
    """A base built alone and inside each overlay yields the same objects: an object whose whole
    content an earlier one has is dropped. Only objects whose kind, name and namespace meet are
    compared whole (serialising every Flux Kustomization of a large repository, twice, was a
    fiftieth of its validation); equal content always has equal ones."""
    groups: dict[tuple[str, str, str], list[list]] = {}  # ident -> [document, its key or None]
    out = []
    for d in docs:
        ident = (d.kind, d.name, str(d.metadata.get("namespace")))
        group = groups.get(ident)
        if group is None:
            groups[ident] = [[d, None]]
            out.append(d)
            continue
        key = release_key(d)
        for entry in group:
            if entry[1] is None:
                entry[1] = release_key(entry[0])
        if any(entry[1] == key for entry in group):
            continue
        group.append([d, key])
        out.append(d)
    return out


@collector_paused  # its documents all stay alive to the end: the collector walked them in vain
def validate_repository(root: Path, options: ValidateOptions) -> ValidationReport:
    """Validate the GitOps repository at ``root``; see ValidateOptions for settings.

    Raises ``ValidateUsageError`` for unusable options (kubeconform engine without
    kubeconform, a bad schema-location template, a root that is no directory).
    """
    root = Path(root)
    if not root.is_dir():
        raise ValidateUsageError.because(f"{root} is not a directory")
    for loc in options.schema_locations:
        expand_location(loc)
    if options.engine == "kubeconform":
        kubeconform.require()
    jobs = default_jobs(options.jobs)
    report = ValidationReport(strict=options.strict)
    leaving = links_leaving(root)
    layout = RepoLayout.of(discover(root, leaving), leaving)
    report.files = len(layout.yaml_files)
    config = ScanConfig(str(root), options.kubernetes_version, options.schema_locations,
                        str(options.schema_cache_dir), options.strict,
                        options.engine == "builtin", DEFAULT_BACKEND)
    locator = Locator(root)
    # The Helm worker takes ~0.4 s to load; with charts in the repository it loads meanwhile.
    worker = helm.HelmWorker(options.helm_timeout, options.helm_memory_mib,
                             HelmResults(options.chart_cache / "helm-results"))
    lintable = [d for d in layout.chart_dirs if not layout.links_under(d)]
    if lintable and importlib.util.find_spec("helm_python") is not None \
            and not helm.lint_kept(root, lintable, options.kubernetes_version, worker):
        # Charts that changed since the last run (or a first run): renders will miss too.
        worker.start()
    try:
        return _validate(root, options, jobs, report, layout, config, locator, leaving, worker)
    finally:
        worker.close()


def _validate(root, options, jobs, report, layout, config, locator, leaving, worker) -> ValidationReport:
    for link, target in sorted(leaving.items()):
        report.faults.append(Fault("files", link, None, None, None,
                                   f"symlink leaves the repository (it points to {target}); not read or followed"))
    with Progress(options.progress) as progress:
        tasks = _tasks(layout)
        with progress.stage("reading files", len(tasks)) as advance:
            scans = scan_files(config, tasks, jobs, advance)
        raw: dict[str, list[Document]] = {}
        for s in scans:
            report.faults.extend(s.faults)
            report.merge_counts(s.kinds)
            for item in s.skipped:
                report.skip(*item)
            report.file_errors += int(s.parse_failed)
            raw[s.rel] = s.docs
        locator.parsed = raw
        yaml_docs = [d for rel in layout.yaml_files for d in raw.get(rel, [])]
        unmanaged = [d for rel in layout.yaml_files if layout.schema_role(rel) is None
                     for d in raw.get(rel, [])]
        bootstrap = [d for rel in layout.yaml_files if layout.flux_bootstrap(rel)
                     for d in raw.get(rel, [])]

        with progress.stage("kustomize build", len(layout.kustomize_dirs)) as advance:
            built, sources, by_dir = _kustomize(root, layout, yaml_docs, unmanaged, bootstrap, jobs, report,
                                                advance, locator, options.schema_cache_dir)
        effective = unmanaged + built
        # Bootstrap files outside kustomize trees are already in ``unmanaged``;
        # twins of built objects only repeat entries in set-based indexes.
        unmanaged_ids = {id(d) for d in unmanaged}
        known = effective + [d for d in bootstrap if id(d) not in unmanaged_ids]

        rendered: list[Document] = []
        per_release: dict[str, list[Document]] = {}
        releases = [d for d in effective if _renderable(d)]
        if layout.chart_dirs or releases:
            with progress.stage("helm", len(layout.chart_dirs) + len(releases)) as advance:
                rendered, per_release = _helm(worker, root, layout, releases, known, sources, options, report,
                                              locator, advance)

        with progress.stage("schemas", 1) as advance:
            store = SchemaStore(options.kubernetes_version, options.schema_locations,
                                options.schema_cache_dir, DEFAULT_BACKEND)
            pinned = _pinned_downloads(layout, built + rendered + unmanaged, options, report, store)
            _schemas(built + rendered, unmanaged, options, report, locator, store, pinned.flux_crds if pinned else [])
            advance(1)

        _bootstrap(root, layout, options, report, pinned.schemas_root if pinned else None)
        facts = read_facts(root)  # (data or None, faults): read once, for references and the model
        _references(root, known + rendered, sources, report, locator, facts)
        with progress.stage("cluster model", 1) as advance:
            _model(facts, by_dir, bootstrap, unmanaged, built, rendered, per_release,
                   complete=all(release_key(d) in per_release for d in releases), sources=sources,
                   report=report, locator=locator)
            advance(1)
    return report.finish()


def _model(read, by_dir, bootstrap, unmanaged, built, rendered, per_release, complete, sources, report,
           locator) -> None:
    """What the cluster will do: the rules of ``model``, owner by owner. ``read``: the facts
    file's mapping (None when absent or broken) and its faults, which references reports."""
    data, faults = read
    if data is None:
        if not faults:
            report.skip("model", f"{FACTS_FILE} not found: the cluster model (scheduling, ordering, storage, "
                                 "Pod Security, devices, services) was not run")
        return
    facts = model.cluster_facts(data)
    layers = _layers(by_dir, bootstrap, unmanaged, built, per_release, sources)
    result = model.run_model(layers, facts, complete, locator)
    report.faults.extend(result.faults)
    report.warnings.extend(result.warnings)
    report.daemonsets.update(result.daemonsets)
    report.undecided.extend(result.undecided)
    report.rules = model.RULES


def _layers(by_dir, bootstrap, unmanaged, built, per_release, sources) -> model.Layers:
    built = unmanaged + built
    engine = _dedupe([d for d in bootstrap + built if model.layers.is_engine(d)])
    applied: dict[str, list[Document]] = {}
    folders: dict[str, list[Document]] = {}
    for doc in engine:
        # A folder two owners apply is modelled once, with the first (the object is one).
        fresh = [p for p in _engine_paths(doc, sources) if p not in folders]
        for p in fresh:
            folders[p] = _applied_from(p, by_dir, unmanaged)
        applied[doc.ident] = [d for p in fresh for d in folders[p]]
    if not engine:  # a plain kustomize or chart repository: one owner applies everything
        applied["repository"] = built
        return model.build_layers(applied, [], per_release, release_key)
    applied["bootstrap"] = bootstrap
    return model.build_layers(applied, engine, per_release, release_key)


def _engine_paths(doc: Document, sources: LocalSources | None = None) -> list[str]:
    """Folders a Flux Kustomization or Argo CD Application applies; with ``sources``, only
    this repository's."""
    if kustomize.is_flux_kustomization(doc):
        path = kustomize.flux_path(doc, sources)
        return [] if path is None else [path]
    if doc.kind == "Application" and doc.api_version.startswith("argoproj.io/"):
        return [posixpath.normpath(p.lstrip("/")) for p in model.layers.local_paths(doc)
                if sources is None or sources.is_local_url(_repo_url(doc, p))]
    return []


def _applied_from(path: str, by_dir: dict[str, list[Document]], unmanaged: list[Document]) -> list[Document]:
    """What an engine applies from a folder: its kustomize build, or, where it has no
    kustomization, every manifest beneath it (Flux generates one; Argo CD reads them)."""
    path = "" if path == "." else path
    if path in by_dir:
        return by_dir[path]
    return [d for d in unmanaged if d.is_kubernetes and under(d.file, path)]


def _repo_url(doc: Document, path: str) -> object:
    for src in application_sources(doc.data):
        if src.get("path") == path:
            return src.get("repoURL")
    return None


def release_key(doc: Document) -> str:
    """Releases are matched by content: the same object is parsed once per build it is in."""
    return json.dumps(doc.data, sort_keys=True, default=str)


def _pinned_downloads(layout: RepoLayout, docs: list[Document], options: ValidateOptions,
                      report: ValidationReport, store: SchemaStore) -> downloads.Downloaded | None:
    """The schemas no location gave, fetched at their pins (or from the cache), when
    validation may use the network (remote charts) or the cache alone (offline)."""
    if options.charts != "remote" or options.engine != "builtin":
        return None
    ci_dir, talos_schema = bootstrap_schema_paths(
        options.schema_locations, options.cloud_init_schema_dir, options.talos_schema)
    wanted = []
    if any(d.api_version.startswith(downloads.FLUX_GROUPS) for d in docs) and \
            store.validator("helm.toolkit.fluxcd.io/v2", "HelmRelease") is None:
        wanted.append("flux/install.yaml")
    if layout.cloud_init_files and ci_dir is None:
        wanted += [k for k in downloads.urls() if k.startswith("cloud-init/")]
    if layout.talos_files and talos_schema is None:
        wanted += [k for k in downloads.urls() if k.startswith("talos/")]
    if not wanted:
        return None
    network = Network(options.offline, options.fetch_timeout, options.fetch_budget)
    got = downloads.fetch_defaults(options.schema_cache_dir, network, wanted, options.download_templates)
    for item in got.skipped:
        report.skip(*item)
    return got


def _bootstrap(root: Path, layout: RepoLayout, options: ValidateOptions, report: ValidationReport,
               pinned_root: Path | None) -> None:
    ci_dir, talos_schema = bootstrap_schema_paths(
        options.schema_locations, options.cloud_init_schema_dir, options.talos_schema,
        (pinned_root,) if pinned_root is not None else ())
    cloud_init_files, talos_files = bootstrap_files(root, layout.cloud_init_files + layout.talos_files, layout.links_out)
    ci = CloudInitCheck(root, ci_dir, options.strict)
    ci.run(cloud_init_files)
    talos = TalosCheck(root, talos_schema, options.strict)
    talos.run(talos_files, set(layout.yaml_files))
    for check in (ci, talos):
        report.faults.extend(check.faults)
        for item in check.skipped:
            report.skip(*item)


def _renderable(d: Document) -> bool:
    return ((d.kind == "HelmRelease" and d.api_version.startswith("helm.toolkit.fluxcd.io/"))
            or (d.kind == "Application" and d.api_version.startswith("argoproj.io/")))


def _kustomize(root, layout, yaml_docs, unmanaged, bootstrap, jobs, report, advance,
               locator, cache_dir: Path | None = None) -> tuple[list[Document], LocalSources, dict[str, list[Document]]]:
    # A Component only builds inside the kustomization that includes it.
    components = {posixpath.dirname(d.file) for d in yaml_docs
                  if d.kind == "Component" and d.api_version.startswith("kustomize.config.k8s.io/")}
    directories = [d for d in layout.kustomize_dirs if d not in components]
    refused = kustomize.unbuildable(root, layout.kustomize_dirs, layout.links_out)
    for directory in layout.kustomize_dirs:
        report.faults.extend(refused.get(directory, []))
    advance(len([d for d in directories if d in refused]))
    directories = [d for d in directories if d not in refused]
    # A base is built inside each kustomization that includes it: building it alone again
    # repeats the same objects (and one with base values only, which nothing applies).
    included = kustomize.included_dirs(yaml_docs, set(directories))
    cache = kustomize.BuildCache(cache_dir / "kustomize-builds", root) if cache_dir is not None else None
    builds = kustomize.build_all(root, [d for d in directories if d not in included], jobs, advance, cache)
    for b in builds:
        kustomize.parse_build(b, None)
    built_dirs = {b.directory for b in builds}
    engine_paths = {p for b in builds for d in b.docs for p in _engine_paths(d)}
    more = kustomize.build_all(root, sorted(p for p in engine_paths if p in included and p not in built_dirs), jobs, advance,
                               cache)
    for b in more:
        kustomize.parse_build(b, None)
    builds += more
    # Substitution needs the Flux Kustomizations, which builds may produce.
    first = [d for b in builds for d in b.docs]
    pool = unmanaged + bootstrap + first
    configmaps = {(d.namespace, d.name): d.data.get("data") or {} for d in pool
                  if d.kind == "ConfigMap" and isinstance(d.data.get("data"), dict)}
    flux_ks = _dedupe([d for d in pool if kustomize.is_flux_kustomization(d)])
    sources = LocalSources(pool, root)
    variables = kustomize.substitutions(flux_ks, configmaps, sources)
    raw_index: dict[tuple[str, str], list[Document]] = {}
    for d in yaml_docs:
        if d.is_kubernetes:
            raw_index.setdefault((d.kind, d.name), []).append(d)
    built: list[Document] = []
    for b in builds:
        if b.directory in variables:
            kustomize.parse_build(b, variables[b.directory])
        if b.fault:
            report.faults.append(b.fault)
            continue
        kustomize.attribute(b.docs, b.directory, raw_index)
        built.extend(b.docs)
    report.faults.extend(kustomize.check_flux_paths(root, flux_ks, sources, locator))
    by_dir = {b.directory: b.docs for b in builds if not b.fault}
    return _dedupe(built), sources, by_dir


def _helm(worker, root, layout, releases, known, sources, options, report, locator,
          advance) -> tuple[list[Document], dict[str, list[Document]]]:
    if importlib.util.find_spec("helm_python") is None:
        hint = "helm checks need the helm-python-sdk package (pip install helm-python-sdk)"
        target = (layout.chart_dirs[0] + "/Chart.yaml") if layout.chart_dirs else releases[0].file
        report.faults.append(Fault("helm", target, None, None, None, f"{hint}: No module named 'helm_python'"))
        return [], {}
    linked = {d: layout.links_under(d) for d in layout.chart_dirs if layout.links_under(d)}
    for chart_dir, links in sorted(linked.items()):
        report.faults.append(Fault("helm", posixpath.join(chart_dir, "Chart.yaml"), None, None, None,
                                   f"chart not linted or rendered: {', '.join(links)} leaves the repository, "
                                   "and helm would follow it"))
    report.faults.extend(helm.lint_charts(root, [d for d in layout.chart_dirs if d not in linked],
                                          options.kubernetes_version, worker))
    advance(len(layout.chart_dirs))
    objects = {(d.kind, d.namespace, d.name): d for d in known
               if d.kind in ("ConfigMap", "Secret", *helm.FLUX_SOURCES)}
    store = None
    if options.charts == "remote":
        store = ChartStore(options.chart_cache, offline=options.offline, timeout=options.fetch_timeout,
                           budget=options.fetch_budget)
    renderer = helm.Renderer(root, objects, sources, locator, store, options.strict, links_out=layout.links_out,
                             worker=worker)
    per_release: dict[str, list[Document]] = {}
    for d in releases:
        before = len(renderer.docs)
        rendered = renderer.helm_release(d) if d.kind == "HelmRelease" else renderer.application(d)
        if rendered:
            per_release[release_key(d)] = renderer.docs[before:]
        advance(1)
    report.faults.extend(renderer.faults)
    for item in renderer.skipped:
        report.skip(*item)
    return renderer.docs, per_release


def _schemas(docs, unmanaged, options, report, locator, store, pinned_crds=()) -> None:
    if options.engine == "kubeconform":
        try:
            result = kubeconform.validate(unmanaged + docs, options, locator)
        except tool.ToolError as exc:
            report.faults.append(Fault("schema", ".", None, None, None, exc.describe()))
            return
    else:
        store.add_crds(d.data for d in unmanaged + docs if d.kind == "CustomResourceDefinition")
        store.add_crds(pinned_crds)
        result = kubernetes.validate_documents(docs, store, options.strict, locator)
    report.faults.extend(result.faults)
    report.merge_counts(result.kinds)
    for item in result.skipped:
        report.skip(*item)


def _references(root, docs, sources, report, locator, read: tuple[dict | None, list[Fault]]) -> None:
    check = ReferenceCheck(docs, locator)
    check.flux()
    check.argocd(root, sources)
    data, faults = read
    report.faults.extend(faults)
    facts = facts_from(data) if data is not None else None
    check.data_namespaces(facts.engine if facts else None)
    if facts is None:
        if check.needs_facts() and not faults:
            report.skip("references", f"{FACTS_FILE} not found: storage class and ingress host "
                                      "checks skipped")
    else:
        check.storage(facts)
        check.ingress_hosts(facts)
    report.faults.extend(check.faults)
