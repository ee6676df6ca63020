"""Custom resources are checked against the CRDs the repository applies, made strict."""

from __future__ import annotations

from pathlib import Path

from generator.validate.schemas import SchemaStore, strict_schema

# A PodConfig CRD in the shape k8up's chart ships it (trimmed to the fields the test uses).
PODCONFIG_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "podconfigs.k8up.io"},
    "spec": {"group": "k8up.io", "names": {"kind": "PodConfig", "plural": "podconfigs"}, "scope": "Namespaced",
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object",
                 "properties": {
                     "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
                     "spec": {"type": "object", "properties": {"template": {"type": "object", "properties": {"spec": {
                         "type": "object", "properties": {"containers": {"type": "array", "items": {
                             "type": "object", "properties": {
                                 "name": {"type": "string"},
                                 "securityContext": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                                     "properties": {"runAsNonRoot": {"type": "boolean"}}},
                                 "port": {"x-kubernetes-int-or-string": True},
                                 "note": {"type": "string", "nullable": True}}}}}}}}}}}}}}]},
}


def test_the_repositorys_crd_gives_a_strict_schema(tmp_path: Path) -> None:
    store = SchemaStore("1.36.0", (), tmp_path)
    assert store.validator("k8up.io/v1", "PodConfig") is None  # nothing yet
    store = SchemaStore("1.36.0", (), tmp_path)
    store.add_crds([PODCONFIG_CRD])
    compiled = store.validator("k8up.io/v1", "PodConfig")
    container = {"name": "k8up", "securityContext": {"runAsNonRoot": True, "anything": 1}, "port": "http", "note": None}
    good = {"apiVersion": "k8up.io/v1", "kind": "PodConfig", "metadata": {"name": "x"},
            "spec": {"template": {"spec": {"containers": [container]}}}}
    assert compiled.issues(good) == []
    typo = {**good, "spec": {"template": {"spec": {"containers": [{"name": "k8up", "securityContex": {}}]}}}}
    assert [i for i in compiled.issues(typo) if "securityContex" in i.message]
    wrong_port = {**good, "spec": {"template": {"spec": {"containers": [{**container, "port": 1.5}]}}}}
    assert compiled.issues(wrong_port)


def test_strict_schema_rules() -> None:
    assert strict_schema({"type": "object", "properties": {"a": {"type": "string"}}})["additionalProperties"] is False
    kept = strict_schema({"type": "object", "properties": {"a": {}}, "x-kubernetes-preserve-unknown-fields": True})
    assert "additionalProperties" not in kept
    assert strict_schema({"type": "string", "nullable": True})["type"] == ["string", "null"]
    assert strict_schema({"x-kubernetes-int-or-string": True}) == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    # A field literally called "properties" is a property, not a keyword.
    nested = strict_schema({"type": "object", "properties": {"properties": {"type": "object", "properties": {"x": {}}}}})
    assert nested["properties"]["properties"]["additionalProperties"] is False


def test_a_crd_added_after_a_failed_lookup_is_used(tmp_path: Path) -> None:
    """validate looks a kind up before the pinned downloads arrive; the later CRD must win."""
    store = SchemaStore("1.36.0", (), tmp_path)
    assert store.validator("k8up.io/v1", "PodConfig") is None
    store.add_crds([PODCONFIG_CRD])
    assert store.validator("k8up.io/v1", "PodConfig") is not None
