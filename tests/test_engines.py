"""A GitOps engine is data (shared/engines.py) plus one renderer module (an Engine, render/gitops.py).

The registry is the one list: the inventory schema's enum is held to it, validate's facts
read it, and a third engine registered here, in the test only, renders a whole example
repository without any other file of clustergen knowing its name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from generator.cli import main
from generator.errors import InventoryError
from generator.inventory import load, load_inventory_text
from generator.inventory.load import inventory_schema
from generator.plan import plan_cluster
from generator.plan.model import AppPlan, ClusterPlan, ComponentPlan
from generator.render import engines as render_engines
from generator.render import render_repository, templates
from generator.render.gitops import Engine, EngineReadme, ReleaseStyle, ordered_layers, secrets_as_resources
from generator.shared import ClusterSecrets, RenderedFile
from generator.resources import package_file
from generator.shared import engines as engine_data
from generator.shared.yamltext import dump_documents, load_all, to_yaml
from generator.validate.model.facts import cluster_facts

from .conftest import EXAMPLES, TEST_TOKEN

ENGINE_SCHEMA = inventory_schema()["properties"]["gitops"]["properties"]["engine"]


# -- the registry is the one list -----------------------------------------------------------


def test_the_schema_enum_is_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0  # what `clustergen schema` publishes
    published = json.loads(capsys.readouterr().out)["properties"]["gitops"]["properties"]["engine"]
    assert published == ENGINE_SCHEMA
    assert published["enum"] == list(engine_data.ENGINES) == ["flux", "argocd"]
    assert published["default"] == engine_data.DEFAULT_ENGINE == "flux"
    assert published["description"] == ("flux: Flux Kustomizations and HelmReleases. "
                                         "argocd: Argo CD Applications (app of apps), same bases and overlays.")
    # The file keeps no list of its own that could drift from the registry.
    on_disk = json.loads(package_file("schemas", "inventory.schema.json").read_text())
    assert set(on_disk["properties"]["gitops"]["properties"]["engine"]) == {"$comment"}


@pytest.mark.parametrize(("engine", "accepted"), [("flux", True), ("argocd", True), ("fake", False), ("Flux", False), ("", False)])
def test_the_inventory_accepts_exactly_the_registered_engines(engine: str, accepted: bool) -> None:
    text = (EXAMPLES / "single-mini-pc.yaml").read_text(encoding="utf-8").replace("  engine: flux\n", f"  engine: {engine!r}\n", 1)
    if accepted:
        inventory, _ = load_inventory_text(text, "inventory.yaml")
        assert inventory.engine == engine
    else:
        with pytest.raises(InventoryError) as caught:
            load_inventory_text(text, "inventory.yaml")
        message = str(caught.value)
        assert "inventory.yaml:12:" in message and "gitops.engine" in message and "use one of: flux, argocd" in message


def test_every_engine_has_one_renderer_with_its_own_data() -> None:
    assert list(render_engines.ENGINES) == list(engine_data.ENGINES)
    for name, engine in render_engines.ENGINES.items():
        assert engine.facts is engine_data.ENGINES[name]
        assert (engine.style.title, engine.style.keep_annotation) == (engine.facts.title, engine.facts.keep_annotation)


@pytest.mark.parametrize(
    ("engine", "namespace", "groups"),
    [
        ("flux", "flux-system", {"source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io",
                                 "notification.toolkit.fluxcd.io", "image.toolkit.fluxcd.io"}),
        ("argocd", "argocd", {"argoproj.io"}),
        (None, "flux-system", {"helm.toolkit.fluxcd.io"}),  # facts without an engine: the default one
        ("", "flux-system", {"helm.toolkit.fluxcd.io"}),
        ("weave", "flux-system", set()),  # one this clustergen does not know: no CRDs assumed
    ],
)
def test_validate_takes_what_an_engine_ships_from_the_registry(engine: str | None, namespace: str, groups: set[str]) -> None:
    facts = cluster_facts({"distribution": "talos", "engine": engine})
    assert ("Namespace", namespace) in facts.shipped
    assert {n for k, n in facts.shipped if k == "Namespace"} == {"default", "kube-system", "kube-public", "kube-node-lease", namespace}
    assert groups <= facts.shipped_groups
    if not groups:
        assert facts.shipped_groups == set()


# -- a third engine, registered here only ---------------------------------------------------

FAKE = engine_data.EngineFacts(
    name="fake",
    title="FakeCD",
    summary="FakeSyncs and FakeReleases.",
    namespace="fake-system",
    api_groups=frozenset({"fake.example.org"}),
    keep_annotation=("fake.example.org/keep", "always"),
    keep_option="always",
)
RELEASE = "FakeRelease"
API = "fake.example.org/v1"


def _release(name: str, namespace: str, values: dict[str, Any], chart: str) -> str:
    return to_yaml({"apiVersion": API, "kind": RELEASE, "metadata": {"name": name, "namespace": namespace},
                    "spec": {"chart": chart, "values": values}}) + "\n"


def fake_component_release(component: ComponentPlan) -> list[tuple[str, str]]:
    return [("release.yaml", _release(component.release_name, component.namespace, component.values, component.chart["name"]))]


def fake_app_release(app: AppPlan, plan: ClusterPlan) -> list[tuple[str, str]]:
    return [("release.yaml", _release(app.name, app.namespace, app.base_values, "charts/app"))]


def fake_sync(plan: ClusterPlan, layers: dict[str, str]) -> list[RenderedFile]:
    syncs = [{"apiVersion": API, "kind": "FakeSync", "metadata": {"name": layer["name"], "namespace": FAKE.namespace},
              "spec": {"path": layer["path"], "prune": layer["prune"], "order": layer["number"]}} for layer in ordered_layers(layers)]
    return [
        RenderedFile.text("bootstrap/fake/root.yaml", to_yaml({"apiVersion": API, "kind": "FakeRepository", "metadata": {"name": "root"},
                                                               "spec": {"url": plan.settings.repository, "path": plan.settings.sync_path}})),
        RenderedFile.text(f"{plan.settings.sync_path}/layers.yaml", dump_documents(syncs)),
    ]


def fake_readme(plan: ClusterPlan) -> EngineReadme:
    return EngineReadme(
        synced_by="FakeCD 0.1",
        sync_path="FakeSyncs, in order:",
        bases="a FakeRelease per component",
        app_chart="every app is a FakeRelease of it",
        bootstrap_folder="bootstrap/fake",
        bootstrap="the FakeRepository",
        keeps_data="Namespaces that hold data carry `fake.example.org/keep: always`.",
        suspend_release="`fake pause <app>`",
        resume_release="`fake resume <app>`",
        context={"fake_word": "fakeword-from-context"},
    )


FAKE_ENGINE = Engine(
    facts=FAKE,
    style=ReleaseStyle(
        title=FAKE.title,
        release_kind=RELEASE,
        release_api_version=API,
        values_path="/spec/values",
        keep_annotation=FAKE.keep_annotation,
        release_namespace=None,
        component_release=fake_component_release,
        app_release=fake_app_release,
        encrypted_secrets=secrets_as_resources,
    ),
    render_sync=fake_sync,
    readme=fake_readme,
)
# The engine's own README sections, which a real engine ships as bootstrap/repo/readme/*-<name>.md.j2.
FAKE_TEMPLATES = {
    "bootstrap/repo/readme/gitops-fake.md.j2": "{% set step.n = step.n + 1 %}\n{{ step.n }}. **Install FakeCD** ({{ fake_word }}).\n",
    "bootstrap/repo/readme/secrets-fake.md.j2": "- FakeCD decrypts `*.sops.yaml` itself.\n",
}


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Register the fake engine: one data entry, one renderer (and its templates)."""
    monkeypatch.setitem(engine_data.ENGINES, FAKE.name, FAKE)
    monkeypatch.setitem(render_engines.ENGINES, FAKE.name, FAKE_ENGINE)
    env = templates.environment()
    monkeypatch.setattr(env, "loader", jinja2.ChoiceLoader([jinja2.DictLoader(FAKE_TEMPLATES), env.loader]))
    _clear_schema()  # the schema is made from the registry once, when first loaded
    yield
    _clear_schema()  # before the registry is restored; the next load makes it afresh


