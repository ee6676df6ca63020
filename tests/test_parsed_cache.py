"""clustergen's own YAML data (the catalog, the app chart's defaults) is parsed once per content:
the cache may make a run faster, never different."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest
import yaml

from generator.shared import cache

CATALOG = Path(__file__).resolve().parents[1] / "generator" / "catalog"


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home / "clustergen" / "parsed"


@pytest.fixture
def parses(monkeypatch):
    """How many times the YAML was really parsed."""
    count = []
    original = cache._parse

    def counting(raw):
        count.append(1)
        return original(raw)

    monkeypatch.setattr(cache, "_parse", counting)
    return count


def test_a_file_is_parsed_once_then_read_from_the_cache(tmp_path, cache_home, parses):
    data = tmp_path / "data.yaml"
    data.write_text("branches:\n  470: {kernel: '5.15'}\n  580: {kernel: '6.1'}\nlist: [1, 2.5, true, null]\n")
    first = cache.parsed_yaml_file(data)
    assert cache.parsed_yaml_file(data) == first == {"branches": {470: {"kernel": "5.15"}, 580: {"kernel": "6.1"}}, "list": [1, 2.5, True, None]}
    assert len(parses) == 1 and len(list(cache_home.iterdir())) == 1
    assert list(cache.parsed_yaml_file(data)["branches"]) == [470, 580]  # integer keys stay integers, in order


def test_an_edited_file_is_parsed_again(tmp_path, cache_home, parses):
    data = tmp_path / "data.yaml"
    data.write_text("version: v1.0.0\n")
    assert cache.parsed_yaml_file(data) == {"version": "v1.0.0"}
    data.write_text("version: v1.0.1\n")
    assert cache.parsed_yaml_file(data) == {"version": "v1.0.1"}
    assert len(parses) == 2


def test_a_damaged_entry_is_parsed_again(tmp_path, cache_home, parses):
    data = tmp_path / "data.yaml"
    data.write_text("a: [1, 2]\n")
    cache.parsed_yaml_file(data)
    (entry,) = cache_home.iterdir()
    entry.write_bytes(entry.read_bytes()[:3])
    assert cache.parsed_yaml_file(data) == {"a": [1, 2]}
    assert len(parses) == 2


def test_no_cache_folder_only_means_parsing(tmp_path, monkeypatch, parses):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    data = tmp_path / "data.yaml"
    data.write_text("a: 1\n")
    assert cache.parsed_yaml_file(data) == cache.parsed_yaml_file(data) == {"a": 1}
    assert len(parses) == 2


def test_data_marshal_cannot_keep_is_parsed_every_time(tmp_path, cache_home, parses):
    data = tmp_path / "data.yaml"
    data.write_text("released: 2026-12-01\n")
    assert cache.parsed_yaml_file(data) == cache.parsed_yaml_file(data) == {"released": datetime.date(2026, 12, 1)}
    assert len(parses) == 2 and list(cache_home.iterdir()) == []


@pytest.mark.parametrize("name", ["apps.yaml", "components.yaml", "profiles.yaml"])
def test_the_cached_catalog_is_the_catalog(cache_home, name):
    path = CATALOG / name
    direct = yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
    assert cache.parsed_yaml_file(path) == direct  # filled
    assert cache.parsed_yaml_file(path) == direct  # read back


@pytest.fixture
def fresh_environment():
    from generator.render import templates

    templates.environment.cache_clear()
    yield
    templates.environment.cache_clear()


def test_a_text_template_is_compiled_once_per_content(cache_home, monkeypatch, fresh_environment):
    from generator.render import templates

    env = templates.environment()  # its bytecode cache is this test's folder
    compiled = []
    original = env.compile
    monkeypatch.setattr(env, "compile", lambda source, name=None, *a, **k: compiled.append(name) or original(source, name, *a, **k))
    first = "Storage is {{ backend }} on {{ nodes | join(', ') }}.\n"
    assert templates.template_from_text(first).render(backend="Ceph", nodes=["a", "b"]) == "Storage is Ceph on a, b.\n"
    assert templates.template_from_text(first).render(backend="Longhorn", nodes=["c"]) == "Storage is Longhorn on c.\n"
    assert templates.template_from_text(first.replace("on", "across")).render(backend="Ceph", nodes=["a"]) == "Storage is Ceph across a.\n"
    assert len(compiled) == 2  # the second use of the first text came from the cache


@pytest.mark.parametrize(("written", "kept"), [(2, 2), (3, 3), (4, 3)])
def test_only_the_newest_entries_are_kept(tmp_path, written, kept):
    folder = tmp_path / "entries"
    for i in range(written):
        assert cache.store_entry(folder / f"{i}.json", b"[]")
        os.utime(folder / f"{i}.json", (1_000_000 + i, 1_000_000 + i))
    (folder / "notes.txt").write_text("not an entry")
    cache.keep_newest(folder, ".json", 3)
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{i}.json" for i in range(written - kept, written)] + ["notes.txt"])


def test_an_entry_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    entry = tmp_path / "entries" / "a.json"
    assert cache.store_entry(entry, b"old")

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache.os, "replace", full_disk)
    assert not cache.store_entry(entry, b"new")
    assert entry.read_bytes() == b"old" and [p.name for p in entry.parent.iterdir()] == ["a.json"]  # no scratch left


def _own_cache(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    assert cache.cache_folder("code") == home / "clustergen" / "code"
    return home / "clustergen"


@pytest.mark.parametrize(("where", "mode"), [
    ("clustergen", 0o777), ("clustergen", 0o770), ("clustergen", 0o702),
    ("clustergen/code", 0o777), ("clustergen/code", 0o720),
])
def test_a_cache_folder_others_may_write_is_not_used(tmp_path, monkeypatch, where, mode):
    """Compiled templates and dataclass methods run: a folder another account can write into
    could hand clustergen code of that account's."""
    _own_cache(tmp_path, monkeypatch)
    (tmp_path / "xdg" / where).chmod(mode)
    assert cache.cache_folder("code") is None


