"""Where things live in a generated repository: the one place every stage reads a path from."""

from __future__ import annotations

# clustergen's own files
STATE_PATH = ".clustergen/state.yaml"
FACTS_PATH = ".clustergen/facts.yaml"  # what validate needs to know about the nodes (render writes it)
AGE_KEY_PATH = ".clustergen/age.key"  # git-ignored, 0600
ENCRYPTED_SECRETS_PATH = ".clustergen/secrets.sops.yaml"  # committed
SOPS_CONFIG_PATH = ".sops.yaml"  # committed
SECRETS_DIR = ".clustergen/secrets"  # git-ignored: plaintext secrets of earlier versions
LEGACY_TOKEN_PATH = f"{SECRETS_DIR}/k3s-token"  # plaintext, before secrets were encrypted
# Replaced whole, never three-way merged: a merge of ciphertext is garbage,
# and their content always derives from what is on disk anyway.
WRITE_ONCE_PATHS = frozenset({AGE_KEY_PATH, ENCRYPTED_SECRETS_PATH})


# the cluster overlay
def overlay_root(cluster_name: str) -> str:
    return f"overlays/{cluster_name}"


def controllers_folder(cluster_name: str) -> str:
    return f"{overlay_root(cluster_name)}/infrastructure/controllers"


def backup_folder(cluster_name: str) -> str:
    return f"{overlay_root(cluster_name)}/apps/backup"


def credentials_folder(cluster_name: str) -> str:
    """The logins between apps (SOPS-encrypted Secrets) and the CloudNativePG databases."""
    return f"{overlay_root(cluster_name)}/apps/credentials"


def registry_folder(cluster_name: str) -> str:
    """The SOPS-encrypted pull credentials of namespaces whose apps use a private registry."""
    return f"{overlay_root(cluster_name)}/apps/registry"
