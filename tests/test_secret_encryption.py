"""sops encrypts the secrets store side by side and while the repository renders, and a failed
run leaves no sops running and no scratch folder behind."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from generator import cli, tools
from generator.write.secrets import PRESTARTED_SECRETS, _new_age_key, creation_rule, prestart_secret_files, sops_config
from generator.write.sops import Decryption, Encryptions

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def scratch_root(tmp_path, monkeypatch):
    """Where tempfile puts scratch folders, so a test can see what was left behind."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.fixture
def started(monkeypatch):
    """Every program tools.start() starts, in order, with what had been rendered by then."""
    seen: list[tuple[list[str], tools.Running]] = []
    original = tools.start

    def recording(command, **options):
        running = original(command, **options)
        seen.append(([str(part) for part in command], running))
        return running

    monkeypatch.setattr(tools, "start", recording)
    return seen


def _encryptions(seen):
    return [running for command, running in seen if "encrypt" in command]


def test_encryptions_side_by_side_decrypt_to_their_values(tmp_path, scratch_root):
    key_bytes, identity = _new_age_key()
    key = tmp_path / "age.key"
    key.write_bytes(key_bytes)
    wanted = {f"app{i}/login.sops.yaml": {"apiVersion": "v1", "kind": "Secret", "stringData": {"password": f"pw-{i}"}} for i in range(4)}
    with Encryptions(sops_config(str(identity.to_public()))) as batch:
        numbers = {path: batch.start(values, path) for path, values in wanted.items()}
        encrypted = {path: batch.result(number) for path, number in numbers.items()}
    for path, ciphertext in encrypted.items():
        assert b"pw-" not in ciphertext and b"ENC[AES256_GCM" in ciphertext
        (tmp_path / "out.sops.yaml").write_bytes(ciphertext)
        decrypted = Decryption(tmp_path / "out.sops.yaml", key).result()
        assert {k: v for k, v in decrypted.items() if k != "sops"} == wanted[path]
    assert list(scratch_root.iterdir()) == []  # the scratch folder with our .sops.yaml is gone


def test_closing_stops_what_still_runs(scratch_root, started):
    _, identity = _new_age_key()
    batch = Encryptions(sops_config(str(identity.to_public())))
    batch.start({"a": "b"}, ".clustergen/secrets.sops.yaml")
    batch.close()
    assert all(running.process.returncode is not None for _, running in started)
    assert list(scratch_root.iterdir()) == []


def test_sops_encrypts_before_the_repository_renders(tmp_path, monkeypatch, started):
    """The overlap itself: when render_repository starts, every encryption a fresh run needs is
    already running. (Before, they started one after another once the render was done.)"""
    import generator.render as render

    at_render: list[int] = []
    original = render.render_repository

    def watching(*args, **kwargs):
        at_render.append(len(_encryptions(started)))
        return original(*args, **kwargs)

    monkeypatch.setattr(render, "render_repository", watching)
    assert cli.main(["generate", str(EXAMPLES / "mixed-shelf.yaml"), "-o", str(tmp_path / "repo")]) == 0
    sops_files = sorted(p for p in (tmp_path / "repo").rglob("*.sops.yaml") if p.name != ".sops.yaml")  # not the config
    assert len(sops_files) >= 3  # the store and the apps' logins
    assert at_render == [len(sops_files)] == [len(_encryptions(started))]


def test_a_failed_render_leaves_no_sops_running_and_nothing_written(tmp_path, monkeypatch, scratch_root, started):
    import generator.render as render

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in render")

    monkeypatch.setattr(render, "render_repository", broken)
    with pytest.raises(RuntimeError, match="a bug in render"):
        cli.main(["generate", str(EXAMPLES / "mixed-shelf.yaml"), "-o", str(tmp_path / "repo")])
    assert _encryptions(started), "the encryptions had started before the render"
    assert all(running.process.returncode is not None for running in _encryptions(started))
    assert [p.name for p in scratch_root.iterdir() if p.name.startswith("clustergen-sops-")] == []
    assert not (tmp_path / "repo" / "README.md").exists()


def _decrypted(tmp_path: Path, key: Path, name: str, ciphertext: bytes) -> dict:
    (tmp_path / name).write_bytes(ciphertext)
    return {k: v for k, v in Decryption(tmp_path / name, key).result().items() if k != "sops"}


