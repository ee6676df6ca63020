"""The inventory's schema check: jsonschema-rs decides "valid" alone, jsonschema words errors.

The fast validator may only ever say "valid" where jsonschema says so too; where the two
engines could disagree (Python's re and the Rust regex engine, Python's and Rust's address
parsers), the document goes to jsonschema. These rows sit on those boundaries.
"""

from __future__ import annotations

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
        # Python's \s takes \x1c-\x1f, Rust's does not: `^(https://|...)\S+$` fails in Python only.
        ({"gitops__repository": "https://example.com/a\x1bb.git"}, True),  # \x1b: no whitespace in either
        ({"gitops__repository": "https://example.com/a\x1cb.git"}, False),
        ({"gitops__repository": "https://example.com/a\x1fb.git"}, False),
        ({"gitops__repository": "https://example.com/a b.git"}, False),
        # ipv4 by Python's ipaddress: no leading zeros, four octets.
        ({"network__controlPlaneEndpoint": "192.168.1.5"}, True),
        ({"network__controlPlaneEndpoint": "192.168.01.5"}, False),
        ({"network__controlPlaneEndpoint": "192.168.1.256"}, False),
        ({"network__controlPlaneEndpoint": "fd00::5"}, True),
        ({"network__controlPlaneEndpoint": "fe80::5%eth0"}, False),  # a scope id is no address here
        ({"nodes__0__name": "n" * 63}, True),
        ({"nodes__0__name": "n" * 64}, False),
    ],
)
def test_fast_path_agrees_with_jsonschema(changes: dict, valid: bool) -> None:
    data = _data(**changes)
    assert _python_valid(data) is valid
    assert L._surely_valid(data) is valid
    assert (L._schema_problems(data, L.SourceMap("x.yaml", None)) == []) is valid


def test_where_only_python_says_valid_python_decides() -> None:
    # Python's $ matches before a final newline, Rust's does not: the fast path says "not sure",
    # and jsonschema's verdict (valid for the schema; other checks refuse the name) stands.
    data = _data(nodes__0__name="node\n")
    assert L._surely_valid(data) is False
    assert _python_valid(data)
    assert L._schema_problems(data, L.SourceMap("x.yaml", None)) == []


def test_fast_path_never_valid_where_jsonschema_is_not() -> None:
    """Mutated examples (tests/fuzz_inventory.py): 'valid' from the fast path implies valid."""
    bases = examples()
    seen = {True: 0, False: 0}
    for index in range(600):
        rng = random.Random(f"schema:{index}")
        _, base = rng.choice(bases)
        data = yaml.safe_load(dump(mutate(base, rng)[0], rng))
        fast = L._surely_valid(data)
        if fast:
            assert _python_valid(data), index
        seen[fast] += 1
    assert seen[True] > 20 and seen[False] > 200, seen


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
