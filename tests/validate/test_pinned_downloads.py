"""Schemas a fresh install fetches at their pins: Flux's CRDs, cloud-init's and Talos's
schemas, served here from loopback, kept in the schema cache, reused offline."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.validate import ValidateOptions, validate_repository
from generator.validate.downloads import urls

from .conftest import SHARED_SCHEMAS, needs_shared
from .test_remote_charts import ChartRepo

FLUX_INSTALL = """\
apiVersion: v1
kind: Namespace
metadata: {name: flux-system}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: helmreleases.helm.toolkit.fluxcd.io}
spec:
  group: helm.toolkit.fluxcd.io
  names: {kind: HelmRelease, plural: helmreleases}
  scope: Namespaced
  versions:
    - name: v2
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec:
              type: object
              required: [interval]
              properties:
                interval: {type: string}
                values: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""
RELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: default}
spec:
  intervall: 5m
"""


def make_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "apps").mkdir(parents=True)
    (repo / "apps" / "release.yaml").write_text(RELEASE, encoding="utf-8")
    (repo / "apps" / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [release.yaml]\n")
    return repo


@pytest.fixture
def served(tmp_path: Path):
    repo = ChartRepo(tmp_path / "served")
    (repo.folder / "flux").mkdir()
    (repo.folder / "flux" / "install.yaml").write_text(FLUX_INSTALL, encoding="utf-8")
    yield repo
    repo.stop()


def options(tmp_path: Path, served: ChartRepo, **kw) -> ValidateOptions:
    templates = {"flux_crds": served.url + "/flux/install.yaml", "cloud_init_version": "26.2",
                 "cloud_init_schema": served.url + "/ci/{file}", "talos_schema": served.url + "/talos.json"}
    return ValidateOptions(cache_dir=tmp_path / "schemas", chart_cache_dir=tmp_path / "charts",
                           download_templates=templates, **kw)


def test_flux_kinds_are_checked_against_the_pinned_crds_then_offline_from_the_cache(tmp_path, served):
    repo = make_repo(tmp_path)

    report = validate_repository(repo, options(tmp_path, served))
    faults = [f for f in report.faults if f.check == "schema"]
    assert any("interval" in f.message for f in faults), report.faults  # required, misspelt
    assert any("intervall" in f.message for f in faults), report.faults  # strict: unknown field
    assert served.requests == ["/flux/install.yaml"]

    served.stop()
    again = validate_repository(repo, options(tmp_path, served, offline=True))
    assert [f.message for f in again.faults if f.check == "schema"] == [f.message for f in faults]


def test_nothing_is_fetched_when_a_location_has_the_schemas_or_charts_are_local(tmp_path, served):
    repo = make_repo(tmp_path)
    report = validate_repository(repo, options(tmp_path, served, charts="local"))
    assert served.requests == []
    assert any(kind == "HelmRelease" for kind, _ in report.skipped)


def test_unreachable_downloads_are_skips_naming_what(tmp_path, served):
    repo = make_repo(tmp_path)
    served.stop()
    report = validate_repository(repo, options(tmp_path, served, fetch_timeout=2))
    assert any(kind == "schema" and "flux schemas not fetched" in why for kind, why in report.skipped)
    assert validate_repository(repo, options(tmp_path, served, fetch_timeout=2, strict=True)).exit_code == 1


def test_the_catalog_pins_every_download():
    table = urls()
    assert table["flux/install.yaml"].endswith("/v2.9.6/install.yaml")
    assert "/v1.13.9/" in table["talos/v1.13/config.schema.json"]
    assert all("/26.2/" in u for k, u in table.items() if k.startswith("cloud-init/"))


@needs_shared
def test_a_generated_repo_checks_its_cloud_init_and_talos_files_with_downloaded_schemas(tmp_path, served):
    """No --schema-location: the bootstrap files are still checked, against the pinned
    schemas (served here from copies of the upstream files)."""
    from generator.cli import main
    from tests.conftest import EXAMPLES, seed_secrets

    shutil.copytree(SHARED_SCHEMAS / "cloud-init" / "upstream-26.2", served.folder / "ci")
    shutil.copy(SHARED_SCHEMAS / "talos" / "v1.13" / "config.schema.json", served.folder / "talos.json")
    for example, distribution in (("single-mini-pc", "k3s"), ("talos-argocd", "talos")):
        repo = tmp_path / example
        seed_secrets(repo, distribution)
        assert main(["generate", str(EXAMPLES / f"{example}.yaml"), "-o", str(repo)]) == 0
        report = validate_repository(repo, options(tmp_path, served, fetch_timeout=2))
        skipped = " ".join(why for _, why in report.skipped)
        assert "no cloud-init schema found" not in skipped and "no Talos config schema found" not in skipped
        assert not [f for f in report.faults if f.check in ("cloud-init", "talos")], report.faults
    assert "/ci/schema-cloud-config-v1.json" in served.requests and "/talos.json" in served.requests
    # A broken user-data is caught by the downloaded schema.
    user_data = tmp_path / "single-mini-pc" / "bootstrap" / "cloud-init" / "nuc" / "user-data"
    user_data.write_text(user_data.read_text() + "ntp: {enabled: maybe}\n")
    broken = validate_repository(tmp_path / "single-mini-pc", options(tmp_path, served, offline=True))
    assert [f for f in broken.faults if f.check == "cloud-init"]
