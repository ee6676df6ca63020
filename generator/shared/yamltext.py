"""Deterministic YAML text: same data, same bytes, on every machine."""

from __future__ import annotations

from typing import Any

import yaml

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _BlockDumper(_Dumper):  # type: ignore[misc, valid-type]
    pass


def _str_presenter(dumper: Any, value: str) -> Any:
    # Multi-line strings (config files, scripts) read best as literal blocks.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_presenter)


def to_yaml(data: Any, indent: int = 0) -> str:
    """YAML for one value; with indent, every line but the first is shifted for embedding in a template."""
    text = yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True)
    if text.endswith("...\n"):
        text = text[: -len("...\n")]
    text = text.rstrip("\n")
    if indent:
        pad = " " * indent
        first, *rest = text.split("\n")
        text = "\n".join([first] + [(pad + line) if line else line for line in rest])
    return text


def dump_documents(documents: list[Any]) -> str:
    return "---\n".join(to_yaml(d) + "\n" for d in documents)


def load_all(text: str) -> list[Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [d for d in yaml.load_all(text, Loader=loader) if d is not None]


def check_syntax(text: str) -> None:
    """Raise yaml.YAMLError if text is not well-formed YAML; parses in C and builds nothing."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for _ in yaml.parse(text, Loader=loader):
        pass
