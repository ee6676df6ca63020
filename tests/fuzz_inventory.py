"""Structured mutations of the bundled examples, for the fuzz test and bench/fuzz.py.

Each case parses an example, applies one to three mutations to the data (a wrong type,
a huge or negative number, a weird string, a deleted key, a duplicated or emptied list,
an unknown key), writes it back as JSON (which is YAML, and keeps escapes such as a lone
\\uD800 as they are) or as block YAML, and runs the loader and the planner in-process.
The contract is the CLI's: a ClustergenError (exit 2, nothing written) or a plan (exit 0);
any other exception is a crash. Cases are reproducible from (seed, index).
"""

from __future__ import annotations

import copy
import json
import random
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

WEIRD_VALUES: list[Any] = [
    0, -1, 1, 2**63, 10**30, -(10**30), 1.5, float("1e308"), "", " ", "x", "A" * 300, "UPPER", "with space",
    "../../escaped", "/abs/path", ".git/hooks", "a/../../b", "x\ny", "\ud800", "caf\u00e9", "\u202e", "null", "~",
    "9" * 400 + "Gi", "0.0000000001Mi", "0Mi", "192.168.1.1/33", "192.168.050.0/24", "10.0.0.1/8", "fd00::/129",
    "::", "0.0.0.0", "255.255.255.255", "Europe/Nowhere", "latest", "docker.io/x:latest", "*", "-", "%",
    True, False, None, [], {}, [1, "a"], {"a": 1}, [[[]]], {"name": "x"},
]


@dataclass
class Outcome:
    counts: Counter = field(default_factory=Counter)
    crashes: list[tuple[int, str, str]] = field(default_factory=list)  # (index, exception, inventory text)
    error_texts: list[str] = field(default_factory=list)  # a few texts that fail, for the CLI check
    ok_texts: list[str] = field(default_factory=list)


def examples() -> list[tuple[str, Any]]:
    return [(p.stem, yaml.safe_load(p.read_text(encoding="utf-8"))) for p in sorted(EXAMPLES.glob("*.yaml"))]


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*path, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_paths(value, (*path, i)))
    return found


def _get(node: Any, path: tuple) -> Any:
    for part in path:
        node = node[part]
    return node


def mutate(data: Any, rng: random.Random) -> tuple[Any, list[str]]:
    data = copy.deepcopy(data)
    done = []
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = rng.choice(paths)
        parent, key = _get(data, path[:-1]), path[-1]
        value = parent[key]
        kind = rng.choice(["replace", "replace", "replace", "delete", "duplicate", "empty", "unknown", "number", "string"])
        if kind == "delete":
            del parent[key]
        elif kind == "duplicate" and isinstance(value, list) and value:
            value.append(copy.deepcopy(rng.choice(value)))
        elif kind == "empty" and isinstance(value, (list, dict)):
            value.clear()
        elif kind == "unknown" and isinstance(value, dict):
            value[rng.choice(["extra", "nmae", "Name", "x" * 70])] = rng.choice(WEIRD_VALUES)
        elif kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            parent[key] = rng.choice([0, -1, value * 1000, 10**25, 2**31, value + 0.5])
        elif kind == "string" and isinstance(value, str):
            parent[key] = rng.choice([value + "\ud800", value.upper(), value * 50, "../" + value, value + "/..", " " + value, ""])
        else:
            kind = "replace"
            parent[key] = copy.deepcopy(rng.choice(WEIRD_VALUES))
        done.append(f"{kind} {'.'.join(map(str, path))}")
    return data, done


def dump(data: Any, rng: random.Random) -> str:
    if rng.random() < 0.25:
        try:
            return yaml.safe_dump(data, allow_unicode=False, sort_keys=False)
        except (yaml.YAMLError, UnicodeError, ValueError):
            pass
    return json.dumps(data, ensure_ascii=True, indent=1)


def run_case(text: str) -> str:
    """'ok', 'error' (a ClustergenError), or raises whatever else the loader or planner raised."""
    from generator.errors import ClustergenError
    from generator.inventory.load import load_inventory_text
    from generator.plan import plan_cluster

    try:
        inventory, warnings = load_inventory_text(text, "fuzz.yaml")
        plan_cluster(inventory, warnings)
    except ClustergenError:
        return "error"
    return "ok"


def run(seed: int, count: int, start: int = 0, keep: int = 3) -> Outcome:
    bases = examples()
    outcome = Outcome()
    for index in range(start, start + count):
        rng = random.Random(f"{seed}:{index}")
        name, base = rng.choice(bases)
        mutated, _ = mutate(base, rng)
        text = dump(mutated, rng)
        try:
            result = run_case(text)
        except Exception as exc:  # noqa: BLE001 - the point: nothing but ClustergenError may escape
            outcome.counts["crash"] += 1
            outcome.crashes.append((index, "".join(traceback.format_exception_only(type(exc), exc)).strip()
                                    + "\n" + "".join(traceback.format_tb(exc.__traceback__)[-3:]), text))
            continue
        outcome.counts[result] += 1
        bucket = outcome.error_texts if result == "error" else outcome.ok_texts
        if len(bucket) < keep:
            bucket.append(text)
    return outcome
