"""Argo CD's native OCI source (repoURL oci://…/chart, path ".", no `chart:`), the form the
generated Argo CD repositories use for cert-manager: it used to be neither rendered nor
reported as skipped, so its CRDs were never seen."""

from __future__ import annotations

from pathlib import Path

import helm_python
import pytest

from generator.validate import validate_repository

from .conftest import one_fault
from .test_remote_charts import gitops_repo, helm_skips, options, package, web_chart

pytest_plugins = ["tests.validate.test_remote_charts"]


def application(url: str, revision: str = "1.0.0", path: str = ".") -> str:
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: web, namespace: argocd}}
spec:
  project: default
  destination: {{server: https://kubernetes.default.svc, namespace: apps}}
  source:
    repoURL: {url}
    path: {path}
    targetRevision: "{revision}"
"""


@pytest.fixture
def pushed(tmp_path: Path, oci_registry: str, charts_src: Path) -> str:
    archive = package(web_chart(charts_src, replicas="two"), tmp_path / "dist", "1.0.0")
    # A loopback registry speaks plain HTTP, as container runtimes assume for 127.0.0.0/8.
    helm_python.push(str(archive), f"oci://{oci_registry}/charts", plain_http=True)
    return f"oci://{oci_registry}/charts/web"


def test_native_oci_source_renders(tmp_path: Path, pushed: str) -> None:
    report = validate_repository(gitops_repo(tmp_path, application(pushed)), options(tmp_path))
    assert not helm_skips(report), report.skipped
    one_fault(report, "schema", "web-1.0.0/templates/deployment.yaml", "spec.replicas")


@pytest.mark.parametrize("revision, path, reason", [
    ("1.x", ".", "not an exact version"),
    ("1.0.0", "charts/web", "only a chart at its root"),
])
def test_native_oci_source_that_cannot_be_rendered_is_a_skip_with_its_reason(tmp_path: Path, pushed: str,
                                                                            revision: str, path: str, reason: str) -> None:
    report = validate_repository(gitops_repo(tmp_path, application(pushed, revision, path)), options(tmp_path))
    assert any(reason in r for r in helm_skips(report)), report.skipped
