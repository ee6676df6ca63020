"""Write docs/inventory.md from the inventory JSON Schema, so the two never drift.

Usage: python -m generator.schemadoc > docs/inventory.md
"""

from __future__ import annotations

import sys
from typing import Any, Iterator

from .catalog_view import markdown as catalog_markdown
from .inventory.load import inventory_schema

INTRO = """# The inventory file

One YAML file describes the cluster. `clustergen init` writes a commented starter;
`clustergen init --example mixed-shelf` copies a bundled example; `clustergen schema`
prints the JSON Schema (draft 2020-12) this page is generated from
(`python -m generator.schemadoc > docs/inventory.md`).

Every mistake is reported as `file:line:column: error: field.path: message` with a hint,
and nothing is written.

## A complete example

```yaml
{example}
```

## Fields

"""


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target = root["$defs"][schema["$ref"].split("/")[-1]]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _type(schema: dict[str, Any], root: dict[str, Any]) -> str:
    schema = _resolve(schema, root)
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    if "oneOf" in schema and not all(set(s) <= {"required"} for s in schema["oneOf"]):
        # (A oneOf of required lists only says which keys exclude each other: the type stays.)
        return " or ".join(_type(s, root) for s in schema["oneOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}), root)}"
    if kind == "object":
        return "mapping"
    return str(kind)


def fields(schema: dict[str, Any], root: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    schema = _resolve(schema, root)
    required = set(schema.get("required", []))
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        resolved = _resolve(sub, root)
        description = sub.get("description") or resolved.get("description", "")
        default = resolved.get("default", sub.get("default"))
        notes = description + (f" Default: `{default}`." if default is not None else "") + (" **Required.**" if name in required else "")
        yield path, _type(sub, root), notes.strip(), ""
        if resolved.get("type") == "object" or "properties" in resolved:
            yield from fields(resolved, root, path + ".")
        for alternative in resolved.get("oneOf", []):
            # A field that is a switch or a mapping (components.backup): document the mapping.
            if "properties" in _resolve(alternative, root):
                yield from fields(alternative, root, path + ".")
        items = resolved.get("items")
        if resolved.get("type") == "array" and items is not None:
            yield from fields(items, root, path + "[].")


def render() -> str:
    from .resources import source_dir

    root = inventory_schema()
    example = (source_dir("examples") / "mixed-shelf.yaml").read_text().strip()
    lines = [INTRO.format(example=example), "| field | type | meaning |", "|---|---|---|"]
    for path, kind, notes, _ in fields(root, root):
        escaped = notes.replace("|", "\\|")
        lines.append(f"| `{path}` | {kind} | {escaped} |")
    lines.append("")
    lines.append("`profiles.<name>` entries take `description`, `arch`, `bootMedium`, `memory`, `cpu`, `os` and `notes`, like the built-in profiles rpi3, rpi4, rpi5, laptop, mini-pc, server, vm and generic.")
    lines.append("")
    lines.append(catalog_markdown().rstrip("\n"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
