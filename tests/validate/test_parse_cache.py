"""Parsed YAML files are kept by their bytes (parse_cache.py): a second validate parses no
unchanged file and says exactly what the first said; an edit, a file that does not parse, or
another loader is parsed again."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from generator.validate import ValidateOptions, render_report, validate_repository
from generator.validate import parse_cache, scan

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: apps}
data: {mode: quiet}
"""


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Texts the scan parsed with the YAML loader (the real loader still runs)."""
    calls: list[int] = []
    real = scan.load_all

    def load_all(text: str):  # type: ignore[no-untyped-def]
        calls.append(len(text))
        return real(text)

    monkeypatch.setattr(scan, "load_all", load_all)
    scan._KEPT.clear()
    return calls


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "apps").mkdir(parents=True)
    (repo / "apps" / "web.yaml").write_text(DEPLOYMENT)
    (repo / "apps" / "other.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n")
    return repo


def _validate(repo: Path, cache: Path) -> str:
    report = validate_repository(repo, ValidateOptions(charts="local", cache_dir=cache, jobs=1))
    out = io.StringIO()
    render_report(report, "json", out)
    return out.getvalue()


def test_unchanged_files_are_not_parsed_again(tmp_path: Path, parsed: list[int]) -> None:
    repo, cache = _repo(tmp_path), tmp_path / "cache"
    first = _validate(repo, cache)
    assert len(parsed) == 2
    assert _validate(repo, cache) == first
    assert len(parsed) == 2, "both files came from the kept parses"


def test_an_edit_is_parsed_and_its_fault_seen(tmp_path: Path, parsed: list[int]) -> None:
    repo, cache = _repo(tmp_path), tmp_path / "cache"
    assert '"replicas"' not in _validate(repo, cache)
    (repo / "apps" / "web.yaml").write_text(DEPLOYMENT.replace("replicas: 2", "replicas: two"))
    report = _validate(repo, cache)
    assert len(parsed) == 3  # the edited file only
    assert "spec.replicas" in report and "apps/web.yaml" in report


def test_a_file_that_does_not_parse_is_never_kept(tmp_path: Path, parsed: list[int]) -> None:
    repo, cache = _repo(tmp_path), tmp_path / "cache"
    (repo / "apps" / "web.yaml").write_text(DEPLOYMENT.replace("replicas: 2", "replicas: [2"))
    first = _validate(repo, cache)
    assert "invalid YAML" in first
    assert _validate(repo, cache) == first
    assert len(parsed) == 3  # the broken file both times, the other once


def test_another_loader_parses_again(tmp_path: Path, parsed: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    repo, cache = _repo(tmp_path), tmp_path / "cache"
    first = _validate(repo, cache)
    real = parse_cache._loader_identity()
    monkeypatch.setattr(parse_cache, "_loader_identity", lambda: real + b" with a changed documents.py")
    scan._KEPT.clear()
    assert _validate(repo, cache) == first
    assert len(parsed) == 4


def test_the_loader_identity_is_the_loader_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from generator.validate import documents

    copy = tmp_path / "documents.py"
    copy.write_bytes(Path(documents.__file__).read_bytes())
    monkeypatch.setattr(documents, "__file__", str(copy))
    same = parse_cache._loader_identity()
    copy.write_bytes(copy.read_bytes() + b"\n# a change\n")
    assert parse_cache._loader_identity() != same


@pytest.mark.parametrize("text", [
    "a: &x {b: 1}\nc: *x\n",  # aliases stay one object
    "x: !!binary aGVsbG8=\nf: .inf\n",
    "s: !!set {a, b}\nt: 2020-01-01\nn: ~\nb: yes\ni: 0x1f\n",
])
def test_kept_objects_are_the_parsed_objects(tmp_path: Path, text: str) -> None:
    from generator.validate.documents import load_all

    kept = parse_cache.KeptParses(tmp_path / "parsed", str(tmp_path))
    entry = load_all(text)
    key = kept.key(text.encode())
    kept.save([key], {key: entry})
    got = parse_cache.KeptParses(tmp_path / "parsed", str(tmp_path)).get(key)
    assert got == entry
    if "&x" in text:
        assert got is not None and got[0][0]["a"] is got[0][0]["c"]


def test_a_broken_pack_is_a_miss(tmp_path: Path) -> None:
    from generator.validate.documents import load_all

    kept = parse_cache.KeptParses(tmp_path / "parsed", str(tmp_path))
    key = kept.key(DEPLOYMENT.encode())
    kept.save([key], {key: load_all(DEPLOYMENT)})
    whole = kept.path.read_bytes()
    for cut in (1, len(whole) // 2, len(whole) - 1):
        kept.path.write_bytes(whole[:cut])
        assert parse_cache.KeptParses(tmp_path / "parsed", str(tmp_path)).get(key) is None


def test_two_files_alike_never_share_objects(tmp_path: Path, parsed: list[int]) -> None:
    repo, cache = _repo(tmp_path), tmp_path / "cache"
    (repo / "apps" / "twin.yaml").write_text(DEPLOYMENT)
    first = _validate(repo, cache)
    assert _validate(repo, cache) == first
    assert len(parsed) == 3 + 1  # the twin is parsed again: one entry is handed out once a run


def test_only_changed_runs_write_the_pack(tmp_path: Path, parsed: list[int]) -> None:
    repo, cache = _repo(tmp_path), tmp_path / "cache"
    _validate(repo, cache)
    (pack,) = (cache / "parsed").glob("*.pack")
    stamp = pack.stat().st_mtime_ns
    _validate(repo, cache)
    assert pack.stat().st_mtime_ns == stamp
    (repo / "apps" / "other.yaml").unlink()  # a file gone: its entry leaves the pack
    _validate(repo, cache)
    assert pack.stat().st_mtime_ns != stamp
    _validate(repo, cache)
    assert len(parsed) == 2
