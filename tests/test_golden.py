"""Each example inventory has its whole generated tree under tests/golden/<example>/,
except the files the generator copies verbatim from the project (the app chart and the
probe script): those are compared with their sources instead of being stored six times."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from generator.cli import main
from generator.render.repo import render_app_chart, render_probe
from generator.resources import package_file, source_dir
from generator.write import load_or_create_secrets

from .conftest import EXAMPLES, TEST_TOKEN, distribution_of, seed_secrets

GOLDEN = Path(__file__).parent / "golden"
EXAMPLE_NAMES = sorted(p.stem for p in EXAMPLES.glob("*.yaml"))
# The golden tree lives inside this project's git repo, where the generated
# .gitignore would hide the very files we want to compare; store it renamed.
RENAMES = {".gitignore": "dot-gitignore"}
# Generated paths that are verbatim copies of a project file: path prefix → its source.
COPIED_FROM = {"charts/app/": source_dir("charts") / "app", "bootstrap/probe.py": package_file("probe.py")}


def source_of(rel: str) -> Path | None:
    """The project file a generated path is copied from, or None for generated content."""
    for prefix, source in COPIED_FROM.items():
        if rel == prefix:
            return source
        if prefix.endswith("/") and rel.startswith(prefix):
            return source / rel[len(prefix) :]
    return None


def copied_paths() -> set[str]:
    """Every path the generator copies from the project, as render lists them."""
    return {f.path for f in [*render_app_chart(), render_probe()]}


def generate(example: str, out: Path) -> Path:
    seed_secrets(out, distribution_of(EXAMPLES / f"{example}.yaml"))
    # The encrypted Secrets made from the store, as git holds them: SOPS output differs on
    # every encryption, and a file that decrypts to the same Secret keeps its bytes.
    for encrypted in (GOLDEN / example).rglob("*.sops.yaml"):
        rel = encrypted.relative_to(GOLDEN / example)
        if rel.parts[0] != ".clustergen" and rel.name != ".sops.yaml":
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(encrypted, out / rel)
    code = main(["generate", str(EXAMPLES / f"{example}.yaml"), "-o", str(out)])
    assert code == 0
    return out


def tree(root: Path) -> dict[str, bytes]:
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            rel = path.relative_to(root).as_posix()
            files[RENAMES.get(rel, rel)] = path.read_bytes()
    return files


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_golden_tree(example: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    generated = tree(generate(example, tmp_path / example))
    copies = {rel: data for rel, data in generated.items() if source_of(rel) is not None}
    assert sorted(copies) == sorted(copied_paths()), "the chart and probe copies differ from what render copies"
    for rel, data in copies.items():
        source = source_of(rel)
        assert source is not None and data == source.read_bytes(), f"{rel} is not a verbatim copy of {source}"
    actual = {rel: data for rel, data in generated.items() if rel not in copies}
    golden = GOLDEN / example
    if request.config.getoption("--update-golden"):
        shutil.rmtree(golden, ignore_errors=True)
        for rel, data in actual.items():
            target = golden / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    expected = tree(golden)
    stored_copies = sorted(rel for rel in expected if source_of(rel) is not None)
    assert not stored_copies, f"tests/golden/{example} stores copies of project files: {stored_copies}"
    assert sorted(actual) == sorted(expected), "file list differs from the golden tree (run pytest --update-golden and review the diff)"
    for rel in expected:
        assert actual[rel] == expected[rel], f"{rel} differs from tests/golden/{example}/{rel}"


def test_two_generations_are_byte_identical(tmp_path: Path) -> None:
    first = tree(generate("mixed-shelf", tmp_path / "a"))
    second = tree(generate("mixed-shelf", tmp_path / "b"))
    assert first == second


def test_regenerating_in_place_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generate("mixed-shelf", tmp_path / "repo")
    before = tree(repo)
    assert main(["generate", str(EXAMPLES / "mixed-shelf.yaml"), "-o", str(repo)]) == 0
    assert "0 written" in capsys.readouterr().out
    assert tree(repo) == before


def test_fresh_token_is_random_secret_and_kept(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    assert main(["generate", str(EXAMPLES / "single-mini-pc.yaml"), "-o", str(repo)]) == 0
    token = load_or_create_secrets(repo).k3s_token
    assert len(token) == 64 and token != TEST_TOKEN
    key_file = repo / ".clustergen" / "age.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().splitlines()[1].startswith("AGE-SECRET-KEY-1")
    encrypted = repo / ".clustergen" / "secrets.sops.yaml"
    assert token not in encrypted.read_text() and "ENC[AES256_GCM" in encrypted.read_text()
    assert not (repo / ".clustergen" / "secrets").exists()  # no plaintext copy any more
    user_data = repo / "bootstrap" / "cloud-init" / "nuc" / "user-data"
    assert stat.S_IMODE(user_data.stat().st_mode) == 0o600
    assert f"token: {token}" in user_data.read_text()
    gitignore = (repo / ".gitignore").read_text()
    assert "/.clustergen/age.key" in gitignore and "/bootstrap/cloud-init/*/user-data" in gitignore
    other = tmp_path / "other"
    assert main(["generate", str(EXAMPLES / "single-mini-pc.yaml"), "-o", str(other)]) == 0
    assert load_or_create_secrets(other).k3s_token != token
    # Regenerating keeps the token: nodes that joined with it must still be able to.
    before = encrypted.read_bytes()
    assert main(["generate", str(EXAMPLES / "single-mini-pc.yaml"), "-o", str(repo)]) == 0
    assert load_or_create_secrets(repo).k3s_token == token
    assert encrypted.read_bytes() == before


def test_user_edit_is_merged(tmp_path: Path) -> None:
    repo = generate("single-mini-pc", tmp_path / "repo")
    patch = repo / "overlays" / "tiny" / "apps" / "releases" / "node-red-values.yaml"
    patch.write_text(patch.read_text() + "    # my tweak\n")
    text = (EXAMPLES / "single-mini-pc.yaml").read_text().replace("Europe/Berlin", "Europe/Paris")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(text)
    assert main(["generate", str(inventory), "-o", str(repo)]) == 0
    merged = patch.read_text()
    assert merged.endswith("    # my tweak\n") and "Europe/Paris" in merged and "Europe/Berlin" not in merged
    assert not list(repo.rglob("*.clustergen-new"))
    assert "Europe/Paris" in (repo / "overlays" / "tiny" / "apps" / "releases" / "mosquitto-values.yaml").read_text()


def test_refuses_foreign_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["generate", str(EXAMPLES / "single-mini-pc.yaml"), "-o", str(foreign)]) == 2
    assert "was not generated by clustergen" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
