"""Deterministic YAML text: same data, same bytes, on every machine."""

from __future__ import annotations

import re
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


def _pyyaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True)


def to_yaml(data: Any, indent: int = 0) -> str:
    """YAML for one value; with indent, every line but the first is shifted for embedding in a template."""
    text = _block_text(data)
    if text is None:
        text = _pyyaml(data)
        if text.endswith("\n...\n"):  # the end marker after a scalar document, on its own line
            text = text[: -len("...\n")]
    text = text.rstrip("\n")
    if indent:
        pad = " " * indent
        first, *rest = text.split("\n")
        text = "\n".join([first] + [(pad + line) if line else line for line in rest])
    return text


def dump_documents(documents: list[Any]) -> str:
    return "---\n".join(to_yaml(d) + "\n" for d in documents)


# What PyYAML's converters raise for a value its tag cannot hold (`!!int yes`, `!!bool 1`):
# not a YAMLError, so a reader that handles bad YAML would still end in a traceback.
CONVERSION_ERRORS = (ValueError, KeyError, TypeError, OverflowError)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str | bytes) -> Any:
    """``yaml.safe_load`` through libyaml, where a value its tag cannot hold is a YAMLError
    like any other mistake in the text."""
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)
    except CONVERSION_ERRORS as exc:
        raise _unconverted(exc) from None


def load_all(text: str) -> list[Any]:
    try:
        return [d for d in yaml.load_all(text, Loader=_SAFE_LOADER) if d is not None]
    except CONVERSION_ERRORS as exc:
        raise _unconverted(exc) from None


def _unconverted(exc: Exception) -> yaml.YAMLError:
    return yaml.YAMLError(f"a value cannot be read as its YAML type: {str(exc)[:200]}")


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


# -- the common case without the emitter -------------------------------------------------
# A large repository's YAML is mostly small mappings and lists of short one-line strings
# (1,000 nodes' facts, labels and k3s configs). For those, the block layout PyYAML writes is
# fixed: a mapping's entries at its indent, a list under a key at the key's own indent ("- "),
# a mapping inside a list item starting on the dash's line; {} and [] for empty ones. Only a
# scalar's own text (plain, 'single' or "double" quoted) takes PyYAML's analysis, and that
# depends on the text and on whether it is a key: each is asked once and remembered. Anything
# else (a text with a line break or long enough to fold, an object met twice (an anchor), a
# type other than dict, list, str, int, bool and None, an empty or scalar document) goes
# through PyYAML as a whole.


class _Unsure(Exception):
    pass


# Texts PyYAML writes plain whenever they resolve to a string (its analyze_scalar finds no
# block indicator, special character or leading/trailing space in them): a letter, digit, _ or
# / first, or a . or - or -- before one of those (paths, dotfiles, command-line flags; "-"
# alone, "- x", "---" and "..." are indicators), then these, and no ": " (a ':' before a space
# is an indicator; _scalar_text checks it).
_SAFE_PLAIN = re.compile(r"(?:[A-Za-z0-9_/]|[.-][A-Za-z0-9_/]|--[A-Za-z0-9_])(?:[A-Za-z0-9_./=:,()+@ -]*[A-Za-z0-9_./=,()+@-])?")
_MAX_SCALAR = 200  # far below the 4096 columns where PyYAML would fold a line
_MAX_DEPTH = 40
_MAX_SIMPLE_KEY = 100  # PyYAML's simple keys end below 128 characters
_SCALAR_TEXTS: dict[tuple[bool, type, Any], str] = {}
_SCALAR_TYPES = frozenset({str, int, bool, type(None)})


def _scalar_text(value: Any, key: bool) -> str:
    kind = type(value)
    if kind not in _SCALAR_TYPES:
        raise _Unsure
    memo = (key, kind, value)
    text = _SCALAR_TEXTS.get(memo)
    if text is not None:
        return text
    if kind is str:
        if len(value) > _MAX_SCALAR or "\n" in value:
            raise _Unsure
        if not _SAFE_PLAIN.fullmatch(value):
            text = _quoted_text(value, key)
        elif ": " not in value and _plain_tag(value) == _STR:
            text = value
        else:
            # Printable ASCII without a quote or an edge space, read back as another type ("8080",
            # "true") or holding an indicator: PyYAML's choice is then always single quotes.
            text = "'" + value + "'"
    elif kind is bool:
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    else:
        text = str(value)
    if key and len(text) >= _MAX_SIMPLE_KEY:
        raise _Unsure  # PyYAML writes a long key as a complex one ("? key")
    if len(_SCALAR_TEXTS) > 50_000:
        _SCALAR_TEXTS.clear()
    _SCALAR_TEXTS[memo] = text
    return text


def _quoted_text(value: str, key: bool) -> str:
    """PyYAML's text for a scalar that needs its analysis, as a key or as a value; the same at
    the top and four levels down, or it is not taken (a line break such as U+2028 continues
    the text at the current indent)."""
    texts = set()
    for prefix, data in (("", {value: None} if key else {"k": value}), ("- - ", [[{value: None} if key else {"k": value}]])):
        out = _pyyaml(data)
        if not out.startswith(prefix):
            raise _Unsure
        out = out[len(prefix) :]
        if key:
            if not out.endswith(": null\n") or out.startswith("?"):
                raise _Unsure
            texts.add(out[: -len(": null\n")])
        else:
            if not out.startswith("k: ") or not out.endswith("\n"):
                raise _Unsure
            texts.add(out[len("k: ") : -1])
    text = texts.pop()
    if texts or "\n" in text:
        raise _Unsure
    return text


