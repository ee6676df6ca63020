"""Rendered chart output read the way Helm and the API server read it.

Both shapes come from pinned upstream charts: cert-manager v1.21's rbac.yaml trims the
whitespace around `{{- if … -}}` so a separator runs into the next comment (`---# …`), and
the prometheus-operator CRDs in kube-prometheus-stack list `=` as an enum value.
"""

from __future__ import annotations

from pathlib import Path

from generator.validate import validate_repository
from generator.validate.documents import load_all
from generator.validate.helm import split_manifest

from .test_remote_charts import (
    gitops_repo,
    helm_release,
    helm_repository,
    helm_skips,
    options,
    write_chart,
)

# The loopback chart repository and the chart source folder, shared with the remote-chart tests.
pytest_plugins = ["tests.validate.test_remote_charts"]

GLUED = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: first
---

{{- if true -}}

# a comment the trim glued onto the separator
apiVersion: v1
kind: ConfigMap
metadata:
  name: second
---

{{- end -}}
"""


def test_a_separator_glued_to_a_comment_still_splits() -> None:
    pieces = split_manifest("a: 1\n---# note\nb: 2\n---\n\n---\n")
    assert [d for p in pieces for d in load_all(p)[0] if d is not None] == [{"a": 1}, {"b": 2}]


def test_the_yaml_value_tag_is_text_as_kubernetes_reads_it() -> None:
    docs, _ = load_all("enum:\n- =\n- =~\n- '!='\n")
    assert docs == [{"enum": ["=", "=~", "!="]}]


def test_trimmed_template_output_renders_as_helm_applies_it(tmp_path: Path, chart_repo, charts_src) -> None:
    chart_repo.add(write_chart(charts_src, "web", "1.0.0", {"maps.yaml": GLUED}), "1.0.0")
    root = gitops_repo(tmp_path, helm_repository(chart_repo.url) + helm_release())
    report = validate_repository(root, options(tmp_path))
    assert not helm_skips(report)
    assert not [f for f in report.faults if f.check == "helm"], [f.message for f in report.faults]
    assert report.kinds["ConfigMap"].valid == 2
