"""Argo CD wiring: bootstrap/argocd (values, projects, Argo CD's own Application, the root)
and clusters/<name> (one Application per layer, ordered by sync waves), and the Argo CD
style of the bases: one Application per component and per app.

The bases and overlays are the Flux ones (kustomize.py, gitops.py); only the release object
changes, so values patches and profile Components target Applications instead.
"""

from __future__ import annotations

from typing import Any

from .. import catalog
from ..errors import Problem, RenderError
from ..plan.model import AppPlan, ClusterPlan, ComponentPlan
from ..shared.engines import ARGOCD
from ..shared.merge import deep_merge
from .files import RenderedFile
from .gitops import Engine, EngineReadme, ReleaseStyle, layer_files, ordered_layers
from .templates import render_template

ARGOCD_NAMESPACE = ARGOCD.namespace
IN_CLUSTER = "https://kubernetes.default.svc"
INFRA_PROJECT = "infrastructure"
APPS_PROJECT = "apps"
BOOTSTRAP = "bootstrap/argocd"
VALUES_FILE = f"{BOOTSTRAP}/values.yaml"
ROOT_APP = "root"
SELF_APP = "argocd"  # also the Helm release name: the chart names its objects argocd-*
# Argo CD's sync options that keep an object through pruning and through its
# Application's deletion: the Argo CD counterpart of kustomize.toolkit.fluxcd.io/prune.
SYNC_OPTIONS, KEEP_OPTIONS = ARGOCD.keep_annotation
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
KSOPS_GENERATOR = "secret-generator.yaml"
# Kubernetes' own namespaces: charts put leader-election Roles and scrape Services there.
SYSTEM_NAMESPACES = ("kube-system",)


def argocd_chart() -> dict[str, Any]:
    return dict(catalog.component("argo-cd")["chart"])


def engine_facts(key: str) -> dict[str, Any]:
    """The `argocd:` facts of a catalog component (server-side apply, ignored fields, values)."""
    return catalog.component(key).get("argocd") or {}


def sync_policy(prune: bool, options: list[str] | None = None) -> dict[str, Any]:
    policy: dict[str, Any] = {"automated": {"prune": prune, "selfHeal": True}}
    if options:
        policy["syncOptions"] = list(options)
    # Flux retries a failed install or upgrade three times; so does Argo CD here.
    policy["retry"] = {"limit": 3, "backoff": {"duration": "30s", "factor": 2, "maxDuration": "5m"}}
    return policy


def sync_options(facts: dict[str, Any]) -> list[str]:
    """Sync options a component's `argocd:` facts call for."""
    options = ["ServerSideApply=true"] if facts.get("server_side_apply") else []
    if facts.get("ignore_differences"):
        # Without it a sync would overwrite the fields Argo CD was told to ignore.
        options.append("RespectIgnoreDifferences=true")
    return options


def component_application(component: ComponentPlan) -> list[tuple[str, str]]:
    facts = engine_facts(component.key)
    options = sync_options(facts)
    ignore = list(facts.get("ignore_differences") or [])
    annotations = {}
    if component.install_step:
        # After the releases it needs (lower waves) are healthy, like Flux's dependsOn.
        annotations[SYNC_WAVE] = str(component.install_step)
    if component.keeps_data:
        annotations[SYNC_OPTIONS] = KEEP_OPTIONS
    text = render_template(
        "bases/component/application.yaml.j2",
        argocd_namespace=ARGOCD_NAMESPACE,
        server=IN_CLUSTER,
        project=INFRA_PROJECT,
        release_name=component.release_name,
        namespace=component.namespace,
        chart=component.chart,
        values=deep_merge(component.values, facts.get("values") or {}),
        annotations=annotations,
        cascade=not component.keeps_data,
        sync_policy=sync_policy(not component.keeps_data, options),
        ignore_differences=ignore,
    )
    return [("application.yaml", text)]


