"""Which encrypted Secret files are known to decrypt to which Secret, so a regeneration that
leaves a Secret alone needs no sops to prove it.

A regeneration keeps an encrypted Secret's bytes when the file decrypts to the Secret it
would write now (SOPS output differs on every encryption). Proving that took one sops
process per Secret, about a fifth of the CPU of adding a node. Each time a run proves it,
or encrypts a Secret itself, it notes a tag of the pair: an HMAC, keyed by a digest of the
repository's age secret key, over the ciphertext's digest and the Secret's canonical JSON.
The next run with the same key, the same file bytes and the same wanted Secret finds the
tag and keeps the bytes; any other file, Secret or key misses and is decrypted as before.

The tags live under ``$XDG_CACHE_HOME/clustergen/secrets``, one file per key, written 0600.
They hold no secret: without the age key a tag cannot be checked against a guess. A lost or
damaged file only means decrypting again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from ..shared.cache import cache_folder, keep_newest, store_entry

# Tags kept per key, newest last: far more than one repository's Secrets.
MAX_TAGS = 4000
# Keys (repositories) whose tags are kept: the ones most recently written.
KEYS_KEPT = 128
_DOMAIN = b"clustergen known Secret ciphertexts v1\0"


class KnownSecrets:
    def __init__(self, age_identity: str, folder: Path | None):
        self._key = hashlib.sha256(_DOMAIN + age_identity.encode("utf-8")).digest()
        name = hmac.new(self._key, b"file name", hashlib.sha256).hexdigest()[:32]
        self._path = folder / f"{name}.tags" if folder is not None else None
        self._tags: dict[str, None] = dict.fromkeys(self._read())  # ordered: oldest first
        self._changed = False

    @classmethod
    def for_identity(cls, age_identity: str) -> KnownSecrets:
        return cls(age_identity, cache_folder("secrets"))

    def holds(self, ciphertext: bytes, secret: dict[str, Any]) -> bool:
        """True when ``ciphertext`` was seen to decrypt to ``secret`` (with this key)."""
        tag = self._tag(ciphertext, secret)
        return tag is not None and tag in self._tags

    def note(self, ciphertext: bytes, secret: dict[str, Any]) -> None:
        tag = self._tag(ciphertext, secret)
        if tag is None:
            return
        self._tags.pop(tag, None)
        self._tags[tag] = None
        self._changed = True

    def save(self) -> None:
        if not self._changed or self._path is None:
            return
        kept = list(self._tags)[-MAX_TAGS:]
        if store_entry(self._path, "".join(tag + "\n" for tag in kept).encode("ascii")):
            keep_newest(self._path.parent, ".tags", KEYS_KEPT)  # one file per age key: per repository
        self._changed = False

    def _tag(self, ciphertext: bytes, secret: dict[str, Any]) -> str | None:
        try:
            canonical = json.dumps(secret, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError):
            return None  # not JSON (never so for a rendered Secret): always proven by sops
        message = hashlib.sha256(ciphertext).digest() + canonical
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def _read(self) -> list[str]:
        if self._path is None:
            return []
        try:
            text = self._path.read_bytes().decode("ascii")
        except (OSError, UnicodeDecodeError):
            return []
        return [line for line in text.split("\n") if len(line) == 64]
