"""Every user mistake ends with file:line, the field, a hint, exit 2 and nothing written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from generator.cli import main

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "invalid").glob("*.yaml"))


def _expectation(path: Path) -> tuple[str, str, list[str]]:
    header = path.read_text().splitlines()[0]
    assert header.startswith("# expect: "), path
    parts = [p.strip() for p in header[len("# expect: ") :].split("|")]
    message = parts[0]
    field = next(p.split("=", 1)[1] for p in parts if p.startswith("field="))
    extra = [p for p in parts[1:] if not p.startswith("field=")]
    return message, field, extra


def test_enough_fixtures() -> None:
    assert len(FIXTURES) >= 20


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_invalid_inventory(fixture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message, field, extra = _expectation(fixture)
    out = tmp_path / "repo"
    code = main(["generate", str(fixture), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert not out.exists(), "nothing may be written on error"
    assert message in err, err
    for text in extra:
        assert text in err, err
    first = next(line for line in err.splitlines() if message in line)
    match = re.match(rf"{re.escape(str(fixture))}:(\d+)(?::(\d+))?: error(?:: (\S+))?: ", first)
    assert match, f"no file:line location in {first!r}"
    line = int(match.group(1))
    if field:
        assert match.group(3) == field, first
        # The named line holds the field (or its section, for fields that are missing).
        key = re.sub(r"\[\d+\]", "", field.split(".")[-1]) if field != "<root>" else None
        source_line = fixture.read_text().splitlines()[line - 1]
        if key and "missing" not in message:
            assert key in source_line or key.rstrip("s") in source_line, (source_line, field)
    assert "hint:" in err or "YAML" in message


def test_warning_for_even_control_planes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (Path(__file__).parents[1] / "examples" / "three-mini-pcs.yaml").read_text()
    text = text.replace("    role: auto", "    role: controlplane", 2)
    text = text.replace("  - name: cp3\n", "  - name: cp3\n    role: worker\n").replace("    cpu: 6\n    role: auto\ncomponents", "    cpu: 6\ncomponents")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(text)
    assert main(["plan", str(inventory)]) == 0
    out = capsys.readouterr().out
    assert "2 control planes: an even count adds no fault tolerance" in out
    assert main(["plan", "--strict", str(inventory)]) == 2


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", str(tmp_path / "nope.yaml"), "-o", str(tmp_path / "out")]) == 2
    assert "inventory file not found" in capsys.readouterr().err


def test_app_with_no_eligible_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (Path(__file__).parents[1] / "examples" / "single-mini-pc.yaml").read_text()
    text = text.replace("  - name: node-red", "  - name: node-red\n  - name: armonly\n    image: docker.io/example/arm:1.0\n    arches: [arm64]")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(text)
    assert main(["generate", str(inventory), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "app 'armonly' can run on no node (nuc: no amd64 image)" in err
    assert f"{inventory}:" in err and "apps[2].name" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("value", "where"), [
    ("9" * 4301, "inventory.yaml:10:9: error: the file is not valid YAML: a number of more than 4,300 digits"),
    ("-" + "1" * 5000, "inventory.yaml:10:9: error: the file is not valid YAML: a number of more than 4,300 digits"),
])
def test_a_number_past_pythons_digit_limit_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      value: str, where: str) -> None:
    """The YAML library raises a ValueError without a mark; the error used to name no line."""
    text = (Path(__file__).parents[1] / "examples" / "mixed-shelf.yaml").read_text()
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(text.replace("  name: shelf", f"  name: {value}", 1))
    assert main(["plan", str(inventory)]) == 2
    err = capsys.readouterr().err
    assert where in err, err


def test_a_number_at_the_digit_limit_is_no_yaml_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (Path(__file__).parents[1] / "examples" / "mixed-shelf.yaml").read_text()
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(text.replace("  name: shelf", "  name: " + "9" * 4300, 1))
    main(["plan", str(inventory)])
    assert "not valid YAML" not in capsys.readouterr().err
