"""A value its YAML tag cannot hold (`!!int yes`, `!!bool 1`) in a file clustergen reads from
a repository is that file's mistake, worded, never a traceback: PyYAML's converters raise
ValueError or KeyError there, which handlers of bad YAML did not catch."""

from __future__ import annotations

import pytest
import yaml

from generator.cli import main
from generator.shared.yamltext import load_all, safe_load

from .regen_helpers import commit_all, generated_repo

BAD = ["!!int yes", "!!bool 1", "!!float many", "!!int 0x"]


@pytest.mark.parametrize("value", BAD)
def test_safe_load_words_it_as_a_yaml_error(value):
    with pytest.raises(yaml.YAMLError, match="a value cannot be read as its YAML type"):
        safe_load(f"a: {value}\n")
    with pytest.raises(yaml.YAMLError, match="a value cannot be read as its YAML type"):
        load_all(f"a: 1\n---\nb: [{value}]\n")


def test_safe_load_reads_what_its_tags_hold():
    assert safe_load("a: !!int '12'\nb: !!bool 'yes'\nc: !!str 1\n") == {"a": 12, "b": True, "c": "1"}


def test_a_state_file_with_a_bad_tag_stops_generate_with_its_name(tmp_path, capsys):
    repo = generated_repo(tmp_path)
    state = repo / ".clustergen" / "state.yaml"
    state.write_text(state.read_text() + "x: !!int yes\n")
    commit_all(repo, "a damaged state file")
    assert main(["generate", str(repo / "inventory.yaml"), "-o", str(repo)]) == 2
    err = capsys.readouterr().err
    assert ".clustergen/state.yaml is not valid YAML: a value cannot be read as its YAML type" in err
    assert "restore it from git" in err


@pytest.mark.parametrize("content", [b"x: !!int yes\n", b"\xff\xfe\x00x: 1\n"])
def test_a_facts_file_with_a_bad_tag_or_bytes_is_a_validate_fault(tmp_path, capsys, content):
    repo = generated_repo(tmp_path)
    (repo / ".clustergen" / "facts.yaml").write_bytes(content)
    commit_all(repo, "damaged facts")
    assert main(["validate", str(repo), "--charts", "local", "-o", "json"]) == 1
    out = capsys.readouterr().out
    assert '".clustergen/facts.yaml"' in out


def test_a_plain_int_past_pythons_digit_limit_is_a_yaml_error_too():
    with pytest.raises(yaml.YAMLError, match="a value cannot be read as its YAML type: Exceeds the limit"):
        safe_load("files: {README.md: " + "9" * 5000 + "}\n")
