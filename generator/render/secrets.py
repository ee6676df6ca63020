"""Kubernetes Secrets this repository commits SOPS-encrypted: Grafana's admin login, each
backed-up namespace's k8up credentials, the registry credentials of namespaces whose apps
pull from a private registry (pullSecret), the logins between apps (plan.wiring), and the DNS
provider's credentials (external-dns, and cert-manager for DNS-01) unless the inventory names a
Secret of its own.

The render stage is pure, so it only says which Secrets exist and what they hold; the write
stage encrypts them (write.secrets.secret_files), keeping a file's bytes while its decrypted
content is unchanged. Their values come from the secrets store (.clustergen/secrets.sops.yaml):
generated once there, or (the S3 keys) put there by the user, so regenerating never loses them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import posixpath
from typing import TYPE_CHECKING, Any

from ..plan.model import PULL_SECRET, ClusterPlan
from ..shared import layout

if TYPE_CHECKING:
    from ..shared import ClusterSecrets

# Until the user stores the S3 keys, the Secret holds this and backups fail to authenticate.
S3_PLACEHOLDER = "unset: store it in .clustergen/secrets.sops.yaml (README, Backups)"
# Until the user stores registryAuths, pulls go without credentials (and a private registry refuses them).
REGISTRY_PLACEHOLDER = '{"auths": {}}'
DNS_PLACEHOLDER = "unset: store it in .clustergen/secrets.sops.yaml (README, DNS)"


def controllers_folder(plan: ClusterPlan) -> str:
    return layout.controllers_folder(plan.settings.cluster_name)


def storage_folder(plan: ClusterPlan) -> str:
    return f"overlays/{plan.settings.cluster_name}/infrastructure/storage"


def backup_folder(plan: ClusterPlan) -> str:
    return layout.backup_folder(plan.settings.cluster_name)


def credentials_folder(plan: ClusterPlan) -> str:
    return layout.credentials_folder(plan.settings.cluster_name)


def registry_folder(plan: ClusterPlan) -> str:
    return layout.registry_folder(plan.settings.cluster_name)


def pull_secret_namespaces(plan: ClusterPlan) -> list[str]:
    return sorted({a.namespace for a in plan.apps if a.pull_secret})


def wanted_secret_fields(plan: ClusterPlan) -> tuple[str, ...]:
    """ClusterSecrets fields this cluster needs generated (once) beyond its distribution's,
    then the app_passwords keys (they hold a "/": mqtt/<app>, postgres/<app>) it needs."""
    fields = []
    if plan.monitoring is not None:
        fields.append("grafana_admin_password")
    if plan.backup is not None and plan.backup.k8up:
        fields.append("restic_password")
    for secret in plan.generated_secrets:
        fields.extend(k for k in secret.password_keys if k not in fields)
    return tuple(fields)


def _secret(name: str, namespace: str, data: dict[str, str], type_: str = "Opaque") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "type": type_, "stringData": data}


# Mosquitto 2.0's password file hash (src/password_mosq.[ch], apps/mosquitto_passwd at v2.0.22):
# "user:$7$<iterations>$<base64 salt>$<base64 hash>", PBKDF2-HMAC-SHA512 over a 12-byte salt,
# 101 iterations, 64-byte hash, base64 without line breaks.
MOSQUITTO_HASH_TYPE = 7
MOSQUITTO_ITERATIONS = 101
MOSQUITTO_SALT_LEN = 12


def mosquitto_password_line(user: str, password: str) -> str:
    """One password-file line. The salt comes from the password itself (it must be unique, not
    secret), so the file, and the encrypted Secret holding it, stay the same on every run."""
    salt = hmac.new(password.encode(), b"clustergen mosquitto salt\0" + user.encode(), "sha256").digest()[:MOSQUITTO_SALT_LEN]
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, MOSQUITTO_ITERATIONS, 64)
    return f"{user}:${MOSQUITTO_HASH_TYPE}${MOSQUITTO_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _generated_value(source: tuple[Any, ...], passwords: dict[str, str]) -> str:
    kind, arg = source
    if kind == "literal":
        return str(arg)
    if kind == "password":
        return passwords.get(arg, "")
    if kind == "mosquitto-passwd":
        return "".join(mosquitto_password_line(user, passwords[key]) + "\n" for user, key in arg if passwords.get(key))
    raise AssertionError(f"unknown generated-secret source {kind}")


def secret_manifests(plan: ClusterPlan, secrets: ClusterSecrets | None) -> list[tuple[str, dict[str, Any]]]:
    """(path, Secret) pairs; with secrets None, the paths with empty values (for kustomizations)."""

    def value(field: str, placeholder: str = "") -> str:
        found = getattr(secrets, field) if secrets is not None else None
        return found if found is not None else placeholder

    result = []
    if plan.monitoring is not None:
        result.append(
            (
                posixpath.join(controllers_folder(plan), f"{plan.monitoring.grafana_secret}.sops.yaml"),
                _secret(plan.monitoring.grafana_secret, plan.monitoring.namespace, {"admin-user": "admin", "admin-password": value("grafana_admin_password")}),
            )
        )
    if plan.backup is not None:
        for ns in plan.backup.namespaces:
            data = {
                "repo-password": value("restic_password"),
                "access-key-id": value("backup_s3_access_key_id", S3_PLACEHOLDER),
                "secret-access-key": value("backup_s3_secret_access_key", S3_PLACEHOLDER),
            }
            result.append((posixpath.join(backup_folder(plan), f"{ns.name}.sops.yaml"), _secret(plan.backup.secret, ns.name, data)))
    for ns in pull_secret_namespaces(plan):
        secret = _secret(PULL_SECRET, ns, {".dockerconfigjson": value("registry_auths", REGISTRY_PLACEHOLDER)})
        secret["type"] = "kubernetes.io/dockerconfigjson"
        result.append((posixpath.join(registry_folder(plan), f"{ns}.sops.yaml"), secret))
    passwords = secrets.app_passwords if secrets is not None else {}
    for generated in plan.generated_secrets:
        data = {key: _generated_value(source, passwords) for key, source in generated.data}
        result.append((posixpath.join(credentials_folder(plan), f"{generated.namespace}-{generated.name}.sops.yaml"),
                       _secret(generated.name, generated.namespace, data, generated.type)))
    longhorn = plan.backup.longhorn if plan.backup is not None else None
    if longhorn is not None:
        # Longhorn's S3 backup target reads these keys (types/types.go at longhorn-manager v1.12.1).
        data = {
            "AWS_ACCESS_KEY_ID": value("backup_s3_access_key_id", S3_PLACEHOLDER),
            "AWS_SECRET_ACCESS_KEY": value("backup_s3_secret_access_key", S3_PLACEHOLDER),
            "AWS_ENDPOINTS": longhorn.endpoint,
        }
        result.append((posixpath.join(storage_folder(plan), f"{longhorn.credential_secret}.sops.yaml"),
                       _secret(longhorn.credential_secret, longhorn.namespace, data)))
    dns = plan.dns
    if dns is not None and dns.secret_managed:
        data = {key: value(dns.store_field(key), DNS_PLACEHOLDER) for key in dns.secret_keys}
        for ns in dns.secret_namespaces:
            result.append((posixpath.join(controllers_folder(plan), f"{dns.secret_name}.{ns}.sops.yaml"), _secret(dns.secret_name, ns, data)))
    return result


def missing_store_keys(plan: ClusterPlan, secrets: ClusterSecrets) -> list[str]:
    """Keys of the secrets store the user still has to fill for the DNS Secret clustergen commits."""
    def key_name(field: str) -> str:  # the store's spelling (write.secrets.key_name): dns_token → dnsToken
        first, *rest = field.split("_")
        return first + "".join(part.title() for part in rest)

    dns = plan.dns
    if dns is None or not dns.secret_managed:
        return []
    return [key_name(dns.store_field(key)) for key in dns.secret_keys if getattr(secrets, dns.store_field(key)) is None]


def secret_file_names(plan: ClusterPlan, folder: str) -> list[str]:
    return [posixpath.basename(path) for path, _ in secret_manifests(plan, None) if posixpath.dirname(path) == folder]
