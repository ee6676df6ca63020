"""Flux wiring: bootstrap/flux (GitRepository + root sync) and clusters/<name> (ordered layers),
and the Flux style of the bases: a chart source and a HelmRelease per component."""

from __future__ import annotations

from typing import Any

from .. import catalog
from ..plan.model import AppPlan, ClusterPlan, ComponentPlan
from ..shared.engines import FLUX
from .files import RenderedFile
from .gitops import Engine, EngineReadme, ReleaseStyle, layer_files, ordered_layers, secrets_as_resources
from .templates import render_template


def flux_component_release(component: ComponentPlan) -> list[tuple[str, str]]:
    context: dict[str, Any] = {
        "namespace": component.namespace,
        "chart": component.chart,
        "source_name": component.key,
        "release_name": component.release_name,
        "values": component.values,
        "keeps_data": component.keeps_data,
        # "namespace/name" for a release in another namespace.
        "depends_on": [dict(zip(("namespace", "name"), d.split("/", 1), strict=True)) if "/" in d else {"name": d, "namespace": None} for d in component.depends_on],
    }
    return [
        ("source.yaml", render_template("bases/component/source.yaml.j2", **context)),
        ("helmrelease.yaml", render_template("bases/component/helmrelease.yaml.j2", **context)),
    ]


def flux_app_release(app: AppPlan, plan: ClusterPlan) -> list[tuple[str, str]]:
    return [("helmrelease.yaml", render_template("bases/app/helmrelease.yaml.j2", name=app.name, namespace=app.namespace, values=app.base_values))]


FLUX_STYLE = ReleaseStyle(
    title=FLUX.title,
    release_kind="HelmRelease",
    release_api_version="helm.toolkit.fluxcd.io/v2",
    values_path="/spec/values",
    keep_annotation=FLUX.keep_annotation,
    release_namespace=None,
    component_release=flux_component_release,
    app_release=flux_app_release,
    # Flux decrypts SOPS-encrypted resources itself (the sync's decryption provider).
    encrypted_secrets=secrets_as_resources,
)


def render_flux(plan: ClusterPlan, layers: dict[str, str]) -> list[RenderedFile]:
    settings = plan.settings
    files = [
        RenderedFile.text(
            "bootstrap/flux/gitrepository.yaml",
            render_template("bootstrap/flux/gitrepository.yaml.j2", repository=settings.repository, branch=settings.branch, ssh=not settings.repository.startswith("https://")),
        ),
        RenderedFile.text("bootstrap/flux/sync.yaml", render_template("bootstrap/flux/sync.yaml.j2", sync_path=settings.sync_path)),
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
    return files + layer_files(settings.sync_path, ordered, "bootstrap/flux/layer.yaml.j2")


def flux_readme(plan: ClusterPlan) -> EngineReadme:
    version = catalog.flux_version()
    key, value = FLUX.keep_annotation
    return EngineReadme(
        synced_by=f"Flux {version}",
        sync_path="Flux Kustomizations, applied in order:",
        bases="one generic base per component (Namespace, chart source, pinned HelmRelease) and per app (`bases/apps/`)",
        app_chart="clustergen's generic app chart; every app is a HelmRelease of it",
        bootstrap_folder="bootstrap/flux",
        bootstrap="the GitRepository and root Kustomization that start the sync",
        keeps_data=(
            "App volumes carry `helm.sh/resource-policy: keep`, namespaces that hold data carry\n"
            f"`{key}: {value}`, and the `infra-storage` layer is never pruned,\n"
            "so removing something from git never deletes its data."
        ),
        suspend_release="`flux suspend helmrelease -n <namespace> <app>`",
        resume_release="`flux resume helmrelease -n <namespace> <app>`",
        context={"flux_version": version},
    )


FLUX_ENGINE = Engine(facts=FLUX, style=FLUX_STYLE, render_sync=render_flux, readme=flux_readme, renovate_manager="flux")