def _clear_schema() -> None:
    load.inventory_schema.cache_clear()
    load._validator.cache_clear()


def inventory_text(engine: str, example: str = "three-mini-pcs") -> str:
    text = (EXAMPLES / f"{example}.yaml").read_text(encoding="utf-8")
    assert "  engine: flux\n" in text
    return text.replace("  engine: flux\n", f"  engine: {engine}\n", 1)


def render_with(engine: str, example: str = "three-mini-pcs") -> tuple[ClusterPlan, dict[str, str]]:
    text = inventory_text(engine, example)
    inventory, warnings = load_inventory_text(text, "inventory.yaml")
    plan = plan_cluster(inventory, warnings)
    secrets = ClusterSecrets(TEST_TOKEN, grafana_admin_password="grafana", restic_password="restic",
                             backup_s3_access_key_id="id", backup_s3_secret_access_key="key")
    return plan, {f.path: f.content.decode() for f in render_repository(plan, secrets, text)}


def documents(files: dict[str, str], kind: str) -> list[tuple[str, dict]]:
    return [(path, d) for path, text in files.items() if path.endswith(".yaml") and not path.startswith("charts/")
            for d in load_all(text) if isinstance(d, dict) and d.get("kind") == kind]


def test_a_third_engine_renders_a_whole_repository(fake_engine: None) -> None:
    plan, files = render_with("fake")
    assert plan.components and plan.apps and plan.backup  # the example exercises every engine hook

    # Its bootstrap and sync files, and no other engine's.
    assert {p for p in files if p.startswith("bootstrap/") and p.split("/")[1] in ("fake", "flux", "argocd")} == {"bootstrap/fake/root.yaml"}
    syncs = load_all(files[f"{plan.settings.sync_path}/layers.yaml"])
    assert [s["metadata"]["name"] for s in syncs] == ["infra-controllers", "infra-storage", "infra-configs", "apps"]
    assert [s["spec"]["prune"] for s in syncs] == [True, False, True, True]

    # Every component and app is one FakeRelease, in its base, carrying its values.
    releases = {d["metadata"]["name"]: (path, d) for path, d in documents(files, RELEASE) if path.startswith("bases/")}
    assert set(releases) == {c.release_name for c in plan.components} | {a.name for a in plan.apps}
    for component in plan.components:
        path, release = releases[component.release_name]
        assert path == f"bases/{component.key}/release.yaml"
        assert release["spec"]["values"] == component.values
        assert "release.yaml" in yaml.safe_load(files[f"bases/{component.key}/kustomization.yaml"])["resources"]

    # The cluster's values patches and profile Components target the fake release object.
    patched = [d for path, d in documents(files, RELEASE) if path.startswith("overlays/")]
    assert {d["metadata"]["name"] for d in patched} >= {a.name for a in plan.apps}
    for app in plan.apps:
        patch = next(d for d in patched if d["metadata"]["name"] == app.name)
        assert patch["apiVersion"] == API and patch["metadata"]["namespace"] == app.namespace
        assert patch["spec"]["values"] == app.cluster_values

    # Data-holding namespaces carry its keep annotation; the SOPS files are plain resources.
    kept = {d["metadata"]["name"] for _, d in documents(files, "Namespace")
            if (d["metadata"].get("annotations") or {}).get("fake.example.org/keep") == "always"}
    assert {a.namespace for a in plan.apps if a.has_data} <= kept and kept
    backup = yaml.safe_load(files[f"overlays/{plan.settings.cluster_name}/apps/backup/kustomization.yaml"])
    assert any(r.endswith(".sops.yaml") for r in backup["resources"]) and "generators" not in backup

    # The README and Renovate speak of it only; nothing names another engine's API.
    readme = files["README.md"]
    assert "synced by FakeCD 0.1)" in readme and "**Install FakeCD** (fakeword-from-context)" in readme
    assert "| `bootstrap/fake/` | the FakeRepository |" in readme and "`fake pause <app>`" in readme
    assert "flux" not in readme.lower() and "argo" not in readme.lower()
    assert "flux" not in yaml.safe_load(files["renovate.json"])
    leaked = [p for p, text in files.items() if ("fluxcd.io" in text or "argoproj.io" in text) and p != "inventory.yaml" and not p.startswith("charts/")]
    assert leaked == []

    # validate learns what the engine ships from the same entry.
    facts = cluster_facts(yaml.safe_load(files[".clustergen/facts.yaml"]))
    assert facts.engine == "fake" and ("Namespace", "fake-system") in facts.shipped
    assert "fake.example.org" in facts.shipped_groups


