"""gitops.engine: argocd turns the same inventories into an Argo CD-managed repository:
the same bases and overlays, an Application wherever Flux has a HelmRelease."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from generator.cli import main
from generator.render.gitops import LAYER_ORDER

from .conftest import EXAMPLES, SHARED_SCHEMAS, assert_strict_clean, kubectl, requires_shared, seed_secrets

EXAMPLES_SWITCHED = ["single-mini-pc", "three-mini-pcs", "mixed-shelf"]
SCHEMA_TEMPLATE = str(SHARED_SCHEMAS / "crds" / "{{.Group}}" / "{{.ResourceKind}}_{{.ResourceAPIVersion}}.json")
WAVE = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"


def switch_engine(example: str, folder: Path) -> Path:
    """The example inventory with gitops.engine: argocd, everything else unchanged."""
    text = (EXAMPLES / f"{example}.yaml").read_text()
    assert "  engine: flux\n" in text
    target = folder / f"{example}-argocd.yaml"
    target.write_text(text.replace("  engine: flux\n", "  engine: argocd\n"))
    return target


def generate(inventory: Path, out: Path) -> Path:
    seed_secrets(out)
    assert main(["generate", str(inventory), "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """example -> (Argo CD repository, Flux repository)."""
    root = tmp_path_factory.mktemp("argocd")
    return {
        name: (generate(switch_engine(name, root), root / f"{name}-argocd"), generate(EXAMPLES / f"{name}.yaml", root / f"{name}-flux"))
        for name in EXAMPLES_SWITCHED
    }


def documents(repo: Path) -> list[tuple[str, dict]]:
    """Every YAML document outside the app chart's Go templates and the secrets store."""
    found = []
    for path in sorted(repo.rglob("*.yaml")):
        rel = path.relative_to(repo).as_posix()
        if rel.startswith(("charts/", ".clustergen/", ".github/")):
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict):
                found.append((rel, doc))
    return found


def load(repo: Path, rel: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((repo / rel).read_text()) if d]


