"""Rendering releases whose chart lives outside the repository.

Every source is on this machine: an HTTP chart repository served from a temp
folder on 127.0.0.1, a bare git repository reached through file://, and (when
the registry binary is installed) an OCI registry on 127.0.0.1.  The charts
are written and packaged by the tests themselves.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from generator.cli import main
from generator.errors import ClustergenError
from generator.validate import ValidateOptions, validate_repository
from generator.validate import charts as charts_module
from generator.validate.charts import ChartSource, ChartStore, Unavailable, matches, unpack, unpinned
from generator.validate.documents import parse_documents
from generator.validate.helm import Renderer
from generator.validate.runner import Locator
from generator.validate.sources import LocalSources

from .conftest import faults_of, one_fault

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: "{{ .Values.image }}"
"""

SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  one: {{ .Values.one | quote }}
  two: {{ .Values.two | quote }}
  three: {{ .Values.three | quote }}
  four: {{ .Values.four | default "unset" | quote }}
  namespace: {{ .Release.Namespace | quote }}
"""

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object}
"""


# -- building charts and a repository --------------------------------------------------


def write_chart(folder: Path, name: str, version: str, templates: dict[str, str], values: str = "",
                extra: str = "", crds: dict[str, str] | None = None) -> Path:
    chart = folder / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: {version}\n{extra}",
                                      encoding="utf-8")
    (chart / "values.yaml").write_text(values, encoding="utf-8")
    for file, text in templates.items():
        (chart / "templates" / file).write_text(text, encoding="utf-8")
    for file, text in (crds or {}).items():
        (chart / "crds").mkdir(exist_ok=True)
        (chart / "crds" / file).write_text(text, encoding="utf-8")
    return chart


def package(chart: Path, dest: Path, version: str) -> Path:
    """A chart archive as `helm package` lays it out: one top folder named after the chart."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / f"{chart.name}-{version}.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(chart, arcname=chart.name)
    return archive


class ChartRepo:
    """A folder of chart archives and its index.yaml, served on 127.0.0.1."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.entries: dict[str, list[dict]] = {}
        self.requests: list[str] = []
        repo = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(repo.folder), **kwargs)

            def do_GET(self):  # noqa: N802 - http.server's name
                repo.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, chart: Path, version: str, *, digest: str | None = None, absolute: bool = False) -> Path:
        archive = package(chart, self.folder, version)
        real = hashlib.sha256(archive.read_bytes()).hexdigest()
        url = f"{self.url}/{archive.name}" if absolute else archive.name  # Helm accepts both
        self.entries.setdefault(chart.name, []).append(
            {"apiVersion": "v2", "name": chart.name, "version": version, "urls": [url],
             "digest": digest or real})
        (self.folder / "index.yaml").write_text(
            yaml.safe_dump({"apiVersion": "v1", "entries": self.entries}), encoding="utf-8")
        return archive

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def chart_repo(tmp_path: Path) -> Iterator[ChartRepo]:
    repo = ChartRepo(tmp_path / "served")
    yield repo
    repo.stop()


@pytest.fixture
def charts_src(tmp_path: Path) -> Path:
    return tmp_path / "chart-src"


def web_chart(charts_src: Path, version: str = "1.0.0", replicas: str = "1", **kwargs) -> Path:
    return write_chart(charts_src / version, "web", version,
                       {"deployment.yaml": DEPLOYMENT, "settings.yaml": SETTINGS},
                       f"replicas: {replicas}\nimage: nginx:1.27\none: chart\ntwo: chart\nthree: chart\n", **kwargs)


def gitops_repo(tmp_path: Path, text: str, name: str = "gitops") -> Path:
    root = tmp_path / name
    (root / "apps").mkdir(parents=True)
    (root / "apps" / "release.yaml").write_text(text, encoding="utf-8")
    return root


def helm_repository(url: str, name: str = "charts", extra: str = "") -> str:
    return f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: {name}
  namespace: apps
spec:
  interval: 1h
  url: {url}
{extra}---
"""


def helm_release(chart: str = "web", version: str = "1.0.0", extra: str = "", source: str = "charts") -> str:
    return f"""\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: apps
