"""Stage 4: put rendered files on disk, safely; the only stage that writes the repository.

layout.py       where the write stage keeps its own files
state.py        what the last generation wrote (hashes) and from which inventory
secrets.py      secrets made once, committed SOPS-encrypted (sops.py runs the binary)
reconcile.py    per-file three-way decisions (merge.py runs git merge-file;
                gitrepo.py asks git for uncommitted changes and earlier versions)
transaction.py  lock, staging, journal and apply, crash recovery
writer.py       the session tying them together; diff.py prints a dry run

None of these import the render package (the types they share with it live in
generator.shared): `generate` locks the repository and starts decrypting the
secrets first, while render and the inventory schema machinery (the slowest
imports) load.
"""

from .diff import unified_diff
from .layout import (
    AGE_KEY_PATH,
    ENCRYPTED_SECRETS_PATH,
    LEGACY_TOKEN_PATH,
    SOPS_CONFIG_PATH,
    STATE_PATH,
)
from .reconcile import FileUpdate, WriteReport
from .secrets import (
    PendingSecrets,
    PrestartedSecrets,
    load_or_create_secrets,
    prestart_secret_files,
    secret_files,
    start_loading_secrets,
    start_secret_files,
)
from .state import GenerationState
from .writer import CleanCheck, RepositorySession, open_repository

__all__ = [
    "AGE_KEY_PATH",
    "ENCRYPTED_SECRETS_PATH",
    "LEGACY_TOKEN_PATH",
    "SOPS_CONFIG_PATH",
    "STATE_PATH",
    "FileUpdate",
    "GenerationState",
    "RepositorySession",
    "WriteReport",
    "load_or_create_secrets",
    "open_repository",
    "secret_files",
    "start_secret_files",
    "prestart_secret_files",
    "PrestartedSecrets",
    "PendingSecrets",
    "CleanCheck",
    "start_loading_secrets",
    "unified_diff",
]