def kustomize_build(repo: Path, folder: str) -> list[dict]:
    from generator.validate.kustomize import ksops_resolved

    # KSOPS generators are an exec plugin of Argo CD's repo-server: build their files as resources.
    with ksops_resolved(repo) as root:
        out = subprocess.run([kubectl(), "kustomize", str(root / folder)], check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def cluster_name(repo: Path) -> str:
    return yaml.safe_load((repo / ".clustergen" / "facts.yaml").read_text())["cluster"]["name"]


@pytest.mark.parametrize("example", EXAMPLES_SWITCHED)
def test_no_flux_objects_are_left(repos: dict[str, tuple[Path, Path]], example: str) -> None:
    repo = repos[example][0]
    leftovers = [(rel, d.get("kind")) for rel, d in documents(repo) if "fluxcd.io" in str(d.get("apiVersion", ""))]
    assert not leftovers
    assert not (repo / "bootstrap" / "flux").exists()
    assert not list(repo.glob("bases/**/helmrelease.yaml")) and not list(repo.glob("bases/**/source.yaml"))
    # Same layout as under Flux: every base and overlay folder exists in both.
    def folders(r):
        return {p.parent.relative_to(r).as_posix() for p in r.rglob("kustomization.yaml") if "flux" not in p.parts and "argocd" not in p.parts}
    assert folders(repo) == folders(repos[example][1])


@requires_shared
@pytest.mark.parametrize("example", EXAMPLES_SWITCHED)
def test_every_argo_object_validates_against_its_schema(repos: dict[str, tuple[Path, Path]], example: str) -> None:
    import jsonschema

    repo = repos[example][0]
    # One validator per kind: jsonschema.validate() would check the large schema itself on every call.
    schemas = {}
    for kind in ("Application", "AppProject"):
        schema = json.loads((SHARED_SCHEMAS / "crds" / "argoproj.io" / f"{kind.lower()}_v1alpha1.json").read_text())
        schemas[kind] = jsonschema.validators.validator_for(schema)(schema)
    name = cluster_name(repo)
    # Raw files are complete objects, except the overlays' values patches: check those as kustomize builds them.
    objects = [(rel, d) for rel, d in documents(repo) if not rel.startswith(f"overlays/{name}/")]
    for folder in sorted({p.parent.relative_to(repo).as_posix() for p in (repo / "overlays" / name).rglob("kustomization.yaml")}):
        objects += [(folder, d) for d in kustomize_build(repo, folder)]
    checked = 0
    for _rel, doc in objects:
        if doc.get("apiVersion") == "argoproj.io/v1alpha1":
            schemas[doc["kind"]].validate(doc)
            checked += 1
    assert checked >= 5, "no Applications found?"


@pytest.mark.parametrize("example", EXAMPLES_SWITCHED)
def test_layers_sync_in_waves(repos: dict[str, tuple[Path, Path]], example: str) -> None:
    repo = repos[example][0]
    folder = f"clusters/{cluster_name(repo)}"
    layers = [d for name in ("infrastructure.yaml", "apps.yaml") if (repo / folder / name).is_file() for d in load(repo, f"{folder}/{name}")]
    names = [d["metadata"]["name"] for d in layers]
    assert names == [n for n in LAYER_ORDER if n in names]
    waves = [int(d["metadata"]["annotations"][WAVE]) for d in layers]
    assert waves == sorted(waves) and len(set(waves)) == len(waves)
    for layer in layers:
        assert (repo / layer["spec"]["source"]["path"]).is_dir()
        assert layer["spec"]["syncPolicy"]["automated"]["selfHeal"] is True
    root = load(repo, "bootstrap/argocd/root.yaml")[0]
    assert root["spec"]["source"]["path"] == folder
    # Waves only wait for health when Argo CD assesses Applications again.
    values = yaml.safe_load((repo / "bootstrap/argocd/values.yaml").read_text())
    assert "resource.customizations.health.argoproj.io_Application" in values["configs"]["cm"]


@pytest.mark.parametrize("example", EXAMPLES_SWITCHED)
def test_data_is_never_pruned(repos: dict[str, tuple[Path, Path]], example: str) -> None:
    repo = repos[example][0]
    name = cluster_name(repo)
    storage = [d for d in load(repo, f"clusters/{name}/infrastructure.yaml") if d["metadata"]["name"] == "infra-storage"]
    assert storage and storage[0]["spec"]["syncPolicy"]["automated"]["prune"] is False
    assert storage[0]["metadata"]["annotations"][SYNC_OPTIONS] == "Prune=false,Delete=false"
    # A release holds data when its namespace is kept: Flux's annotation there marks the same set.
    flux_repo = repos[example][1]
    data_namespaces = {d["metadata"]["name"] for _, d in documents(flux_repo)
                       if d.get("kind") == "Namespace" and (d["metadata"].get("annotations") or {}).get("kustomize.toolkit.fluxcd.io/prune") == "disabled"}
    assert data_namespaces
    seen = set()
    kept: list[str] = []
    for rel, doc in documents(repo):
        if doc.get("kind") == "Namespace" and doc["metadata"]["name"] in data_namespaces:
            assert doc["metadata"]["annotations"][SYNC_OPTIONS] == "Prune=false,Delete=false", rel
            seen.add(doc["metadata"]["name"])
    assert seen == data_namespaces
    # Components in those namespaces, and apps whose values (patched) ask for volumes.
    releases = [(rel, d) for rel, d in documents(repo) if rel.startswith("bases/") and d.get("kind") == "Application" and not rel.startswith("bases/apps/")]
    releases += [(f"bases/apps/{d['metadata']['name']}/application.yaml", d) for d in kustomize_build(repo, f"overlays/{name}/apps") if d["kind"] == "Application"]
    for rel, doc in releases:
        spec = doc["spec"]
        data = spec["destination"]["namespace"] in data_namespaces if not rel.startswith("bases/apps/") else bool(spec["source"]["helm"]["valuesObject"].get("persistence"))
        base = load(repo, rel)[0]
        if data:
            kept.append(rel)
            assert base["spec"]["syncPolicy"]["automated"]["prune"] is False, rel
            assert base["metadata"]["annotations"][SYNC_OPTIONS] == "Prune=false,Delete=false", rel
            assert "finalizers" not in base["metadata"], rel
        else:
            assert base["spec"]["syncPolicy"]["automated"]["prune"] is True, rel
    assert kept


def test_server_side_apply_for_big_crds(repos: dict[str, tuple[Path, Path]]) -> None:
    repo = repos["three-mini-pcs"][0]  # monitoring: true
    app = load(repo, "bases/kube-prometheus-stack/application.yaml")[0]
    assert "ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"]
    assert app["spec"]["source"]["repoURL"].startswith("oci://") and app["spec"]["source"]["path"] == "."
    # The admission webhook's injected caBundle is neither diffed nor overwritten.
    assert app["spec"]["ignoreDifferences"] and "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"]["syncOptions"]
    argocd = load(repo, "bootstrap/argocd/argocd.yaml")[0]
    assert "ServerSideApply=true" in argocd["spec"]["syncPolicy"]["syncOptions"]


