"""Which Flux GitRepository sources are this repository.

A HelmRelease chart or Kustomization path is only checkable here when its
GitRepository is the repository being validated; a GitRepository pointing at
an upstream project (a chart kept in someone else's git) is not.
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

    def is_local(self, name: object, namespace: str) -> bool:
        if name == BOOTSTRAP_SOURCE:
            return True
        urls = [u for (ns, n), u in self._urls.items() if n == name and (ns == namespace or not namespace)]
        return any(u in self._self for u in urls)