spec:
  interval: 1h
  chart:
    spec:
      chart: {chart}
      version: "{version}"
      sourceRef:
        kind: HelmRepository
        name: {source}
{extra}"""


def options(tmp_path: Path, **kwargs) -> ValidateOptions:
    return ValidateOptions(chart_cache_dir=tmp_path / "chart-cache", cache_dir=tmp_path / "schema-cache",
                           fetch_timeout=2.0, **kwargs)


def rendered(root: Path, store: ChartStore, strict: bool = False) -> Renderer:
    """Render the releases of apps/release.yaml alone, for asserting on the output."""
    docs = parse_documents((root / "apps" / "release.yaml").read_text(encoding="utf-8"), "apps/release.yaml")
    objects = {(d.kind, d.namespace, d.name): d for d in docs}
    renderer = Renderer(root, objects, LocalSources(docs, root), Locator(root), store, strict)
    for d in docs:
        if d.kind == "HelmRelease":
            renderer.helm_release(d)
        elif d.kind == "Application":
            renderer.application(d)
    return renderer


def doc_of(renderer: Renderer, kind: str, name: str) -> dict:
    found = [d for d in renderer.docs if d.kind == kind and d.name == name]
    assert found, f"no {kind} {name} among {[d.ident for d in renderer.docs]}; faults {renderer.faults}"
    return found[0].data


def helm_skips(report) -> list[str]:
    return [reason for kind, reason in report.skipped if kind == "helm"]


# -- HTTP Helm repositories -------------------------------------------------------------


def test_remote_chart_renders_and_its_documents_are_schema_checked(tmp_path, chart_repo, charts_src):
    chart_repo.add(web_chart(charts_src, replicas="two"), "1.0.0")
    root = gitops_repo(tmp_path, helm_repository(chart_repo.url) + helm_release())
    report = validate_repository(root, options(tmp_path))
    fault = one_fault(report, "schema", "web-1.0.0/templates/deployment.yaml", "spec.replicas")
    assert fault.document == "Deployment/apps/web"
    assert "(helm template HelmRelease/apps/web)" in fault.message
    assert not helm_skips(report)
    assert report.kinds["ConfigMap"].valid == 1


def test_flux_values_precedence_chart_then_values_from_then_values(tmp_path, chart_repo, charts_src):
    chart_repo.add(web_chart(charts_src), "1.0.0")
    root = gitops_repo(tmp_path, helm_repository(chart_repo.url) + """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-values
  namespace: apps
data:
  values.yaml: |
    two: configmap
    three: configmap
  four: from-key
---
""" + helm_release(extra="""\
  targetNamespace: web
  valuesFrom:
    - kind: ConfigMap
      name: web-values
    - kind: ConfigMap
      name: web-values
      valuesKey: four
      targetPath: four
  values:
    three: release
