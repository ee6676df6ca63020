"""Where the write stage keeps its own files in the repository (the shared layout's names)."""

from ..shared.layout import (
    AGE_KEY_PATH,
    ENCRYPTED_SECRETS_PATH,
    LEGACY_TOKEN_PATH,
    SOPS_CONFIG_PATH,
    STATE_PATH,
    WRITE_ONCE_PATHS,
)

__all__ = ["AGE_KEY_PATH", "ENCRYPTED_SECRETS_PATH", "LEGACY_TOKEN_PATH", "SOPS_CONFIG_PATH", "STATE_PATH", "WRITE_ONCE_PATHS"]
