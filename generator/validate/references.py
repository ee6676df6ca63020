"""Cross-references between objects, and between objects and the cluster's facts.

Flux and Argo CD references need only the documents.  Storage classes and ingress hosts
also need ``.clustergen/facts.yaml`` (what the cluster provides without manifests: its
domain and built-in storage classes); without it those two are reported as skipped. The
nodes in the same file are the cluster model's (``model``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from ..shared.engines import DEFAULT_ENGINE, ENGINES
from ..shared.layout import FACTS_PATH
from .documents import (
    Document,
    PathPart,
    error_line,
    error_message,
    get_path,
    json_path,
    load_all,
    mapping,
)
from .files import inside
from .report import Fault
from .model.workloads import POD_SPEC_PATHS
from .sources import LocalSources, application_sources

CHECK = "references"
FACTS_FILE = FACTS_PATH
SOURCE_KINDS = {"GitRepository", "HelmRepository", "OCIRepository", "Bucket", "HelmChart", "ExternalArtifact"}
_DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                              "storageclass.beta.kubernetes.io/is-default-class")

Locate = Callable[[Document, tuple[PathPart, ...]], "int | None"]


@dataclass
class Facts:
    domain: str | None = None
    engine: str | None = None
    storage_classes: list[str] = field(default_factory=list)
    default_storage: bool = False


def read_facts(root: Path) -> tuple[dict | None, list[Fault]]:
    """The facts file's mapping, or None when it is absent or broken (with the fault)."""
    path = root / FACTS_FILE
    if not path.is_file():
        return None, []
    if not inside(root, path):  # reported by discovery; never read
        return None, [Fault(CHECK, FACTS_FILE, None, None, None, "is a symlink leaving the repository; not read")]
    try:
        docs, _ = load_all(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        return None, [Fault(CHECK, FACTS_FILE, None, None, None, f"cannot read: {exc.strerror}")]
    except yaml.YAMLError as exc:
        return None, [Fault(CHECK, FACTS_FILE, error_line(exc), None, None, error_message(exc))]
    return (docs[0] if docs and isinstance(docs[0], dict) else {}), []


def facts_from(data: dict) -> Facts:
    """The facts these checks use; the cluster model reads the rest (model.cluster_facts)."""
    facts = Facts()
    domain = get_path(data, ("cluster", "domain"))
    facts.domain = domain.lower().strip(".") if isinstance(domain, str) and domain else None
    facts.engine = data.get("engine") if isinstance(data.get("engine"), str) else None
    for entry in data.get("storageClasses") or []:
        # Entries are names, or {name, default} when the cluster's default is known.
        if isinstance(entry, dict) and entry.get("name"):
            facts.storage_classes.append(str(entry["name"]))
            facts.default_storage |= bool(entry.get("default"))
        elif isinstance(entry, str):
            facts.storage_classes.append(entry)
    return facts


ARGO_DEFAULT_PROJECT = "default"  # every Argo CD has it; nothing declares it


class ReferenceCheck:
    def __init__(self, docs: Iterable[Document], locate: Locate):
        self.docs = [d for d in docs if d.is_kubernetes]
        self.locate = locate
        self.faults: list[Fault] = []
        self._objects = {(d.kind, d.namespace, d.name) for d in self.docs}
        self._names = {(d.kind, d.name) for d in self.docs}

    def _fault(self, doc: Document, path: tuple[PathPart, ...], message: str) -> None:
        self.faults.append(Fault(CHECK, doc.file, self.locate(doc, path), doc.ident,
                                 json_path(path) or None, message))

    def _exists(self, kind: str, namespace: str, name: str) -> bool:
        # A referrer without a namespace gets one from wherever it is applied,
        # which the repository does not say: accept a match in any namespace.
        if not namespace:
            return (kind, name) in self._names
        return (kind, namespace, name) in self._objects

    # -- Flux ----------------------------------------------------------------------------

    def flux(self) -> None:
        for doc in self.docs:
            group = doc.api_version.split("/")[0]
            if not group.endswith("toolkit.fluxcd.io"):
                continue
            refs: list[tuple[PathPart, ...]] = []
            if doc.kind == "HelmRelease":
                refs = [("spec", "chart", "spec", "sourceRef"), ("spec", "chartRef")]
            elif doc.kind in ("Kustomization", "HelmChart", "ImageUpdateAutomation"):
                refs = [("spec", "sourceRef")]
            for path in refs:
                ref = get_path(doc.data, path)
                if isinstance(ref, dict):
                    self._source_ref(doc, path, ref)
            if doc.kind in ("Kustomization", "HelmRelease"):
                self._depends_on(doc)

    def _source_ref(self, doc: Document, path: tuple[PathPart, ...], ref: dict) -> None:
        kind, name = ref.get("kind"), ref.get("name")
        if not isinstance(name, str) or not name:
            return  # the schema reports a missing name
        if kind not in SOURCE_KINDS:
            self._fault(doc, (*path, "kind"), f"sourceRef kind {kind!r} is not a Flux source "
                        f"({', '.join(sorted(SOURCE_KINDS))})")
            return
        namespace = ref.get("namespace") or doc.namespace
        if not self._exists(kind, namespace, name):
            where = f"{namespace}/{name}" if namespace else name
            self._fault(doc, (*path, "name"), f"sourceRef {kind} {where} does not exist in the repository")

    def _depends_on(self, doc: Document) -> None:
        for i, dep in enumerate(get_path(doc.data, ("spec", "dependsOn")) or []):
            if not isinstance(dep, dict) or not isinstance(dep.get("name"), str):
                continue
            namespace = dep.get("namespace") or doc.namespace
            if not self._exists(doc.kind, namespace, dep["name"]):
                where = f"{namespace}/{dep['name']}" if namespace else dep["name"]
                self._fault(doc, ("spec", "dependsOn", i, "name"),
                            f"dependsOn {doc.kind} {where} does not exist in the repository")

    # -- data safety ---------------------------------------------------------------------------

    def data_namespaces(self, engine: str | None = None) -> None:
        """Lesson from the seeds: deleting a namespace deleted its volumes. A namespace that
        holds claims must carry the annotation that stops the GitOps engine from pruning it
        (either engine's, when the repository does not say which one syncs it)."""
        claims: dict[str, list[str]] = {}
        for doc in self.docs:
            if doc.kind == "PersistentVolumeClaim":
                claims.setdefault(doc.namespace, []).append(doc.name)
            elif doc.kind == "StatefulSet" and get_path(doc.data, ("spec", "volumeClaimTemplates")):
                claims.setdefault(doc.namespace, []).append(f"{doc.name} (volumeClaimTemplates)")
        for doc in self.docs:
            if doc.kind != "Namespace" or doc.name not in claims:
                continue
            annotations = doc.metadata.get("annotations") or {}
            # An engine this clustergen does not know is judged as the default one.
            syncer = ENGINES.get(engine or "") or ENGINES[DEFAULT_ENGINE]
            # Without facts, any engine's annotation keeps it.
            kept = any(e.keeps(annotations) for e in ENGINES.values()) if engine is None else syncer.keeps(annotations)
            who, fix = syncer.title, syncer.keep_text
            if not kept:
                self._fault(
                    doc,
                    ("metadata", "annotations"),
                    f"[pruning-data-namespace] namespace {doc.name} holds volumes ({', '.join(sorted(claims[doc.name]))}) "
                    f"but {who} may prune it, deleting the data: add the annotation {fix}",
                )

    # -- Argo CD ---------------------------------------------------------------------------

    def argocd(self, root: Path, sources: LocalSources) -> None:
        """Applications: their project exists and allows their sources and destination; this
        repository's folders and $ref value files they name exist."""
        projects = {d.name: mapping(d.data.get("spec")) for d in self.docs
                    if d.kind == "AppProject" and d.api_version.startswith("argoproj.io/")}
        for doc in self.docs:
            if doc.kind != "Application" or not doc.api_version.startswith("argoproj.io/"):
                continue
            spec = mapping(doc.data.get("spec"))
            name = spec.get("project")
            project = projects.get(name) if isinstance(name, str) else None
            if isinstance(name, str) and project is None and name != ARGO_DEFAULT_PROJECT:
                self._fault(doc, ("spec", "project"), f"AppProject {name!r} does not exist in the repository")
            key = "source" if isinstance(spec.get("source"), dict) else "sources"
            refs = {s["ref"]: s for s in application_sources(doc.data) if isinstance(s.get("ref"), str)}
            for i, src in enumerate(application_sources(doc.data)):
                path: tuple[PathPart, ...] = ("spec", "source") if key == "source" else ("spec", "sources", i)
                self._argo_source(doc, path, src, project, refs, root, sources)
            if project is not None:
                self._argo_destination(doc, mapping(spec.get("destination")), project)

    def _argo_source(self, doc: Document, path: tuple[PathPart, ...], src: dict, project: dict | None,
                     refs: dict[str, dict], root: Path, sources: LocalSources) -> None:
        url = src.get("repoURL")
        if project is not None and isinstance(url, str):
            allowed = [str(r) for r in project.get("sourceRepos") or []]
            if not any(fnmatchcase(url, pattern) for pattern in allowed):
                self._fault(doc, (*path, "repoURL"), f"repoURL {url} is not in the sourceRepos of AppProject "
                            f"{get_path(doc.data, ('spec', 'project'))!r}")
        if not sources.is_local_url(url) or src.get("chart"):
            return
        folder = src.get("path")
        if isinstance(folder, str):
            rel = posixpath.normpath(folder.lstrip("/"))
            if rel.startswith("..") or not (root / rel).is_dir():
                self._fault(doc, (*path, "path"), f"path {folder!r} does not exist in the repository")
        for j, vf in enumerate(get_path(src, ("helm", "valueFiles")) or []):
            if not isinstance(vf, str) or not vf.startswith("$"):
                continue
            ref_name, _, rest = vf[1:].partition("/")
            ref = refs.get(ref_name)
            if ref is None:
                self._fault(doc, (*path, "helm", "valueFiles", j), f"value file {vf}: no source has ref: {ref_name}")
            elif sources.is_local_url(ref.get("repoURL")) and not (root / posixpath.normpath(rest)).is_file():
                self._fault(doc, (*path, "helm", "valueFiles", j), f"value file {vf}: {rest} does not exist in the repository")

    def _argo_destination(self, doc: Document, destination: dict, project: dict) -> None:
        namespace = str(destination.get("namespace") or "")
        server = destination.get("server")
        cluster = destination.get("name")
        for allowed in project.get("destinations") or []:
            if not isinstance(allowed, dict):
                continue
            if server is not None and not fnmatchcase(str(server), str(allowed.get("server") or "")):
                continue
            if server is None and not fnmatchcase(str(cluster or ""), str(allowed.get("name") or "")):
                continue
            if fnmatchcase(namespace, str(allowed.get("namespace") or "")):
                return
        self._fault(doc, ("spec", "destination"), f"destination namespace {namespace or '(none)'!r} is not allowed by "
                    f"AppProject {get_path(doc.data, ('spec', 'project'))!r}")

    # -- facts-based -------------------------------------------------------------------------

    def needs_facts(self) -> bool:
        return any(d.kind in ("PersistentVolumeClaim", "Ingress") or d.kind in POD_SPEC_PATHS
                   for d in self.docs)

    def storage(self, facts: Facts) -> None:
        classes = set(facts.storage_classes)
        has_default = facts.default_storage or bool(facts.storage_classes)
        for d in self.docs:
            if d.kind == "StorageClass":
                classes.add(d.name)
                annotations = d.metadata.get("annotations") or {}
                if any(str(annotations.get(a)).lower() == "true" for a in _DEFAULT_CLASS_ANNOTATIONS):
                    has_default = True
        for d in self.docs:
            claims: list[tuple[PathPart, ...]] = []
            if d.kind == "PersistentVolumeClaim":
                claims = [("spec",)]
            elif d.kind == "StatefulSet":
                templates = get_path(d.data, ("spec", "volumeClaimTemplates")) or []
                claims = [("spec", "volumeClaimTemplates", i, "spec") for i in range(len(templates))]
            for spec_path in claims:
                spec = get_path(d.data, spec_path)
                if not isinstance(spec, dict):
                    continue
                name = spec.get("storageClassName")
                if name is None:
                    if not has_default:
                        self._fault(d, spec_path, "no storageClassName and no default StorageClass "
                                    "(none in the repository, none in .clustergen/facts.yaml)")
                elif name != "" and name not in classes:  # "" opts out of dynamic provisioning
                    known = ", ".join(sorted(classes)) or "none"
                    self._fault(d, (*spec_path, "storageClassName"),
                                f"StorageClass {name!r} does not exist (known: {known})")

    def ingress_hosts(self, facts: Facts) -> None:
        domain = facts.domain
        if not domain:
            return
        for d in self.docs:
            if d.kind != "Ingress":
                continue
            hosts: list[tuple[tuple[PathPart, ...], Any]] = []
            for i, rule in enumerate(get_path(d.data, ("spec", "rules")) or []):
                if isinstance(rule, dict) and "host" in rule:
                    hosts.append((("spec", "rules", i, "host"), rule["host"]))
            for i, tls in enumerate(get_path(d.data, ("spec", "tls")) or []):
                for j, host in enumerate((tls or {}).get("hosts") or [] if isinstance(tls, dict) else []):
                    hosts.append((("spec", "tls", i, "hosts", j), host))
            for path, host in hosts:
                if not isinstance(host, str) or "${" in host:
                    continue  # substituted at deploy time
                bare = host.lower().removeprefix("*.").rstrip(".")
                if bare != domain and not bare.endswith("." + domain):
                    self._fault(d, path, f"host {host!r} is not under the cluster domain {domain!r}")