"""))
    renderer = rendered(root, ChartStore(tmp_path / "cache"))
    assert not renderer.faults and not renderer.skipped
    data = doc_of(renderer, "ConfigMap", "web-web-settings")["data"]  # Flux: <targetNamespace>-<name>
    assert data == {"one": "chart", "two": "configmap", "three": "release", "four": "from-key", "namespace": "web"}


@pytest.mark.parametrize("files, expected", [
    (["values-prod.yaml"], {"one": "prod", "two": None, "three": "release"}),  # values.yaml dropped
    (["values.yaml", "values-prod.yaml"], {"one": "prod", "two": "chart", "three": "release"}),
])
def test_flux_values_files_replace_the_chart_values(tmp_path, chart_repo, charts_src, files, expected):
    chart = web_chart(charts_src)
    (chart / "values-prod.yaml").write_text("one: prod\nreplicas: 1\nimage: nginx:1.27\n", encoding="utf-8")
    chart_repo.add(chart, "1.0.0")
    listed = "".join(f"\n        - {f}" for f in files)
    root = gitops_repo(tmp_path, helm_repository(chart_repo.url) + helm_release(extra="  values:\n    three: release\n")
                       .replace("      version:", f"      valuesFiles:{listed}\n      version:"))
    renderer = rendered(root, ChartStore(tmp_path / "cache"))
    assert not renderer.faults, renderer.faults
    data = doc_of(renderer, "ConfigMap", "web-settings")["data"]
    assert {k: data[k] for k in expected} == expected


def test_long_release_names_are_shortened_as_flux_does(tmp_path, chart_repo, charts_src):
    chart_repo.add(web_chart(charts_src), "1.0.0")
    namespace = "a-rather-long-target-namespace-for-apps"
    root = gitops_repo(tmp_path, helm_repository(chart_repo.url) + helm_release(
        extra=f"  targetNamespace: {namespace}\n").replace("name: web\n  namespace", "name: website-frontend\n  namespace"))
    renderer = rendered(root, ChartStore(tmp_path / "cache"))
    full = f"{namespace}-website-frontend"
    short = f"{full[:40]}-{hashlib.sha256(full.encode()).hexdigest()[:12]}"
    assert len(short) == 53
    doc_of(renderer, "Deployment", short)


def test_chart_dependencies_are_fetched_and_conditions_respected(tmp_path, chart_repo, charts_src):
    for version in ("1.0.0", "1.4.0", "2.0.0"):
        child = write_chart(charts_src / f"child-{version}", "child", version,
                            {"cm.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: child-{version}\n"})
        chart_repo.add(child, version)
    extra = write_chart(charts_src / "extra", "extra", "0.1.0",
                        {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n"})
    chart_repo.add(extra, "0.1.0")
    parent = write_chart(charts_src / "parent", "parent", "3.0.0", {}, "extra:\n  enabled: false\n", f"""\
dependencies:
  - name: child
    version: "^1.0.0"
    repository: {chart_repo.url}
  - name: extra
    version: 0.1.0
    repository: {chart_repo.url}/
    condition: extra.enabled