def test_argo_cd_manages_itself_with_the_install_values(repos: dict[str, tuple[Path, Path]]) -> None:
    repo = repos["mixed-shelf"][0]
    app = load(repo, "bootstrap/argocd/argocd.yaml")[0]
    chart, values_ref, folder = app["spec"]["sources"]
    assert chart["chart"] == "argo-cd" and chart["helm"]["valueFiles"] == ["$values/bootstrap/argocd/values.yaml"]
    assert values_ref["ref"] == "values" and folder["path"] == "bootstrap/argocd"
    readme = (repo / "README.md").read_text()
    install = f"helm install argocd argo-cd --repo {chart['repoURL']} --version {chart['targetRevision']} --namespace argocd --values bootstrap/argocd/values.yaml"
    assert install in readme
    assert readme.index("sops-age") < readme.index(install) < readme.index("kubectl apply -k bootstrap/argocd")
    values = yaml.safe_load((repo / "bootstrap/argocd/values.yaml").read_text())
    assert values["configs"]["cm"]["kustomize.buildOptions"] == "--enable-alpha-plugins --enable-exec"
    assert {"name": "SOPS_AGE_KEY_FILE", "value": "/sops-age/age.agekey"} in values["repoServer"]["env"]
    projects = {p["metadata"]["name"]: p["spec"] for p in load(repo, "bootstrap/argocd/projects.yaml")}
    apps_project = projects["apps"]
    assert apps_project["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
    assert apps_project["sourceRepos"] == ["https://github.com/example/shelf-ops.git"]
    assert "argocd" not in {d["namespace"] for d in apps_project["destinations"]}


def _placement(values: dict) -> dict:
    return {k: values.get(k) for k in ("nodeSelector", "affinity", "tolerations", "runtimeClassName")}


@pytest.mark.parametrize("example", EXAMPLES_SWITCHED)
def test_same_apps_on_the_same_nodes(repos: dict[str, tuple[Path, Path]], example: str) -> None:
    argo, flux = repos[example]
    name = cluster_name(argo)
    argo_apps = {d["metadata"]["name"]: d for d in kustomize_build(argo, f"overlays/{name}/apps") if d["kind"] == "Application"}
    flux_apps = {d["metadata"]["name"]: d for d in kustomize_build(flux, f"overlays/{name}/apps") if d["kind"] == "HelmRelease"}
    assert argo_apps.keys() == flux_apps.keys() and argo_apps
    for app, release in flux_apps.items():
        values = argo_apps[app]["spec"]["source"]["helm"]["valuesObject"]
        assert values == release["spec"]["values"], app  # placement, profile trims and all
        assert _placement(values) == _placement(release["spec"]["values"])
        assert argo_apps[app]["spec"]["destination"]["namespace"] == release["metadata"]["namespace"]


@requires_shared
@pytest.mark.parametrize("example", EXAMPLES_SWITCHED)
def test_validates_strict(repos: dict[str, tuple[Path, Path]], example: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", "--charts", "local", "--strict", "--schema-location", SCHEMA_TEMPLATE, "-o", "json", str(repos[example][0])])
    report = json.loads(capsys.readouterr().out)
    assert_strict_clean(code, report)
    assert report["kinds"]["Application"]["valid"] > 0 and report["kinds"]["AppProject"]["valid"] > 0
    # The app chart was rendered through the Applications.
    assert report["kinds"].get("Deployment", {}).get("valid", 0) > 0


@requires_shared
def test_validate_catches_broken_argo_references(repos: dict[str, tuple[Path, Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(repos["single-mini-pc"][0], repo)
    layer = repo / "clusters" / "tiny" / "apps.yaml"
    layer.write_text(layer.read_text().replace("path: overlays/tiny/apps", "path: overlays/tiny/appz"))
    code = main(["validate", "--charts", "local", "--strict", "--schema-location", SCHEMA_TEMPLATE, "-o", "json", str(repo)])
    messages = [f["message"] for f in json.loads(capsys.readouterr().out)["faults"]]
    assert code != 0
    assert any("path 'overlays/tiny/appz' does not exist in the repository" in m for m in messages), messages
