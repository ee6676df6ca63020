"""What the GitOps engines share: the Engine interface, the release style of the bases and
overlays, and the ordered layers the engine syncs (<sync path>/infrastructure.yaml and apps.yaml).

An Engine is the engine's data (shared/engines.py) and the few functions that differ:
kustomize.py writes bases/ and overlays/ in its ReleaseStyle, render_sync writes its
bootstrap folder and the layers, and the README and Renovate config take its words.
flux.py and argocd.py each define one; engines.py is the registry render reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..plan.model import AppPlan, ClusterPlan, ComponentPlan
from ..shared.engines import EngineFacts
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


# How a kustomization takes SOPS-encrypted Secret files (folder, file names):
# (resources, generators, generator files) for its kustomization.yaml.
EncryptedSecrets = Callable[[str, list[str]], tuple[list[str], list[str], list[RenderedFile]]]


@dataclass(frozen=True)
class ReleaseStyle:
    """What one GitOps engine writes into bases/ and overlays/."""

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
    encrypted_secrets: EncryptedSecrets

    def namespace_of(self, workload_namespace: str) -> str:
        return self.release_namespace or workload_namespace


def secrets_as_resources(folder: str, names: list[str]) -> tuple[list[str], list[str], list[RenderedFile]]:
    """For an engine that decrypts SOPS-encrypted resources itself (Flux): list them as resources."""
    return list(names), [], []


@dataclass(frozen=True)
class EngineReadme:
    """What the generated README says about the engine, in its words.

    The README also includes the engine's own sections, bootstrap/repo/readme/gitops-<name>.md.j2
    (the bootstrap steps) and secrets-<name>.md.j2, which read ``context``.
    """

    synced_by: str  # "Flux 2.7.3": after "synced by" in the first paragraph
    sync_path: str  # what <sync path>/ holds, followed by the layers in order
    bases: str  # what a component base holds
    app_chart: str  # how an app uses charts/app
    bootstrap_folder: str  # the folder that starts the sync
    bootstrap: str  # what it holds
    keeps_data: str  # the paragraph on what stops the engine from deleting data
    suspend_release: str  # how to stop it from scaling an app back up (backup restores)
    resume_release: str
    context: dict[str, Any]


@dataclass(frozen=True)
class Engine:
    """One GitOps engine: its data and the functions that render it."""

    facts: EngineFacts
    style: ReleaseStyle
    # bootstrap/<engine>/ and <sync path>/ (the ordered layers), from the overlay's layer → path map.
    render_sync: Callable[[ClusterPlan, dict[str, str]], list[RenderedFile]]
    readme: Callable[[ClusterPlan], EngineReadme]
    # Renovate's manager that reads the engine's own files, or None.
    renovate_manager: str | None = None

    @property
    def name(self) -> str:
        return self.facts.name


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
