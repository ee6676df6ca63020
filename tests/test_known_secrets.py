"""An encrypted Secret already proven to decrypt to the Secret a run wants keeps its bytes
without sops (write/known_secrets.py); anything else is still decrypted and compared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from generator import cli, tools
from generator.write import known_secrets
from generator.write.known_secrets import KnownSecrets
from generator.write.secrets import _new_age_key
from generator.write.sops import Decryption

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "login"}, "stringData": {"password": "hunter2-long-enough"}}


def new_node(number: int) -> str:
    return f'  - name: pi{number}\n    address: 192.168.50.{20 + number}\n    mac: "b8:27:eb:00:00:{20 + number}"\n    profile: rpi3\n    memory: 1Gi\n'


def identity() -> str:
    return str(_new_age_key()[1])


def test_a_noted_pair_is_held_and_nothing_else_is(tmp_path):
    key = identity()
    known = KnownSecrets(key, tmp_path)
    known.note(b"ciphertext", SECRET)
    assert known.holds(b"ciphertext", SECRET)
    assert not known.holds(b"ciphertext ", SECRET), "other bytes on disk"
    changed = {**SECRET, "stringData": {"password": "hunter3-long-enough"}}
    assert not known.holds(b"ciphertext", changed), "another Secret wanted"
    assert not KnownSecrets(identity(), tmp_path).holds(b"ciphertext", SECRET), "another age key"


def test_pairs_outlive_the_run_and_the_file_holds_no_secret(tmp_path):
    key = identity()
    known = KnownSecrets(key, tmp_path)
    known.note(b"ciphertext", SECRET)
    known.save()
    [tags] = list(tmp_path.iterdir())
    assert tags.stat().st_mode & 0o077 == 0
    text = tags.read_text()
    assert "hunter2" not in text and "login" not in text and key not in text
    assert KnownSecrets(key, tmp_path).holds(b"ciphertext", SECRET)


@pytest.mark.parametrize("damage", [b"", b"\xff\xfe not ascii", b"short\nlines\n", b"z" * 64 + b"\n"])
def test_a_damaged_file_only_means_decrypting_again(tmp_path, damage):
    key = identity()
    known = KnownSecrets(key, tmp_path)
    known.note(b"ciphertext", SECRET)
    known.save()
    [tags] = list(tmp_path.iterdir())
    tags.write_bytes(damage)
    assert not KnownSecrets(key, tmp_path).holds(b"ciphertext", SECRET)


def test_the_newest_tags_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(known_secrets, "MAX_TAGS", 3)
    key = identity()
    known = KnownSecrets(key, tmp_path)
    for i in range(4):
        known.note(f"c{i}".encode(), SECRET)
    known.note(b"c0", SECRET)  # seen again: newest now
    known.save()
    again = KnownSecrets(key, tmp_path)
    assert [again.holds(f"c{i}".encode(), SECRET) for i in range(4)] == [True, False, True, True]


def test_no_cache_folder_means_no_pairs(tmp_path):
    known = KnownSecrets(identity(), None)
    known.note(b"ciphertext", SECRET)
    known.save()
    assert known.holds(b"ciphertext", SECRET)  # within the run
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def decryptions(monkeypatch):
    """The files sops was asked to decrypt, in order."""
    seen: list[str] = []
    original = tools.start

    def recording(command, **options):
        if "decrypt" in command:
            seen.append(Path(command[-1]).name)
        return original(command, **options)

    monkeypatch.setattr(tools, "start", recording)
    return seen


def add_node(repo: Path, number: int = 3) -> None:
    inventory = repo / "inventory.yaml"
    inventory.write_text(inventory.read_text().replace("components:", new_node(number) + "components:", 1))


def manifests(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*.sops.yaml"))
            if p.name not in (".sops.yaml", "secrets.sops.yaml")}


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """mixed-shelf generated afresh, with a cache folder of its own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    repo = tmp_path / "repo"
    assert cli.main(["generate", str(EXAMPLES / "mixed-shelf.yaml"), "-o", str(repo)]) == 0
    return repo


def test_adding_a_node_keeps_every_secret_without_decrypting_it(repo, decryptions):
    before = manifests(repo)
    assert len(before) >= 3
    add_node(repo)
    assert cli.main(["generate", str(repo / "inventory.yaml"), "--allow-dirty"]) == 0
    assert decryptions == ["secrets.sops.yaml"], "only the store, whose values the render needs"
    assert manifests(repo) == before


def test_without_the_pairs_each_secret_is_decrypted_and_still_kept(repo, tmp_path, decryptions):
    before = manifests(repo)
    for tags in (tmp_path / "cache" / "clustergen" / "secrets").iterdir():
        tags.unlink()
    add_node(repo)
    assert cli.main(["generate", str(repo / "inventory.yaml"), "--allow-dirty"]) == 0
    assert len(decryptions) == 1 + len(before)
    assert manifests(repo) == before
    decryptions.clear()
    add_node(repo, 4)  # another node: the pairs proven by the run before now hold
    assert cli.main(["generate", str(repo / "inventory.yaml"), "--allow-dirty"]) == 0
    assert decryptions == ["secrets.sops.yaml"]


def test_a_swapped_ciphertext_is_decrypted_and_replaced(repo, decryptions):
    """Another valid Secret file put in a Secret's place (both known pairs) is not kept: the pair
    binds the bytes to the Secret, not the path to the Secret."""
    first, second, *_ = manifests(repo)
    wanted = Decryption(repo / first, repo / ".clustergen" / "age.key").result()
    (repo / first).write_bytes((repo / second).read_bytes())
    add_node(repo)
    assert cli.main(["generate", str(repo / "inventory.yaml"), "--allow-dirty"]) == 0
    assert Path(first).name in decryptions
    assert (repo / first).read_bytes() != (repo / second).read_bytes()
    after = Decryption(repo / first, repo / ".clustergen" / "age.key").result()
    assert {k: v for k, v in after.items() if k != "sops"} == {k: v for k, v in wanted.items() if k != "sops"}


def test_the_tags_of_the_most_recent_keys_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(known_secrets, "KEYS_KEPT", 2)
    keys = [identity() for _ in range(3)]
    for age, key in zip((30, 20, 10), keys, strict=True):
        known = KnownSecrets(key, tmp_path)
        known.note(b"ciphertext", SECRET)
        known.save()
        [newest] = [p for p in tmp_path.iterdir() if p.stat().st_mtime > 1_700_000_000 - 1]
        os.utime(newest, (1_700_000_000 - age, 1_700_000_000 - age))
    assert len(list(tmp_path.iterdir())) == 2
    assert [KnownSecrets(k, tmp_path).holds(b"ciphertext", SECRET) for k in keys] == [False, True, True]