""")
    chart_repo.add(parent, "3.0.0")
    root = gitops_repo(tmp_path, helm_repository(chart_repo.url) + helm_release("parent", "3.0.0"))
    renderer = rendered(root, ChartStore(tmp_path / "cache"))
    assert not renderer.faults and not renderer.skipped
    # The newest version matching ^1.0.0; extra's condition is false.
    assert {d.name for d in renderer.docs} == {"child-1.4.0"}
    assert renderer.docs[0].file == "parent-3.0.0/charts/child/templates/cm.yaml"


@pytest.mark.parametrize("dependency, message", [
    ("name: ../../outside\n    version: 1.0.0\n    repository: http://127.0.0.1:9", "is not a chart name"),
    ("name: common\n    version: 1.0.0", "is not in charts/ and names no repository"),
    ("name: common\n    version: 1.0.0\n    repository: '@bitnami'", "only a local 'helm repo add'"),
])
def test_dependencies_that_cannot_be_built_are_faults(tmp_path, chart_repo, charts_src, dependency, message):
    chart_repo.add(write_chart(charts_src, "odd", "1.0.0", {}, "", f"dependencies:\n  - {dependency}\n"), "1.0.0")
    with pytest.raises(Unavailable, match=message) as caught:
        ChartStore(tmp_path / "cache").get(ChartSource("helm", chart_repo.url, "odd", "1.0.0"))
    assert caught.value.fault
    assert not (tmp_path / "outside").exists()


def test_crds_join_the_rendered_documents_unless_skipped(tmp_path, chart_repo, charts_src):
    chart_repo.add(web_chart(charts_src, crds={"widget.yaml": CRD}), "1.0.0")
    root = gitops_repo(tmp_path, helm_repository(chart_repo.url) + helm_release())
    renderer = rendered(root, ChartStore(tmp_path / "cache"))
    crd = [d for d in renderer.docs if d.kind == "CustomResourceDefinition"]
    assert [d.file for d in crd] == ["web-1.0.0/crds/widget.yaml"]

    (root / "apps" / "release.yaml").write_text(
        helm_repository(chart_repo.url) + helm_release(extra="  install:\n    crds: Skip\n"), encoding="utf-8")
    renderer = rendered(root, ChartStore(tmp_path / "cache"))
    assert not [d for d in renderer.docs if d.kind == "CustomResourceDefinition"]


def test_second_run_uses_the_cache_without_the_network(tmp_path, chart_repo, charts_src):
    chart_repo.add(web_chart(charts_src, replicas="two"), "1.0.0")
    root = gitops_repo(tmp_path, helm_repository(chart_repo.url) + helm_release())
    first = validate_repository(root, options(tmp_path))
    assert chart_repo.requests == ["/index.yaml", "/web-1.0.0.tgz"]
    chart_repo.stop()
    for offline in (False, True):
        again = validate_repository(root, options(tmp_path, offline=offline))
        assert again.faults == first.faults  # the schema fault from the cached chart, nothing else
        assert not helm_skips(again)
    cache = tmp_path / "chart-cache"
    assert len(list((cache / "index").glob("*/index.yaml"))) == 1
    assert not [p for p in cache.rglob(".part-*")]  # nothing half-written left behind


def test_offline_with_an_empty_cache_skips_and_strict_makes_it_a_fault(tmp_path, chart_repo, charts_src):
    chart_repo.add(web_chart(charts_src), "1.0.0")
    root = gitops_repo(tmp_path, helm_repository(chart_repo.url) + helm_release())
    report = validate_repository(root, options(tmp_path, offline=True))
    assert chart_repo.requests == []
    assert not faults_of(report, "helm")
    [skip] = helm_skips(report)
    assert skip.startswith(f"HelmRelease/apps/web: chart web 1.0.0 from {chart_repo.url} not rendered: offline")

    strict = validate_repository(root, options(tmp_path, offline=True, strict=True))
    fault = one_fault(strict, "helm", "apps/release.yaml", "spec.chart.spec.version", "offline")
    assert fault.document == "HelmRelease/apps/web"
    assert fault.line == 20
    assert fault.message.endswith("(strict)")
    assert strict.exit_code == 1


def test_unreachable_source_is_a_skip_not_a_hang(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = gitops_repo(tmp_path, helm_repository(f"http://127.0.0.1:{port}/charts") + helm_release())
    start = time.monotonic()
    report = validate_repository(root, options(tmp_path))
    assert time.monotonic() - start < 10
    [skip] = helm_skips(report)
    assert f"cannot reach http://127.0.0.1:{port}/charts/index.yaml" in skip
    assert skip.startswith("HelmRelease/apps/web: chart web 1.0.0")
    assert report.exit_code == 0


def test_a_source_that_never_answers_times_out(tmp_path):
    with socket.socket() as silent:  # accepts connections (the backlog) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        root = gitops_repo(tmp_path, helm_repository(url) + helm_release())
        start = time.monotonic()
        report = validate_repository(root, ValidateOptions(chart_cache_dir=tmp_path / "c", fetch_timeout=0.5))
        assert time.monotonic() - start < 10
    [skip] = helm_skips(report)
    assert "timed out" in skip


def test_network_budget_bounds_the_run(tmp_path):
    store = ChartStore(tmp_path / "c", budget=0)
    with pytest.raises(Unavailable, match="network budget"):
        store.get(ChartSource("helm", "http://127.0.0.1:9/x", "web", "1.0.0"))


def test_unpinned_version_is_reported_not_fetched(tmp_path, chart_repo, charts_src):
    chart_repo.add(web_chart(charts_src), "1.0.0")
    root = gitops_repo(tmp_path, helm_repository(chart_repo.url) + helm_release(version=">=1.0"))
    report = validate_repository(root, options(tmp_path))
    assert chart_repo.requests == []
    [skip] = helm_skips(report)
    assert "version '>=1.0' is not an exact version; only pinned charts are fetched" in skip


def test_digest_mismatch_is_a_fault(tmp_path, chart_repo, charts_src):
    chart_repo.add(web_chart(charts_src), "1.0.0", digest="0" * 64)
    root = gitops_repo(tmp_path, helm_repository(chart_repo.url) + helm_release())
    report = validate_repository(root, options(tmp_path))
    fault = one_fault(report, "helm", "apps/release.yaml", "spec.chart.spec.version", "does not match")
    assert f"{chart_repo.url}/web-1.0.0.tgz has sha256" in fault.message
    assert not list((tmp_path / "chart-cache" / "chart").glob("web-*"))  # not cached


def test_missing_version_is_a_fault_naming_what_exists(tmp_path, chart_repo, charts_src):
    chart_repo.add(web_chart(charts_src), "1.0.0", absolute=True)
    root = gitops_repo(tmp_path, helm_repository(chart_repo.url) + helm_release(version="9.9.9"))
    report = validate_repository(root, options(tmp_path))
    fault = one_fault(report, "helm", "apps/release.yaml", "spec.chart.spec.version")
    assert "has no version 9.9.9 of chart 'web' (it has 1.0.0)" in fault.message


def test_download_size_is_capped(tmp_path, chart_repo, charts_src, monkeypatch):
    chart_repo.add(web_chart(charts_src), "1.0.0")
    monkeypatch.setattr(charts_module, "MAX_DOWNLOAD", 100)
    store = ChartStore(tmp_path / "cache")
    with pytest.raises(Unavailable, match="byte limit") as caught:
        store.get(ChartSource("helm", chart_repo.url, "web", "1.0.0"))
    assert caught.value.fault


# -- untrusted archives --------------------------------------------------------------------


def archive_with(add) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("web/Chart.yaml")
        body = b"apiVersion: v2\nname: web\nversion: 1.0.0\n"
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
        add(tar)
    return buffer.getvalue()


def _file(name: str):
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size = 2
        tar.addfile(info, io.BytesIO(b"x\n"))
    return add


def _link(name: str, target: str, kind: bytes):
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, target
        tar.addfile(info)
    return add


@pytest.mark.parametrize("add, message", [
    (_file("web/../../escape.txt"), "leaves its folder"),
    (_file("/etc/escape.txt"), "leaves its folder"),
    (_link("web/templates/passwd", "/etc/passwd", tarfile.SYMTYPE), "is a link"),
    (_link("web/templates/hard", "../../x", tarfile.LNKTYPE), "is a link"),
])
def test_archives_never_unpack_outside_their_folder(tmp_path, add, message):
    dest = tmp_path / "cache" / "entry"
    dest.mkdir(parents=True)
    with pytest.raises(Unavailable, match=message) as caught:
        unpack(archive_with(add), dest)
    assert caught.value.fault
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["Chart.yaml"]


def test_unpack_keeps_a_plain_archive(tmp_path):
    unpack(archive_with(_file("web/templates/cm.yaml")), tmp_path)
    assert (tmp_path / "templates" / "cm.yaml").read_text() == "x\n"


# -- Argo CD -------------------------------------------------------------------------------


def test_argo_application_with_chart_and_repo_url_renders_with_values_object(tmp_path, chart_repo, charts_src):
    chart_repo.add(web_chart(charts_src), "1.0.0")
    root = gitops_repo(tmp_path, f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  namespace: argocd
spec:
  project: default
  destination:
    server: https://kubernetes.default.svc
    namespace: web
  source:
    repoURL: {chart_repo.url}
    chart: web
    targetRevision: 1.0.0
    helm:
      releaseName: site
      values: |
        two: values
        three: values
      valuesObject:
        three: valuesObject
        four: valuesObject
      parameters:
        - {{name: four, value: "a,b"}}
        - {{name: replicas, value: "2"}}
""")
    renderer = rendered(root, ChartStore(tmp_path / "cache"))
    assert not renderer.faults and not renderer.skipped
    data = doc_of(renderer, "ConfigMap", "site-settings")["data"]
    assert (data["one"], data["two"], data["three"], data["namespace"]) == ("chart", "values", "valuesObject", "web")
    assert data["four"] == "a,b"
    assert doc_of(renderer, "Deployment", "site")["spec"]["replicas"] == 2  # typed as Helm's --set types it

    report = validate_repository(root, options(tmp_path))
    assert report.kinds["Deployment"].valid == 1


