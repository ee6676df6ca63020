"""Values a chart never reads.

Helm ignores a values key that no template looks at, silently: traefik's chart reads
`service.spec.type`, so `service.type: NodePort` changes nothing. A key is read when
the chart's own values.yaml has it, when its parent there is a free-form map (an empty
`{}` such as `annotations` or `nodeSelector`), when it belongs to a subchart (checked
against that chart's values.yaml) or is `global`, or when a template names it
(`parent.key`, or `.Values.key` at the top), for keys charts read without declaring.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .documents import load_all

CHECK = "values"


@lru_cache(maxsize=64)
def _chart_facts(folder: str) -> tuple[dict, str, frozenset[str], frozenset[str]]:
    """(default values, all template text, subchart names, dependency conditions) of a chart."""
    root = Path(folder)
    try:
        docs, _ = load_all((root / "values.yaml").read_text(encoding="utf-8"))
        defaults = docs[0] if docs else {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        defaults = {}
    texts = []
    for path in sorted((root / "templates").rglob("*")) if (root / "templates").is_dir() else []:
        if path.is_file() and not path.is_symlink():
            try:
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                continue
    subcharts = frozenset(p.name for p in (root / "charts").iterdir() if p.is_dir()) if (root / "charts").is_dir() else frozenset()
    conditions: set[str] = set()
    try:
        docs, _ = load_all((root / "Chart.yaml").read_text(encoding="utf-8"))
        meta = docs[0] if docs and isinstance(docs[0], dict) else {}
        deps = [d for d in meta.get("dependencies") or [] if isinstance(d, dict)]
        subcharts |= {str(d.get("alias") or d.get("name")) for d in deps}
        conditions = {c.strip() for d in deps for c in str(d.get("condition") or "").split(",") if c.strip()}
    except (OSError, yaml.YAMLError):
        pass
    return (defaults if isinstance(defaults, dict) else {}), "\n".join(texts), subcharts, frozenset(conditions)


def unread_keys(folder: Path, values: Any) -> list[tuple[tuple[str, ...], str]]:
    """(path of the key in ``values``, why) for each key the chart at ``folder`` never reads."""
    if not isinstance(values, dict):
        return []
    return list(_walk(str(folder), values, ()))


def _walk(folder: str, values: dict, prefix: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    defaults, templates, subcharts, conditions = _chart_facts(folder)
    yield from _compare(folder, values, defaults, (templates, subcharts, conditions), prefix, ())


def _compare(folder: str, values: dict, defaults: Any, chart: tuple[str, frozenset[str], frozenset[str]],
             prefix: tuple[str, ...], here: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    templates, subcharts, conditions = chart
    if not isinstance(defaults, dict) or (here and not defaults) or _passed_through(templates, here):
        return  # a free-form map, a map handed whole to toYaml, or a scalar replaced by a map
    for key, value in values.items():
        key = str(key)
        if (not here and key == "global") or ".".join((*here, key)) in conditions:
            continue
        if not here and key in subcharts:
            sub = Path(folder) / "charts" / key
            if sub.is_dir() and isinstance(value, dict):
                # The parent reads a subchart's condition (crds.enabled), not the subchart.
                own = {k: v for k, v in value.items() if f"{key}.{k}" not in conditions}
                yield from _walk(str(sub), own, (*prefix, key))
            continue
        if key in defaults:
            if isinstance(value, dict):
                yield from _compare(folder, value, defaults[key], chart, prefix, (*here, key))
            continue
        if _named_in_templates(templates, here, key):
            continue
        where = ".".join((*here, key))
        yield (*prefix, *here, key), f"the chart never reads {where}: its values.yaml has no such key and no template names it"


def _passed_through(templates: str, here: tuple[str, ...]) -> bool:
    """Whether a template uses the map at ``here`` whole (`toYaml .Values.x.spec`, `with .x.spec`)."""
    if not here:
        return False
    needle = ".".join(here[-2:]) if len(here) > 1 else f"Values.{here[0]}"
    return re.search(re.escape(needle) + r"(?![.\w])", templates) is not None


def _named_in_templates(templates: str, here: tuple[str, ...], key: str) -> bool:
    needle = f"{here[-1]}.{key}" if here else f"Values.{key}"
    return re.search(re.escape(needle) + r"\b", templates) is not None
