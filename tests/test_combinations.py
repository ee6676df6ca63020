"""One inventory, four combinations of distribution and engine: the hardware plan must not move."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.cli import main
from generator.pipeline import build_plan

from .conftest import EXAMPLES, SHARED_SCHEMAS, requires_shared, seed_secrets

COMBINATIONS = [("k3s", "flux"), ("k3s", "argocd"), ("talos", "flux"), ("talos", "argocd")]
PLACEMENT_KEYS = ("nodeSelector", "affinity", "tolerations", "runtimeClassName")


def inventory_for(tmp_path: Path, distribution: str, engine: str) -> Path:
    text = (EXAMPLES / "talos-argocd.yaml").read_text(encoding="utf-8")
    text = text.replace("distribution:\n  name: talos\n", f"distribution:\n  name: {distribution}\n", 1)
    text = text.replace("  engine: argocd\n", f"  engine: {engine}\n", 1)
    path = tmp_path / f"{distribution}-{engine}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    root = tmp_path_factory.mktemp("combinations")
    repos = {}
    for distribution, engine in COMBINATIONS:
        repo = root / f"{distribution}-{engine}"
        seed_secrets(repo, distribution)
        assert main(["generate", str(inventory_for(root, distribution, engine)), "-o", str(repo)]) == 0
        repos[(distribution, engine)] = repo
    return repos


def app_values(repo: Path, app: str) -> dict[str, Any]:
    """An app's values, base and cluster patch merged, whichever engine carries them."""
    from generator.shared.merge import deep_merge

    merged: dict[str, Any] = {}
    for path in (repo / "bases" / "apps" / app).glob("*.yaml"):
        merged = deep_merge(merged, _values(path))
    return deep_merge(merged, _values(next((repo / "overlays").glob(f"*/apps/releases/{app}-values.yaml"))))


def _values(path: Path) -> dict[str, Any]:
    for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if not isinstance(doc, dict):
            continue
        if doc.get("kind") == "HelmRelease":
            return doc["spec"].get("values", {})
        if doc.get("kind") == "Application":
            return doc["spec"]["source"]["helm"].get("valuesObject", {})
    return {}


def test_the_plan_places_every_app_on_the_same_nodes(tmp_path: Path) -> None:
    plans = {combo: build_plan(inventory_for(tmp_path, *combo)) for combo in COMBINATIONS}
    placements = {combo: {a.name: a.eligible_nodes for a in plan.apps} for combo, plan in plans.items()}
    reference = placements[("k3s", "flux")]
    assert reference["jellyfin"] == ("gamer",) and reference["zwave-js"] == ("gamer",)
    for combo, placement in placements.items():
        assert placement == reference, combo
        plan = plans[combo]
        assert [(n.name, n.role) for n in plan.nodes] == [(n.name, n.role) for n in plans[("k3s", "flux")].nodes], combo
        assert plan.storage_backend == "longhorn", combo


def test_the_rendered_apps_carry_the_same_placement(generated: dict[tuple[str, str], Path]) -> None:
    apps = sorted(p.name for p in (generated[("k3s", "flux")] / "bases" / "apps").iterdir())
    assert apps == ["home-assistant", "jellyfin", "mosquitto", "zwave-js"]
    for app in apps:
        expected = {k: v for k, v in app_values(generated[("k3s", "flux")], app).items() if k in PLACEMENT_KEYS}
        for combo, repo in generated.items():
            actual = {k: v for k, v in app_values(repo, app).items() if k in PLACEMENT_KEYS}
            assert actual == expected, (app, combo)
    jellyfin = app_values(generated[("talos", "argocd")], "jellyfin")
    assert jellyfin["runtimeClassName"] == "nvidia" and jellyfin["nodeSelector"]


def test_each_combination_has_its_own_bootstrap(generated: dict[tuple[str, str], Path]) -> None:
    for (distribution, engine), repo in generated.items():
        bootstrap = {p.name for p in (repo / "bootstrap").iterdir()}
        assert ("talos" in bootstrap) == (distribution == "talos") and ("cloud-init" in bootstrap) == (distribution == "k3s")
        assert (engine in bootstrap) and ({"flux", "argocd"} - {engine}).isdisjoint(bootstrap)
        readme = (repo / "README.md").read_text()
        assert ("talosctl bootstrap" in readme) == (distribution == "talos")
        assert ("flux install" in readme) == (engine == "flux")


@requires_shared
def test_all_four_validate_strict(generated: dict[tuple[str, str], Path], capsys: pytest.CaptureFixture[str]) -> None:
    for combo, repo in generated.items():
        code = main(["validate", "--charts", "local", "--strict", "--schema-location", str(SHARED_SCHEMAS / "crds"), str(repo)])
        assert code == 0, (combo, capsys.readouterr().out[-3000:])
