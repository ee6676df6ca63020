"""Shared setup for the validation tests: fixture repos copied to a temp dir,
validated once per session and case, against the real tools."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.validate import Fault, ValidateOptions, ValidationReport, validate_repository

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
# Upstream schemas live beside the repository, never inside it.
SHARED_SCHEMAS = (HERE.parents[1] / ".." / "shared" / "schemas").resolve()
CRDS = SHARED_SCHEMAS / "crds"

needs_shared = pytest.mark.skipif(
    not CRDS.is_dir(),
    reason=f"upstream schemas not found at {SHARED_SCHEMAS} (the repo root's sibling shared/)",
)


def shared_locations() -> tuple[str, ...]:
    return (str(CRDS),) if CRDS.is_dir() else ()


def copy_fixture(name: str, dest: Path) -> Path:
    """Fixtures run from a copy: inside the project's own git tree, git (and
    the project's .gitignore) would decide which fixture files exist."""
    target = dest / name
    shutil.copytree(FIXTURES / name, target)
    return target


def faults_of(report: ValidationReport, check: str, file: str | None = None) -> list[Fault]:
    return [f for f in report.faults if f.check == check and (file is None or f.file == file)]


def one_fault(report: ValidationReport, check: str, file: str, path: str | None = None,
              contains: str = "") -> Fault:
    matches = [f for f in faults_of(report, check, file)
               if (path is None or f.path == path) and contains in f.message]
    assert len(matches) == 1, (
        f"expected one {check} fault in {file} at {path!r} containing {contains!r}; got:\n"
        + "\n".join(str(f) for f in report.faults))
    return matches[0]


@pytest.fixture(scope="session")
def validated(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., ValidationReport]:
    """validated("clean", strict=True) -> report; each (case, options) runs once."""
    cache: dict[tuple, ValidationReport] = {}

    def run(name: str, *, strict: bool = False, shared: bool = True,
            prepare: Callable[[Path], None] | None = None) -> ValidationReport:
        key = (name, strict, shared, prepare)
        if key not in cache:
            root = copy_fixture(name, tmp_path_factory.mktemp(name))
            if prepare is not None:
                prepare(root)
            # The fixtures name charts on the internet, which CI cannot reach:
            # remote rendering has its own tests (test_remote_charts.py).
            options = ValidateOptions(strict=strict,
                                      schema_locations=shared_locations() if shared else (),
                                      cache_dir=tmp_path_factory.mktemp("schema-cache"),
                                      charts="local")
            cache[key] = validate_repository(root, options)
        return cache[key]

    return run