def test_a_third_engine_goes_through_generate(fake_engine: None, tmp_path: Path) -> None:
    """The whole command: the schema admits it, plan, render and write take it, the repository names it."""
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(inventory_text("fake", "single-mini-pc"), encoding="utf-8")
    assert main(["generate", str(inventory), "-o", str(tmp_path / "repo")]) == 0
    repo = tmp_path / "repo"
    assert yaml.safe_load((repo / "bootstrap/fake/root.yaml").read_text())["kind"] == "FakeRepository"
    assert not (repo / "bootstrap/flux").exists() and not (repo / "bootstrap/argocd").exists()
    assert yaml.safe_load((repo / ".clustergen/facts.yaml").read_text())["engine"] == "fake"
    assert "synced by FakeCD 0.1)" in (repo / "README.md").read_text()


def test_a_third_engines_profiles_patch_its_release_object(fake_engine: None) -> None:
    _, files = render_with("fake", "mixed-shelf")  # its rpi3 profile trims the apps' requests
    profiles = {p: yaml.safe_load(t) for p, t in files.items() if p.startswith("overlays/profiles/") and p.endswith("kustomization.yaml")}
    targets = [patch["target"] for component in profiles.values() for patch in component.get("patches") or []]
    assert targets and all(t["kind"] == RELEASE for t in targets)
    assert all("FakeReleases carry the label" in files[p] for p in profiles)
    ops = [op for component in profiles.values() for patch in component.get("patches") or [] for op in yaml.safe_load(patch["patch"])]
    assert ops and all(op["path"].startswith("/spec/values/") for op in ops)


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_the_shipped_engines_leave_no_trace_of_the_other(engine: str) -> None:
    """The counterpart of the fake engine's test: each shipped engine's repository names only its own API."""
    other = {"flux": "argoproj.io", "argocd": "toolkit.fluxcd.io"}[engine]
    own = {"flux": "toolkit.fluxcd.io", "argocd": "argoproj.io"}[engine]
    _, files = render_with(engine)
    assert [p for p, text in files.items() if other in text and p != "inventory.yaml" and not p.startswith("charts/")] == []
    assert any(own in text for text in files.values())
    facts = cluster_facts(yaml.safe_load(files[".clustergen/facts.yaml"]))
    assert facts.engine == engine and ("Namespace", engine_data.ENGINES[engine].namespace) in facts.shipped


