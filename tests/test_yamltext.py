"""to_yaml's dumper represents plain data itself and remembers what each plain scalar resolves
to; its bytes must be those of PyYAML's own safe dumper with the same literal-block rule, anchors
for an object met twice included, on every kind of value."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.shared import yamltext
from generator.shared.yamltext import to_yaml


class StockDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    pass


def _literal(dumper: Any, value: str) -> Any:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


StockDumper.add_representer(str, _literal)


def stock(data: Any) -> str:
    text = yaml.dump(data, Dumper=StockDumper, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True)
    if text.endswith("\n...\n"):  # the document end marker, not a text that ends in dots
        text = text[: -len("...\n")]
    return text.rstrip("\n")


LABELS = {"kubernetes.io/arch": "amd64"}
CASES: list[Any] = [
    {},
    [],
    None,
    "plain",
    "",
    {"a": ""},
    # Texts that resolve to another type when plain, so they must be quoted; and near misses.
    {"s": ["yes", "no", "on", "off", "true", "True", "null", "~", "1", "0x1f", "1_000", "1.5", ".inf", "1e3", "12:30", "<<", "=", "-", "2026-12-01"]},
    {"s": ["yess", "nope", "1a", "v1.2.3", "a: b", "#x", "x #y", " lead", "trail ", "'q'", '"dq"', "*star", "&amp", "!bang", "%p", "@at", "`tick"]},
    {"multi": "line one\nline two\n", "no_end": "a\nb", "lead": "  indented\nnext\n", "blank": "\n\nx\n"},
    {"i": 3, "neg": -4, "b": True, "f": False, "n": None, "big": 10**20, "fl": 1.5, "nan": float("inf")},
    {"nested": {"list": [{"k": "v", "l": [1, 2, [3, []]]}, {}], "empty": {}}},
    {"unicode": "café ✓", "tab": "a\tb", "cr": "a\rb"},
    # One object in two places: an anchor and an alias, in the same places as PyYAML's.
    {"x": LABELS, "y": LABELS, "z": [LABELS, [LABELS]]},
    {"t": (1, 2), "set_like": {"a": None}},
    {1: "int key", False: "bool key", None: "null key", "k": {2: 3}},
    [[["deep"]], [], {}, [{}], {"a": [[]]}],
    {"k" * 99: 1, "k" * 100: 2, "k" * 150: {"x" * 150: "y" * 150}},  # around the simple-key bound
    {"k": [{"a": [{"b": {"c": [1]}}]}], "e": [[], {}]},
]


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_same_bytes_as_the_stock_dumper(data: Any) -> None:
    assert to_yaml(data) == stock(data)
    assert to_yaml(data) == stock(data)  # again: the second time from the remembered tags


def test_remembered_tags_stay_bounded() -> None:
    to_yaml([f"v{i}" for i in range(60_000)])
    assert len(yamltext._PLAIN_TAGS) <= 50_001


TRICKY = ["yes", "No", "~", "null", "NULL", "1e3", "0x1F", "0o17", "1_000", "12:30:00", "2026-12-01", ".inf", "-.5", "+1", "0", "01",
          "-", "--", "- a", "a:", "a: b", ":a", "#a", "a #b", "a#b", "@x", "`x", "'", '"', "%x", "!x", "&a", "*a", "?", "? a", "|", ">",
          "[", "]", "{", "}", ",", "=", "<<", " ", "a ", " a", "é", "a\tb", "\x85", "\u2028", "a\nb", "a\n", "x" * 199, "x" * 201,
          "a b " * 60, "a=b", "k.io/x", "v1.2", "1.2.3.4", "10.0.0.1:6443", "https://x.example.com", "_x", "x_", "a-b", "-a",
          "a :b", "a:b", "a b:", "a b: c", "1:2:3", "190:20:30", "a , b", "(x)", "x (y)", "a  b", "a@b", "a+b", "http://x:80/p",
          "sha256:0a1b", "a: ", "-a b", "a ~", "~ a", "a,", "a[b]", "x=y z", "2001:db8::1", "fe80::1%eth0", "1:", "_:_", "a:-",
          # paths, dotfiles and flags, which skip the emitter, and their look-alikes that are indicators or other types
          "/", "/data", "/a: b", "/a #b", ".gitignore", ".a/b.c", ".5", ".e3", "...", "....", "---", "---a", "-c", "--config",
          "-1", "-.5x", "-/x", ".-", "-.", "./x", "/-", "-:", ".:", "/:", "-:a",
          # line breaks: literal blocks, their indentation and chomping indicators, and what cannot be one
          "a\n", "a\n\n", "a\n\n\n", "\na", " a\nb", "a \nb", "a\n b", "a\r\nb", "a\tb\nc", "\n", "\n\n", "é\nx", "a\u2028b\nc",
          "- a\n- b\n", "#x\ny", "x" * 1100 + "\ny", "k: v\nk2: v2\n", "  \n  x\n", "a\n\nb\n", "'q'\n\"d\"\n", "\ta\nb"]
texts = st.one_of(st.sampled_from(TRICKY), st.text(max_size=8),
                  st.text(alphabet="ab:#- '\"=./_0123456789é\n", max_size=6),
                  st.text(alphabet="ab1:, ()+@-=./_~", max_size=7))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), texts)
keys = st.one_of(texts, st.integers(-3, 3), st.none(), st.booleans())
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=25)


@settings(max_examples=600, deadline=None)
@given(values, st.booleans())
def test_any_plain_data(data: Any, share: bool) -> None:
    if share and isinstance(data, dict) and data:
        first = next(iter(data.values()))
        data = {**data, "again": first, "list": [first]}
    assert to_yaml(data) == stock(data)
    assert to_yaml(data, indent=6) == stock_indented(data, 6)


def stock_indented(data: Any, indent: int) -> str:
    first, *rest = stock(data).split("\n")
    return "\n".join([first] + [(" " * indent + line) if line else line for line in rest])


def test_the_common_shapes_skip_the_emitter() -> None:
    """Without this the comparisons above could pass with every value sent through PyYAML."""
    facts = {"nodes": [{"name": f"node{i:03d}", "role": "controlplane", "labels": {"kubernetes.io/arch": "amd64", "clustergen.dev/gpu": "true"},
                        "taints": [{"key": "x", "effect": "NoSchedule"}], "allocatable": {"memory": "15000Mi", "cpu": "3500m"}} for i in range(3)],
             "nested": [[1, [2, []]], {}], "empty": [], "ports": ["10.0.0.1:6443", "yes", "a b"], 7: None, True: False,
             "script": {"content": "#!/bin/sh\nset -e\n\n  echo hi\n", "lines": ["one\ntwo", " lead\nx\n"]}}
    assert yamltext._block_text(facts) == stock(facts) + "\n"
    for declined in ({"a": "keeps\n\n"}, {"a\nb": 1}, {"a": LABELS, "b": LABELS}, {"a": 1.5}, {"a": ("t",)}, {"k" * 300: 1}, {}, [], "text"):
        assert yamltext._block_text(declined) is None


SYNTAX = [
    ("a: 1\n", True),
    ("---\na: 1\n---\nb: [x, y]\n", True),  # every document of a stream is read
    ("", True),
    ("a: |\n  line\n  line\nb: 'q'\n", True),
    ("a: [1, 2\n", False),  # an unclosed flow sequence
    ("a: 1\n b: 2\n", False),  # a mapping value where none may start
    ("---\na: 1\n---\nb: {x\n", False),  # broken in the second document only
    ("a: 'open\n", False),
    ("- a\nb: c\n", False),
    ("a: *nowhere\n", True),  # an unknown alias is the composer's error, not the parser's
]


@pytest.mark.parametrize(("text", "well_formed"), SYNTAX)
def test_check_syntax(text: str, well_formed: bool) -> None:
    def parses(check: Any) -> bool:
        try:
            check(text)
        except yaml.YAMLError:
            return False
        return True

    def by_events(text: str) -> None:
        for _ in yaml.parse(text, Loader=yaml.CSafeLoader):
            pass

    assert parses(yamltext.check_syntax) is well_formed
    assert parses(by_events) is well_formed  # as the event walk it replaced


@pytest.mark.parametrize("text", ["a\nb", "a\nb\n", " lead\nx\n", "a\n\n  b\n", "x \ny", "é\n\tz"])
def test_line_breaks_at_every_depth(text: str) -> None:
    """A text's later lines move with its indent; checked by _multiline_text two levels down
    only, so here down to seven, through mappings, lists and both mixed."""
    for wrap in (lambda v: {"k": v}, lambda v: [v], lambda v: [{"k": v}], lambda v: {"k": [v]}):
        data: Any = text
        for _ in range(7):
            data = wrap(data)
            assert yamltext._block_text(data) is not None, "taken by to_yaml's own layout"
            assert to_yaml(data) == stock(data)
            assert to_yaml({"first": 1, "x": data, "after": "y"}) == stock({"first": 1, "x": data, "after": "y"})


def test_paths_flags_and_quoted_numbers_are_written_without_the_emitter(monkeypatch) -> None:
    """A container's command line, its mount paths and its quoted numbers were most of the texts
    a render sent through PyYAML (two dumps each): they are written directly, as PyYAML would."""
    data = {"command": ["/bin/sh", "-c", "--config", "/config"], "paths": ["/", ".gitignore", ".clustergen/age.key"],
            "numbers": ["8080", "0600", "true", "1.5"], "/etc/x": "-m", "8080": "a: b"}
    expected = stock(data)
    yamltext._SCALAR_TEXTS.clear()
    monkeypatch.setattr(yamltext, "_quoted_text", lambda value, key: pytest.fail(f"asked PyYAML about {value!r}"))
    assert yamltext._block_text(data) == expected + "\n"


@pytest.mark.parametrize(("data", "expected"), [
    ({"a": 1.5, "b": ["wait..."]}, "a: 1.5\nb:\n- wait..."),  # through PyYAML (a float): its last dots were cut
    (["0..."], "- 0..."),
    ("abc", "abc"),  # a scalar document: PyYAML's end marker goes
    (1.5, "1.5"),
])
def test_a_text_ending_in_dots_keeps_them(data: Any, expected: str) -> None:
    assert to_yaml(data) == expected
