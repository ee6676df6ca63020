"""`clustergen init`: a commented starter inventory, or a bundled example."""

from __future__ import annotations

from pathlib import Path

from .errors import ClustergenError, Problem
from .resources import source_dir


def example_names() -> list[str]:
    return sorted(p.stem for p in source_dir("examples").glob("*.yaml"))


def write_starter(path: Path, example: str | None, *, force: bool = False) -> None:
    if example is None:
        from .render.templates import render_template

        text = render_template("bootstrap/repo/inventory-starter.yaml.j2", check_yaml=False)
    else:
        source = source_dir("examples") / f"{example}.yaml"
        if not source.exists():
            raise ClustergenError([Problem(f"no bundled example called '{example}'", hint="choose one of: " + ", ".join(example_names()))])
        text = source.read_text(encoding="utf-8")
    if path.exists() and not force:
        raise ClustergenError([Problem(f"{path} exists already", file=str(path), hint="pass --force to overwrite it, or choose another path")])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
