"""Deterministic YAML text: same data, same bytes, on every machine."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


_STR, _INT, _BOOL, _NULL = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
# The tag a plain scalar's text resolves to: the emitter asks it for every scalar it writes
# (twice), and a large repository's files repeat the same few thousand texts.
_PLAIN_TAGS: dict[str, str] = {}


class _BlockDumper(_Dumper):  # type: ignore[misc, valid-type]
    """The safe dumper, with plain dicts, lists, strings, ints, bools and None represented
    without its per-object type dispatch (the same nodes, so the same bytes and the same
    anchors for an object met twice); anything else goes the usual way."""

    def represent_data(self, data: Any) -> Any:
        kind = type(data)
        if kind is str:
            # Multi-line strings (config files, scripts) read best as literal blocks.
            return ScalarNode(_STR, data, style="|" if "\n" in data else self.default_style)
        if kind is dict or kind is list:
            if self.default_flow_style is None or (kind is dict and self.sort_keys):
                return super().represent_data(data)
            known = self.represented_objects.get(id(data))
            if known is not None:
                return known
            self.object_keeper.append(data)
            items: list[Any] = []
            if kind is dict:
                node: Any = MappingNode(_MAP, items, flow_style=self.default_flow_style)
                self.represented_objects[id(data)] = node
                represent = self.represent_data
                for key, value in data.items():
                    items.append((represent(key), represent(value)))
            else:
                node = SequenceNode(_SEQ, items, flow_style=self.default_flow_style)
                self.represented_objects[id(data)] = node
                items.extend(self.represent_data(item) for item in data)
            return node
        if kind is int:
            return ScalarNode(_INT, str(data), style=self.default_style)
        if kind is bool:
            return ScalarNode(_BOOL, "true" if data else "false", style=self.default_style)
        if data is None:
            return ScalarNode(_NULL, "null", style=self.default_style)
        return super().represent_data(data)

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and not implicit[0] and not self.yaml_path_resolvers:
            return self.DEFAULT_SCALAR_TAG  # as BaseResolver.resolve answers it: no implicit resolver is tried
        if kind is ScalarNode and not self.yaml_path_resolvers:
            # Without path resolvers the answer depends on the text alone (implicit[1] only
            # matters when no implicit resolver matches, and then the answer is str either way).
            tag = _PLAIN_TAGS.get(value)
            if tag is None:
                if len(_PLAIN_TAGS) > 50_000:
                    _PLAIN_TAGS.clear()
                tag = _PLAIN_TAGS[value] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)


def _str_presenter(dumper: Any, value: str) -> Any:
    # Multi-line strings (config files, scripts) read best as literal blocks.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_presenter)  # str subclasses' way, through represent_data


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
    """Raise yaml.YAMLError if text is not well-formed YAML; parses in C and builds nothing,
    not even the events (libyaml's raw_parse walks the whole stream without handing any back)."""
    loader_class = getattr(yaml, "CSafeLoader", None)
    if loader_class is None:
        for _ in yaml.parse(text, Loader=yaml.SafeLoader):
            pass
        return
    loader = loader_class(text)
    try:
        loader.raw_parse()
    finally:
        loader.dispose()
