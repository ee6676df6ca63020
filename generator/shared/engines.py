"""The GitOps engines clustergen knows, as data every stage may read.

The inventory schema's gitops.engine enum lists exactly these names (a test holds it so),
validate takes the namespace and API groups an engine installs itself from here, and
render's registry (render/engines.py) pairs each entry with the module that renders it.
A new engine is one entry here and one renderer module.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EngineFacts:
    name: str  # the inventory's gitops.engine
    title: str  # how prose names it: "Flux", "Argo CD"
    # The namespace it runs in: it exists on the cluster without a manifest in the repository.
    namespace: str
    # API groups whose CRDs the engine's own install brings, not a chart of the repository.
    api_groups: frozenset[str]
    # The annotation (key, value) that stops it from pruning an object that holds data.
    keep_annotation: tuple[str, str]


FLUX = EngineFacts(
    name="flux",
    title="Flux",
    namespace="flux-system",
    api_groups=frozenset({"source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io",
                          "notification.toolkit.fluxcd.io", "image.toolkit.fluxcd.io"}),
    keep_annotation=("kustomize.toolkit.fluxcd.io/prune", "disabled"),
)

ARGOCD = EngineFacts(
    name="argocd",
    title="Argo CD",
    namespace="argocd",
    api_groups=frozenset({"argoproj.io"}),
    # Kept through pruning and through its Application's deletion.
    keep_annotation=("argocd.argoproj.io/sync-options", "Prune=false,Delete=false"),
)

# In the order the schema lists them; the first is the inventory's default.
ENGINES: dict[str, EngineFacts] = {e.name: e for e in (FLUX, ARGOCD)}
DEFAULT_ENGINE = next(iter(ENGINES))
