"""The generated example repositories pass `clustergen validate --strict` against the upstream schemas.

They run with ``--charts local``: the examples' charts come from public Helm
repositories, which CI cannot reach, and under --strict an unrendered release
is a fault.  Rendering remote charts is tested against a loopback repository
in tests/validate/test_remote_charts.py.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from generator.cli import main

from .conftest import EXAMPLES, SHARED_SCHEMAS, assert_strict_clean, engine_of, requires_shared
from .test_golden import EXAMPLE_NAMES, generate


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("validate")
    return {name: generate(name, root / name) for name in EXAMPLE_NAMES}


@requires_shared
@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_example_validates_strict(repos: dict[str, Path], example: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", "--charts", "local", "--strict", "--schema-location", str(SHARED_SCHEMAS / "crds"), "-o", "json", str(repos[example])])
    report = json.loads(capsys.readouterr().out)
    assert_strict_clean(code, report)
    counted = json.dumps(report)
    # The CRD kinds were really checked against their schemas, not skipped.
    engine_kinds = ("Application", "AppProject") if engine_of(EXAMPLES / f"{example}.yaml") == "argocd" else ("HelmRelease", "Kustomization")
    pool = () if "servicelb" in (EXAMPLES / f"{example}.yaml").read_text() else ("IPAddressPool",)
    for kind in (*engine_kinds, "ClusterIssuer", *pool):
        assert kind in counted


@requires_shared
def test_a_broken_edit_is_caught_with_its_location(repos: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    repo = repos["single-mini-pc"]
    release = repo / "bases" / "traefik" / "helmrelease.yaml"
    original = release.read_text()
    release.write_text(original.replace("  interval: 1h\n", "  intervall: 1h\n", 1))
    try:
        code = main(["validate", "--charts", "local", "--strict", "--schema-location", str(SHARED_SCHEMAS / "crds"), "-o", "junit", str(repo)])
        out = capsys.readouterr().out
    finally:
        release.write_text(original)
    assert code == 1
    tree = ET.fromstring(out)
    failures = [f.get("message", "") + (f.text or "") for f in tree.iter("failure")]
    assert any("intervall" in f for f in failures), failures


def test_validate_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_a_data_namespace_that_flux_may_prune_is_a_fault(repos: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    repo = repos["single-mini-pc"]
    namespaces = repo / "overlays" / "tiny" / "apps" / "namespaces.yaml"
    original = namespaces.read_text()
    namespaces.write_text(original.replace("    kustomize.toolkit.fluxcd.io/prune: disabled\n", "    note: the user removed the guard\n"))
    try:
        code = main(["validate", "--charts", "local", "-o", "json", str(repo)])
        report = json.loads(capsys.readouterr().out)
    finally:
        namespaces.write_text(original)
    assert code == 1
    messages = [f["message"] for f in report["faults"]]
    assert any("[pruning-data-namespace] namespace home-automation holds volumes" in m for m in messages), messages
