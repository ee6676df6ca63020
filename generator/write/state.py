"""`.clustergen/state.yaml`: what the last generation wrote, so the next one knows what the user changed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import __version__
from ..render.yamltext import to_yaml

STATE_PATH = ".clustergen/state.yaml"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class GenerationState:
    tool_version: str = __version__
    inventory_digest: str = ""
    files: dict[str, str] = field(default_factory=dict)  # path → content digest

    @classmethod
    def read(cls, repo: Path) -> "GenerationState | None":
        path = repo / STATE_PATH
        if not path.exists():
            return None
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls(
            tool_version=str(data.get("toolVersion", "")),
            inventory_digest=str(data.get("inventoryDigest", "")),
            files=dict(data.get("files") or {}),
        )

    def text(self) -> str:
        data = {
            "toolVersion": self.tool_version,
            "inventoryDigest": self.inventory_digest,
            "files": dict(sorted(self.files.items())),
        }
        return "# Written by clustergen; do not edit. It tells the next generation which files you changed.\n" + to_yaml(data) + "\n"
