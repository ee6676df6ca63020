"""What the GitOps engines share: the release style of the bases and overlays, and the
ordered layers the engine syncs (<sync path>/infrastructure.yaml and apps.yaml).

kustomize.py writes bases/ and overlays/ in a ReleaseStyle; flux.py and argocd.py
each define one and write the layers in their own template.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..plan.model import AppPlan, ClusterPlan, ComponentPlan
from .files import RenderedFile
from .templates import render_template

LAYER_COMMENTS = {
    "infra-controllers": "Controllers and their CRDs: ingress, cert-manager, load balancer, GPU plugin.",
    "infra-storage": "Storage: the provisioner and its StorageClasses. Never pruned: they hold data.",
    "infra-configs": "Objects that need the controllers' CRDs: issuers, address pools, runtime classes.",
    "apps": "The apps, once the infrastructure is ready.",
}
LAYER_ORDER = ("infra-controllers", "infra-storage", "infra-configs", "apps")
# Layers whose objects hold data: removing them from git must not delete them.
NEVER_PRUNED = frozenset({"infra-storage"})


@dataclass(frozen=True)
class ReleaseStyle:
    """What one GitOps engine writes into bases/ and overlays/."""

    engine: str  # the inventory's gitops.engine
    title: str  # for comments: "Flux", "Argo CD"
    release_kind: str  # the object a values patch or profile Component targets
    release_api_version: str
    values_path: str  # JSON pointer to the Helm values inside that object
    keep_annotation: tuple[str, str]  # stops the engine from pruning a namespace that holds data
    # Namespace of the release objects; None: the workload's own namespace.
    release_namespace: str | None
    # (file name, text) pairs of a base after namespace.yaml, in kustomization order.
    component_release: Callable[[ComponentPlan], list[tuple[str, str]]]
    app_release: Callable[[AppPlan, ClusterPlan], list[tuple[str, str]]]

    def namespace_of(self, workload_namespace: str) -> str:
        return self.release_namespace or workload_namespace


def ordered_layers(layers: dict[str, str]) -> list[dict]:
    """The layers present, in sync order, with what every engine writes about them."""
    return [
        {
            "name": name,
            "path": layers[name],
            "number": number,
            "comment": f"{number}. {LAYER_COMMENTS[name]}",
            "prune": name not in NEVER_PRUNED,
        }
        for number, name in enumerate((n for n in LAYER_ORDER if n in layers), start=1)
    ]


def layer_files(sync_path: str, ordered: list[dict], template: str, **context: Any) -> list[RenderedFile]:
    """<sync path>/infrastructure.yaml and apps.yaml in the engine's template, and their kustomization."""
    infra = [layer for layer in ordered if layer["name"].startswith("infra-")]
    apps = [layer for layer in ordered if layer["name"] == "apps"]
    files = []
    resources = []
    if infra:
        files.append(RenderedFile.text(f"{sync_path}/infrastructure.yaml", render_template(template, layers=infra, **context)))
        resources.append("infrastructure.yaml")
    if apps:
        files.append(RenderedFile.text(f"{sync_path}/apps.yaml", render_template(template, layers=apps, **context)))
        resources.append("apps.yaml")
    files.append(RenderedFile.text(f"{sync_path}/kustomization.yaml", render_template("bases/component/kustomization.yaml.j2", resources=resources)))
    return files