def test_prestarted_sops_take_the_files_of_their_creation_rule(tmp_path, scratch_root, started):
    """Two started for Secrets and one for the store, before any input: the store and two
    Secrets go to them, a third Secret starts its own. Each file comes out encrypted by its own
    rule: every store value, only a Secret's data."""
    key_bytes, identity = _new_age_key()
    key = tmp_path / "age.key"
    key.write_bytes(key_bytes)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "login"}, "stringData": {"password": "pw"}}
    with Encryptions(sops_config(str(identity.to_public())), rule_of=creation_rule) as batch:
        batch.prestart(["a.sops.yaml", ".clustergen/secrets.sops.yaml", "b.sops.yaml"])
        store = batch.start({"k3sToken": "token"}, ".clustergen/secrets.sops.yaml")
        secrets = [batch.start(secret, f"apps/app{i}/login.sops.yaml") for i in range(3)]
        batch.stop_waiting()
        outputs = [batch.result(n) for n in [store, *secrets]]
    assert len(_encryptions(started)) == 4  # three prestarted, one more for the third Secret
    assert all(command[:3] == [command[0], "-n", "19"] for command, _ in started[:3])  # prestarted ones yield the core
    assert _decrypted(tmp_path, key, "store.sops.yaml", outputs[0]) == {"k3sToken": "token"}
    assert b"k3sToken: ENC[" in outputs[0]
    for ciphertext in outputs[1:]:
        assert _decrypted(tmp_path, key, "secret.sops.yaml", ciphertext) == secret
        assert b"name: login" in ciphertext and b"password: ENC[" in ciphertext


def test_prestarted_sops_no_file_took_are_stopped(scratch_root, started):
    _, identity = _new_age_key()
    with Encryptions(sops_config(str(identity.to_public())), rule_of=creation_rule) as batch:
        batch.prestart(["a.sops.yaml", "b.sops.yaml"])
        batch.start({"a": "b"}, ".clustergen/secrets.sops.yaml")  # under the other rule: a sops of its own
        batch.stop_waiting()
        prestarted = [running for command, running in started if "a.sops.yaml" in command or "b.sops.yaml" in command]
        assert len(prestarted) == 2 and all(running.process.returncode is not None for running in prestarted)
    assert list(scratch_root.iterdir()) == []


@pytest.mark.parametrize(("path", "rule"), [
    (".clustergen/secrets.sops.yaml", 0), ("x/.clustergen/secrets.sops.yaml", 0), ("a.clustergen/secrets.sops.yaml", 1),
    ("apps/login.sops.yaml", 1), ("apps/login.sops.yml", 1), ("apps/login.yaml", None), (".clustergen/secrets.sops.yaml.bak", None),
])
def test_creation_rule_is_the_first_whose_path_regex_matches(path, rule):
    assert creation_rule(path) == rule


def test_a_new_repository_gets_sops_prestarted_and_one_with_a_key_does_not(tmp_path, monkeypatch, scratch_root):
    import generator.write.secrets as secrets

    new = tmp_path / "new"
    prestarted = prestart_secret_files(new)
    assert prestarted is not None
    prestarted.discard()
    assert list(scratch_root.iterdir()) == []
    for existing in (".clustergen/age.key", ".clustergen/secrets.sops.yaml"):
        repo = tmp_path / existing.replace("/", "_")
        (repo / existing).parent.mkdir(parents=True)
        (repo / existing).write_text("x\n")
        assert prestart_secret_files(repo) is None
    monkeypatch.setattr(secrets, "usable_cores", lambda: 1)
    assert prestart_secret_files(new) is None  # one core: the start-ups would only compete with the plan


def test_an_inventory_error_stops_the_prestarted_sops(tmp_path, scratch_root, started):
    broken = tmp_path / "inventory.yaml"
    broken.write_text((EXAMPLES / "mixed-shelf.yaml").read_text().replace("name: pi1", "name: PI_1", 1))
    assert cli.main(["generate", str(broken), "-o", str(tmp_path / "repo")]) == 2
    assert len(_encryptions(started)) == 1 + PRESTARTED_SECRETS
    assert all(running.process.returncode is not None for running in _encryptions(started))
    assert [p.name for p in scratch_root.iterdir() if p.name.startswith("clustergen-sops-")] == []
    assert not (tmp_path / "repo").exists()
