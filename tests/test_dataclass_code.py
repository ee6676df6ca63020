"""The dataclass methods' code is compiled once per interpreter (shared/dataclass_code.py):
classes built from the table must be the ones the decorator builds without it."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

import pytest

from generator.shared import dataclass_code

ROOT = Path(__file__).resolve().parents[1]

# Every kind of method the decorator writes: frozen and not, order, slots, kw_only,
# defaults and factories, a ClassVar, a class with and without a docstring.
CLASSES = '''
import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

@dataclass(frozen=True)
class Frozen:
    name: str
    size: int = 0
    tags: tuple[str, ...] = ()

@dataclass(order=True)
class Ordered:
    """Has a docstring."""
    a: int
    b: list[int] = field(default_factory=list)
    limit: ClassVar[int] = 3

@dataclass(slots=True, kw_only=True)
class Slotted:
    x: float
    y: float = 1.5

@dataclass(eq=False)
class NoEq:
    z: "Frozen | None" = None
'''

# The classes are defined in a module of clustergen's package, as its own are (the table only
# keeps those), or in one outside it.
SAMPLE = '''
import json, sys, types
module = types.ModuleType(MODULE)
sys.modules[MODULE] = module
exec(compile(CLASSES, "sample.py", "exec"), module.__dict__)
Frozen, Ordered, Slotted, NoEq = module.Frozen, module.Ordered, module.Slotted, module.NoEq

def describe(fn):
    if fn is None:
        return None
    code = fn.__code__
    # A frozenset constant (3.12's frozen __setattr__ tests membership in one) prints in this
    # process's hash order: compared sorted.
    consts = tuple(sorted(c) if isinstance(c, frozenset) else c for c in code.co_consts)
    return [code.co_code.hex(), repr(consts), code.co_names, code.co_varnames, code.co_flags,
            repr(getattr(fn, "__annotations__", None)), repr(fn.__defaults__), repr(fn.__kwdefaults__)]

out = {}
for cls in (Frozen, Ordered, Slotted, NoEq):
    out[cls.__name__] = {name: describe(cls.__dict__.get(name)) for name in
                         ("__init__", "__repr__", "__eq__", "__lt__", "__hash__", "__setattr__", "__delattr__")}
    out[cls.__name__]["doc"] = cls.__doc__
print(json.dumps(out, sort_keys=True))
print(json.dumps(len(getattr(sys.modules.get("generator.shared.dataclass_code"), "_compiled", []))))
'''


def run(script: str, cache_home: Path, *, cached: bool, module: str = "generator.sample_for_test") -> tuple[dict, int]:
    prelude = "from generator.shared.dataclass_code import cache_dataclass_code; cache_dataclass_code()\n" if cached else ""
    prelude += f"MODULE = {module!r}\nCLASSES = {CLASSES!r}\n"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", prelude + script], env=env, capture_output=True, text=True, check=True)
    classes, compiled = done.stdout.splitlines()
    return json.loads(classes), json.loads(compiled)


def tables(cache_home: Path) -> list[Path]:
    return sorted((cache_home / "clustergen" / "code").glob("dataclasses-*.marshal"))


def test_classes_from_the_table_are_the_ones_the_decorator_builds(tmp_path):
    plain, _ = run(SAMPLE, tmp_path, cached=False)
    cold, compiled_cold = run(SAMPLE, tmp_path, cached=True)
    warm, compiled_warm = run(SAMPLE, tmp_path, cached=True)
    assert compiled_cold > 0, "the first run compiles and keeps the methods"
    assert compiled_warm == 0, "the second run takes every method from the table"
    assert cold == plain
    assert warm == plain


def sample_texts(cache_home: Path) -> list[str]:
    """The table's method texts of the sample's Slotted class: its __init__ assigns x and y
    (3.11 and 3.12 compile each method alone, 3.13 a class's methods together)."""
    return [text for table in tables(cache_home) for text in marshal.loads(table.read_bytes())
            if "self.x=x" in text and "self.y=y" in text]


@pytest.mark.parametrize(("module", "kept"), [("someone_else", False), ("someone_else.generator", False), ("generator.sample_for_test", True)])
def test_only_clustergens_own_classes_go_into_the_table(tmp_path, module, kept):
    plain, _ = run(SAMPLE, tmp_path / "plain", cached=False, module=module)
    classes, _ = run(SAMPLE, tmp_path, cached=True, module=module)
    assert classes == plain
    assert bool(sample_texts(tmp_path)) is kept


def test_a_method_is_compiled_as_the_builtin_exec_compiles_it():
    # This module has `from __future__ import annotations`; the dataclasses module has not.
    # Leaking the flag would turn __init__'s annotations into strings.
    text = "def __create_fn__(_return_type):\n def __init__(self, a:int)->_return_type:\n  self.a=a\n return __init__"
    namespace: dict = {}
    exec(dataclass_code.compile_like_exec(text), {}, namespace)
    init = namespace["__create_fn__"](None)
    assert init.__annotations__ == {"a": int, "return": None}


def test_the_package_builds_its_models_from_the_table(tmp_path):
    script = "import generator.plan, generator.render, sys\nprint(len(sys.modules['generator.shared.dataclass_code']._compiled))\n"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}

    def compiled() -> int:
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        return int(done.stdout)

    assert compiled() > 50
    assert compiled() == 0
    assert len(tables(tmp_path)) == 1


@pytest.mark.parametrize("damage", [b"", b"not marshal data", marshal.dumps(["a list"]), marshal.dumps({"text": 42})])
def test_a_damaged_table_only_means_compiling_again(tmp_path, damage):
    run(SAMPLE, tmp_path, cached=True)
    [table] = tables(tmp_path)
    table.write_bytes(damage)
    plain, _ = run(SAMPLE, tmp_path, cached=False)
    again, compiled = run(SAMPLE, tmp_path, cached=True)
    assert again == plain
    assert compiled > 0
    assert isinstance(marshal.loads(table.read_bytes()), dict)


def test_an_unwritable_cache_leaves_the_decorator_alone(tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    plain, _ = run(SAMPLE, tmp_path / "elsewhere", cached=False)
    classes, _ = run(SAMPLE, blocked, cached=True)
    assert classes == plain
    assert not (blocked / "clustergen").exists()


@pytest.mark.parametrize(("limit", "kept"), [(3, 1), (4, 4)], ids=["over the limit: what this run used", "at the limit: all"])
def test_a_table_past_its_limit_is_rewritten_with_what_this_run_used(tmp_path, monkeypatch, limit, kept):
    monkeypatch.setattr(dataclass_code, "MAX_ENTRIES", limit)
    used = "def __create_fn__():\n def f(self):\n  return 1\n return f"
    path = tmp_path / "table.marshal"
    monkeypatch.setattr(dataclass_code, "_table", {f"x = {i}": compile(f"x = {i}", "<string>", "exec") for i in range(3)})
    monkeypatch.setattr(dataclass_code, "_used", set())
    monkeypatch.setattr(dataclass_code, "_compiled", [])
    dataclass_code._cached_exec(used, {"__name__": "generator.sample"}, {})
    dataclass_code._save_table(path)
    table = marshal.loads(path.read_bytes())
    assert len(table) == kept
    assert used in table
