"""Build model inputs from YAML snippets: owners, their documents, the cluster's facts."""

from __future__ import annotations

import json

import pytest
import yaml

from generator.validate.documents import Document
from generator.validate.model import ModelResult, build_layers, cluster_facts, run_model


def docs_of(text: str, file: str = "x.yaml") -> list[Document]:
    return [Document(d, file, i, None) for i, d in enumerate(yaml.safe_load_all(text)) if d]


def node(name: str, *, arch: str = "amd64", cpu: str = "4000m", memory: str = "7Gi",
         labels: dict | None = None, taints: list | None = None) -> dict:
    return {"name": name, "labels": {"kubernetes.io/arch": arch, "kubernetes.io/hostname": name, **(labels or {})},
            "taints": taints or [], "allocatable": {"cpu": cpu, "memory": memory}}


def key(d: Document) -> str:
    return json.dumps(d.data, sort_keys=True)


@pytest.fixture
def model():
    """model(owners={"a": yaml, ...}, nodes=[...], engine_yaml=..., distribution=...) -> ModelResult"""
    def run(owners: dict[str, str], nodes: list[dict] | None = None, engine: str = "",
            distribution: str = "k3s", complete: bool = True, gitops: str = "flux", **facts) -> ModelResult:
        applied = {name: docs_of(text, f"{name}.yaml") for name, text in owners.items()}
        engine_docs = docs_of(engine, "engine.yaml") if engine else []
        data = {"distribution": distribution, "engine": gitops, "nodes": nodes or [node("n1")], **facts}
        layers = build_layers(applied, engine_docs, {}, key)
        return run_model(layers, cluster_facts(data), complete, lambda d, p: None)
    return run


def messages(result: ModelResult, rule: str) -> list[str]:
    return [f.message for f in result.faults if f.check == rule]
