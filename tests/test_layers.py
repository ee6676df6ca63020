"""The pipeline runs one way: inventory → plan → render → write → validate.

An AST check over generator/ (no imports run): every import statement counts,
those inside functions and under TYPE_CHECKING too, because each one is a
dependency someone has to keep working.

- A stage imports no later stage, and of the earlier ones only its input: plan
  reads the inventory, render the plan. write takes RenderedFile and
  ClusterSecrets from the shared module and imports no stage; validate reads the
  repository and imports no stage either. The shared modules (shared/, errors,
  catalog, resources, podsecurity, binaries, talos_pki) import no stage at all; the
  command line (cli, pipeline and the tools around them) may import anything.
- render takes its decisions from the plan: of plan/ it imports only plan.model,
  of inventory/ nothing, and it never reads ``.inventory`` (ClusterPlan keeps the
  inventory for the report; render reads ``plan.settings`` and the plan's fields).
- The modules of render/ import each other without a circle.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "generator"
STAGES = ("inventory", "plan", "render", "write", "validate")
SHARED = frozenset({"shared", "errors", "catalog", "resources", "podsecurity", "binaries", "tools", "talos_pki"})
TOP = frozenset({"cli", "pipeline", "report", "catalog_view", "starter", "schemadoc", "probe", "__main__"})
# The templates render fills in (a template could read plan.inventory as well as Python can).
TEMPLATE_FOLDERS = ("bases", "overlays", "bootstrap")
RENDER_MAY_IMPORT_FROM_PLAN = frozenset({"generator.plan.model"})
# The earlier stages a stage may import: only the one whose output it takes.
STAGE_INPUTS = {"inventory": (), "plan": ("inventory",), "render": ("plan",), "write": (), "validate": ()}


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name → file, for every module of the package under root."""
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file, wherever it sits."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    result = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            result += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == PACKAGE]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == PACKAGE:
                base = node.module or ""
            else:
                continue
            for alias in node.names:
                # `from .. import catalog` imports the module generator.catalog; `from .x import f` imports .x
                submodule = f"{base}.{alias.name}"
                result.append((submodule if submodule in modules else base, node.lineno))
    return list(dict.fromkeys(result))  # `from .x import a, b` is one import of .x


def layer_of(module: str) -> str:
    """The stage a module belongs to, "shared", or "top"."""
    parts = module.split(".")
    if len(parts) == 1:
        return "shared"  # the package itself: __version__
    if parts[1] in STAGES:
        return parts[1]
    if parts[1] in SHARED:
        return "shared"
    if parts[1] in TOP:
        return "top"
    raise AssertionError(f"{module} belongs to no layer: add it to STAGES, SHARED or TOP in tests/test_layers.py")


def layer_violations(root: Path) -> list[str]:
    modules = module_files(root)
    found = []
    for name, path in modules.items():
        here = layer_of(name)
        for target, line in imports_of(name, path, modules):
            there = layer_of(target)
            if here == "top" or there in ("shared", here) or there in STAGE_INPUTS.get(here, ()):
                continue
            found.append(f"{path.relative_to(root)}:{line}: {here} imports {target} ({there})")
    return found


def render_plan_violations(root: Path) -> list[str]:
    modules = module_files(root)
    found = []
    for name, path in modules.items():
        if layer_of(name) != "render":
            continue
        for target, line in imports_of(name, path, modules):
            if layer_of(target) == "inventory" or (layer_of(target) == "plan" and target not in RENDER_MAY_IMPORT_FROM_PLAN):
                found.append(f"{path.relative_to(root)}:{line}: render imports {target}")
    return found


