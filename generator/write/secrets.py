"""Cluster secrets are generated once and then only ever read back."""

from __future__ import annotations

import secrets
from pathlib import Path

from ..errors import WriteError
from ..render import ClusterSecrets
from ..render.repo import K3S_TOKEN_PATH


def load_or_create_secrets(repo: Path) -> ClusterSecrets:
    token_file = repo / K3S_TOKEN_PATH
    if token_file.exists():
        token = token_file.read_text(encoding="utf-8").strip()
        if not token:
            raise WriteError.single(
                f"{token_file} is empty",
                file=str(token_file),
                hint="restore the token from your backup; a new token would lock the existing nodes out",
            )
        return ClusterSecrets(k3s_token=token)
    # 256 bits from the OS CSPRNG; k3s accepts any string as a shared token.
    return ClusterSecrets(k3s_token=secrets.token_hex(32))