def test_argo_value_files_from_a_ref_source_in_this_repository(tmp_path, chart_repo, charts_src):
    chart_repo.add(web_chart(charts_src), "1.0.0")
    root = gitops_repo(tmp_path, f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  namespace: argocd
spec:
  project: default
  destination: {{server: https://kubernetes.default.svc, namespace: web}}
  sources:
    - repoURL: {chart_repo.url}
      chart: web
      targetRevision: 1.0.0
      helm:
        valueFiles: [$values/values/web.yaml]
        values: "three: values"
    - repoURL: https://git.example.com/home/cluster.git
      targetRevision: main
      ref: values
    - repoURL: https://git.example.com/home/cluster.git
      targetRevision: main
      path: values
""")
    (root / "values").mkdir()
    (root / "values" / "web.yaml").write_text("two: file\nthree: file\n", encoding="utf-8")
    renderer = rendered(root, ChartStore(tmp_path / "cache"))
    assert not renderer.faults, renderer.faults
    data = doc_of(renderer, "ConfigMap", "web-settings")["data"]
    assert (data["one"], data["two"], data["three"]) == ("chart", "file", "values")


def test_oci_references_from_flux_and_argo(tmp_path):
    """What the OCI path pulls, whether or not a registry is at hand."""
    root = gitops_repo(tmp_path, """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: floating, namespace: apps}
spec:
  url: oci://registry.invalid/charts/web
  ref: {semver: ">=1.0.0"}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: apps}
spec:
  chartRef: {kind: OCIRepository, name: floating}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  destination: {namespace: web}
  source: {repoURL: registry.invalid/charts, chart: web, targetRevision: 1.x}
""")
    renderer = rendered(root, ChartStore(tmp_path / "cache"))
    reasons = [r for _, r in renderer.skipped]
    assert reasons == [
        "HelmRelease/apps/web: chart oci://registry.invalid/charts/web not rendered: OCIRepository "
        "apps/floating ref.semver '>=1.0.0' is a range; only pinned charts are fetched",
        "Application/argocd/web: chart web from registry.invalid/charts not rendered: targetRevision '1.x' "
        "is not an exact version; only pinned charts are fetched",
    ]
    assert unpinned(ChartSource("oci", "oci://r/c", version="v1.21.2")) is None
    assert unpinned(ChartSource("oci", "oci://r/c", digest="sha256:" + "a" * 64)) is None
    assert unpinned(ChartSource("oci", "oci://r/c")) == "no tag or digest; only pinned charts are fetched"
    assert ChartSource("oci", "oci://r/charts/cert-manager", version="v1.2.3").label == "cert-manager-v1.2.3"


@pytest.mark.parametrize("version, constraint, expected", [
    ("1.4.0", "^1.0.0", True), ("2.0.0", "^1.0.0", False), ("1.2.9", "~1.2.0", True),
    ("1.3.0", "~1.2.0", False), ("1.5.0", ">=1.0 <2.0", True), ("2.0.0", ">= 1.0, < 2.0", False),
    ("0.2.5", "^0.2.1", True), ("0.3.0", "^0.2.1", False), ("1.2.7", "1.2.x", True),
    ("1.0.0-rc.1", "*", False), ("1.0.1", "1.0.0 || 1.0.1", True),
])
def test_dependency_version_ranges(version, constraint, expected):
    assert matches(version, constraint) is expected


# -- git ---------------------------------------------------------------------------------------


def git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main",
                    *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def upstream_git(tmp_path: Path, charts_src: Path) -> str:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    work = tmp_path / "upstream-work"
    work.mkdir()
    shutil.copytree(web_chart(charts_src, replicas="two"), work / "deploy" / "chart")
    git("init", "-q", cwd=work)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "chart", cwd=work)
    git("tag", "v0.0.31", cwd=work)
    bare = tmp_path / "upstream.git"
    git("clone", "-q", "--bare", str(work), str(bare))
    return f"file://{bare}"


def git_release(url: str, ref: str) -> str:
    return f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: upstream
  namespace: apps
spec:
  interval: 1h
  url: {url}
  ref:
    {ref}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: apps
spec:
  interval: 1h
  chart:
    spec:
      chart: ./deploy/chart
      sourceRef:
        kind: GitRepository
        name: upstream
"""


def test_chart_from_an_upstream_git_repository_at_a_tag_renders(tmp_path, upstream_git):
    root = gitops_repo(tmp_path, git_release(upstream_git, "tag: v0.0.31"))
    report = validate_repository(root, options(tmp_path))
    fault = one_fault(report, "schema", "upstream@v0.0.31/deploy/chart/templates/deployment.yaml", "spec.replicas")
    assert fault.document == "Deployment/apps/web"
    assert not helm_skips(report)
    # Cached: the bare repository can go.
    shutil.rmtree(upstream_git.removeprefix("file://"))
    assert validate_repository(root, options(tmp_path)).faults == report.faults


def test_git_branch_is_reported_and_a_missing_tag_is_a_fault(tmp_path, upstream_git):
    root = gitops_repo(tmp_path, git_release(upstream_git, "branch: main"))
    [skip] = helm_skips(validate_repository(root, options(tmp_path)))
    assert "follows a branch, not a tag or commit" in skip

    root = gitops_repo(tmp_path, git_release(upstream_git, "tag: v9.9.9"), name="missing-tag")
    report = validate_repository(root, options(tmp_path))
    fault = one_fault(report, "helm", "apps/release.yaml", "spec.chart.spec.chart", "git fetch")
    assert "at v9.9.9" in fault.message


def test_argo_application_from_an_upstream_git_path_renders(tmp_path, upstream_git):
    application = f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  namespace: argocd
spec:
  project: default
  destination: {{server: https://kubernetes.default.svc, namespace: web}}
  source:
    repoURL: {upstream_git}
    path: deploy/chart
    targetRevision: {{revision}}
    helm:
      valueFiles: [values.yaml, missing.yaml]
      ignoreMissingValueFiles: true
      valuesObject: {{replicas: 3}}
"""
    root = gitops_repo(tmp_path, application.replace("{revision}", "v0.0.31"))
    report = validate_repository(root, options(tmp_path))
    assert not faults_of(report, "schema") and not faults_of(report, "helm"), report.faults
    assert report.kinds["Deployment"].valid == 1

    root = gitops_repo(tmp_path, application.replace("{revision}", "HEAD"), name="floating")
    [skip] = helm_skips(validate_repository(root, options(tmp_path)))
    assert "targetRevision 'HEAD' is not a version tag or commit; only pinned sources are fetched" in skip


def test_a_release_seen_twice_renders_once(tmp_path, chart_repo, charts_src, monkeypatch):
    chart_repo.add(web_chart(charts_src), "1.0.0")
    root = gitops_repo(tmp_path, helm_repository(chart_repo.url) + helm_release())
    loads = []
    docs = parse_documents((root / "apps" / "release.yaml").read_text(encoding="utf-8"), "apps/release.yaml")
    objects = {(d.kind, d.namespace, d.name): d for d in docs}
    renderer = Renderer(root, objects, LocalSources(docs, root), Locator(root), ChartStore(tmp_path / "cache"))
    real_call = renderer.worker.call  # renders run in the Helm worker process
    monkeypatch.setattr(renderer.worker, "call", lambda op, *args: loads.append(args[0]) or real_call(op, *args))
    release = next(d for d in docs if d.kind == "HelmRelease")
    renderer.helm_release(release)
    renderer.helm_release(release)  # as from a base and an overlay that leaves it alone
    assert len(loads) == 1
    assert len(renderer.docs) == 4  # both releases' documents, for faults naming each


# -- OCI registry ----------------------------------------------------------------------------


REGISTRY = shutil.which("docker-registry") or shutil.which("registry")


@pytest.fixture
def oci_registry(tmp_path: Path) -> Iterator[str]:
    if REGISTRY is None:
        pytest.skip("no OCI registry binary (Debian package docker-registry) is installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "registry.yml"
    config.write_text(f"""\
version: 0.1
log: {{level: error}}
storage: {{filesystem: {{rootdirectory: {tmp_path / 'registry-data'}}}}}
http: {{addr: "127.0.0.1:{port}"}}
""", encoding="utf-8")
    proc = subprocess.Popen([REGISTRY, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail(f"registry did not start: {proc.stderr.read() if proc.stderr else ''}")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_oci_repository_chart_renders(tmp_path, oci_registry, charts_src):
    import helm_python

    archive = package(web_chart(charts_src, replicas="two", crds={"widget.yaml": CRD}), tmp_path / "dist", "1.0.0")
    helm_python.push(str(archive), f"oci://{oci_registry}/charts", plain_http=True)
    with helm_python.RegistryClient(plain_http=True) as client:
        digest = client.resolve(f"oci://{oci_registry}/charts/web:1.0.0")["digest"]
    for ref in ("tag: 1.0.0", f"digest: {digest}"):
        root = gitops_repo(tmp_path, f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {{name: web, namespace: apps}}
spec:
  url: oci://{oci_registry}/charts/web
  insecure: true
  ref: {{{ref}}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: web, namespace: apps}}
spec:
  chartRef: {{kind: OCIRepository, name: web}}
""", name=f"gitops-{ref[:3]}")
        report = validate_repository(root, options(tmp_path))
        assert not helm_skips(report), report.skipped
        label = "web-1.0.0" if ref.startswith("tag") else f"web-{digest.removeprefix('sha256:')[:12]}"
        one_fault(report, "schema", f"{label}/templates/deployment.yaml", "spec.replicas")
        assert report.kinds["CustomResourceDefinition"].valid == 1

    # A HelmRepository of type oci names the registry folder; the chart name and version complete it.
    root = gitops_repo(tmp_path, helm_repository(f"oci://{oci_registry}/charts", extra="  type: oci\n"
                                                 "  insecure: true\n") + helm_release(), name="gitops-helmrepo")
    report = validate_repository(root, options(tmp_path))
    assert not helm_skips(report), report.skipped
    one_fault(report, "schema", "web-1.0.0/templates/deployment.yaml", "spec.replicas")


def test_unreachable_oci_registry_is_a_skip(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = gitops_repo(tmp_path, helm_repository(f"oci://127.0.0.1:{port}/charts", extra="  type: oci\n"
                                                 "  insecure: true\n") + helm_release())
    report = validate_repository(root, options(tmp_path))
    [skip] = helm_skips(report)
    assert f"chart oci://127.0.0.1:{port}/charts/web:1.0.0 not rendered" in skip
    assert "connection refused" in skip


# -- options and the command line -------------------------------------------------------------


def test_chart_cache_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ValidateOptions().chart_cache == tmp_path / "xdg" / "clustergen" / "charts"
    assert ValidateOptions(chart_cache_dir=tmp_path / "mine").chart_cache == tmp_path / "mine"
    with pytest.raises(ClustergenError, match="charts mode"):
        ValidateOptions(charts="everything")


def test_cli_offline_and_local_charts(tmp_path, chart_repo, charts_src, capsys):
    chart_repo.add(web_chart(charts_src), "1.0.0")
    root = gitops_repo(tmp_path, helm_repository(chart_repo.url) + helm_release())
    cache = str(tmp_path / "cli-cache")
    assert main(["validate", "--offline", "--chart-cache", cache, "--strict", str(root)]) == 1
    assert "not rendered: offline" in capsys.readouterr().out
    assert main(["validate", "--chart-cache", cache, str(root)]) == 0
    assert main(["validate", "--offline", "--chart-cache", cache, str(root)]) == 0
    assert "not rendered" not in capsys.readouterr().out
    assert main(["validate", "--charts", "local", "--chart-cache", str(tmp_path / "unused"), str(root)]) == 0
    assert not (tmp_path / "unused").exists()
    assert len(chart_repo.requests) == 2


def test_an_unwritable_cache_is_a_skip_not_a_traceback(tmp_path, chart_repo, charts_src):
    chart_repo.add(web_chart(charts_src), "1.0.0")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be", encoding="utf-8")
    root = gitops_repo(tmp_path, helm_repository(chart_repo.url) + helm_release())
    report = validate_repository(root, ValidateOptions(chart_cache_dir=blocked / "charts"))
    [skip] = helm_skips(report)
    assert f"chart cache {blocked / 'charts'}" in skip
