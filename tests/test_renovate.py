"""The generated Renovate config sees every pinned chart and image."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .test_golden import EXAMPLE_NAMES, GOLDEN


def _patterns(repo: Path) -> list[re.Pattern[str]]:
    config = json.loads((repo / "renovate.json").read_text())
    # Renovate writes JavaScript named groups; Python spells them (?P<name>...).
    return [re.compile(m.replace("(?<", "(?P<")) for manager in config["customManagers"] for m in manager["matchStrings"]]


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_every_pin_is_seen_by_renovate(example: str) -> None:
    repo = GOLDEN / example
    patterns = _patterns(repo)
    found: set[tuple[str, str]] = set()
    for path in sorted(repo.rglob("*.yaml")):
        text = path.read_text()
        for pattern in patterns:
            for match in pattern.finditer(text):
                found.add((path.relative_to(repo).as_posix(), match.group("currentValue")))
    pins = []
    for path in sorted(list(repo.glob("bases/**/*.yaml"))):
        rel = path.relative_to(repo).as_posix()
        for match in re.finditer(r"^\s*(version|tag|targetRevision): \"?([^\"\n]+)\"?$", path.read_text(), re.M):
            # An app's Application follows this repository's branch: that is no pin.
            if match.group(1) == "targetRevision" and rel.startswith("bases/apps/"):
                continue
            pins.append((rel, match.group(2)))
    assert pins, "the bases pin nothing?"
    missing = [p for p in pins if p not in found]
    assert not missing, f"pins Renovate would not see: {missing}"
