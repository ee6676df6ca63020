"""The generated repositories build with real kustomize and render with real Helm."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import EXAMPLES, engine_of, kubectl
from .test_golden import EXAMPLE_NAMES, generate


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("repos")
    return {name: generate(name, root / name) for name in EXAMPLE_NAMES}


def kustomize_build(path: Path) -> list[dict]:
    from generator.validate.kustomize import ksops_resolved

    # Argo CD's KSOPS generators (the apps' logins) run in its repo-server; here, as in
    # `clustergen validate`, their files are read as the encrypted resources they are.
    root = next(p for p in (path, *path.parents) if (p / ".clustergen").is_dir())
    with ksops_resolved(root) as build_root:
        target = build_root / path.relative_to(root)
        result = subprocess.run([kubectl(), "kustomize", str(target)], capture_output=True, text=True)
    assert result.returncode == 0, f"kustomize build {path} failed:\n{result.stderr}"
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_every_kustomization_builds(repos: dict[str, Path], example: str) -> None:
    repo = repos[example]
    folders = sorted(p.parent for p in repo.rglob("kustomization.yaml"))
    assert len(folders) >= 5
    for folder in folders:
        kustomize_build(folder)


FLUX_EXAMPLES = [name for name in EXAMPLE_NAMES if engine_of(EXAMPLES / f"{name}.yaml") == "flux"]


@pytest.mark.parametrize("example", FLUX_EXAMPLES)
def test_flux_layers_are_ordered_and_point_at_real_paths(repos: dict[str, Path], example: str) -> None:
    repo = repos[example]
    docs = kustomize_build(next(repo.glob("clusters/*")))
    layers = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Kustomization"}
    order = [name for name in ("infra-controllers", "infra-storage", "infra-configs", "apps") if name in layers]
    assert order[:2] == ["infra-controllers", "infra-storage"]
    assert "dependsOn" not in layers["infra-controllers"]["spec"]
    for before, after in zip(order, order[1:], strict=False):
        assert layers[after]["spec"]["dependsOn"] == [{"name": before}]
    for name, layer in layers.items():
        assert (repo / layer["spec"]["path"]).is_dir(), name
        assert layer["spec"]["wait"] is True
        # The storage layer holds data: removing it from git must not delete it.
        assert layer["spec"]["prune"] is (name != "infra-storage")


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_app_releases_render_with_real_helm(repos: dict[str, Path], example: str) -> None:
    import helm_python as helm
    import kubernetes_validate

    repo = repos[example]
    docs = kustomize_build(next(repo.glob("overlays/*/apps")))
    # Flux HelmReleases carry the values in spec.values, Argo CD Applications in spec.source.helm.
    releases = [
        (d["metadata"]["name"], d["metadata"]["namespace"], d["spec"]["values"])
        for d in docs
        if d["kind"] == "HelmRelease"
    ] + [
        (d["spec"]["source"]["helm"]["releaseName"], d["spec"]["destination"]["namespace"], d["spec"]["source"]["helm"]["valuesObject"])
        for d in docs
        if d["kind"] == "Application"
    ]
    assert releases
    with helm.Chart.load(str(repo / "charts" / "app")) as chart:
        for name, namespace, values in releases:
            chart.validate_schema(values)
            rendered = chart.render(values, name=name, namespace=namespace)
            kinds = []
            for path, text in rendered.items():
                if path.endswith("NOTES.txt"):
                    continue
                for doc in yaml.safe_load_all(text):
                    if not doc:
                        continue
                    kinds.append(doc["kind"])
                    # CRDs have no bundled schema (validate checks them with the CRDs' own).
                    if doc["apiVersion"] not in ("monitoring.coreos.com/v1", "traefik.io/v1alpha1"):
                        kubernetes_validate.validate(doc, "1.36.0", strict=True)
            assert {"Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job"} & set(kinds)


def test_helm_lint_strict_on_generated_chart(repos: dict[str, Path]) -> None:
    import helm_python as helm

    report = helm.lint(str(repos["mixed-shelf"] / "charts" / "app"), {"image": {"repository": "docker.io/library/busybox", "tag": "1.37.0"}}, strict=True)
    serious = [m for m in report["messages"] if m["severity"] >= 2]
    assert not serious, serious


def test_mixed_shelf_places_zigbee2mqtt_on_the_sticks_node(repos: dict[str, Path]) -> None:
    docs = kustomize_build(repos["mixed-shelf"] / "overlays" / "shelf" / "apps")
    z2m = next(d for d in docs if d["kind"] == "HelmRelease" and d["metadata"]["name"] == "zigbee2mqtt")
    assert z2m["spec"]["values"]["nodeSelector"] == {"device.clustergen.dev/zigbee": "true"}
    assert z2m["spec"]["values"]["devices"][0]["hostPath"].startswith("/dev/serial/by-id/usb-ITead")
    facts = yaml.safe_load((repos["mixed-shelf"] / ".clustergen" / "facts.yaml").read_text())
    carriers = [n["name"] for n in facts["nodes"] if n["labels"].get("device.clustergen.dev/zigbee") == "true"]
    assert carriers == ["laptop1"]
    ha = next(d for d in docs if d["kind"] == "HelmRelease" and d["metadata"]["name"] == "home-assistant")
    expressions = ha["spec"]["values"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"]
    assert {"key": "clustergen.dev/small-memory", "operator": "DoesNotExist"} in expressions
    namespaces = {d["metadata"]["name"]: d["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] for d in docs if d["kind"] == "Namespace"}
    assert namespaces["zigbee2mqtt"] == "privileged"
    assert namespaces["home-automation"] == "restricted"
