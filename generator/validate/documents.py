"""YAML documents with enough origin to point a user at the right line.

Loading uses libyaml (``CSafeLoader``) and records only each document's start
line, which costs nothing extra.  Finding the line of a field inside a
document needs the node tree, so ``locate`` re-composes the file, and only
when there is a fault to report.
"""

from __future__ import annotations

import re
from dataclasses import InitVar, dataclass, field
from typing import Any

import yaml

from ..shared.yamltext import CONVERSION_ERRORS

_BaseLoader: type
try:
    _BaseLoader = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


_TAG = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP, _MERGE = (
    _TAG + t for t in ("str", "map", "seq", "int", "float", "bool", "null", "timestamp", "merge"))
_Scalar, _Mapping, _Sequence = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode


class _Loader(_BaseLoader):
    """libyaml composes; a tight converter builds the Python objects.

    PyYAML's generic constructor machinery costs more than libyaml's parsing
    for plain Kubernetes YAML; common tags are converted directly and
    anything unusual (merge keys, !!binary, !!set, …) falls back to it.
    """

    def __init__(self, stream: Any):
        super().__init__(stream)
        self.start_lines: list[int] = []

    def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
        # libyaml calls this for every node; PyYAML's version rebuilds a list
        # of candidate resolvers each time.
        if kind is _Scalar:
            if implicit[0]:
                # Keys and common values repeat across documents: resolve each text once.
                tag = _RESOLVED.get(value)
                if tag is None:
                    tag = _STR
                    for candidate, regexp in _IMPLICIT.get(value[:1], ()):
                        if regexp.match(value):
                            tag = candidate
                            break
                    if len(_RESOLVED) < _RESOLVED_MAX:
                        _RESOLVED[value] = tag
                return tag
            return _STR
        return _MAP if kind is _Mapping else _SEQ

    # Path resolvers are unused; libyaml still calls these for every node (twice a node), so
    # they are builtins that do nothing, not Python functions: a private dict's get(node,
    # index) and clear().
    descend_resolver = dict[Any, Any]().get
    ascend_resolver = {}.clear

    def construct_document(self, node: yaml.Node) -> Any:
        self.start_lines.append(node.start_mark.line + 1)
        try:
            return _Builder(self).build(node)
        finally:
            self.constructed_objects.clear()
            self.recursive_objects.clear()


class _Builder:
    """One document's Python objects from its nodes. Plain keys and text values are most
    nodes, so the collection loops take them without a call."""

    def __init__(self, loader: _Loader):
        self.loader = loader
        self.memo: dict[int, Any] = {}  # an alias is the anchored node itself

    def scalar(self, n: yaml.Node) -> Any:
        tag = n.tag
        # Kubernetes reads YAML through JSON, where a date is text.
        if tag in (_STR, _TIMESTAMP):
            return n.value
        if tag in (_INT, _BOOL):
            # Replicas, ports and flags repeat across documents: each text is converted once.
            known = _CONVERTED.get((tag, n.value))
            if known is None:
                known = self.convert(self.loader.construct_yaml_int if tag == _INT else self.loader.construct_yaml_bool, n)
                if len(_CONVERTED) < _RESOLVED_MAX:
                    _CONVERTED[(tag, n.value)] = known
            return known
        if tag == _NULL:
            return None
        if tag == _FLOAT:
            return self.convert(self.loader.construct_yaml_float, n)
        return self.generic(n)

    def generic(self, n: yaml.Node) -> Any:
        """PyYAML's own constructor, for what the loops above do not take (merge keys,
        !!binary, !!set, …)."""
        return self.convert(lambda node: self.loader.construct_object(node, deep=True), n)

    @staticmethod
    def convert(construct: Any, n: yaml.Node) -> Any:
        """A value its tag cannot hold (``!!int yes``, ``!!bool 1``) is the file's YAML error:
        PyYAML's converters raise ValueError or KeyError there, which would end the run."""
        try:
            return construct(n)
        except CONVERSION_ERRORS as exc:
            tag = n.tag.replace(_TAG, "!!") if isinstance(n.tag, str) else n.tag
            why = "" if isinstance(exc, KeyError) else f" ({str(exc)[:200]})"
            if isinstance(n.value, str):
                shown = repr(n.value) if len(n.value) <= 40 else repr(n.value[:40]) + "…"  # a 5,000-digit int
                what = f"{shown} is not a valid {tag} value"
            else:
                what = f"this {tag} cannot be read"
            raise yaml.constructor.ConstructorError(None, None, what + why, n.start_mark) from None

    def build(self, n: yaml.Node) -> Any:
        cls = n.__class__
        if cls is _Scalar:
            return self.scalar(n)
        seen = self.memo.get(id(n))
        if seen is not None:
            return seen
        if cls is _Mapping and n.tag == _MAP:
            return self.mapping(n)
        if cls is _Sequence and n.tag == _SEQ:
            items: list = []
            self.memo[id(n)] = items
            scalar, build = self.scalar, self.build
            items.extend((x.value if x.tag == _STR else scalar(x)) if x.__class__ is _Scalar else build(x)
                         for x in n.value)
            return items
        return self.generic(n)

    def mapping(self, n: yaml.Node) -> Any:
        out: dict = {}
        self.memo[id(n)] = out
        scalar, build = self.scalar, self.build
        for key, value in n.value:
            if key.__class__ is _Scalar and key.tag == _STR:
                k = key.value
            elif key.tag == _MERGE:
                return self.generic(n)
            else:
                k = build(key)
            try:
                out[k] = (value.value if value.tag == _STR else scalar(value)) if value.__class__ is _Scalar \
                    else build(value)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "found an unhashable mapping key", key.start_mark) from None
        return out


