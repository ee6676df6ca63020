"""`.clustergen/state.yaml`: what the last generation wrote, so the next one knows what the user changed.

It holds no timestamps, so regenerating from the same inventory rewrites it
byte for byte.  Besides the content hash of every generated file it keeps
the inventory text that produced them: re-rendering that text gives the
merge base for the user's edits (copier's "render the old answers").

The inventory is kept base64-encoded: as plain YAML inside this file,
Renovate's regex managers (and grep-based tools) would find its pins and
"update" the merge base, and one of them backtracks without end on it.
Plain base64, not compressed: zlib output may differ between zlib builds,
and the state must be the same bytes on every machine.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import WriteError
from .layout import STATE_PATH
from .paths import path_problem

_HEADER = "# Written by clustergen; do not edit. It tells the next generation which files you changed.\n"
_RESTORE = f"restore it from a commit you trust (git log -- {STATE_PATH}); it is written by clustergen"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class GenerationState:
    """What the last run recorded in the repository: its version, inventory and each file's rendered digest."""

    tool_version: str = __version__
    inventory_digest: str = ""
    # path → digest of the content clustergen rendered (not of a merge result),
    # so that a merged file still counts as edited by the user next time.
    files: dict[str, str] = field(default_factory=dict)
    # The inventory these files were rendered from; None in states written
    # before clustergen kept it, which then merge without a base.
    inventory: str | None = None
    # The cluster these files belong to, and the age recipient (public key) of its secrets
    # store: a store swapped for another cluster's is refused (write/secrets.check_identity).
    cluster_name: str | None = None
    secrets_recipient: str | None = None

    @classmethod
    def read(cls, repo: Path) -> GenerationState | None:
        path = repo / STATE_PATH
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise WriteError.single(f"cannot read {path}: {exc}", file=str(path)) from None
        import yaml  # here: a run with nothing to do never reads the state

        from ..shared.yamltext import safe_load

        try:
            data = safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise WriteError.single(
                f"{path} is not valid YAML: {exc}",
                file=str(path),
                hint=f"restore it from git (git checkout -- {STATE_PATH}); it is written by clustergen",
            ) from None
        if not isinstance(data, dict):
            raise WriteError.single(f"{path} is not a clustergen state file", file=str(path), hint=f"restore it from git (git checkout -- {STATE_PATH})")
        files = data.get("files") or {}
        if not isinstance(files, dict):
            raise WriteError.single(f"{path}: files is not a mapping", file=str(path), hint=_RESTORE)
        for rel in files:
            problem = path_problem(rel)
            if problem is not None:
                raise WriteError.single(
                    f"{path} lists {rel!r} as a generated file, but it {problem}: clustergen only ever writes "
                    "inside the repository, so the state was edited, and nothing is removed",
                    file=str(path),
                    hint=_RESTORE + ", and review who changed it",
                )
        return cls(
            tool_version=str(data.get("toolVersion", "")),
            inventory_digest=str(data.get("inventoryDigest", "")),
            files={str(k): str(v) for k, v in files.items()},
            inventory=_decode(data.get("inventoryBase64"), path),
            cluster_name=str(data["clusterName"]) if data.get("clusterName") else None,
            secrets_recipient=str(data["secretsRecipient"]) if data.get("secretsRecipient") else None,
        )

    def text(self) -> str:
        from ..shared.yamltext import to_yaml

        data: dict[str, object] = {
            "toolVersion": self.tool_version,
            "inventoryDigest": self.inventory_digest,
        }
        if self.cluster_name:
            data["clusterName"] = self.cluster_name
        if self.secrets_recipient:
            data["secretsRecipient"] = self.secrets_recipient
        data["files"] = dict(sorted(self.files.items()))
        if self.inventory is not None:
            encoded = base64.b64encode(self.inventory.encode("utf-8")).decode("ascii")
            data["inventoryBase64"] = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76)) + "\n"
        return _HEADER + to_yaml(data) + "\n"


def _decode(value: object, path: Path) -> str | None:
    if value is None:
        return None
    try:
        return base64.b64decode("".join(str(value).split()), validate=True).decode("utf-8")
    except ValueError:
        raise WriteError.single(
            f"{path}: inventoryBase64 is damaged", file=str(path), hint=f"restore it from git (git checkout -- {STATE_PATH})"
        ) from None