def test_an_engine_without_a_renderer_is_a_bug_not_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(engine_data.ENGINES, FAKE.name, FAKE)
    _clear_schema()
    try:
        with pytest.raises(AssertionError, match="has no renderer"):
            render_with("fake")
    finally:
        _clear_schema()


def test_the_fake_engine_is_not_shipped() -> None:
    assert FAKE.name not in engine_data.ENGINES and FAKE.name not in render_engines.ENGINES
    assert not (Path(templates.data_root()) / "bootstrap/repo/readme/gitops-fake.md.j2").exists()


# -- validate: the keep annotation each engine reads ----------------------------------------

FLUX_KEEP = {"kustomize.toolkit.fluxcd.io/prune": "disabled"}
ARGO_KEEP = {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}


@pytest.mark.parametrize(
    ("engine", "annotations", "fault"),
    [
        ("flux", FLUX_KEEP, None),
        ("flux", {"kustomize.toolkit.fluxcd.io/prune": "enabled"}, "Flux may prune it"),
        ("flux", {"kustomize.toolkit.fluxcd.io/prune": "disabled,x"}, "Flux may prune it"),  # Flux compares the value
        ("flux", ARGO_KEEP, "add the annotation kustomize.toolkit.fluxcd.io/prune: disabled"),
        ("argocd", ARGO_KEEP, None),
        ("argocd", {"argocd.argoproj.io/sync-options": " Delete=false , Prune=false"}, None),  # an option list
        ("argocd", {"argocd.argoproj.io/sync-options": "Delete=false"}, "Argo CD may prune it"),
        ("argocd", {"argocd.argoproj.io/sync-options": "Prune=true"}, "argocd.argoproj.io/sync-options: Prune=false,Delete=false"),
        ("argocd", FLUX_KEEP, "Argo CD may prune it"),
        (None, FLUX_KEEP, None),  # no facts: either engine's annotation will do
        (None, ARGO_KEEP, None),
        (None, {}, "Flux may prune it"),
        ("weave", ARGO_KEEP, "Flux may prune it"),  # an unknown engine is judged as the default one
        ("weave", FLUX_KEEP, None),
    ],
)
def test_a_data_namespace_needs_the_syncing_engines_keep_annotation(engine: str | None, annotations: dict[str, str], fault: str | None) -> None:
    from generator.validate.documents import Document
    from generator.validate.references import ReferenceCheck

    namespace = Document({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "home", "annotations": annotations}}, "ns.yaml", 0, 1)
    claim = Document({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "home"}}, "pvc.yaml", 0, 1)
    check = ReferenceCheck([namespace, claim], lambda doc, path: None)
    check.data_namespaces(engine)
    messages = [f.message for f in check.faults]
    if fault is None:
        assert messages == []
    else:
        assert len(messages) == 1 and "[pruning-data-namespace] namespace home holds volumes (data)" in messages[0] and fault in messages[0]
