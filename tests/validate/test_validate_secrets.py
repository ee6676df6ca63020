"""Secret hygiene, with and without git deciding which files count.

Key material is assembled at run time so the project itself never carries
anything a secret scanner would (rightly) flag.
"""

from __future__ import annotations

import base64
import random
import subprocess
from pathlib import Path

import pytest

from .conftest import faults_of, one_fault

BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l".upper()


def _pem() -> str:
    rnd = random.Random(7)
    body = base64.b64encode(bytes(rnd.randrange(256) for _ in range(180))).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    kind = "OPENSSH " + "PRIVATE KEY"
    return "\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----", ""])


def _age_key() -> str:
    rnd = random.Random(11)
    return "AGE-SECRET-KEY-" + "1" + "".join(rnd.choice(BECH32) for _ in range(58))


def _k3s_token() -> str:
    rnd = random.Random(13)
    return "K10" + "".join(rnd.choice("0123456789abcdef") for _ in range(64)) + "::server:" + \
        "".join(rnd.choice("0123456789abcdef") for _ in range(32))


def add_secrets(root: Path) -> None:
    (root / "bootstrap" / "keys").mkdir(parents=True)
    (root / "bootstrap" / "keys" / "node.key").write_text(_pem())
    (root / "notes").mkdir()
    (root / "notes" / "recovery.txt").write_text(f"cluster recovery\n\nage key: {_age_key()}\n")
    (root / "bootstrap" / "k3s" / "install.sh").write_text(
        "#!/bin/sh\nset -eu\n"
        f"curl -sfL https://get.k3s.io | K3S_TOKEN={_k3s_token()} sh -s - agent\n")
    # Kept out of git by the fixture's .gitignore: fine.
    (root / "operator.agekey").write_text(_age_key() + "\n")
    (root / "ignored").mkdir()
    (root / "ignored" / "id_ed25519").write_text(_pem())


def add_secrets_in_git(root: Path) -> None:
    add_secrets(root)
    subprocess.run(["git", "init", "-q", str(root)], check=True)


EXPECTED = {
    ("apps/secret.yaml", 7, "stringData"),
    ("apps/kustomization.yaml", 8, "secretGenerator[0].literals"),
    ("bootstrap/k3s/config.yaml", 2, "token"),
    ("bootstrap/cloud-init/nuc1/user-data", 5, "write_files[0].content.token"),
    ("bootstrap/keys/node.key", 1, None),
    ("notes/recovery.txt", 3, None),
    ("bootstrap/k3s/install.sh", 3, None),
}


@pytest.mark.parametrize("prepare", [add_secrets, add_secrets_in_git], ids=["gitignore-matcher", "git"])
def test_secret_faults(validated, prepare):
    report = validated("secrets", prepare=prepare)
    found = {(f.file, f.line, f.path) for f in faults_of(report, "secrets")}
    assert found == EXPECTED, "\n".join(map(str, report.faults))


def test_secret_messages(validated):
    report = validated("secrets", prepare=add_secrets)
    secret = one_fault(report, "secrets", "apps/secret.yaml")
    assert secret.document == "Secret/default/db"
    assert secret.message.startswith("plaintext Secret: stringData is not encrypted")
    assert one_fault(report, "secrets", "bootstrap/keys/node.key").message.startswith(
        "PEM OPENSSH PRIVATE KEY committed in plaintext")
    assert "age secret key" in one_fault(report, "secrets", "notes/recovery.txt").message
    assert "k3s join token" in one_fault(report, "secrets", "bootstrap/k3s/install.sh").message
    assert one_fault(report, "secrets", "bootstrap/k3s/config.yaml").message == \
        "k3s config carries a plaintext token"


def test_sops_encrypted_secret_is_fine(validated):
    report = validated("secrets", prepare=add_secrets)
    assert not faults_of(report, "secrets", "apps/tls.sops.yaml")
    assert not faults_of(report, "schema", "apps/tls.sops.yaml")


def test_prose_naming_the_marker_is_not_a_key(tmp_path):
    from generator.validate.secrets import scan

    text = "Never commit a -----BEGIN PRIVATE KEY----- block; see docs.\n"
    assert scan("README.md", text, [], lambda d, p: None) == []
