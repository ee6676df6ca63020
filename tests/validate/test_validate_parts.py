"""The building blocks: YAML loading and locations, schema locations, file
discovery, the process pool, engines and report rendering."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from generator.errors import ValidateUsageError
from generator.validate import Fault, KindCounts, ValidateOptions, ValidationReport, render_report, validate_repository
from generator.validate.documents import json_path, load_all, locate, parse_documents
from generator.validate.files import GitIgnore, RepoLayout, discover
from generator.validate.kubeconform import command, parse_output, pointer_parts
from generator.validate.scan import FileTask, ScanConfig, scan_files
from generator.validate.schemas import (
    SchemaStore,
    bootstrap_schema_paths,
    bundled_dir,
    expand_location,
    fetch,
    fill,
    template_values,
)

from .conftest import CRDS, SHARED_SCHEMAS

# -- documents -----------------------------------------------------------------------------

TRICKY = """\
base: &base {a: 1, flag: yes, ratio: 1.5, none: ~, hex: 0x1f, octal: 0o17, inf: .inf}
alias: *base
merged:
  <<: *base
  b: 2
blob: !!binary aGVsbG8=
list: [1, two, "3"]
---
---
- x
"""


def test_fast_loader_matches_pyyaml():
    docs, lines = load_all(TRICKY)
    assert docs == list(yaml.load_all(TRICKY, Loader=yaml.SafeLoader))
    assert lines == [1, 9, 10]
    assert docs[0]["alias"] is docs[0]["base"]


def test_timestamps_stay_text():
    # JSON has no dates: Kubernetes sees the text, so the schemas must too.
    (doc,), _ = load_all("when: 2024-01-01\nat: 2024-01-01T10:00:00Z\n")
    assert doc == {"when": "2024-01-01", "at": "2024-01-01T10:00:00Z"}


def test_unhashable_key_is_a_yaml_error():
    with pytest.raises(yaml.YAMLError):
        load_all("? [a, b]\n: c\n")


def test_locate_and_json_path():
    text = "a: 1\n---\nspec:\n  containers:\n    - name: x\n      image: y\n  labels:\n    app.kubernetes.io/name: z\n"
    assert locate(text, 1, ("spec", "containers", 0, "image")) == 6
    assert locate(text, 1, ("spec", "missing", "deeper")) == 3  # deepest part that exists
    assert locate(text, 1, ("spec", "labels", "app.kubernetes.io/name")) == 8
    assert json_path(("spec", "containers", 0, "image")) == "spec.containers[0].image"
    assert json_path(("spec", "labels", "app.kubernetes.io/name")) == 'spec.labels["app.kubernetes.io/name"]'


def test_document_identity():
    (doc,) = parse_documents("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: b}\n", "f.yaml")
    assert (doc.api_version, doc.kind, doc.name, doc.namespace) == ("v1", "ConfigMap", "a", "b")
    assert doc.ident == "ConfigMap/b/a"
    assert doc.line == 1 and doc.index == 0


# -- schema locations ----------------------------------------------------------------------

def test_location_rules():
    assert expand_location("/s/crds") == "/s/crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
    assert expand_location("https://example.com/catalog/") == \
        "https://example.com/catalog/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
    template = "/s/{{ .NormalizedKubernetesVersion }}{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json"
    assert expand_location(template) == template
    with pytest.raises(ValidateUsageError, match="Nope"):
        expand_location("/s/{{.Nope}}.json")


def test_template_values_follow_kubeconform():
    v = template_values("helm.toolkit.fluxcd.io/v2", "HelmRelease", "1.34.0")
    assert (v["Group"], v["ResourceKind"], v["ResourceAPIVersion"]) == ("helm.toolkit.fluxcd.io", "helmrelease", "v2")
    assert v["KindSuffix"] == "-helm-v2" and v["NormalizedKubernetesVersion"] == "v1.34.0"
    assert template_values("v1", "ConfigMap", "1.34.0")["KindSuffix"] == "-v1"
    assert fill("{{.ResourceKind}}{{ .KindSuffix }}.json", template_values("apps/v1", "Deployment", "1.34")) == \
        "deployment-apps-v1.json"


def test_bundled_schema_version_selection():
    assert bundled_dir("1.34.0").name == "v1.34.0-local-strict"
    assert bundled_dir("v1.34.7").name == "v1.34.0-local-strict"
    available = sorted(bundled_dir("1.34").parent.glob("v*-local-strict"),
                       key=lambda p: tuple(int(x) for x in p.name[1:].split("-")[0].split(".")))
    assert bundled_dir("1.99.0") == available[-1]  # newer than bundled: the newest there is
    assert bundled_dir("1.2.0") == available[0]


def test_bundled_schemas_are_not_used_for_lookalike_groups(tmp_path):
    store = SchemaStore("1.34.0", (), tmp_path)
    assert store.validator("apps/v1", "Deployment") is not None
    assert store.validator("apps.example.com/v1", "Deployment") is None


def test_bootstrap_schema_discovery(tmp_path, monkeypatch):
    monkeypatch.delenv("CLUSTERGEN_SCHEMAS", raising=False)
    assert bootstrap_schema_paths((), None, None) == (None, None)
    assert bootstrap_schema_paths((str(tmp_path),), Path("/x"), Path("/y")) == (Path("/x"), Path("/y"))
    if CRDS.is_dir():
        ci, talos = bootstrap_schema_paths((str(CRDS),), None, None)
        assert ci == SHARED_SCHEMAS / "cloud-init" / "upstream-26.2"
        assert talos == SHARED_SCHEMAS / "talos" / "v1.13" / "config.schema.json"
        template = str(CRDS) + "/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
        assert bootstrap_schema_paths((template,), None, None) == (ci, talos)
        monkeypatch.setenv("CLUSTERGEN_SCHEMAS", str(SHARED_SCHEMAS))
        assert bootstrap_schema_paths((), None, None) == (ci, talos)


@pytest.fixture()
def schema_server(tmp_path):
    """A loopback HTTP server holding one CRD schema in the catalog layout."""
    served = tmp_path / "served"
    (served / "example.com").mkdir(parents=True)
    schema = {"type": "object", "properties": {"spec": {"type": "object", "additionalProperties": False,
                                                        "properties": {"size": {"type": "integer"}}}}}
    (served / "example.com" / "widget_v1.json").write_text(json.dumps(schema))
    handler = partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_schema_location_is_fetched_and_cached(schema_server, tmp_path):
    cache = tmp_path / "cache"
    store = SchemaStore("1.34.0", (schema_server,), cache)
    compiled = store.validator("example.com/v1", "Widget")
    assert compiled is not None
    assert [i.message for i in compiled.issues({"spec": {"size": "big"}})] == ['"big" is not of type "integer"']
    assert store.validator("example.com/v1", "Gizmo") is None
    assert len(list(cache.glob("*.json"))) == 1 and len(list(cache.glob("*.missing"))) == 1
    # A second store reads the cache, not the network.
    assert fetch(f"{schema_server}/example.com/widget_v1.json", cache) is not None


def test_http_location_end_to_end(schema_server, tmp_path):
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "widget.yaml").write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  size: big\n")
    report = validate_repository(tmp_path / "repo", ValidateOptions(
        schema_locations=(schema_server,), cache_dir=tmp_path / "cache"))
    (fault,) = report.faults
    assert (fault.file, fault.line, fault.path, fault.document) == ("widget.yaml", 5, "spec.size", "Widget/w")


# -- files --------------------------------------------------------------------------------

def test_gitignore_matcher():
    ignore = GitIgnore(["# keys", "*.agekey", "/secrets/", "build", "!keep.agekey", "docs/**/*.tmp", "a?c"])
    assert ignore.ignored("x.agekey") and ignore.ignored("deep/dir/x.agekey")
    assert not ignore.ignored("keep.agekey")
    assert ignore.ignored("secrets/k3s-token") and not ignore.ignored("apps/secrets/x")
    assert ignore.ignored("build/out.yaml") and ignore.ignored("apps/build")
    assert ignore.ignored("docs/a/b/c.tmp") and not ignore.ignored("other/c.tmp")
    assert ignore.ignored("abc") and not ignore.ignored("abbc")


def test_discover_agrees_with_and_without_git(tmp_path):
    root = tmp_path / "repo"
    (root / "apps").mkdir(parents=True)
    (root / ".gitignore").write_text("*.agekey\nout/\n")
    for rel in ("apps/a.yaml", "x.agekey", "out/b.yaml", "README.md"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x: 1\n")
    plain = discover(root)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    assert discover(root) == plain == [".gitignore", "README.md", "apps/a.yaml"]


def test_layout_roles():
    layout = RepoLayout.of(["apps/kustomization.yaml", "apps/p.yaml", "charts/c/Chart.yaml",
                            "charts/c/templates/d.yaml", "charts/c/values.yaml", "clusters/x.yaml",
                            "bootstrap/talos/cp.yaml", "bootstrap/cloud-init/n1/user-data"])
    assert layout.kustomize_dirs == ["apps"] and layout.chart_dirs == ["charts/c"]
    assert "charts/c/templates/d.yaml" not in layout.yaml_files
    assert layout.cloud_init_files == ["bootstrap/cloud-init/n1/user-data"]
    assert [layout.schema_role(f) for f in ("apps/p.yaml", "charts/c/values.yaml", "clusters/x.yaml",
                                            "bootstrap/talos/cp.yaml")] == ["kustomize", "chart", None, "bootstrap"]


# -- parallel scan ------------------------------------------------------------------------

def test_worker_processes_give_the_same_results(tmp_path):
    for i in range(12):
        replicas = "x" if i % 4 == 0 else i
        (tmp_path / f"f{i}.yaml").write_text(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d{i}}}\nspec:\n  replicas: {replicas}\n")
    config = ScanConfig(str(tmp_path), "1.34.0", (), str(tmp_path / "cache"), False, True, "jsonschema-rs")
    tasks = [FileTask(f"f{i}.yaml", True, True, True) for i in range(12)]
    serial = scan_files(config, tasks, 1)
    parallel = scan_files(config, tasks, 2, min_bytes=0)
    assert [(s.rel, s.faults, s.kinds) for s in serial] == [(p.rel, p.faults, p.kinds) for p in parallel]
    replicas = [f.file for s in parallel for f in s.faults if f.path == "spec.replicas"]
    assert replicas == ["f0.yaml", "f4.yaml", "f8.yaml"]


# -- engines and options ----------------------------------------------------------------------

def test_kubeconform_engine_needs_kubeconform(tmp_path):
    if shutil.which("kubeconform"):
        pytest.skip("kubeconform is installed here")
    with pytest.raises(ValidateUsageError, match="kubeconform"):
        validate_repository(tmp_path, ValidateOptions(engine="kubeconform"))


def test_bad_options_are_user_errors_and_only_they(tmp_path):
    """A usage mistake is a ClustergenError (exit 2 with a message); a ValueError is a bug
    and must reach the user as a traceback, not as "1 problem"."""
    with pytest.raises(ValidateUsageError):
        ValidateOptions(engine="kubeval")
    with pytest.raises(ValidateUsageError):
        ValidateOptions(kubernetes_version="latest")
    with pytest.raises(ValidateUsageError):
        validate_repository(tmp_path / "nope", ValidateOptions())
    with pytest.raises(ValidateUsageError):
        validate_repository(tmp_path, ValidateOptions(schema_locations=("/x/{{.Bogus}}.json",)))
    assert not issubclass(ValidateUsageError, ValueError)


def test_kubeconform_command_spells_out_catalog_layout():
    cmd = command("/usr/bin/kubeconform", ValidateOptions(schema_locations=("/s/crds",), jobs=2))
    assert cmd[:3] == ["/usr/bin/kubeconform", "-output", "json"]
    assert "-strict" in cmd and cmd[cmd.index("-kubernetes-version") + 1] == "1.34.0"
    locations = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-schema-location"]
    assert locations == ["default", "/s/crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"]


def test_kubeconform_output_is_parsed():
    docs = parse_documents(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: two\n---\n"
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", "all.yaml")
    # kubeconform v0.7 `-output json -summary -verbose`, as documented in its usage page.
    output = json.dumps({"resources": [
        {"filename": "stdin", "kind": "Deployment", "name": "web", "version": "apps/v1",
         "status": "statusInvalid", "msg": "x",
         "validationErrors": [{"path": "/spec/replicas", "msg": "expected integer or null, but got string"}]},
        {"filename": "stdin", "kind": "Widget", "name": "w", "version": "example.com/v1",
         "status": "statusSkipped", "msg": ""},
        {"filename": "stdin", "kind": "ConfigMap", "name": "c", "version": "v1", "status": "statusValid", "msg": ""},
    ], "summary": {"valid": 1, "invalid": 1, "errors": 0, "skipped": 1}})
    result = parse_output(output, docs, strict=False, locate=lambda d, p: d.line if not p else None)
    (fault,) = result.faults
    assert (fault.path, fault.message, fault.document) == ("spec.replicas", "expected integer or null, but got string",
                                                            "Deployment/web")
    assert result.kinds["ConfigMap"].valid == 1 and result.kinds["Widget"].skipped == 1
    assert pointer_parts("/spec/containers/0/a~1b") == ("spec", "containers", 0, "a/b")


# -- reports ----------------------------------------------------------------------------------

def _report(strict: bool = False) -> ValidationReport:
    report = ValidationReport(strict=strict, files=2)
    report.kinds = {"Deployment": KindCounts(valid=1, invalid=1), "Widget": KindCounts(skipped=1)}
    report.faults = [
        Fault("schema", "apps/d.yaml", 7, "Deployment/default/web", "spec.replicas", '"two" is not an integer'),
        Fault("schema", "apps/d.yaml", 7, "Deployment/default/web", "spec.replicas", '"two" is not an integer'),
        Fault("secrets", "a.key", 1, None, None, "PEM <PRIVATE> KEY & more"),
    ]
    report.skip("Widget", "no schema")
    return report.finish()


def test_text_report():
    out = io.StringIO()
    render_report(_report(), "text", out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Summary: 3 resources found in 2 files - Valid: 1, Invalid: 1, Errors: 0, Skipped: 1"
    assert lines[1] == "a.key:1: PEM <PRIVATE> KEY & more"  # duplicates dropped, sorted by file
    assert lines[2] == 'apps/d.yaml:7: Deployment/default/web: spec.replicas: "two" is not an integer'
    assert lines[3] == "skipped: Widget: no schema"


def test_json_and_junit_reports():
    out = io.StringIO()
    render_report(_report(), "json", out)
    data = json.loads(out.getvalue())
    assert data["summary"]["faults"] == 2 and data["summary"]["exit_code"] == 1
    assert data["faults"][1]["path"] == "spec.replicas" and data["kinds"]["Widget"]["skipped"] == 1
    out = io.StringIO()
    render_report(_report(), "junit", out)
    tree = ET.fromstring(out.getvalue())
    failures = tree.findall(".//failure")
    assert len(failures) == 2 and tree.get("failures") == "2"
    assert {s.get("name") for s in tree.findall("testsuite")} >= {"schema", "secrets", "yaml"}
    with pytest.raises(ValidateUsageError, match="unknown report format 'sarif'"):  # a user error, not a ValueError
        render_report(_report(), "sarif", io.StringIO())


def test_exit_codes():
    assert ValidationReport().exit_code == 0
    skipped = ValidationReport()
    skipped.skip("Widget", "no schema")
    assert skipped.exit_code == 0
    skipped.strict = True
    assert skipped.exit_code == 1
    assert _report().exit_code == 1


def test_progress_bar_stays_off_without_a_terminal(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    report = validate_repository(tmp_path, ValidateOptions(progress=True))
    assert report.exit_code == 0
    assert capsys.readouterr().err == ""


def test_benchmark_smoke():
    bench = Path(__file__).resolve().parents[2] / "bench" / "validate.py"
    out = subprocess.run([sys.executable, str(bench), "--docs", "300", "--repeat", "1", "--python-limit", "50"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert "pipeline jobs=1" in out and "docs/s" in out and "jsonschema-rs" in out
    assert "invalid 0" in out


# -- tools and sources ------------------------------------------------------------------------

def test_tool_failures_are_typed():
    from generator.validate import ToolError
    from generator.validate.tool import ToolMissing, run

    with pytest.raises(ToolMissing) as missing:
        run(["clustergen-no-such-tool", "--version"])
    assert missing.value.exit_code == 127 and "not installed" in str(missing.value)
    with pytest.raises(ToolError) as failed:
        run(["sh", "-c", "echo warming up >&2; echo 'Error: it broke' >&2; exit 3"])
    assert (failed.value.exit_code, failed.value.describe()) == (3, "sh failed: Error: it broke")
    assert failed.value.command[0] == "sh" and "warming up" in failed.value.stderr


def test_repository_url_forms_compare_equal():
    from generator.validate.sources import normalise_url

    forms = ["ssh://git@github.com/Example/ops.git", "git@github.com:example/ops", "https://github.com/example/ops/",
             "ssh://git@github.com:22/example/ops.git"]
    assert {normalise_url(f) for f in forms} == {"github.com/example/ops"}


def test_progress_bar_draws_on_a_terminal(tmp_path):
    import os
    import pty

    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    script = ("import sys; from pathlib import Path; from generator.validate import *; "
              f"r = validate_repository(Path({str(tmp_path)!r}), ValidateOptions(progress=True)); "
              "render_report(r, 'json', sys.stdout)")
    leader, follower = pty.openpty()
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", script], cwd=repo, stdout=subprocess.PIPE, stderr=follower,
                          env={**os.environ, "TERM": "xterm", "PYTHONPATH": str(repo)}, timeout=60)
    os.close(follower)
    drawn = b""
    try:
        while chunk := os.read(leader, 65536):
            drawn += chunk
    except OSError:
        pass
    os.close(leader)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["summary"]["resources"] == 1  # stdout stays pure JSON
    assert b"reading files" in drawn


@pytest.mark.parametrize("backend", ["jsonschema-rs", "jsonschema"])
def test_both_backends_report_the_same_paths(backend, tmp_path):
    store = SchemaStore("1.34.0", (), tmp_path, backend)
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
                  "spec": {"replicas": "two", "replica": 1, "selector": {}, "template": {}}}
    issues = store.validator("apps/v1", "Deployment").issues(deployment)
    assert sorted(i.path for i in issues) == [("spec", "replica"), ("spec", "replicas")]
    assert "additional property 'replica' is not allowed" in [i.message for i in issues]


def test_the_report_has_a_line_per_model_rule():
    report = ValidationReport()
    report.rules = ("scheduling", "ordering", "storage")
    report.faults = [Fault("scheduling", "a.yaml", 3, "DaemonSet/x/p", "spec", "lands on no node")]
    report.warnings = [Fault("storage", "b.yaml", 1, "Pod/x/q", None, "claim c is not created")]
    report.undecided = [("ordering", "CustomResourceDefinition Widget (example.com)")]
    out = io.StringIO()
    render_report(report.finish(), "text", out)
    assert out.getvalue().splitlines()[-2] == \
        "Cluster model: scheduling 1 fault; ordering 1 not decided; storage 1 warning"
    data = io.StringIO()
    render_report(report, "json", data)
    assert json.loads(data.getvalue())["rules"]["scheduling"] == {"faults": 1, "warnings": 0, "undecided": 0}


def test_a_bug_in_validate_is_a_traceback_not_a_problem(tmp_path, monkeypatch):
    from generator import cli
    from generator.validate import runner

    def broken(root, options):
        raise ValueError("a bug")

    monkeypatch.setattr(runner, "validate_repository", broken)
    monkeypatch.setattr("generator.validate.validate_repository", broken)
    with pytest.raises(ValueError, match="a bug"):
        cli.main(["validate", "--charts", "local", str(tmp_path)])


def _doc(data, namespace_default=""):
    from generator.validate.documents import Document

    return Document(data, "f.yaml", 0, 1, namespace_default=namespace_default)


def test_dedupe_drops_only_objects_an_earlier_one_has_whole():
    from generator.validate.runner import _dedupe

    a = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "x"}, "data": {"k": "1"}}
    a_again = _doc({**a}, namespace_default="elsewhere")  # same content, built somewhere else
    a_changed = _doc({**a, "data": {"k": "2"}})  # same kind, name and namespace: compared whole, kept
    other_ns = _doc({**a, "metadata": {"name": "a", "namespace": "y"}})
    odd_ns = _doc({**a, "metadata": {"name": "a", "namespace": ["x"]}})  # a list: unhashable, still compared
    odd_again = _doc({**a, "metadata": {"name": "a", "namespace": ["x"]}})
    first = _doc(a)
    docs = [first, a_changed, a_again, other_ns, odd_ns, odd_again, _doc({**a, "data": {"k": "2"}}), _doc([1, 2]), _doc([1, 2])]
    kept = _dedupe(docs)
    assert kept == [first, a_changed, other_ns, odd_ns, docs[7]]
    assert [d is k for d, k in zip(kept, [first, a_changed, other_ns, odd_ns, docs[7]], strict=True)] == [True] * 5
