"""Flux wiring: bootstrap/flux (GitRepository + root sync) and clusters/<name> (ordered layers)."""

from __future__ import annotations

from ..plan.model import ClusterPlan
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


def render_flux(plan: ClusterPlan, layers: dict[str, str]) -> list[RenderedFile]:
    inv = plan.inventory
    files = [
        RenderedFile.text(
            "bootstrap/flux/gitrepository.yaml",
            render_template("bootstrap/flux/gitrepository.yaml.j2", repository=inv.repository, branch=inv.branch, ssh=not inv.repository.startswith("https://")),
        ),
        RenderedFile.text("bootstrap/flux/sync.yaml", render_template("bootstrap/flux/sync.yaml.j2", sync_path=inv.sync_path)),
        RenderedFile.text(
            "bootstrap/flux/kustomization.yaml",
            render_template("bases/component/kustomization.yaml.j2", resources=["gitrepository.yaml", "sync.yaml"]),
        ),
    ]
    ordered = []
    previous: str | None = None
    for number, name in enumerate((n for n in LAYER_ORDER if n in layers), start=1):
        ordered.append(
            {
                "name": name,
                "path": layers[name],
                "depends_on": [previous] if previous else [],
                "comment": f"{number}. {LAYER_COMMENTS[name]}",
                "prune": name not in NEVER_PRUNED,
            }
        )
        previous = name
    infra = [layer for layer in ordered if layer["name"].startswith("infra-")]
    apps = [layer for layer in ordered if layer["name"] == "apps"]
    resources = []
    if infra:
        files.append(RenderedFile.text(f"{inv.sync_path}/infrastructure.yaml", render_template("bootstrap/flux/layer.yaml.j2", layers=infra)))
        resources.append("infrastructure.yaml")
    if apps:
        files.append(RenderedFile.text(f"{inv.sync_path}/apps.yaml", render_template("bootstrap/flux/layer.yaml.j2", layers=apps)))
        resources.append("apps.yaml")
    files.append(RenderedFile.text(f"{inv.sync_path}/kustomization.yaml", render_template("bases/component/kustomization.yaml.j2", resources=resources)))
    return files
