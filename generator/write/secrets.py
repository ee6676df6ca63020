"""Cluster secrets: generated once, committed only SOPS-encrypted, then only ever read back.

In the repository:
  .clustergen/secrets.sops.yaml  committed; every value encrypted to the repository's age key
  .clustergen/age.key            git-ignored, 0600; the one key that decrypts it: back it up
  .sops.yaml                     committed; creation rules naming the age recipient

SOPS output differs on every encryption (fresh data key, IVs, timestamp), so
the encrypted file is never re-encrypted while its values stay the same:
the bytes on disk are handed back unchanged, and regenerating is a no-op.
Earlier versions kept the token in plaintext at .clustergen/secrets/k3s-token
(git-ignored); such a repository is migrated on its next generation.

The types it shares with render (ClusterSecrets, RenderedFile, the YAML
emitter) come from generator.shared: write imports nothing of render.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import WriteError
from ..shared.cores import usable_cores
from .layout import (
    AGE_KEY_PATH,
    ENCRYPTED_SECRETS_PATH,
    LEGACY_TOKEN_PATH,
    SOPS_CONFIG_PATH,
    STATE_PATH,
)
from .known_secrets import KnownSecrets
from .sops import Decryption, Encryptions
from .state import digest

if TYPE_CHECKING:
    from ..shared import ClusterSecrets, RenderedFile

def _new_talos_bundle(found: dict[str, str]) -> str:
    from ..talos_pki import new_secrets_bundle

    return new_secrets_bundle()


def _new_talos_admin_client(found: dict[str, str]) -> str:
    from ..talos_pki import new_admin_client

    return new_admin_client(found["talos_secrets"])


# How a new value of each ClusterSecrets field is made, given the fields before it;
# a field added there needs an entry here.
NEW_VALUE: dict[str, Callable[[dict[str, str]], str]] = {
    # 256 bits from the OS CSPRNG; k3s accepts any string as a shared token.
    "k3s_token": lambda found: secrets.token_hex(32),
    "talos_secrets": _new_talos_bundle,
    "talos_admin_client": _new_talos_admin_client,
    "grafana_admin_password": lambda found: secrets.token_urlsafe(24),
    "restic_password": lambda found: secrets.token_urlsafe(32),
}

# app_passwords: one per app login, by store key (mqtt/<app>, postgres/<app>). URL-safe
# characters only: they go into connection strings, env files and Mosquitto's password file.
APP_PASSWORDS_FIELD = "app_passwords"


def new_app_password() -> str:
    return secrets.token_urlsafe(24)


# The fields each distribution needs. Fields of another distribution already in
# the store are kept as they are, never made up.
NEEDED_FIELDS: dict[str, tuple[str, ...]] = {
    "k3s": ("k3s_token",),
    "talos": ("talos_secrets", "talos_admin_client"),
}

# Fields every store of a distribution has held since clustergen first wrote one.
ORIGINAL_FIELDS: dict[str, frozenset[str]] = {
    "k3s": frozenset({"k3s_token"}),
    "talos": frozenset({"talos_secrets", "talos_admin_client"}),
}

_RESTORE_KEY = (
    "restore .clustergen/age.key from your backup (password manager); without it the cluster secrets "
    "cannot be decrypted, and new ones would lock the running nodes out"
)
# The store's own record of the cluster it belongs to (not a secret, kept beside them).
CLUSTER_NAME_KEY = "clusterName"
# Decrypted values by ciphertext digest, so secret_files need not run sops a second time.
_decrypted: dict[str, dict[str, Any]] = {}


def key_name(field_name: str) -> str:
    """k3s_token → k3sToken, the key in the encrypted file."""
    first, *rest = field_name.split("_")
    return first + "".join(part.title() for part in rest)


def secret_values(cluster_secrets: ClusterSecrets) -> dict[str, str]:
    from ..shared import ClusterSecrets

    values = {key_name(f.name): getattr(cluster_secrets, f.name) for f in dataclasses.fields(ClusterSecrets)}
    # An empty app_passwords is left out: stores written before it existed stay byte for byte.
    return {k: v for k, v in values.items() if v is not None and v != {}}


class PendingSecrets:
    """Secrets being loaded: decryption runs in a sops subprocess meanwhile."""

    def __init__(self, repo: Path):
        self.repo = repo
        self._decryption: Decryption | None = None
        encrypted = repo / ENCRYPTED_SECRETS_PATH
        if encrypted.is_file():
            key = repo / AGE_KEY_PATH
            if not key.is_file():
                raise WriteError.single(f"{key} is missing, so {encrypted} cannot be decrypted", file=str(key), hint=_RESTORE_KEY)
            read_age_key(key)  # a malformed key fails here with a clear message, not inside sops
            self._ciphertext = encrypted.read_bytes()
            self._decryption = Decryption(encrypted, key)

    def discard(self) -> None:
        """The run failed before it needed the secrets: stop the decryption."""
        if self._decryption is not None:
            self._decryption.discard()

    # The cluster name recorded inside the encrypted store (stores made before it was, have none).
    store_cluster: str | None = None

    def result(self, distribution: str = "k3s", wanted: tuple[str, ...] = ()) -> ClusterSecrets:
        """``wanted``: fields the cluster's components need besides the distribution's
        (render.wanted_secret_fields), made once when the store lacks them."""
        if self._decryption is not None:
            values = self._decryption.result()
            _decrypted[digest(self._ciphertext)] = values
            name = values.get(CLUSTER_NAME_KEY)
            self.store_cluster = str(name) if name else None
            return _complete(distribution, values, self.repo / ENCRYPTED_SECRETS_PATH, wanted)
        legacy = self.repo / LEGACY_TOKEN_PATH
        if legacy.is_file() and distribution == "k3s":
            token = legacy.read_text(encoding="utf-8").strip()
            if not token:
                raise WriteError.single(
                    f"{legacy} is empty", file=str(legacy), hint="restore the token from your backup; a new token would lock the existing nodes out"
                )
            return _complete(distribution, {key_name("k3s_token"): token}, legacy, wanted)
        if (self.repo / STATE_PATH).is_file():
            # The repository was generated before: new secrets would rotate the
            # cluster token and lock every node out.
            raise WriteError.single(
                f"{self.repo / ENCRYPTED_SECRETS_PATH} is missing",
                file=str(self.repo / ENCRYPTED_SECRETS_PATH),
                hint=f"restore it from git (git checkout -- {ENCRYPTED_SECRETS_PATH}); clustergen never makes new secrets for an existing cluster",
            )
        return _complete(distribution, {}, None, wanted)


def _complete(distribution: str, values: dict[str, Any], source: Path | None = None, wanted: tuple[str, ...] = ()) -> ClusterSecrets:
    """Values from the store, plus new ones for the fields this distribution needs that the
    store lacks (a newer clustergen's additions: generated once, then stored). A field every
    store of the distribution has had from the start is never made up: its absence means a
    damaged or hand-edited file, and a new value would rotate that secret."""
    from ..shared import ClusterSecrets

    found: dict[str, str] = {}
    app_passwords: dict[str, str] = {}
    needed = NEEDED_FIELDS[distribution] + tuple(wanted)
    original = ORIGINAL_FIELDS[distribution]
    # A store written for the other distribution (the inventory switched): its fields are
    # kept and this one's are new. A store with no distribution's fields is damaged.
    def holds(names: frozenset[str]) -> bool:
        return any(values.get(key_name(name)) is not None for name in names)

    fresh_for_distribution = not holds(original) and any(holds(o) for d, o in ORIGINAL_FIELDS.items() if d != distribution)
    for f in dataclasses.fields(ClusterSecrets):
        value = values.get(key_name(f.name))
        if f.name == APP_PASSWORDS_FIELD:
            app_passwords = _app_passwords(value, [w for w in wanted if "/" in w], source)
            continue
        if value is None and f.name not in needed:
            continue
        if value is None and source is not None and f.name in original and not fresh_for_distribution:
            raise WriteError.single(
                f"{source} has no {key_name(f.name)}",
                file=str(source),
                hint=f"restore the file from git (git log -- {ENCRYPTED_SECRETS_PATH}); clustergen never makes a new one for an existing cluster",
            )
        if value is None:
            if f.name not in NEW_VALUE:
                raise AssertionError(f"no generator for the new secret {f.name}: add it to write.secrets.NEW_VALUE")
            value = NEW_VALUE[f.name](found)
        found[f.name] = str(value)
    if distribution == "talos" and source is not None:
        _check_talos_values(found, source)
    return ClusterSecrets(**found, app_passwords=app_passwords)


def _app_passwords(stored: Any, wanted: list[str], source: Path | None) -> dict[str, str]:
    """Every stored login kept (an app removed today may come back), new ones for the rest."""
    if stored is None:
        stored = {}
    if not isinstance(stored, dict):
        raise WriteError.single(
            f"{source} holds {key_name(APP_PASSWORDS_FIELD)} as {type(stored).__name__}, not a mapping of logins",
            file=str(source), hint=f"restore the file from git (git log -- {ENCRYPTED_SECRETS_PATH})",
        )
    passwords = {str(k): str(v) for k, v in stored.items()}
    for key in wanted:
        passwords.setdefault(key, new_app_password())
    return passwords


def _check_talos_values(found: dict[str, str], source: Path) -> None:
    """The Talos bundle and admin client read from the store must be usable: a hand-edited or
    damaged store is the user's to restore, not a ValueError (a traceback) inside render.
    parse_bundle is cached, so render does not parse the bundle again."""
    from ..talos_pki import parse_bundle, talosconfig

    hint = f"restore the file from git (git log -- {ENCRYPTED_SECRETS_PATH}); clustergen never makes new Talos secrets for an existing cluster"
    bundle = found.get("talos_secrets")
    try:
        if bundle is not None:
            parse_bundle(bundle)
    except ValueError as exc:
        raise WriteError.single(f"the Talos secrets bundle stored here is unusable: {exc}", file=str(source),
                                field=key_name("talos_secrets"), hint=hint) from None
    client = found.get("talos_admin_client")
    try:
        if bundle is not None and client is not None:
            talosconfig("check", [], [], bundle, client)  # the client is read back and checked against the os CA
    except ValueError as exc:
        raise WriteError.single(f"the talosctl admin client certificate stored here is unusable: {exc}", file=str(source),
                                field=key_name("talos_admin_client"), hint=hint) from None


def start_loading_secrets(repo: Path) -> PendingSecrets:
    return PendingSecrets(repo)


def load_or_create_secrets(repo: Path, distribution: str = "k3s", wanted: tuple[str, ...] = ()) -> ClusterSecrets:
    """The repository's secrets; new ones only for fields the repository never had."""
    return PendingSecrets(repo).result(distribution, wanted)


def read_age_key(path: Path) -> tuple[bytes, Any]:
    import pyrage

    data = path.read_bytes()
    for line in data.decode("utf-8", errors="replace").splitlines():
        if line.startswith("AGE-SECRET-KEY-1"):
            try:
                return data, pyrage.x25519.Identity.from_str(line.strip())
            except pyrage.IdentityError:
                break
    raise WriteError.single(f"{path} does not hold an age secret key (AGE-SECRET-KEY-1…)", file=str(path), hint=_RESTORE_KEY)


def _new_age_key() -> tuple[bytes, Any]:
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    # age-keygen's format without its "# created:" line, which would make the file differ per run for no use.
    return f"# public key: {identity.to_public()}\n{identity}\n".encode(), identity


def _sops_rules(recipient: str) -> list[dict[str, str]]:
    return [
        # The cluster secrets: every value encrypted.
        {"path_regex": r"(^|/)\.clustergen/secrets\.sops\.yaml$", "age": recipient},
        # Kubernetes Secrets you add: only data/stringData, so kustomize and Flux still read the kind and name.
        {"path_regex": r".*\.sops\.ya?ml$", "encrypted_regex": "^(data|stringData)$", "age": recipient},
    ]


def sops_config(recipient: str) -> str:
    from ..shared.yamltext import to_yaml

    header = (
        "# Written by clustergen: SOPS encrypts matching files to this repository's age key.\n"
        "# The private key is .clustergen/age.key (git-ignored): back it up.\n"
    )
    return header + to_yaml({"creation_rules": _sops_rules(recipient)}) + "\n"


def creation_rule(path: str) -> int | None:
    """The creation rule of .sops.yaml that sops applies to ``path``: the first whose
    path_regex matches (these patterns mean the same in Go's regexp and Python's re)."""
    for number, rule in enumerate(_sops_rules("")):
        if re.search(rule["path_regex"], path):
            return number
    return None


# Prestarted for a new repository: its store and this many Secrets. sops spends ~15 ms of CPU
# starting and ~2 ms encrypting; loading and planning the inventory leave the other core free
# for about 100 ms, which holds these five start-ups. The examples need 2 to 6 Secrets; paired
# runs: 4 beat 3 by 5% where 4 are needed (mixed-shelf), 6 lost 4% to 4 where 4 are.
PRESTARTED_SECRETS = 4
# Stands for a Secret's path while it is not known yet (any path under the Secrets' rule).
_A_SECRET_PATH = "secret.sops.yaml"


class PrestartedSecrets:
    """A new repository's age key, made before the plan, and sops already starting for the
    files that will be encrypted to it (see ``prestart_secret_files``)."""

    def __init__(self, key_bytes: bytes, identity: Any, config: str, batch: Encryptions):
        self.key_bytes = key_bytes
        self.identity = identity
        self.config = config  # the .sops.yaml the batch encrypts by
        self.batch = batch

    def discard(self) -> None:
        """The run failed before the secrets were wanted: stop the prestarted sops."""
        self.batch.close()


def prestart_secret_files(repo: Path) -> PrestartedSecrets | None:
    """For a repository that has no age key and no secrets store yet, whose every encrypted
    file is new: its key now, and sops started for the store and the first Secrets, so that
    their start-up runs on another core while the inventory is loaded and planned instead of
    beside the render. None where there is something to decrypt first, or no second core."""
    if (repo / AGE_KEY_PATH).exists() or (repo / ENCRYPTED_SECRETS_PATH).exists() or usable_cores() < 2:
        return None
    key_bytes, identity = _new_age_key()
    config = sops_config(str(identity.to_public()))
    batch = Encryptions(config, rule_of=creation_rule)
    batch.prestart([ENCRYPTED_SECRETS_PATH] + [_A_SECRET_PATH] * PRESTARTED_SECRETS)
    return PrestartedSecrets(key_bytes, identity, config, batch)


def recipient_of(key_file_content: bytes) -> str | None:
    """The age public key of an age.key file's content."""
    import pyrage

    for line in key_file_content.decode("utf-8", errors="replace").splitlines():
        if line.startswith("AGE-SECRET-KEY-1"):
            try:
                return str(pyrage.x25519.Identity.from_str(line.strip()).to_public())
            except pyrage.IdentityError:
                return None
    return None


def check_identity(repo: Path, previous_cluster: str | None, previous_recipient: str | None,
                   store_cluster: str | None, recipient: str | None, cluster_name: str) -> None:
    """Refuse a secrets store that belongs to another cluster: its key is not the one this
    repository's state recorded, or the store names another cluster than both the inventory
    and the state do (a rename keeps the state's name, so it passes)."""
    hint = (
        f"restore this cluster's own {ENCRYPTED_SECRETS_PATH} (git log -- {ENCRYPTED_SECRETS_PATH}) and its "
        f"{AGE_KEY_PATH} (from your backup); using another cluster's token would join these machines to it"
    )
    if previous_recipient and recipient and previous_recipient != recipient:
        raise WriteError.single(
            f"the secrets store belongs to another cluster: {AGE_KEY_PATH} is the key of {recipient}, but this "
            f"repository's state records {previous_recipient}",
            file=str(repo / AGE_KEY_PATH),
            hint=hint + f"; if you replaced the key on purpose, delete secretsRecipient from {STATE_PATH} and commit",
        )
    if store_cluster and store_cluster != cluster_name and store_cluster != previous_cluster:
        raise WriteError.single(
            f"the secrets store belongs to another cluster: {ENCRYPTED_SECRETS_PATH} was made for cluster "
            f"'{store_cluster}', and this inventory is cluster '{cluster_name}'",
            file=str(repo / ENCRYPTED_SECRETS_PATH),
            hint=hint + "; or generate into a folder of its own",
        )


def secret_files(repo: Path, cluster_secrets: ClusterSecrets, manifests: list[tuple[str, dict[str, Any]]] | None = None,
                 cluster_name: str | None = None) -> list[RenderedFile]:
    """The secrets store's files, waited for (see ``start_secret_files``)."""
    return start_secret_files(repo, cluster_secrets, manifests, cluster_name).files()


def start_secret_files(repo: Path, cluster_secrets: ClusterSecrets, manifests: list[tuple[str, dict[str, Any]]] | None = None,
                       cluster_name: str | None = None, prestarted: PrestartedSecrets | None = None) -> PendingSecretFiles:
    """The age key, .sops.yaml, the encrypted secrets file and the encrypted Kubernetes
    Secrets (``manifests``: path and plaintext Secret, from render.secret_manifests), with sops
    already encrypting and decrypting in the background while the caller renders. Call once
    per run: a repository without a key gets a new one each call. A new store records
    ``cluster_name`` inside it (encrypted like the rest), binding it to its cluster.
    ``prestarted`` (for a new repository) brings the key and sops already started."""
    from ..shared import RenderedFile

    key_file = repo / AGE_KEY_PATH
    encrypted_file = repo / ENCRYPTED_SECRETS_PATH
    batch = None
    if prestarted is not None and (key_file.exists() or encrypted_file.exists()):
        prestarted.discard()  # made for a repository without them, which this is no longer
        prestarted = None
    if prestarted is not None:
        key_bytes, identity, config, batch = prestarted.key_bytes, prestarted.identity, prestarted.config, prestarted.batch
    else:
        if key_file.is_file():
            key_bytes, identity = read_age_key(key_file)
        elif encrypted_file.is_file():
            raise WriteError.single(f"{key_file} is missing, so {encrypted_file} cannot be decrypted", file=str(key_file), hint=_RESTORE_KEY)
        else:
            key_bytes, identity = _new_age_key()
        config = sops_config(str(identity.to_public()))
    pending = PendingSecretFiles(repo, config, KnownSecrets.for_identity(str(identity)), batch)
    pending.add(RenderedFile(AGE_KEY_PATH, key_bytes, 0o600, secret=True))
    pending.add(RenderedFile.text(SOPS_CONFIG_PATH, config))
    wanted = secret_values(cluster_secrets)
    try:
        if encrypted_file.is_file():
            current = encrypted_file.read_bytes()
            values = _decrypted.get(digest(current))
            if values is None:
                values = Decryption(encrypted_file, key_file).result()
            # Unchanged values keep the very bytes on disk; re-encrypting would change them on every run.
            if all(values.get(k) == v for k, v in wanted.items()):
                pending.add(RenderedFile(ENCRYPTED_SECRETS_PATH, current))
            else:
                pending.encrypt(ENCRYPTED_SECRETS_PATH, {**values, **wanted})
        else:
            pending.encrypt(ENCRYPTED_SECRETS_PATH, {**wanted, **({CLUSTER_NAME_KEY: cluster_name} if cluster_name else {})})
        for path, manifest in manifests or []:
            if key_file.is_file() and (repo / path).is_file():
                pending.keep_if_unchanged(path, manifest, key_file)
            else:
                pending.encrypt(path, manifest)
        pending.all_started()
    except BaseException:
        pending.discard()
        raise
    return pending


@dataclasses.dataclass
class _Encrypting:
    """A file sops is encrypting in the run's batch."""

    path: str
    number: int  # in the run's Encryptions
    secret: dict[str, Any] | None = None  # a Secret manifest, whose ciphertext is noted as known


@dataclasses.dataclass
class _KeepIfUnchanged:
    """An encrypted Secret on disk, kept when sops decrypts it to the wanted manifest."""

    path: str
    manifest: dict[str, Any]
    ciphertext: bytes  # the file's bytes, read once: the ones sops decrypts and the ones kept
    decryption: Decryption


class PendingSecretFiles:
    """The secrets store's files while sops works on them. Each Secret is encrypted by the
    `*.sops.yaml` rule (only data/stringData); a file on disk that decrypts to the same Secret
    keeps its bytes (SOPS output differs on every run); one already known to (see
    known_secrets.py) keeps them without sops."""

    def __init__(self, repo: Path, config: str, known: KnownSecrets, batch: Encryptions | None = None):
        self._repo = repo
        self._config = config
        self._known = known
        self._batch = batch
        self._entries: list[RenderedFile | _Encrypting | _KeepIfUnchanged] = []

    def all_started(self) -> None:
        """Every file is added: a prestarted sops no file took is stopped now, not left waiting
        beside the render."""
        if self._batch is not None:
            self._batch.stop_waiting()

    def add(self, file: RenderedFile) -> None:
        self._entries.append(file)

    def encrypt(self, path: str, values: dict[str, Any]) -> None:
        self._entries.append(self._encrypting(path, values, secret=path != ENCRYPTED_SECRETS_PATH))

    def keep_if_unchanged(self, path: str, manifest: dict[str, Any], age_key_file: Path) -> None:
        """Keep the file on disk when it decrypts to ``manifest``; else encrypt ``manifest``."""
        from ..shared import RenderedFile

        current = (self._repo / path).read_bytes()
        if self._known.holds(current, manifest):
            self._entries.append(RenderedFile(path, current))
        else:
            self._entries.append(_KeepIfUnchanged(path, manifest, current, Decryption(self._repo / path, age_key_file)))

    def files(self) -> list[RenderedFile]:
        """Every file, once sops is done: the decryptions decide first, so the encryptions
        they call for still run side by side."""

        try:
            decided = [self._kept_or_encrypting(e) if isinstance(e, _KeepIfUnchanged) else e for e in self._entries]
            files = [self._finished(e) for e in decided]
            self._known.save()
            return files
        finally:
            self.discard()

    def _finished(self, entry: RenderedFile | _Encrypting) -> RenderedFile:
        from ..shared import RenderedFile

        if isinstance(entry, _Encrypting):
            assert self._batch is not None  # every encryption was started in it
            ciphertext = self._batch.result(entry.number)
            if entry.secret is not None:
                self._known.note(ciphertext, entry.secret)
            return RenderedFile(entry.path, ciphertext)
        return entry

    def _encrypting(self, path: str, values: dict[str, Any], *, secret: bool) -> _Encrypting:
        if self._batch is None:
            self._batch = Encryptions(self._config)
        return _Encrypting(path, self._batch.start(values, path), values if secret else None)

    def _kept_or_encrypting(self, entry: _KeepIfUnchanged) -> RenderedFile | _Encrypting:
        from ..shared import RenderedFile

        try:
            decrypted: dict[str, Any] | None = entry.decryption.result()
        except WriteError:
            decrypted = None  # not ours to read (another key, hand-edited): replaced
        if decrypted is not None and {k: v for k, v in decrypted.items() if k != "sops"} == entry.manifest:
            self._known.note(entry.ciphertext, entry.manifest)
            return RenderedFile(entry.path, entry.ciphertext)
        return self._encrypting(entry.path, entry.manifest, secret=True)

    def discard(self) -> None:
        """Stop whatever sops still runs and remove its scratch folder."""
        for entry in self._entries:
            if isinstance(entry, _KeepIfUnchanged):
                entry.decryption.discard()
        if self._batch is not None:
            self._batch.close()