_RESOLVED: dict[str, str] = {}  # plain scalar text -> its tag
_CONVERTED: dict[tuple[str, str], int | bool] = {}  # (tag, text) -> its int or bool (immutable, so shared)
_RESOLVED_MAX = 200_000
# YAML 1.1's `=` "value" tag has no meaning in Kubernetes' YAML (CRD enums list "=" as text).
_IMPLICIT = {first: tuple((tag, regexp) for tag, regexp in resolvers if tag != _TAG + "value")
             for first, resolvers in _Loader.yaml_implicit_resolvers.items() if first is not None}
if None in _Loader.yaml_implicit_resolvers:  # pragma: no cover - SafeLoader registers none
    raise ImportError("wildcard implicit resolvers are not supported by the fast resolver")


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return loader.construct_scalar(node)


_Loader.add_constructor(_TIMESTAMP, _timestamp_as_text)

RAW = "raw"
BUILT = "built"
RENDERED = "rendered"


@dataclass(slots=True)
class Document:
    data: Any
    file: str  # repo-relative file the fault should name
    index: int  # position in that file's stream, for locate(); -1 when unknown
    line: int | None  # first line of the document in ``file``
    source: str = RAW  # raw | built (kustomize) | rendered (helm)
    origin: str = ""  # e.g. "kustomize build apps/home"
    namespace_default: InitVar[str] = ""  # the namespace a controller would apply it to
    # Read on every check, tens of thousands of times a run: computed once, as fields, not
    # properties (nothing changes a document's data once it is parsed).
    api_version: str = field(init=False, default="")
    kind: str = field(init=False, default="")
    name: str = field(init=False, default="")
    metadata: dict = field(init=False, default_factory=dict)
    is_kubernetes: bool = field(init=False, default=False)
    sops_encrypted: bool = field(init=False, default=False)  # a SOPS file's document, with its mac
    namespace: str = field(init=False, default="")  # its own, else the default one

    def __post_init__(self, namespace_default: str) -> None:
        if isinstance(self.data, dict):
            v, k, m = self.data.get("apiVersion"), self.data.get("kind"), self.data.get("metadata")
            self.api_version = v if isinstance(v, str) else ""
            self.kind = k if isinstance(k, str) else ""
            self.is_kubernetes = bool(self.api_version and self.kind)
            sops = self.data.get("sops")
            self.sops_encrypted = isinstance(sops, dict) and "mac" in sops
            if isinstance(m, dict):
                self.metadata = m
                n = m.get("name")
                self.name = n if isinstance(n, str) else ""
        self.default_namespace(namespace_default)

    def default_namespace(self, namespace: str) -> None:
        """The namespace a controller applies the document to when it names none itself."""
        own = self.metadata.get("namespace")
        self.namespace = own if isinstance(own, str) and own else namespace

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.data, dict)

    @property
    def ident(self) -> str:
        parts = [self.kind or "?"]
        if self.namespace:
            parts.append(self.namespace)
        parts.append(self.name or "?")
        return "/".join(parts)


def load_all(text: str) -> tuple[list[Any], list[int]]:
    """Every document of a YAML stream and its 1-based start line.
    Raises ``yaml.YAMLError`` on the first syntax error."""
    loader = _Loader(text)
    docs: list[Any] = []
    try:
        while loader.check_data():
            docs.append(loader.get_data())
    finally:
        loader.dispose()
    return docs, loader.start_lines


def error_line(exc: yaml.YAMLError) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None


