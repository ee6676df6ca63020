"""The order the GitOps engine applies things in.

Every object belongs to the Flux Kustomization or Argo CD Application that
applies it (its *owner*); a HelmRelease's or chart Application's rendered
objects belong to the owner of the release. An owner waits for its siblings
named in `dependsOn` (Flux) or in a lower sync wave (Argo CD), and for its
parent, which applied it. Something an owner needs is there in time when it
is in the same owner, an ancestor, or an owner that completes first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..documents import Document, get_path, mapping
from ..sources import application_sources

FLUX_KUSTOMIZATION = "kustomize.toolkit.fluxcd.io/"
ARGO = "argoproj.io/"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"


def key_of(doc: Document) -> str:
    return doc.ident


@dataclass
class Owner:
    key: str
    doc: Document | None
    docs: list[Document] = field(default_factory=list)
    parent: str | None = None
    deps: set[str] = field(default_factory=set)  # siblings that complete first
    created_namespaces: set[str] = field(default_factory=set)  # createNamespace / CreateNamespace=true

    @property
    def name(self) -> str:
        return self.key


@dataclass
class Layers:
    owners: dict[str, Owner]
    owner_of: dict[int, str]  # id(document) -> owner key

    def ancestors(self, key: str) -> list[str]:
        out, seen = [], set()
        parent = self.owners[key].parent
        while parent is not None and parent not in seen:
            seen.add(parent)
            out.append(parent)
            parent = self.owners[parent].parent if parent in self.owners else None
        return out

    def descendants(self, key: str) -> set[str]:
        out: set[str] = set()
        stack = [key]
        while stack:
            k = stack.pop()
            for child in (o.key for o in self.owners.values() if o.parent == k):
                if child not in out:
                    out.add(child)
                    stack.append(child)
        return out

    def before(self, key: str) -> set[str]:
        """Owners whose objects are applied, and ready, before ``key`` applies its own."""
        chain = [key, *self.ancestors(key)]
        done: set[str] = set(chain[1:])
        for k in chain:
            stack = list(self.owners[k].deps) if k in self.owners else []
            while stack:
                dep = stack.pop()
                if dep in done or dep not in self.owners:
                    continue
                done.add(dep)
                done |= self.descendants(dep)
                stack.extend(self.owners[dep].deps)
        return done


def build_layers(applied: dict[str, list[Document]], engine_docs: Iterable[Document],
                 rendered: dict[str, list[Document]], release_key: Callable[[Document], str]) -> Layers:
    """``applied`` maps an owner's key to the objects its path builds to; ``rendered``
    maps a release's ``release_key`` to what its chart renders. A chart Application's
    objects are its own; a HelmRelease's belong to whoever applies the release."""
    owners: dict[str, Owner] = {}
    for doc in engine_docs:
        owners.setdefault(key_of(doc), Owner(key_of(doc), doc))
    owner_of: dict[int, str] = {}
    for key, docs in applied.items():
        owner = owners.setdefault(key, Owner(key, None))
        for d in docs:
            if id(d) in owner_of:
                continue  # two owners apply one folder: the object is modelled once, with the first
            owner.docs.append(d)
            owner_of[id(d)] = key
            # (No release rendered, no key to compute: it serialises the whole object.)
            made = rendered.get(release_key(d), []) if rendered and d.kind in ("HelmRelease", "Application") else []
            target = owners.setdefault(key_of(d), Owner(key_of(d), d)) if d.kind == "Application" and made else owner
            for r in made:
                target.docs.append(r)
                owner_of.setdefault(id(r), target.key)
            owner.created_namespaces |= _created_namespaces(d)
    for owner in owners.values():
        for d in owner.docs:
            if not is_engine(d):
                continue
            child = owners.get(key_of(d))
            if child is not None and child.key != owner.key and child.parent is None:
                child.parent = owner.key
    for owner in owners.values():
        if owner.doc is not None:
            owner.deps = _dependencies(owner, owners)
            owner.created_namespaces |= _created_namespaces(owner.doc)
    return Layers(owners, owner_of)


def is_engine(doc: Document) -> bool:
    """A Flux Kustomization or an Argo CD Application: something that applies a folder."""
    return (doc.kind == "Kustomization" and doc.api_version.startswith(FLUX_KUSTOMIZATION)) or \
        (doc.kind == "Application" and doc.api_version.startswith(ARGO))


def _dependencies(owner: Owner, owners: dict[str, Owner]) -> set[str]:
    doc = owner.doc
    assert doc is not None
    if doc.kind == "Kustomization":
        deps = set()
        for dep in get_path(doc.data, ("spec", "dependsOn")) or []:
            dep = mapping(dep)
            if dep.get("name"):
                deps.add(f"Kustomization/{dep.get('namespace') or doc.namespace}/{dep['name']}")
        return deps
    wave = _wave(doc)
    return {o.key for o in owners.values()
            if o.key != owner.key and o.parent == owner.parent and o.doc is not None
            and o.doc.kind == "Application" and _wave(o.doc) < wave}


def _wave(doc: Document) -> int:
    try:
        return int(str(mapping(doc.metadata.get("annotations")).get(SYNC_WAVE, "0")))
    except ValueError:
        return 0


def _created_namespaces(doc: Document) -> set[str]:
    """Namespaces the engine creates for a release (Flux install.createNamespace, Argo CD
    CreateNamespace=true)."""
    if doc.kind == "HelmRelease" and get_path(doc.data, ("spec", "install", "createNamespace")) is True:
        return {str(get_path(doc.data, ("spec", "targetNamespace")) or doc.namespace)}
    if doc.kind == "Application" and doc.api_version.startswith(ARGO):
        options = get_path(doc.data, ("spec", "syncPolicy", "syncOptions")) or []
        if "CreateNamespace=true" in options:
            ns = get_path(doc.data, ("spec", "destination", "namespace"))
            return {str(ns)} if ns else set()
    return set()


def local_paths(doc: Document) -> list[str]:
    """The folders of this repository an Argo CD Application applies (unchecked)."""
    return [str(s["path"]) for s in application_sources(doc.data) if isinstance(s.get("path"), str) and not s.get("chart")]
