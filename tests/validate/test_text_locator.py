"""TextLocator (one document composed per fault) against composing the whole file.

For every path in every document, and for paths that stop partway, the line must be the
one the whole-file compose gives; on the layouts a cut could get wrong (roots on the
'---' line, empty documents, comments and end markers between documents, CRLF, line
separators, anchors) as well as on the examples' generated repositories.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.validate.documents import TextLocator, locate, parse_documents

ROOT = Path(__file__).resolve().parents[2]


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str):
                found.extend(_paths(value, (*path, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_paths(value, (*path, i)))
    return found


def _check(text: str) -> int:
    docs = parse_documents(text, "f.yaml")
    locator = TextLocator(text, docs)
    checked = 0
    for doc in docs:
        for path in _paths(doc.data):
            for probe in (path, (*path, "absent"), (*path, 7)):
                if not probe:
                    continue
                assert locator(doc, probe) == locate(text, doc.index, probe), (text, doc.index, probe)
                checked += 1
    return checked


LAYOUTS = [
    "a: 1\nb: {c: 2}\n---\nd: [1, 2]\n---\ne:\n  f: g\n",
    "---\na: 1\n---\nb: 2\n",
    "--- {a: 1,\n  b: 2}\n--- [x, y]\n---\nc: 3\n",
    "a: 1\n---\n---\n\n---\nb: 2\n",  # empty documents between
    "# head\na: 1\n# tail of the first\n---\n# head of the second\nb:\n  - 1\n  - c: 2\n...\n---\nd: 3\n",
    "a: |\n  text\n  ---\n  not a marker\nb: 2\n---\nc: 3\n",
    "a: &x {k: v}\nb: *x\n---\nc: &x [1]\nd: *x\n",
    "  a: 1\n  b: 2\n---\n  c: 3\n",  # indented roots
    "a: 1\r\nb: 2\r\n---\r\nc: 3\r\n",  # CRLF: the whole file is composed
    "a: 1\n---\nb: \"x\u2028y\"\nz: 1\n---\nc: 3\n",  # a line separator: the whole file is composed
    # Each odd break shifts libyaml's line count past str.split's: the next document would be
    # cut a line late, and its second line parses as a document of its own.
    "a: \"x\u2028y\"\n---\nb: 1\nc: {d: 2}\n---\ne: 3\n",
    "a: \"x\u2029y\"\n---\nb: 1\nc: {d: 2}\n---\ne: 3\n",  # a paragraph separator
    "a: \"x\x85y\"\n---\nb: 1\nc: {d: 2}\n---\ne: 3\n",  # NEL, in a one-byte-per-character text
    "a: 1\rb: 1\n---\nb: 1\nc: {d: 2}\n---\ne: 3\n",  # a lone carriage return
    "%YAML 1.1\n---\na: 1\n---\nb: 2\n",
    "a: 1\n--- # comment\nb: 2\n",
    "key: value\n---\n'quoted key': 1\n\"x\": {y: [1, {z: 2}]}\n",
]


@pytest.mark.parametrize("text", LAYOUTS)
def test_layouts(text: str) -> None:
    assert _check(text) > 0


def test_bench_documents_with_faults() -> None:
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from validate import GENERATORS  # bench/validate.py

    text = "---\n".join(GENERATORS[i % len(GENERATORS)](i) for i in range(60))
    assert _check(text.replace("LOG_LEVEL: info", "LOG_LEVEL: [info]")) > 1000


def test_generated_repository_files(tmp_path: Path) -> None:
    from generator.cli import main

    out = tmp_path / "repo"
    assert main(["generate", str(ROOT / "examples" / "talos-argocd.yaml"), "-o", str(out)]) == 0
    checked = 0
    import yaml

    for path in sorted(out.rglob("*.yaml")):
        if ".git" in path.parts or "templates" in path.parts:  # Helm templates are no YAML yet
            continue
        try:
            checked += _check(path.read_text())
        except yaml.YAMLError:
            pytest.fail(f"{path} does not parse")
    assert checked > 1000


def test_one_compose_per_document() -> None:
    import generator.validate.documents as documents

    text = "---\n".join(f"a{i}: {{b: [1, 2, {{c: {i}}}]}}\n" for i in range(50))
    docs = parse_documents(text, "f.yaml")
    composed: list[int] = []
    real = documents.compose

    def counting(piece: str) -> Any:
        composed.append(piece.count("\n") + 1)
        return real(piece)

    documents.compose = counting
    try:
        locator = TextLocator(text, docs)
        for doc in docs[::7]:
            for _ in range(3):  # several faults in one document
                assert locator(doc, (f"a{doc.index}", "b", 2, "c")) == doc.line
    finally:
        documents.compose = real
    assert len(composed) == len(docs[::7]) and max(composed) <= 3  # one small piece each, never the file
