"""Kubernetes Secrets this repository commits SOPS-encrypted: Grafana's admin login and each
backed-up namespace's k8up credentials.

The render stage is pure, so it only says which Secrets exist and what they hold; the write
stage encrypts them (write.secrets.secret_files), keeping a file's bytes while its decrypted
content is unchanged. Their values come from the secrets store (.clustergen/secrets.sops.yaml):
generated once there, or (the S3 keys) put there by the user, so regenerating never loses them.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from ..plan.model import ClusterPlan
from ..shared import layout

if TYPE_CHECKING:
    from ..shared import ClusterSecrets

# Until the user stores the S3 keys, the Secret holds this and backups fail to authenticate.
S3_PLACEHOLDER = "unset: store it in .clustergen/secrets.sops.yaml (README, Backups)"


def controllers_folder(plan: ClusterPlan) -> str:
    return layout.controllers_folder(plan.settings.cluster_name)


def backup_folder(plan: ClusterPlan) -> str:
    return layout.backup_folder(plan.settings.cluster_name)


def wanted_secret_fields(plan: ClusterPlan) -> tuple[str, ...]:
    """ClusterSecrets fields this cluster needs generated (once) beyond its distribution's."""
    fields = []
    if plan.monitoring is not None:
        fields.append("grafana_admin_password")
    if plan.backup is not None:
        fields.append("restic_password")
    return tuple(fields)


def _secret(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "type": "Opaque", "stringData": data}


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
    return result


def secret_file_names(plan: ClusterPlan, folder: str) -> list[str]:
    return [posixpath.basename(path) for path, _ in secret_manifests(plan, None) if posixpath.dirname(path) == folder]
