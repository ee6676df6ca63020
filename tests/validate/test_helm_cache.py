"""Helm's lint and render results are kept on disk (helm_cache.py): a second validate of the
same charts starts no Helm worker and says exactly what the first said, and a change to any
input Helm reads is seen — each test below changes one input after a clean, cached run and
expects the fault that input causes. The real Helm library runs in every test."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from generator.validate import ValidateOptions, render_report, validate_repository
from generator.validate import helm_cache
from generator.validate.helm_worker import HelmWorker

pytest.importorskip("helm_python")

CHART = """apiVersion: v2
name: demo
version: 0.1.0
"""

TEMPLATE = """{{- if .Values.broken }}{{ fail "the values say broken" }}{{ end }}
{{- if eq .Release.Namespace "forbidden" }}{{ fail "namespace forbidden" }}{{ end }}
{{- if eq .Release.Name "forbidden" }}{{ fail "release name forbidden" }}{{ end }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  mode: {{ .Values.mode | quote }}
"""

SCHEMA = '{"type": "object", "properties": {"mode": {"type": "string"}}}'

RELEASE = """apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: demo
  namespace: apps
spec:
  interval: 10m
  chart:
    spec:
      chart: ./charts/demo
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
  values:
    mode: quiet
"""


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Helm worker processes started (the real worker still starts and runs)."""
    started: list[int] = []
    real = HelmWorker.start

    def start(self: HelmWorker) -> None:
        if self._proc is None or self._proc.poll() is not None:
            started.append(1)
        real(self)

    monkeypatch.setattr(HelmWorker, "start", start)
    return started


def _repo(base: Path) -> Path:
    repo = base / "repo"
    (repo / "charts" / "demo" / "templates").mkdir(parents=True)
    (repo / "apps").mkdir()
    (repo / "charts" / "demo" / "Chart.yaml").write_text(CHART)
    (repo / "charts" / "demo" / "values.yaml").write_text("broken: false\nmode: loud\n")
    (repo / "charts" / "demo" / "values.schema.json").write_text(SCHEMA)
    (repo / "charts" / "demo" / "templates" / "settings.yaml").write_text(TEMPLATE)
    (repo / "apps" / "release.yaml").write_text(RELEASE)
    return repo


def _validate(repo: Path, base: Path, **options: object) -> tuple[str, list]:
    report = validate_repository(repo, ValidateOptions(charts="local", cache_dir=base / "schemas",
                                                       chart_cache_dir=base / "charts", **options))  # type: ignore[arg-type]
    out = io.StringIO()
    render_report(report, "json", out)
    return out.getvalue(), [f for f in report.faults if f.check == "helm"]


def _cached_clean(tmp_path: Path, starts: list[int], **options: object) -> Path:
    repo = _repo(tmp_path)
    first, faults = _validate(repo, tmp_path, **options)
    assert faults == [] and len(starts) == 1
    second, _ = _validate(repo, tmp_path, **options)
    assert second == first and len(starts) == 1, "the second run is answered from the kept results"
    return repo


def test_unchanged_charts_start_no_worker_and_say_the_same(tmp_path: Path, starts: list[int]) -> None:
    repo = _repo(tmp_path)
    (repo / "apps" / "release.yaml").write_text(RELEASE.replace("mode: quiet", "broken: true"))
    first, faults = _validate(repo, tmp_path)
    assert [f.document for f in faults] == ["HelmRelease/apps/demo"] and "the values say broken" in faults[0].message
    assert len(starts) == 1
    # Helm's refusal is kept as well as a render: the fault comes back word for word.
    assert _validate(repo, tmp_path)[0] == first
    assert len(starts) == 1
    assert list((tmp_path / "charts" / "helm-results").glob("*.json")), "kept under the chart cache folder"


def test_a_template_edit_is_seen(tmp_path: Path, starts: list[int]) -> None:
    repo = _cached_clean(tmp_path, starts)
    template = repo / "charts" / "demo" / "templates" / "settings.yaml"
    template.write_text(TEMPLATE.replace("{{ .Values.mode | quote }}", "{{ .Values.mode | quote }"))
    _, faults = _validate(repo, tmp_path)
    assert faults and all("settings.yaml" in f.file or "settings.yaml" in f.message for f in faults)
    assert any("lint" in f.message for f in faults) and any("does not render" in f.message for f in faults)


def test_a_new_chart_file_is_seen(tmp_path: Path, starts: list[int]) -> None:
    repo = _cached_clean(tmp_path, starts)
    (repo / "charts" / "demo" / "templates" / "extra.yaml").write_text('{{ fail "the extra template" }}\n')
    _, faults = _validate(repo, tmp_path)
    assert any("the extra template" in f.message and "does not render" in f.message for f in faults)


def test_chart_default_values_are_seen(tmp_path: Path, starts: list[int]) -> None:
    repo = _cached_clean(tmp_path, starts)
    (repo / "charts" / "demo" / "values.yaml").write_text("broken: false\nmode: 3\n")
    _, faults = _validate(repo, tmp_path)
    assert any(f.message.startswith("helm lint error") and "want string" in f.message for f in faults)
    (repo / "charts" / "demo" / "values.yaml").write_text("broken: true\nmode: loud\n")
    _, faults = _validate(repo, tmp_path)
    assert [f.document for f in faults] == ["HelmRelease/apps/demo"] and "the values say broken" in faults[0].message


def test_release_values_are_seen(tmp_path: Path, starts: list[int]) -> None:
    repo = _cached_clean(tmp_path, starts)
    (repo / "apps" / "release.yaml").write_text(RELEASE.replace("mode: quiet", "mode: quiet\n    broken: true"))
    _, faults = _validate(repo, tmp_path)
    assert [f.document for f in faults] == ["HelmRelease/apps/demo"] and "the values say broken" in faults[0].message


@pytest.mark.parametrize(("edit", "expected"), [
    ("  namespace: apps\n", "namespace forbidden"),
    ("  name: demo\n", "release name forbidden"),
])
def test_release_name_and_namespace_are_seen(tmp_path: Path, starts: list[int], edit: str, expected: str) -> None:
    repo = _cached_clean(tmp_path, starts)
    field = edit.split(":")[0]
    (repo / "apps" / "release.yaml").write_text(RELEASE.replace(edit, f"{field}: forbidden\n"))
    _, faults = _validate(repo, tmp_path)
    assert len(faults) == 1 and faults[0].document.startswith("HelmRelease/") and expected in faults[0].message


def test_lint_values_of_ci_files_are_seen(tmp_path: Path, starts: list[int]) -> None:
    repo = _repo(tmp_path)
    (repo / "charts" / "demo" / "ci").mkdir()
    ci = repo / "charts" / "demo" / "ci" / "quiet-values.yaml"
    ci.write_text("mode: quiet\n")
    assert _validate(repo, tmp_path)[1] == []
    assert _validate(repo, tmp_path)[1] == [] and len(starts) == 1
    ci.write_text("mode: 3\n")
    _, faults = _validate(repo, tmp_path)
    assert faults and all("helm lint with ci/quiet-values.yaml error" in f.message for f in faults)
    assert any("want string" in f.message for f in faults)


def test_the_kubernetes_version_lint_checks_against_is_seen(tmp_path: Path, starts: list[int]) -> None:
    repo = _repo(tmp_path)
    (repo / "charts" / "demo" / "templates" / "budget.yaml").write_text(
        "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: b}\n"
        "spec: {minAvailable: 1, selector: {matchLabels: {app: demo}}}\n")
    assert _validate(repo, tmp_path, kubernetes_version="1.20.0")[1] == []
    assert _validate(repo, tmp_path, kubernetes_version="1.20.0")[1] == [] and len(starts) == 1
    _, faults = _validate(repo, tmp_path, kubernetes_version="1.34.0")
    assert len(faults) == 1 and "helm lint warning" in faults[0].message and "unavailable in v1.25+" in faults[0].message


def test_a_chart_folder_elsewhere_is_asked_again(tmp_path: Path, starts: list[int]) -> None:
    """Helm's messages may name the folder it was given, so the path is part of the key."""
    repo = _cached_clean(tmp_path, starts)
    moved = tmp_path / "moved"
    shutil.copytree(repo, moved)
    _validate(moved, tmp_path)
    assert len(starts) == 2


def test_another_helm_build_is_asked_again(tmp_path: Path, starts: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _cached_clean(tmp_path, starts)
    real = helm_cache.helm_identity()
    assert real is not None
    monkeypatch.setattr(helm_cache, "helm_identity", lambda: real + " and a newer libhelm")
    _validate(repo, tmp_path)
    assert len(starts) == 2


@pytest.mark.parametrize("limit", [{"helm_timeout": 30.0}, {"helm_memory_mib": 1024}])
def test_other_worker_limits_are_asked_again(tmp_path: Path, starts: list[int], limit: dict) -> None:
    """A render that fit one bound may overrun a tighter one: results are kept per bound."""
    repo = _cached_clean(tmp_path, starts)
    _validate(repo, tmp_path, **limit)
    assert len(starts) == 2


def test_helm_settings_in_the_environment_are_in_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path)
    args = (str(repo / "charts" / "demo"), {}, "demo", "apps")
    plain = helm_cache.HelmResults(tmp_path / "r").key("render", args)
    monkeypatch.setenv("HELM_DEBUG", "true")
    assert plain is not None and helm_cache.HelmResults(tmp_path / "r").key("render", args) not in (None, plain)


@pytest.mark.parametrize("make", ["symlink", "random", "clock", "archive", "tpl-values"])
def test_charts_whose_result_is_not_decided_by_the_key_are_never_kept(tmp_path: Path, starts: list[int],
                                                                       make: str) -> None:
    repo = _repo(tmp_path)
    chart = repo / "charts" / "demo"
    if make == "symlink":  # Helm follows it: its target is an input the digest does not read
        (repo / "shared.yaml").write_text("mode: loud\n")
        (chart / "linked.yaml").symlink_to("../../shared.yaml")
    elif make == "random":
        (chart / "templates" / "secret.yaml").write_text(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {p: {{ randAlphaNum 8 | quote }}}\n")
    elif make == "clock":
        (chart / "templates" / "stamp.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: t}\ndata: {at: {{ now | quote }}}\n")
    elif make == "archive":
        (chart / "charts").mkdir()
        (chart / "charts" / "sub-0.1.0.tgz").write_bytes(b"")
    else:  # `tpl` renders values, so a random call in them counts too
        (chart / "templates" / "tpl.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: v}\ndata: {x: {{ tpl .Values.mode . | quote }}}\n")
        (repo / "apps" / "release.yaml").write_text(RELEASE.replace("mode: quiet", "mode: '{{ randNumeric 4 }}'"))
    _validate(repo, tmp_path)
    _validate(repo, tmp_path)
    assert len(starts) == 2
    if make != "tpl-values":
        assert not list((tmp_path / "charts" / "helm-results").glob("*.json"))


def test_a_render_stopped_by_the_time_limit_is_not_kept(tmp_path: Path, starts: list[int]) -> None:
    repo = _repo(tmp_path)
    (repo / "charts" / "demo" / "templates" / "slow.yaml").write_text(
        "{{- range until 50000000 }}{{ end }}\n")
    first, faults = _validate(repo, tmp_path, helm_timeout=1.0)
    assert faults and all("stopped" in f.message for f in faults)
    assert not list((tmp_path / "charts" / "helm-results").glob("*.json"))
    before = len(starts)
    assert _validate(repo, tmp_path, helm_timeout=1.0)[0] == first
    assert len(starts) > before
