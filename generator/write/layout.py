"""Where the write stage keeps its own files in the repository."""

STATE_PATH = ".clustergen/state.yaml"
AGE_KEY_PATH = ".clustergen/age.key"  # git-ignored, 0600
ENCRYPTED_SECRETS_PATH = ".clustergen/secrets.sops.yaml"  # committed
SOPS_CONFIG_PATH = ".sops.yaml"  # committed
LEGACY_TOKEN_PATH = ".clustergen/secrets/k3s-token"  # plaintext, before secrets were encrypted
# Replaced whole, never three-way merged: a merge of ciphertext is garbage,
# and their content always derives from what is on disk anyway.
WRITE_ONCE_PATHS = frozenset({AGE_KEY_PATH, ENCRYPTED_SECRETS_PATH})