def app_application(app: AppPlan, plan: ClusterPlan) -> list[tuple[str, str]]:
    settings = plan.settings
    text = render_template(
        "bases/app/application.yaml.j2",
        argocd_namespace=ARGOCD_NAMESPACE,
        server=IN_CLUSTER,
        project=APPS_PROJECT,
        name=app.name,
        namespace=app.namespace,
        repository=settings.repository,
        branch=settings.branch,
        values=app.base_values,
        keeps_data=app.has_data,
        keep_annotation=ARGOCD_STYLE.keep_annotation,
        sync_policy=sync_policy(not app.has_data),
    )
    return [("application.yaml", text)]


def ksops_secrets(folder: str, names: list[str]) -> tuple[list[str], list[str], list[RenderedFile]]:
    """Argo CD cannot decrypt SOPS itself: a KSOPS generator its repo-server runs lists the files."""
    generator = RenderedFile.text(f"{folder}/{KSOPS_GENERATOR}", render_template("overlays/cluster/ksops-generator.yaml.j2", files=names))
    return [], [KSOPS_GENERATOR], [generator]


ARGOCD_STYLE = ReleaseStyle(
    title=ARGOCD.title,
    release_kind="Application",
    release_api_version="argoproj.io/v1alpha1",
    values_path="/spec/source/helm/valuesObject",
    keep_annotation=ARGOCD.keep_annotation,
    release_namespace=ARGOCD_NAMESPACE,
    component_release=component_application,
    app_release=app_application,
    encrypted_secrets=ksops_secrets,
)


def chart_source(chart: dict[str, Any]) -> str:
    """The repoURL an Application uses for a catalog chart (what a project must allow)."""
    return str(chart["repository"])


def _projects(plan: ClusterPlan) -> list[dict[str, Any]]:
    repository = plan.settings.repository
    charts = sorted({chart_source(argocd_chart())} | {chart_source(c.chart) for c in plan.components})
    app_namespaces = sorted({a.namespace for a in plan.apps})
    infra_namespaces = sorted({ARGOCD_NAMESPACE, *SYSTEM_NAMESPACES, *(c.namespace for c in plan.components), *plan.namespaces})
    projects = [
        {
            "name": INFRA_PROJECT,
            "comment": "Argo CD itself, the layers and the infrastructure charts: cluster-scoped objects (CRDs, RBAC, StorageClasses) allowed.",
            "description": "Argo CD, the layers and the pinned infrastructure charts",
            "source_repos": [repository, *charts],
            "destinations": [{"server": IN_CLUSTER, "namespace": ns} for ns in infra_namespaces],
            "cluster_resources": [{"group": "*", "kind": "*"}],
        }
    ]
    if plan.apps:
        projects.append(
            {
                "name": APPS_PROJECT,
                "comment": "The apps: this repository's chart only, into the app namespaces only; no cluster-scoped objects but Namespaces.",
                "description": "Apps from this repository's chart, confined to their namespaces",
                "source_repos": [repository],
                "destinations": [{"server": IN_CLUSTER, "namespace": ns} for ns in app_namespaces],
                "cluster_resources": [{"group": "", "kind": "Namespace"}],
            }
        )
    return projects


def _check_names(plan: ClusterPlan, layers: dict[str, str]) -> None:
    """Every Application shares the argocd namespace, so names must differ across kinds of release."""
    owners: dict[str, str] = {}
    named = [(n, "layer") for n in layers] + [(ROOT_APP, "root Application"), (SELF_APP, "Argo CD's own Application")]
    named += [(c.release_name, f"component {c.key}") for c in plan.components]
    named += [(a.name, f"app {a.name}") for a in plan.apps]
    for name, owner in named:
        if name in owners:
            where = plan.settings.apps_where if owner.startswith("app ") else {}
            raise RenderError(
                [Problem(f"{owner} and {owners[name]} would both be the Argo CD Application '{name}' in namespace {ARGOCD_NAMESPACE}", hint="rename the app", **where)]
            )
        owners[name] = owner


