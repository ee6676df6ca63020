"""Which Flux GitRepository sources and Argo CD Application sources are this repository.

A HelmRelease chart or Kustomization path is only checkable here when its
GitRepository is the repository being validated; a GitRepository pointing at
an upstream project (a chart kept in someone else's git) is not. Argo CD names
repositories by URL in every Application: a URL is this repository when it is a
git remote here, or when an Application already uses it for a folder that
exists here (a generated repository has no remote yet).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from . import tool
from .documents import Document, get_path

BOOTSTRAP_SOURCE = "flux-system"  # `flux bootstrap` names the repo it syncs from so


def normalise_url(url: str) -> str:
    """ssh://git@host/a/b.git, git@host:a/b and https://host/a/b -> host/a/b"""
    url = url.strip().lower()
    url = re.sub(r"^[a-z+]+://", "", url)
    url = re.sub(r"^[^@/]+@", "", url)
    url = re.sub(r"^([^/:]+):(?!\d+/)", r"\1/", url)  # scp-like host:path
    url = re.sub(r":\d+/", "/", url)
    return url.removesuffix("/").removesuffix(".git")


class LocalSources:
    def __init__(self, docs: Iterable[Document], root: Path):
        self._urls: dict[tuple[str, str], str] = {}
        for d in docs:
            if d.kind == "GitRepository" and d.api_version.startswith("source.toolkit.fluxcd.io/"):
                url = get_path(d.data, ("spec", "url"))
                if isinstance(url, str):
                    self._urls[(d.namespace, d.name)] = normalise_url(url)
        self._self = {u for (_, name), u in self._urls.items() if name == BOOTSTRAP_SOURCE}
        self._self |= {normalise_url(u) for u in tool.git_remote_urls(root)}
        for d in docs:
            if d.kind == "Application" and d.api_version.startswith("argoproj.io/"):
                for src in application_sources(d.data):
                    url, path = src.get("repoURL"), src.get("path")
                    if isinstance(url, str) and not src.get("chart") and isinstance(path, str) and path.strip("./") \
                            and (root / path).is_dir():
                        self._self.add(normalise_url(url))

    def is_local_url(self, url: object) -> bool:
        """Whether an Argo CD repoURL is this repository."""
        return isinstance(url, str) and not url.startswith("oci://") and normalise_url(url) in self._self

    def is_local(self, name: object, namespace: str) -> bool:
        if name == BOOTSTRAP_SOURCE:
            return True
        urls = [u for (ns, n), u in self._urls.items() if n == name and (ns == namespace or not namespace)]
        return any(u in self._self for u in urls)


def application_sources(data: object) -> list[dict]:
    """An Argo CD Application's source and sources, in order."""
    spec = data.get("spec") if isinstance(data, dict) else None
    if not isinstance(spec, dict):
        return []
    found = [spec["source"]] if isinstance(spec.get("source"), dict) else []
    return found + [s for s in spec.get("sources") or [] if isinstance(s, dict)]
