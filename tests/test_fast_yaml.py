"""The inventory's libyaml fast path against ruamel's round-trip loader, which it stands in for.

Wherever generator.inventory.fastyaml answers (not None), the plain data (values and their
types) and every line/column SourceMap reports must be what the round-trip loader gives;
where it cannot be sure it must answer None. Texts: every example and fixture, crafted
scalars on the YAML 1.1/1.2 and typed/untyped boundaries, layout variants, and mutated
examples from tests/fuzz_inventory.py.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from generator.inventory.fastyaml import compose
from generator.inventory.load import _plain
from generator.inventory.locations import SourceMap

from .fuzz_inventory import _paths, dump, examples, mutate

ROOT = Path(__file__).resolve().parents[1]


def _typed(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _typed(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_typed(v) for v in x]
    return (type(x).__name__, x)


def _same_as_round_trip(text: str) -> bool:
    """False when the fast path declines; asserts equality where it answers."""
    fast = compose(text)
    if fast is None:
        return False
    slow = YAML(typ="rt").load(text)  # must not raise where the fast path accepted the text
    data = _plain(fast)
    assert _typed(data) == _typed(_plain(slow)), text
    fast_map, slow_map = SourceMap("f", fast), SourceMap("f", slow)
    for path in _paths(data):
        for probe in (list(path), [*path, "absent"], [*path, 99]):
            assert fast_map.locate(probe) == slow_map.locate(probe), (text, probe)
    return True


SCALARS = [
    "yes", "no", "on", "off", "y", "n", "Yes", "NO", "true", "True", "TRUE", "tRue", "false", "FALSE", "null", "Null",
    "NULL", "nULL", "~", "0", "-0", "+0", "00", "007", "08", "0o17", "0x1F", "0b101", "1_000", "1e3", "1.5", "-1.5",
    ".5", "5.", ".inf", "-.inf", ".NaN", "nan", "12:30", "1:20:30", "2024-01-01", "2024-01-01T10:00:00Z",
    "192.168.1.1", "10.0.0.0/8", "16Gi", "1.10", "v1.30", "b8:27:eb:00:00:23", "-", "-x", "+x", ".git", "<none>", "=",
    "~x", "123abc", "9" * 30, "-" + "9" * 30, "'quoted'", '"1.5"', "'yes'", "a b", "a #c", '"x\\ny"', '"\\u00e9"',
    "é", "0.0.0.0", "::", "fd00::1", "1.2.3", "1e", "+.5", "0.", "1.e5",
]


@pytest.mark.parametrize("scalar", SCALARS)
def test_scalars(scalar: str) -> None:
    for text in (f"a: {scalar}\n", f"{scalar}: 1\n", f"a: [{scalar}, x]\n", f"a:\n  - {scalar}\n  - x\n", "a:\n"):
        try:
            YAML(typ="rt").load(text)
        except Exception:  # noqa: BLE001 - not YAML for ruamel either: the fast path must not accept it
            assert compose(text) is None, text
            continue
        _same_as_round_trip(text)


LAYOUTS = [
    "a: |\n  line one\n  line two\n\n",
    "a: >\n  folded\n  text\n\n  para\n",
    "a: |-\n  keep\n    more\n",
    "a: >+\n  x\n\n\n",
    "a: plain\n  continued\n  lines\n",
    "a: 'single ''quote'''\nb: \"double \\\"q\\\" \\t tab\"\n",
    "# comment\na: 1 # trailing\n# between\nb:\n  # inside\n  - c\n",
    "---\na: 1\n...\n",
    "a: {b: 1, c: [1, 2, {d: e}]}\n",
    "a: &x {b: 1}\nc: *x\nd: [*x, *x]\n",
    "a:\n- b: 1\n  c: 2\n- {d: 3}\n-   e: 4\n",
    "a:\n  -\n    b: 1\n",
    "a:\t1\n",
    "? a\n: 1\n",
    "a: b\na: c\n",  # duplicate key
    "1: a\n'1': b\n",  # two keys that read alike once stringified
    "a: <<\n",
    "<<: {a: 1}\nb: 2\n",
    "%YAML 1.1\n---\na: yes\n",
    "a: !!str 1.10\n",
    "a: \u2028b\n",
    "- a\n- b\n",  # no mapping at the top
    "",
    "a: [1, 2\n",  # broken
]


@pytest.mark.parametrize("text", LAYOUTS)
def test_layouts(text: str) -> None:
    try:
        YAML(typ="rt").load(text)
    except Exception:  # noqa: BLE001
        assert compose(text) is None
        return
    _same_as_round_trip(text)


def test_declines_what_only_the_round_trip_loader_can_say() -> None:
    for text in ("a: b\na: c\n", "1: a\n'1': b\n", "%YAML 1.1\n---\na: yes\n", "a: !!str 1.10\n", "<<: {a: 1}\n",
                 "a:\n", "a: 1.5\n", "a: 0x1F\n", "a: 2024-01-01\n", "- a\n", ""):
        assert compose(text) is None, text


def test_every_example_and_fixture_takes_the_fast_path() -> None:
    texts = sorted(ROOT.glob("examples/*.yaml"))
    assert texts
    for path in texts:
        assert _same_as_round_trip(path.read_text()), path
    for path in sorted((ROOT / "tests" / "fixtures").rglob("*.yaml")):
        _same_as_round_trip(path.read_text())


def test_mutated_examples() -> None:
    bases = examples()
    taken = 0
    for index in range(300):
        rng = random.Random(f"fastyaml:{index}")
        taken += _same_as_round_trip(dump(mutate(rng.choice(bases)[1], rng)[0], rng))
    assert taken > 180, taken