def inventory_reads(root: Path) -> list[str]:
    """Every `.inventory` attribute read in render's Python and in the templates it fills in."""
    found = []
    for path in sorted((root / PACKAGE / "render").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "inventory":
                found.append(f"{path.relative_to(root)}:{node.lineno}: reads {ast.unparse(node)}")
    pattern = re.compile(r"\w[\w.]*\.inventory\b")
    for folder in TEMPLATE_FOLDERS:
        for path in sorted((root / folder).rglob("*.j2")):
            for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if pattern.search(text):
                    found.append(f"{path.relative_to(root)}:{number}: reads {pattern.search(text).group(0)}")
    return found


def cycles_within(root: Path, stage: str) -> list[list[str]]:
    """The import circles among a stage's modules (strongly connected components of two or more, or a self-import)."""
    modules = module_files(root)
    prefix = f"{PACKAGE}.{stage}"
    members = [m for m in modules if m == prefix or m.startswith(prefix + ".")]
    edges = {m: sorted({t for t, _ in imports_of(m, modules[m], modules) if t in members}) for m in members}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(m: str) -> None:  # Tarjan's algorithm
        index[m] = low[m] = len(index)
        stack.append(m)
        on_stack.add(m)
        for t in edges[m]:
            if t not in index:
                visit(t)
                low[m] = min(low[m], low[t])
            elif t in on_stack:
                low[m] = min(low[m], index[t])
        if low[m] == index[m]:
            component = []
            while True:
                t = stack.pop()
                on_stack.discard(t)
                component.append(t)
                if t == m:
                    break
            if len(component) > 1 or m in edges[m]:
                circles.append(sorted(component))

    for m in members:
        if m not in index:
            visit(m)
    return circles


# ------------------------------------------------------------------ the rules, on this repository


def test_each_stage_imports_only_its_input_and_the_shared_modules() -> None:
    assert layer_violations(REPO) == []


def test_render_imports_only_the_plan_model() -> None:
    assert render_plan_violations(REPO) == []


def test_render_never_reads_the_inventory() -> None:
    assert inventory_reads(REPO) == []


def test_render_modules_import_each_other_without_a_circle() -> None:
    assert cycles_within(REPO, "render") == []


# ------------------------------------------------------------------ the checker sees what it must


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"generator/__init__.py": "", **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # a later stage, imported inside a function
        ({"generator/write/a.py": "def f():\n    from ..render.files import RenderedFile\n", "generator/render/files.py": ""},
         ["generator/write/a.py:2: write imports generator.render.files (render)"]),
        # under TYPE_CHECKING, absolute spelling
        ({"generator/write/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import generator.validate.tool\n",
          "generator/validate/tool.py": ""},
         ["generator/write/a.py:3: write imports generator.validate.tool (validate)"]),
        # `from .. import render` names the package
        ({"generator/plan/a.py": "from .. import render\n", "generator/render/__init__.py": ""},
         ["generator/plan/a.py:1: plan imports generator.render (render)"]),
        # a shared module importing any stage
        ({"generator/shared/a.py": "from ..inventory import model\n", "generator/inventory/model.py": ""},
         ["generator/shared/a.py:1: shared imports generator.inventory.model (inventory)"]),
        # an earlier stage that is not the stage's input
        ({"generator/write/a.py": "from ..plan.model import X\n", "generator/plan/model.py": ""},
         ["generator/write/a.py:1: write imports generator.plan.model (plan)"]),
        # a later stage, even for the stage's own input
        ({"generator/inventory/a.py": "from ..plan import model\n", "generator/plan/model.py": ""},
         ["generator/inventory/a.py:1: inventory imports generator.plan.model (plan)"]),
        # allowed: the input stage, the shared modules, the package's version, the top importing everything
        ({"generator/render/a.py": "from ..plan.model import X\nfrom ..shared import RenderedFile\nfrom .. import __version__\n",
          "generator/write/b.py": "from ..shared.files import RenderedFile\nfrom . import c\n", "generator/write/c.py": "",
          "generator/plan/model.py": "", "generator/shared/__init__.py": "", "generator/shared/files.py": "",
          "generator/cli.py": "from .validate import x\nfrom .render import y\n", "generator/validate/__init__.py": "",
          "generator/render/__init__.py": ""},
         []),
    ],
)
def test_layer_check_table(tmp_path: Path, files: dict[str, str], expected: list[str]) -> None:
    assert layer_violations(_tree(tmp_path, files)) == expected


def test_render_plan_check_flags_plan_internals_and_inventory(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "generator/render/a.py": "from ..plan.model import ClusterPlan\nfrom ..plan.apps import INGRESS_CLASS\n"
                                 "def f():\n    from ..inventory.model import Disk\n",
        "generator/plan/model.py": "", "generator/plan/apps.py": "", "generator/inventory/model.py": "",
    })
    assert render_plan_violations(root) == [
        "generator/render/a.py:2: render imports generator.plan.apps",
        "generator/render/a.py:4: render imports generator.inventory.model",
    ]


def test_inventory_read_check_flags_python_and_templates(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "generator/render/a.py": "def f(plan):\n    inv = plan.inventory\n    return plan.settings.cluster_name\n",
        "bootstrap/x.yaml.j2": "name: {{ plan.inventory.cluster_name }}\n# from inventory.yaml\n",
    })
    assert inventory_reads(root) == [
        "generator/render/a.py:2: reads plan.inventory",
        "bootstrap/x.yaml.j2:1: reads plan.inventory",
    ]


def test_cycle_check_finds_a_circle_through_a_function_import(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "generator/render/a.py": "from .b import x\n",
        "generator/render/b.py": "def f():\n    from .c import y\n",
        "generator/render/c.py": "from . import a\n",
        "generator/render/d.py": "from .a import z\n",
    })
    assert cycles_within(root, "render") == [["generator.render.a", "generator.render.b", "generator.render.c"]]


def test_every_module_belongs_to_a_layer() -> None:
    for name in module_files(REPO):
        layer_of(name)  # raises for a module no rule covers
