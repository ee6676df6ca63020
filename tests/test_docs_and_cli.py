from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from generator.cli import main
from generator.schemadoc import fields, render

ROOT = Path(__file__).resolve().parents[1]


def test_inventory_docs_are_current() -> None:
    assert (ROOT / "docs" / "inventory.md").read_text() == render(), "run: python -m generator.schemadoc > docs/inventory.md"


def test_every_schema_field_is_documented() -> None:
    from generator.inventory.load import inventory_schema

    schema = inventory_schema()
    doc = (ROOT / "docs" / "inventory.md").read_text()
    paths = [path for path, *_ in fields(schema, schema)]
    assert len(paths) > 60
    for path in paths:
        assert f"`{path}`" in doc


def test_schema_command_prints_valid_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema")


def test_init_writes_a_starter_that_generates(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    assert main(["init", str(inventory)]) == 0
    assert main(["generate", str(inventory), "-o", str(tmp_path / "repo")]) == 0
    assert main(["init", str(inventory)]) == 2  # never overwrites silently


def test_init_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--list"]) == 0
    assert "mixed-shelf" in capsys.readouterr().out.split()
    assert main(["init", "--example", "mixed-shelf", str(tmp_path / "i.yaml")]) == 0
    assert (tmp_path / "i.yaml").read_text() == (ROOT / "examples" / "mixed-shelf.yaml").read_text()
    assert main(["init", "--example", "nope", str(tmp_path / "j.yaml")]) == 2


def test_plan_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--json", str(ROOT / "examples" / "three-mini-pcs.yaml")]) == 0
    plan = json.loads(capsys.readouterr().out)
    servers = [n["name"] for n in plan["nodes"] if n["role"] == "controlplane"]
    assert servers == ["cp1", "cp2", "cp3"]
    assert [n["firstServer"] for n in plan["nodes"]] == [True, False, False]
    assert all(n["etcdMember"] for n in plan["nodes"])


def test_generate_inside_repo_without_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    assert main(["generate", str(ROOT / "examples" / "single-mini-pc.yaml"), "-o", str(repo)]) == 0
    monkeypatch.chdir(repo)
    assert main(["generate"]) == 0
    assert not (repo / "inventory.yaml.clustergen-new").exists()


def test_generate_next_to_a_fresh_inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--example", "single-mini-pc"]) == 0
    assert main(["generate"]) == 0  # the folder holds only the inventory, which the repo carries anyway
    assert (tmp_path / "clusters" / "tiny" / "kustomization.yaml").exists()
    assert (tmp_path / ".clustergen" / "state.yaml").exists()


def test_probe_subcommand_runs_the_probe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["probe", "--root", str(tmp_path), "--no-commands", "--name", "newbox"])
    out = capsys.readouterr().out
    assert code == 0
    assert "name: newbox" in out


def test_generated_repo_carries_the_probe(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    assert main(["generate", str(ROOT / "examples" / "single-mini-pc.yaml"), "-o", str(repo)]) == 0
    probe = repo / "bootstrap" / "probe.py"
    assert probe.read_bytes() == (ROOT / "generator" / "probe.py").read_bytes()
    assert probe.stat().st_mode & 0o111
