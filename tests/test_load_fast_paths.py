"""The inventory's schema check: the schema compiled into Python (inventory/schema_code.py)
decides "valid" alone, jsonschema words errors.

The compiled verdict must be jsonschema's, both ways: these rows sit where a regex engine or an
address parser other than Python's would part ways with it (jsonschema-rs's did), and mutated
examples compare the two on hundreds of documents. Values JSON has no word for go to jsonschema.
"""

from __future__ import annotations

import datetime
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator.inventory import load as L

from .fuzz_inventory import dump, examples, mutate

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "single-mini-pc.yaml"


def _data(**changes: object) -> dict:
    data = yaml.safe_load(EXAMPLE.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value
    return data


def _python_valid(data: dict) -> bool:
    return not any(True for _ in L._validator().iter_errors(data))


@pytest.mark.parametrize(
    ("changes", "valid"),
    [
        ({}, True),
        # Python's \s takes \x1c-\x1f: `^(https://|...)\S+$` fails on them (Rust's \s would not).
        ({"gitops__repository": "https://example.com/a\x1bb.git"}, True),  # \x1b: no whitespace in Python
        ({"gitops__repository": "https://example.com/a\x1cb.git"}, False),
        ({"gitops__repository": "https://example.com/a\x1fb.git"}, False),
        ({"gitops__repository": "https://example.com/a b.git"}, False),
        # Python's $ matches before a final newline: jsonschema takes the name (other checks refuse it).
        ({"nodes__0__name": "node\n"}, True),
        ({"nodes__0__name": "node\n\n"}, False),
        # ipv4 by Python's ipaddress: no leading zeros, four octets.
        ({"network__controlPlaneEndpoint": "192.168.1.5"}, True),
        ({"network__controlPlaneEndpoint": "192.168.01.5"}, False),
        ({"network__controlPlaneEndpoint": "192.168.1.256"}, False),
        ({"network__controlPlaneEndpoint": "fd00::5"}, True),
        ({"network__controlPlaneEndpoint": "fe80::5%eth0"}, False),  # a scope id is no address here
        ({"nodes__0__name": "n" * 63}, True),
        ({"nodes__0__name": "n" * 64}, False),
        # integer: 2.0 is one, True is not
        ({"nodes__0__gpus": [{"vendor": "nvidia", "sharing": 2.0}]}, True),
        ({"nodes__0__gpus": [{"vendor": "nvidia", "sharing": 2.5}]}, False),
        ({"nodes__0__gpus": [{"vendor": "nvidia", "sharing": True}]}, False),
        ({"nodes__0__gpus": [{"vendor": "nvidia", "sharing": 0}]}, False),
        ({"nodes__0__gpus": [{"vendor": "nvidia", "sharing": 16}]}, True),
        ({"nodes__0__gpus": [{"vendor": "nvidia", "sharing": 17}]}, False),
        # enum and const by jsonschema's equality
        ({"nodes__0__gpus": [{"vendor": "nvidia"}, {"vendor": "intel"}]}, True),
        ({"nodes__0__gpus": [{"vendor": "NVIDIA"}]}, False),
        ({"kind": "Inventory "}, False),
        # uniqueItems
        ({"nodes__0__kernelModules": ["br_netfilter", "overlay"]}, True),
        ({"nodes__0__kernelModules": ["overlay", "br_netfilter", "overlay"]}, False),
    ],
)
def test_fast_path_agrees_with_jsonschema(changes: dict, valid: bool) -> None:
    data = _data(**changes)
    assert _python_valid(data) is valid
    assert L._surely_valid(data) is valid
    assert (L._schema_problems(data, L.SourceMap("x.yaml", None)) == []) is valid


@pytest.mark.parametrize("value", [datetime.date(2024, 1, 1), b"bytes", float("nan"), float("inf")])
def test_values_json_has_no_word_for_go_to_jsonschema(value: object) -> None:
    data = _data(nodes__0__name=value)
    assert L._surely_valid(data) is False
    data = _data()
    data["nodes"][0]["labels"] = {1: "x"}
    assert L._surely_valid(data) is False


def test_fast_path_gives_jsonschemas_verdict_on_mutated_examples() -> None:
    """Mutated examples (tests/fuzz_inventory.py): the same verdict, valid or not."""
    bases = examples()
    seen = {True: 0, False: 0}
    for index in range(600):
        rng = random.Random(f"schema:{index}")
        _, base = rng.choice(bases)
        data = yaml.safe_load(dump(mutate(base, rng)[0], rng))
        fast, python = L._surely_valid(data), _python_valid(data)
        assert fast is python or (not fast and not _plain_json(data)), index
        seen[fast] += 1
    assert seen[True] > 20 and seen[False] > 200, seen


def _plain_json(node: object) -> bool:
    if isinstance(node, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in node.items())
    if isinstance(node, list):
        return all(map(_plain_json, node))
    if isinstance(node, float):
        return math.isfinite(node)
    return node is None or isinstance(node, (str, int, bool))


def test_a_valid_inventory_loads_without_a_validator_library() -> None:
    script = ("import sys\nfrom generator.inventory import load_inventory\n"
              f"load_inventory(__import__('pathlib').Path({str(EXAMPLE)!r}))\n"
              "print(sorted(m for m in ('jsonschema', 'jsonschema_rs') if m in sys.modules))\n")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"


def _every_zone_file() -> list[str]:
    import os
    import zoneinfo

    names = set()
    for root in zoneinfo.TZPATH:
        for folder, dirs, files in os.walk(root):
            names.update(os.path.relpath(os.path.join(folder, f), root) for f in files + dirs)
    return sorted(names)


@pytest.mark.parametrize("name", ["Europe/Berlin", "Etc/UTC", "UTC", "GB", "right/UTC", "posix/Europe/Berlin", "posixrules",
                                  "Europe/../Europe/Berlin", "Europe//Berlin", "Europe", "zone.tab", "Europe/Nowhere", ""])
def test_zone_file_is_available_timezones(name: str) -> None:
    import zoneinfo

    from generator.inventory.checks import _zone_file

    assert _zone_file(name) == (name in zoneinfo.available_timezones())


def test_zone_file_never_accepts_what_the_list_lacks() -> None:
    import zoneinfo

    from generator.inventory.checks import _zone_file

    known = zoneinfo.available_timezones()
    if not known:
        pytest.skip("no time zone database on this machine")
    assert [n for n in _every_zone_file() if _zone_file(n) and n not in known] == []
    assert [n for n in known if not _zone_file(n)] == []  # tzdata-only zones would show here


def _zone_file_in_a_fresh_process(name: str, env: dict[str, str]) -> str:
    script = ("import sys\nfrom generator.inventory.checks import _zone_file\n"
              f"print(_zone_file({name!r}), 'zoneinfo' in sys.modules)\n")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.strip()


def test_zone_file_looks_without_importing_zoneinfo() -> None:
    import zoneinfo

    if zoneinfo.TZPATH != ("/usr/share/zoneinfo", "/usr/lib/zoneinfo", "/usr/share/lib/zoneinfo", "/etc/zoneinfo"):
        pytest.skip(f"this interpreter was built with another TZPATH: {zoneinfo.TZPATH}")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONTZPATH"}
    expected = "Europe/Berlin" in zoneinfo.available_timezones()
    assert _zone_file_in_a_fresh_process("Europe/Berlin", env) == f"{expected} False"


def test_zone_file_follows_pythontzpath(tmp_path: Path) -> None:
    """A PYTHONTZPATH is zoneinfo's to read: a database elsewhere is used, the default roots are not."""
    (tmp_path / "Mars").mkdir()
    (tmp_path / "Mars" / "Olympus").write_bytes(b"TZif2" + bytes(40))
    env = {**os.environ, "PYTHONTZPATH": str(tmp_path)}
    assert _zone_file_in_a_fresh_process("Mars/Olympus", env) == "True True"
    assert _zone_file_in_a_fresh_process("Europe/Berlin", env) == "False True"
