"""Rule `values`: keys a chart never reads, judged against a chart the test writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.validate import chartvalues

VALUES = """
service:
  annotations: {}
  spec:
    type: LoadBalancer
cephClusterSpec:
  mon: {count: 3}
image: {tag: "1.0"}
crds:
  enabled: true
"""
TEMPLATES = """
{{- define "svc" -}}
  {{- with .service.spec }}
    {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
spec: {{ .Values.cephClusterSpec | toYaml | nindent 2 }}
image: {{ .Values.image.tag }}{{ .Values.image.digest }}
debug: {{ .Values.debug }}
"""


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text(
        "apiVersion: v2\nname: demo\nversion: 1.0.0\n"
        "dependencies: [{name: crds, version: 1.0.0, condition: crds.enabled}, {name: sub, version: 1.0.0}]\n")
    (root / "values.yaml").write_text(VALUES)
    (root / "templates" / "all.yaml").write_text(TEMPLATES)
    for name, values in (("crds", "{}\n"), ("sub", "replicas: 1\n")):
        (root / "charts" / name / "templates").mkdir(parents=True)
        (root / "charts" / name / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 1.0.0\n")
        (root / "charts" / name / "values.yaml").write_text(values)
    return root


@pytest.mark.parametrize("values, unread", [
    ({"service": {"type": "NodePort"}}, [("service", "type")]),  # traefik's silent no-op
    ({"service": {"spec": {"type": "NodePort", "externalTrafficPolicy": "Local"}}}, []),  # handed whole to toYaml
    ({"service": {"annotations": {"a": "b"}}}, []),  # a free-form map
    ({"cephClusterSpec": {"storage": {"nodes": []}}}, []),  # passed through
    ({"image": {"digest": "sha256:x"}}, []),  # named by a template though not in values.yaml
    ({"image": {"pullPolicy": "Always"}}, [("image", "pullPolicy")]),
    ({"debug": True}, []),
    ({"verbose": True}, [("verbose",)]),
    ({"crds": {"enabled": False}}, []),  # a subchart's condition, read by the parent
    ({"sub": {"replicas": 2}}, []),
    ({"sub": {"replica": 2}}, [("sub", "replica")]),  # checked against the subchart's values
    ({"global": {"anything": 1}}, []),
])
def test_unread_keys(chart: Path, values: dict, unread: list[tuple[str, ...]]) -> None:
    assert [path for path, _ in chartvalues.unread_keys(chart, values)] == unread
