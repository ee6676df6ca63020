"""The GitOps engines clustergen knows, as data every stage may read.

The inventory schema's gitops.engine enum, default and description are made from these
entries when the schema is loaded (engine_schema), validate takes the namespace and API
groups an engine installs itself from here, and render's registry (render/engines.py)
pairs each entry with the module that renders it. A new engine is one entry here and one
renderer module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EngineFacts:
    """What every stage knows of a GitOps engine without importing its renderer."""

    name: str  # the inventory's gitops.engine
    title: str  # how prose names it: "Flux", "Argo CD"
    summary: str  # what it syncs, for the schema's gitops.engine description
    # The namespace it runs in: it exists on the cluster without a manifest in the repository.
    namespace: str
    # API groups whose CRDs the engine's own install brings, not a chart of the repository.
    api_groups: frozenset[str]
    # The annotation (key, value) clustergen writes to stop it from pruning an object that holds data.
    keep_annotation: tuple[str, str]
    # What the engine itself reads there: the one value, or with a separator, the option
    # that must be among the listed ones (Argo CD's sync-options "Prune=false,...").
    keep_option: str
    keep_separator: str | None = None

    def keeps(self, annotations: Mapping[str, Any]) -> bool:
        """Whether these annotations stop the engine from pruning the object."""
        value = annotations.get(self.keep_annotation[0])
        if self.keep_separator is None:
            return value == self.keep_option
        return self.keep_option in {o.strip() for o in str(value or "").split(self.keep_separator)}

    @property
    def keep_text(self) -> str:
        """The annotation as a user adds it: "key: value"."""
        return ": ".join(self.keep_annotation)


FLUX = EngineFacts(
    name="flux",
    title="Flux",
    summary="Flux Kustomizations and HelmReleases.",
    namespace="flux-system",
    api_groups=frozenset({"source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io",
                          "notification.toolkit.fluxcd.io", "image.toolkit.fluxcd.io"}),
    keep_annotation=("kustomize.toolkit.fluxcd.io/prune", "disabled"),
    keep_option="disabled",
)

ARGOCD = EngineFacts(
    name="argocd",
    title="Argo CD",
    summary="Argo CD Applications (app of apps), same bases and overlays.",
    namespace="argocd",
    api_groups=frozenset({"argoproj.io"}),
    # Kept through pruning and through its Application's deletion.
    keep_annotation=("argocd.argoproj.io/sync-options", "Prune=false,Delete=false"),
    keep_option="Prune=false",
    keep_separator=",",
)

# In the order the schema lists them; the first is the inventory's default.
ENGINES: dict[str, EngineFacts] = {e.name: e for e in (FLUX, ARGOCD)}
DEFAULT_ENGINE = next(iter(ENGINES))


def engine_schema() -> dict[str, Any]:
    """The inventory schema's gitops.engine: one of these names, the first by default."""
    return {
        "enum": list(ENGINES),
        "default": DEFAULT_ENGINE,
        "description": " ".join(f"{e.name}: {e.summary}" for e in ENGINES.values()),
    }
