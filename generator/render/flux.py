"""Flux wiring: bootstrap/flux (GitRepository + root sync) and clusters/<name> (ordered layers),
and the Flux style of the bases: a chart source and a HelmRelease per component."""

from __future__ import annotations

from typing import Any

from ..plan.model import AppPlan, ClusterPlan, ComponentPlan
from .files import RenderedFile
from .kustomize import ReleaseStyle
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


def flux_component_release(component: ComponentPlan) -> list[tuple[str, str]]:
    context: dict[str, Any] = {
        "namespace": component.namespace,
        "chart": component.chart,
        "source_name": component.key,
        "release_name": component.release_name,
        "values": component.values,
        "keeps_data": component.keeps_data,
        # "namespace/name" for a release in another namespace.
        "depends_on": [dict(zip(("namespace", "name"), d.split("/"))) if "/" in d else {"name": d, "namespace": None} for d in component.depends_on],
    }
    return [
        ("source.yaml", render_template("bases/component/source.yaml.j2", **context)),
        ("helmrelease.yaml", render_template("bases/component/helmrelease.yaml.j2", **context)),
    ]


def flux_app_release(app: AppPlan, plan: ClusterPlan) -> list[tuple[str, str]]:
    return [("helmrelease.yaml", render_template("bases/app/helmrelease.yaml.j2", name=app.name, namespace=app.namespace, values=app.base_values))]


FLUX_STYLE = ReleaseStyle(
    engine="flux",
    title="Flux",
    release_kind="HelmRelease",
    release_api_version="helm.toolkit.fluxcd.io/v2",
    values_path="/spec/values",
    keep_annotation=("kustomize.toolkit.fluxcd.io/prune", "disabled"),
    release_namespace=None,
    component_release=flux_component_release,
    app_release=flux_app_release,
)


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
    ordered = ordered_layers(layers)
    previous: str | None = None
    for layer in ordered:
        layer["depends_on"] = [previous] if previous else []
        previous = layer["name"]
    return files + layer_files(inv.sync_path, ordered, "bootstrap/flux/layer.yaml.j2")


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
