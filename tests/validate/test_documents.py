"""What parsing makes of a YAML text (documents.load_all) and what a Document reads off it once."""

from __future__ import annotations

import pytest

import yaml

from generator.validate.documents import Document, error_line, load_all
from generator.validate.secrets import sops_encrypted_text

SCALARS = """\
octal: 010
quoted_octal: '010'
hex: 0x10
underscores: 1_000
negative: -3
sexagesimal: 1:30
plain_yes: yes
quoted_yes: 'yes'
upper_on: ON
off: off
plain_true: true
double_quoted_true: "true"
date: 2024-01-02
"""
EXPECTED = {
    "octal": 8, "quoted_octal": "010", "hex": 16, "underscores": 1000, "negative": -3, "sexagesimal": 90,
    "plain_yes": True, "quoted_yes": "yes", "upper_on": True, False: False, "plain_true": True,
    "double_quoted_true": "true", "date": "2024-01-02",
}


def test_yaml_1_1_scalars_as_kubernetes_reads_them():
    assert load_all(SCALARS) == ([EXPECTED], [1])


def test_a_text_converted_once_is_converted_alike_under_another_tag_and_again():
    """Ints and bools are kept by (tag, text): '010' quoted stays text after the plain 010
    became 8, and a second document gets the same values."""
    docs, lines = load_all(SCALARS + "---\n" + SCALARS.replace("octal: 010", "octal: '010'", 1))
    assert docs[0] == EXPECTED
    assert docs[1] == {**EXPECTED, "octal": "010"}
    assert lines == [1, 15]


def _doc(metadata: dict, default: str = "") -> Document:
    return Document({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}, "f.yaml", 0, 1,
                    namespace_default=default)


@pytest.mark.parametrize(("metadata", "default", "namespace"), [
    ({"name": "a", "namespace": "apps"}, "", "apps"),
    ({"name": "a", "namespace": "apps"}, "flux-system", "apps"),  # its own wins
    ({"name": "a"}, "flux-system", "flux-system"),
    ({"name": "a", "namespace": ""}, "flux-system", "flux-system"),  # empty is none
    ({"name": "a", "namespace": ["apps"]}, "flux-system", "flux-system"),  # not text: the schema's fault
    ({"name": "a"}, "", ""),
])
def test_a_documents_namespace(metadata, default, namespace):
    assert _doc(metadata, default).namespace == namespace


def test_the_default_namespace_is_set_through_its_method_only():
    doc = _doc({"name": "a"})
    doc.default_namespace("traefik")
    assert doc.namespace == "traefik"
    with pytest.raises(AttributeError):
        doc.namespace_default = "elsewhere"  # type: ignore[misc] # would leave namespace stale


@pytest.mark.parametrize(("data", "kubernetes", "encrypted"), [
    ({"apiVersion": "v1", "kind": "Secret"}, True, False),
    ({"apiVersion": "v1"}, False, False),
    ({"kind": "Secret"}, False, False),
    ({"apiVersion": "", "kind": "Secret"}, False, False),
    ({"apiVersion": "v1", "kind": "Secret", "sops": {"mac": "ENC[...]"}}, True, True),
    ({"apiVersion": "v1", "kind": "Secret", "sops": {"version": "3"}}, True, False),  # no mac
    ({"apiVersion": "v1", "kind": "Secret", "sops": "mac"}, True, False),
    (["apiVersion", "kind"], False, False),
])
def test_kubernetes_and_sops_fields(data, kubernetes, encrypted):
    doc = Document(data, "f.yaml", 0, 1)
    assert (doc.is_kubernetes, doc.sops_encrypted) == (kubernetes, encrypted)


@pytest.mark.parametrize(("text", "encrypted"), [
    ('{"data": "ENC[AES256_GCM,data:x]", "sops": {"mac": "ENC[x]", "version": "3.9"}}', True),
    ('{"sops": {"version": "3.9"}}', False),  # no mac
    ('{"note": "sops", "mac": 1}', False),
    ("API_KEY=ENC[AES256_GCM,data:x]\nsops_mac=ENC[x]\n", True),
    ("API_KEY=x\n# sops_mac=\n", False),  # not at a line's start
    ("plain: text\n", False),
])
def test_sops_files_told_by_their_text(text, encrypted):
    assert sops_encrypted_text(text, []) is encrypted


@pytest.mark.parametrize(("text", "line", "message"), [
    ("a: !!int yes\n", 1, "'yes' is not a valid !!int value (invalid literal for int() with base 10: 'yes')"),
    ("a: 1\nb: !!bool 1\n", 2, "'1' is not a valid !!bool value"),
    ("a:\n  - !!float x\n", 2, "'x' is not a valid !!float value (could not convert string to float: 'x')"),
    ("b: 1\n<<: {a: !!int no}\n", 1, "this !!map cannot be read (invalid literal for int() with base 10: 'no')"),
])
def test_a_value_its_tag_cannot_hold_is_a_yaml_error_at_its_node(text, line, message):
    with pytest.raises(yaml.YAMLError) as caught:
        load_all(text)
    assert (error_line(caught.value), caught.value.problem) == (line, message)


def test_a_value_its_tag_holds_is_read():
    assert load_all("a: !!int '12'\nb: !!bool 'yes'\nc: !!float '1.5'\nd: !!str 12\n")[0] == [
        {"a": 12, "b": True, "c": 1.5, "d": "12"}]


def test_a_plain_int_past_pythons_digit_limit_is_a_yaml_error_shown_short():
    """int() refuses more than 4,300 digits (ValueError): the message shows the value's start."""
    with pytest.raises(yaml.YAMLError) as caught:
        load_all("replicas: " + "9" * 5000 + "\n")
    assert caught.value.problem.startswith("'" + "9" * 40 + "'… is not a valid !!int value (Exceeds the limit")
    assert len(caught.value.problem) < 300


def test_worker_processes_report_what_one_process_reports(tmp_path, monkeypatch):
    """Documents cross from worker processes pickled: their computed fields (namespace,
    sops_encrypted, ...) must arrive as the parent would compute them, for the cluster
    model, which runs in the parent (here: Namespace apps, which nothing creates)."""
    from generator.validate import ValidateOptions, scan, validate_repository

    root = tmp_path / "repo"
    (root / "apps").mkdir(parents=True)
    (root / ".clustergen").mkdir()
    (root / ".clustergen" / "facts.yaml").write_text(
        "cluster: {name: home, domain: home.example.com}\ndistribution: k3s\nengine: flux\n"
        "storageClasses: [local-path]\nnodes:\n  - name: nuc1\n"
        "    labels: {kubernetes.io/hostname: nuc1, kubernetes.io/arch: amd64, kubernetes.io/os: linux}\n")
    for i in range(8):
        (root / "apps" / f"f{i}.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: apps}}\ndata: {{a: b}}\n---\n"
            f"apiVersion: v1\nkind: Service\nmetadata: {{name: s{i}, namespace: [apps]}}\nspec: {{}}\n")
    one = validate_repository(root, ValidateOptions(jobs=1, cache_dir=tmp_path / "c1", charts="local"))
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 0)
    two = validate_repository(root, ValidateOptions(jobs=2, cache_dir=tmp_path / "c2", charts="local"))

    def faults(report):
        return sorted((f.check, f.file, f.line, f.document, f.message) for f in report.faults)

    assert any("Namespace apps" in f[-1] for f in faults(one)), faults(one)
    assert faults(one) == faults(two)
    assert one.totals() == two.totals()