def error_message(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        return f"invalid YAML: {context + ', ' if context else ''}{problem}"
    return f"invalid YAML: {exc}"


def parse_documents(text: str, file: str, source: str = RAW, origin: str = "") -> list[Document]:
    docs, lines = load_all(text)
    return documents_of(docs, lines, file, source, origin)


def documents_of(docs: list[Any], lines: list[int], file: str, source: str = RAW, origin: str = "") -> list[Document]:
    """``load_all``'s objects and start lines as Documents."""
    # An empty document (a stray '---') is not a resource; keep indexes stable.
    return [
        Document(data, file, i, lines[i] if i < len(lines) else None, source, origin)
        for i, data in enumerate(docs)
        if data is not None
    ]


PathPart = str | int

_SIMPLE_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


def json_path(parts: tuple[PathPart, ...] | list[PathPart]) -> str:
    """('spec', 'containers', 0, 'image') -> spec.containers[0].image"""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif _SIMPLE_KEY.match(p):
            out += f".{p}" if out else p
        else:
            out += f'["{p}"]'
    return out


def compose(text: str) -> list[Any] | None:
    """The node trees of every document in ``text``, or None when it does not compose."""
    try:
        # _Loader's resolver gives the same nodes as PyYAML's, in a fraction of the time;
        # locating reads only their values and marks.
        return list(yaml.compose_all(text, Loader=_Loader))
    except yaml.YAMLError:
        return None


# Where libyaml and str.split("\n") could count lines differently, a file is composed whole.
_ODD_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


def _has_odd_breaks(text: str) -> bool:
    # Four substring searches, not one character class: the class is tested character by
    # character, 30% of what a 1%-faulty validate spends on its faults.
    return any(br in text for br in _ODD_BREAKS)


class TextLocator:
    """The line of a path inside one document of one file, composing only that document.

    A fault used to re-compose its whole file; a file's documents are cut apart at the
    start lines the first parse recorded, so a fault costs one document's compose, once
    per document however many faults it has. Where the cut would not give the document
    as the whole file does (its root not where the parse saw it, odd line breaks), the
    whole file is composed, once."""

    def __init__(self, text: str, docs: list[Document]):
        self.text = text
        starts = sorted((d.index, d.line) for d in docs if d.index >= 0 and d.line)
        self._spans = {index: (line, after[1] if after else None)
                       for (index, line), after in zip(starts, [*starts[1:], None], strict=False)}
        self._lines: list[str] | None = None
        self._documents: dict[int, tuple[Any, int] | None] = {}
        self._whole: list[Any] | None | bool = False

    def __call__(self, doc: Document, path: tuple[PathPart, ...]) -> int | None:
        if not path:
            return doc.line
        found = self._document(doc.index)
        if found is None:
            return None
        node, offset = found
        return _locate_node(node, path) + offset

    def _document(self, index: int) -> tuple[Any, int] | None:
        if index not in self._documents:
            self._documents[index] = self._cut(index) or self._from_whole(index)
        return self._documents[index]

    def _cut(self, index: int) -> tuple[Any, int] | None:
        span = self._spans.get(index)
        if span is None or _has_odd_breaks(self.text):
            return None
        if self._lines is None:
            self._lines = self.text.split("\n")
        start, end = span
        piece = "\n".join(self._lines[start - 1:end - 1 if end else None])
        nodes = compose(piece)
        if not nodes or nodes[0] is None or nodes[0].start_mark.line != 0:
            return None
        return nodes[0], start - 1

    @property
    def broken(self) -> bool:
        """Whether the whole file was needed and does not compose."""
        return self._whole is None

    def _from_whole(self, index: int) -> tuple[Any, int] | None:
        if self._whole is False:
            self._whole = compose(self.text)
        nodes = self._whole
        if not isinstance(nodes, list) or index >= len(nodes) or nodes[index] is None:
            return None
        return nodes[index], 0


def locate(text: str, index: int, parts: tuple[PathPart, ...] | list[PathPart]) -> int | None:
    """1-based line of ``parts`` inside document ``index`` of ``text`` (the
    deepest part that exists), or None when the text cannot be composed."""
    return locate_in(compose(text), index, parts)


def locate_in(nodes: list[Any] | None, index: int, parts: tuple[PathPart, ...] | list[PathPart]) -> int | None:
    """``locate`` on documents already composed (one parse per file, however many faults)."""
    if nodes is None:
        return None
    if index >= len(nodes) or nodes[index] is None:
        return None
    return _locate_node(nodes[index], parts)


def _locate_node(node: Any, parts: tuple[PathPart, ...] | list[PathPart]) -> int:
    line = node.start_mark.line + 1
    for part in parts:
        if isinstance(node, yaml.MappingNode) and not isinstance(part, int):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def mapping(value: Any) -> dict:
    """``value`` when it is a mapping, else an empty one: hand-written YAML
    puts anything anywhere, and a wrong type is the schema check's to report."""
    return value if isinstance(value, dict) else {}


def get_path(data: Any, parts: tuple[PathPart, ...] | list[PathPart]) -> Any:
    for part in parts:
        # A key into a mapping first: nearly every step is one.
        if isinstance(part, str) and isinstance(data, dict):
            data = data.get(part)
        elif isinstance(part, int) and isinstance(data, list) and part < len(data):
            data = data[part]
        else:
            return None
    return data