_MULTILINE_TEXTS: dict[tuple[bool, str], str] = {}
_MAX_LINE = 1000


def _multiline_text(value: str, item: bool) -> str:
    """PyYAML's text for a value with line breaks (a literal block, mostly) as a mapping value
    (item False) or a list item, written at indent 0: its later lines move with the indent
    of the place it goes to, which is checked once against PyYAML's own text two levels down."""
    memo = (item, value)
    text = _MULTILINE_TEXTS.get(memo)
    if text is not None:
        return text
    if max(len(line) for line in value.split("\n")) > _MAX_LINE:
        raise _Unsure  # a long line could be folded somewhere
    if item:
        shallow, deep, shift = _pyyaml([value]), _pyyaml([[value]]), 2
        prefixes = ("- ", "- - ")
    else:
        shallow, deep, shift = _pyyaml({"k": value}), _pyyaml([[{"k": value}]]), 4
        prefixes = ("k: ", "- - k: ")
    for out, prefix in ((shallow, prefixes[0]), (deep, prefixes[1])):
        if not out.startswith(prefix) or not out.endswith("\n") or out.endswith("...\n"):
            raise _Unsure  # "..." ends a document whose last text keeps its final line breaks
    text = shallow[len(prefixes[0]) : -1]
    if _shifted(text, shift) != deep[len(prefixes[1]) : -1]:
        raise _Unsure
    if len(_MULTILINE_TEXTS) > 1_000:
        _MULTILINE_TEXTS.clear()
    _MULTILINE_TEXTS[memo] = text
    return text


def _shifted(text: str, indent: int) -> str:
    """Every line but the first moved right by indent; empty lines stay empty, as PyYAML writes them."""
    if not indent or "\n" not in text:
        return text
    pad = " " * indent
    first, *rest = text.split("\n")
    return "\n".join([first] + [(pad + line) if line else line for line in rest])


def _plain_tag(value: str) -> str:
    tag = _PLAIN_TAGS.get(value)
    if tag is None:
        tag = _RESOLVER.resolve(ScalarNode, value, (True, False))
    return tag


_RESOLVER = yaml.resolver.Resolver()


def _block_text(data: Any) -> str | None:
    kind = type(data)
    if (kind is not dict and kind is not list) or not data:
        return None
    out: list[str] = []
    try:
        if kind is dict:
            _mapping(data, 0, out, False, set())
        else:
            _sequence(data, 0, out, False, set())
    except (_Unsure, TypeError):  # TypeError: an unhashable scalar, which PyYAML refuses in its words
        return None
    return "".join(out)


def _enter(value: Any, indent: int, seen: set[int]) -> None:
    if id(value) in seen or indent > 2 * _MAX_DEPTH:
        raise _Unsure  # met twice: PyYAML writes an anchor and an alias
    seen.add(id(value))


def _mapping(mapping: dict[Any, Any], indent: int, out: list[str], inline: bool, seen: set[int]) -> None:
    _enter(mapping, indent, seen)
    pad = " " * indent
    for key, value in mapping.items():
        if inline:
            inline = False  # the first entry of a list item's mapping goes on the dash's line
        else:
            out.append(pad)
        out.append(_scalar_text(key, True))
        kind = type(value)
        if kind is dict:
            if value:
                out.append(":\n")
                _mapping(value, indent + 2, out, False, seen)
            else:
                _enter(value, indent, seen)  # an empty one met twice is an anchor too
                out.append(": {}\n")
        elif kind is list:
            if value:
                out.append(":\n")
                _sequence(value, indent, out, False, seen)  # at the key's indent, as PyYAML writes it
            else:
                _enter(value, indent, seen)  # an empty one met twice is an anchor too
                out.append(": []\n")
        elif type(value) is str and "\n" in value:
            out.append(": " + _shifted(_multiline_text(value, False), indent) + "\n")
        else:
            out.append(": " + _scalar_text(value, False) + "\n")


def _sequence(items: list[Any], indent: int, out: list[str], inline: bool, seen: set[int]) -> None:
    _enter(items, indent, seen)
    pad = " " * indent
    for item in items:
        if inline:
            inline = False
        else:
            out.append(pad)
        kind = type(item)
        if kind is dict or kind is list:
            if item:  # a mapping or list inside an item starts on the dash's line
                out.append("- ")
                (_mapping if kind is dict else _sequence)(item, indent + 2, out, True, seen)
            else:
                _enter(item, indent, seen)
                out.append("- {}\n" if kind is dict else "- []\n")
        elif type(item) is str and "\n" in item:
            out.append("- " + _shifted(_multiline_text(item, True), indent) + "\n")
        else:
            out.append("- " + _scalar_text(item, False) + "\n")
