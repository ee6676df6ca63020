"""Hostile or broken inventories: exit 2 with file:line and a hint, never a traceback or a hang,
and nothing written. Each case is one edit of the mixed-shelf example."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

from generator.cli import main

from .conftest import EXAMPLES

SHELF = (EXAMPLES / "mixed-shelf.yaml").read_text()
LAUGHS = "lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"lol{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]\n"
    for i in range(1, 10)
)


def _replace(old: str, new: str, text: str = SHELF) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


NESTED = "[" * 1000 + "]" * 1000
# name -> (inventory text, text the error must contain, the line the error must name or None)
CASES: dict[str, tuple[str, str, int | None]] = {
    "cidr-prefix-too-long": (_replace("nodeCidr: 192.168.50.0/24", "nodeCidr: 192.168.50.0/33"), "192.168.50.0/33", 20),
    "pod-cidr-prefix-too-long": (_replace("  nodeCidr:", "  podCidr: 10.42.0.0/40\n  nodeCidr:"), "10.42.0.0/40", 20),
    "ipv6-cidr-prefix-too-long": (_replace("  nodeCidr:", "  serviceCidr: fd00::/129\n  nodeCidr:"), "fd00::/129", 20),
    "cidr-leading-zeros": (_replace("nodeCidr: 192.168.50.0/24", "nodeCidr: 192.168.050.0/24"), "192.168.050.0/24", 20),
    "cidr-host-bits": (_replace("nodeCidr: 192.168.50.0/24", "nodeCidr: 192.168.50.1/24"), "192.168.50.0/24", 20),
    "memory-400-digits": (_replace("memory: 32Gi", "memory: " + "9" * 400 + "Gi"), "memory", 32),
    "memory-rounds-to-nothing": (_replace("memory: 32Gi", "memory: 0.0000000001Mi"), "memory", 32),
    "disk-size-zero": (_replace("size: 1Ti", "size: 0Mi"), "size", 34),
    "cpu-huge": (_replace("cpu: 8", "cpu: 99999999999999999999999"), "cpu", 31),
    "timezone-misspelt": (_replace("Europe/Amsterdam", "Europe/Amsterdm"), "Europe/Amsterdm", 12),
    "lone-surrogate-env": (_replace("  - name: node-red\n", '  - name: node-red\n    env: {X: "\\uD800"}\n'), "surrogate", 87),
    "lone-surrogate-values": (_replace("  - name: node-red\n", '  - name: node-red\n    values: {a: "x\\uD800y"}\n'), "surrogate", 87),
    "lone-surrogate-disk-path": (_replace("{path: /dev/disk/by-id/ata-Samsung_SSD_870_EVO_1TB_S6PUNX0T000001,", '{path: "/dev/disk/by-id/\\uD800x",'), "surrogate", 34),
    "yaml-1.3": ("%YAML 1.3\n---\n" + SHELF, "YAML 1.3", 1),
    "float-tag": (_replace("cpu: 8", "cpu: !!float abc"), "!!float", 31),
    "deep-nesting": (_replace("  - name: node-red\n", f"  - name: node-red\n    values: {{a: {NESTED}}}\n"), "deep", 87),
    "billion-laughs-top": (LAUGHS + SHELF.split("\n", 6)[6], "alias", None),
    "billion-laughs-values": (_replace("  - name: node-red\n", "  - name: node-red\n    values:\n" + "".join("      " + line + "\n" for line in LAUGHS.splitlines())), "alias", None),
    "huge-document": (SHELF + "# " + "x" * 2_000_000 + "\n", "larger than", None),
    "missing-api-version": (SHELF.replace("apiVersion: clustergen.dev/v1alpha1\n", ""), "apiVersion: clustergen.dev/v1alpha1", None),
    "no-nodes": (re.sub(r"nodes:\n(?:  .*\n)+", "nodes: []\n", SHELF, count=1), "at least one", 25),
    "duplicate-key": (_replace("  domain: home.arpa.example.net\n", "  domain: home.arpa.example.net\n  name: again\n"), "twice", 12),
    "missing-colon": (_replace("  domain: home.arpa.example.net\n", "  domain home.arpa.example.net\n"), "':'", 11),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_inventory(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, wanted, line = CASES[case]
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(text, encoding="utf-8")
    out = tmp_path / "repo"
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(main(["generate", str(inventory), "-o", str(out)])), daemon=True)
    runner.start()
    runner.join(30)
    assert not runner.is_alive(), f"{case}: still running after 30 s"
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert result == [2], err
    assert not out.exists(), "nothing may be written on error"
    assert wanted in err, err
    assert "hint:" in err, err
    if line is not None:
        assert f"{inventory}:{line}:" in err, err
    if case == "duplicate-key":
        assert "indentation" not in err, err
    if case == "no-nodes":
        assert "The machines." not in err, err


def test_security_context_string_does_not_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(_replace("  - name: node-red\n", '  - name: node-red\n    values: {podSecurityContext: "x"}\n'))
    code = main(["generate", str(inventory), "-o", str(tmp_path / "repo")])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code in (0, 2), err


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder"])
def test_inventory_must_be_a_regular_file(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if kind == "fifo":
        inventory = tmp_path / "inventory.yaml"
        os.mkfifo(inventory)
    elif kind == "dev-zero":
        inventory = Path("/dev/zero")
    else:
        inventory = tmp_path / "inventory.yaml"
        inventory.mkdir()
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(main(["plan", str(inventory)])), daemon=True)
    runner.start()
    runner.join(20)
    if runner.is_alive() and kind == "fifo":
        with open(inventory, "w"):  # unblock the reader so the thread can end
            pass
    assert not runner.is_alive(), "blocked reading the inventory"
    err = capsys.readouterr().err
    assert result == [2] and "Traceback" not in err, err
    assert "not a regular file" in err and "hint:" in err, err