@pytest.mark.parametrize("mode", [0o700, 0o755, 0o750, 0o705])
def test_a_cache_folder_only_its_owner_writes_is_used(tmp_path, monkeypatch, mode):
    root = _own_cache(tmp_path, monkeypatch)
    root.chmod(mode)
    (root / "code").chmod(mode)
    assert cache.cache_folder("code") == root / "code"


def test_a_new_cache_folder_is_private(tmp_path, monkeypatch):
    root = _own_cache(tmp_path, monkeypatch)
    assert (root / "code").stat().st_mode & 0o777 == 0o700


def test_a_linked_cache_folder_is_not_used(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "code").mkdir(parents=True, mode=0o700)
    elsewhere.chmod(0o700)
    (tmp_path / "xdg").mkdir()
    (tmp_path / "xdg" / "clustergen").symlink_to(elsewhere)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_folder("code") is None


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_cache_folder_of_another_user_is_not_used(tmp_path, monkeypatch):
    root = _own_cache(tmp_path, monkeypatch)
    os.chown(root / "code", 4242, 4242)
    assert cache.cache_folder("code") is None
    os.chown(root / "code", 0, 0)
    os.chown(root, 4242, 4242)
    assert cache.cache_folder("code") is None


def test_parsed_files_of_older_contents_are_dropped(tmp_path, cache_home, monkeypatch):
    monkeypatch.setattr(cache, "PARSED_KEPT", 2)
    for i in range(3):
        data = tmp_path / f"data{i}.yaml"
        data.write_text(f"version: {i}\n")
        assert cache.parsed_yaml_file(data) == {"version": i}
        for entry in cache_home.iterdir():  # the older ones: this file's entry is the newest
            if entry.stat().st_mtime > 2_000_000:
                os.utime(entry, (1_000_000 + i, 1_000_000 + i))
    assert len(list(cache_home.glob("*.marshal"))) == 2


def test_compiled_templates_are_trimmed_once_per_run(tmp_path, monkeypatch, fresh_environment):
    from generator.render import templates

    monkeypatch.setattr(templates, "COMPILED_TEMPLATES_KEPT", 3)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = tmp_path / "xdg" / "clustergen" / "jinja"
    folder.mkdir(parents=True, mode=0o700)
    (tmp_path / "xdg" / "clustergen").chmod(0o700)
    for i in range(5):  # an older clustergen's compiled templates
        (folder / f"__jinja2_old{i}.cache").write_bytes(b"")
        os.utime(folder / f"__jinja2_old{i}.cache", (1_000_000 + i, 1_000_000 + i))
    templates.template_from_text("a {{ x }}\n").render(x=1)
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("__jinja2_old")) == ["__jinja2_old3.cache", "__jinja2_old4.cache"]
    templates.template_from_text("b {{ x }}\n").render(x=1)
    templates.template_from_text("c {{ x }}\n").render(x=1)
    assert len(list(folder.iterdir())) == 5, "trimmed at the first compile of the run, not at every one"


def test_an_entry_another_run_removes_meanwhile_is_no_error(tmp_path, monkeypatch):
    """Two runs trimming one cache at once: an entry listed by this one may be gone by the time
    it is looked at. It is simply not counted (the failure a concurrent CI run met)."""
    folder = tmp_path / "entries"
    for i in range(5):
        assert cache.store_entry(folder / f"{i}.json", b"[]")
        os.utime(folder / f"{i}.json", (1_000_000 + i, 1_000_000 + i))
    listed = list(os.scandir(folder))
    (folder / "4.json").unlink()  # the newest, removed by the other run after this one listed it
    monkeypatch.setattr(cache.os, "scandir", lambda path: iter(listed))
    cache.keep_newest(folder, ".json", 2)
    assert sorted(p.name for p in folder.iterdir()) == ["2.json", "3.json"]