def render_argocd(plan: ClusterPlan, layers: dict[str, str]) -> list[RenderedFile]:
    _check_names(plan, layers)
    settings = plan.settings
    chart = argocd_chart()
    common: dict[str, Any] = {"argocd_namespace": ARGOCD_NAMESPACE, "server": IN_CLUSTER, "repository": settings.repository, "branch": settings.branch}
    files = [
        RenderedFile.text(
            VALUES_FILE,
            render_template(
                "bootstrap/argocd/values.yaml.j2",
                chart_version=chart["version"],
                app_name=SELF_APP,
                ksops_image=catalog.component("argo-cd")["ksops"]["image"],
            ),
        ),
        RenderedFile.text(f"{BOOTSTRAP}/projects.yaml", render_template("bootstrap/argocd/projects.yaml.j2", argocd_namespace=ARGOCD_NAMESPACE, projects=_projects(plan))),
        RenderedFile.text(
            f"{BOOTSTRAP}/argocd.yaml",
            render_template(
                "bootstrap/argocd/argocd.yaml.j2",
                **common,
                name=SELF_APP,
                project=INFRA_PROJECT,
                chart=chart,
                release_name=SELF_APP,
                values_file=VALUES_FILE,
                folder=BOOTSTRAP,
                sync_policy=sync_policy(False, sync_options(engine_facts("argo-cd"))),
            ),
        ),
        RenderedFile.text(
            f"{BOOTSTRAP}/root.yaml",
            render_template("bootstrap/argocd/root.yaml.j2", **common, name=ROOT_APP, project=INFRA_PROJECT, sync_path=settings.sync_path, sync_policy=sync_policy(True)),
        ),
        RenderedFile.text(f"{BOOTSTRAP}/kustomization.yaml", render_template("bases/component/kustomization.yaml.j2", resources=["projects.yaml", "argocd.yaml", "root.yaml"])),
    ]
    ordered = ordered_layers(layers)
    for layer in ordered:
        layer["sync_policy"] = sync_policy(layer["prune"])
    files += layer_files(settings.sync_path, ordered, "bootstrap/argocd/layer.yaml.j2", **common, project=INFRA_PROJECT, keep_options=KEEP_OPTIONS)
    return files


def argocd_readme(plan: ClusterPlan) -> EngineReadme:
    chart = argocd_chart()
    return EngineReadme(
        synced_by=f"Argo CD (argo-cd chart {chart['version']})",
        sync_path=f"Argo CD Applications, one per layer, that the `{ROOT_APP}` Application syncs in waves:",
        bases="one generic base per component (Namespace, pinned Argo CD Application of the chart) and per app (`bases/apps/`)",
        app_chart="clustergen's generic app chart; every app is an Argo CD Application of it",
        bootstrap_folder=BOOTSTRAP,
        bootstrap=(
            "`values.yaml` for the pinned argo-cd chart (used by `helm install` and by Argo CD itself), "
            f"the AppProjects, Argo CD's own Application and the `{ROOT_APP}` Application that starts the sync"
        ),
        keeps_data=(
            "App volumes carry `helm.sh/resource-policy: keep`, namespaces and releases that hold data carry\n"
            f"`{SYNC_OPTIONS}: {KEEP_OPTIONS}` and sync with `prune: false` and no\n"
            "cascading finalizer, and the `infra-storage` layer is never pruned, so removing something from\n"
            "git never deletes its data."
        ),
        suspend_release=f"""`kubectl -n {ARGOCD_NAMESPACE} patch application <app> --type merge -p '{{"spec":{{"syncPolicy":{{"automated":null}}}}}}'`""",
        resume_release="re-enable automated sync",
        context={"argocd_chart": chart, "argocd_values_file": VALUES_FILE},
    )


ARGOCD_ENGINE = Engine(facts=ARGOCD, style=ARGOCD_STYLE, render_sync=render_argocd, readme=argocd_readme)
