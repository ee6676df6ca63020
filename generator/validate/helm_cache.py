"""Helm lint and render results kept on disk, by everything that decides them.

Loading the Helm library takes a worker process ~0.4 s, most of a validate of a generated
repository whose charts did not change. A result is reused only when its key holds every
input Helm reads for it:

* the operation and all its arguments (values, release name, namespace, strictness, the
  Kubernetes version lint checks against), the chart folder's path (messages may name it),
  and the worker's time and memory limits (a render within one may overrun another);
* every file under the chart folder: its path, mode and bytes (subcharts in charts/ too);
* the Helm library as installed (the helm-python package's files and its shared library,
  by size and modification time) and any ``HELM_*`` setting in the environment.

A chart is never cached when its result could differ between two runs on the same inputs
or depend on a file the digest does not read: a symlink in its folder (Helm follows it), a
subchart archive (its templates are not scanned), or a template action (in any of its files, or
in the values given, which `tpl` renders) calling a random, clock, DNS or key-generating
function. Only Helm's own answers are kept, a rendered chart or
Helm's refusal; a worker that ran out of time or memory, or failed otherwise, is asked again
next run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import stat as st
from pathlib import Path
from typing import Any

from ..shared.cache import installed_files, keep_newest, store_entry
from .trees import tree_entries

# Bump when the stored shape or the key's meaning changes.
FORMAT = 1
KEEP = 512  # newest entries kept; older ones are removed when a run writes a new one
# Template functions whose output is not a function of the inputs (sprig and Helm's own).
_UNSTABLE = re.compile(
    r"\b(?:rand\w*|now|ago|unixEpoch|uuidv4|gen(?:CA|PrivateKey|SelfSignedCert|SignedCert)\w*"
    r"|htpasswd|bcrypt|shuffle|getHostByName)\b")
_ACTION = re.compile(r"\{\{.*?\}\}", re.S)


def chart_digest(folder: Path) -> str | None:
    """What Helm reads of a chart folder, or None when it must not be cached (see module)."""
    digest = hashlib.sha256()
    top = os.fspath(folder)
    try:
        for rel, path, info in tree_entries(top):
            if st.S_ISDIR(info.st_mode):
                digest.update(b"D\0" + rel + b"\0")
                continue
            if not st.S_ISREG(info.st_mode) or rel.endswith((b".tgz", b".tar.gz")):
                return None
            with open(path, "rb") as stream:
                data = stream.read()
            # Any file: `tpl` renders template text kept in values.yaml or elsewhere.
            if _unstable(data):
                return None
            digest.update(b"F\0" + rel + b"\0" + oct(info.st_mode).encode() + b"\0"
                          + hashlib.sha256(data).digest())
    except OSError:
        return None
    return digest.hexdigest()


def _unstable(template: bytes | str) -> bool:
    text = template.decode("utf-8", "replace") if isinstance(template, bytes) else template
    return any(_UNSTABLE.search(action) for action in _ACTION.findall(text))


def helm_identity() -> str | None:
    """The installed Helm library and the environment's Helm settings, without loading it."""
    spec = importlib.util.find_spec("helm_python")
    if spec is None or spec.origin is None:
        return None
    package = Path(spec.origin).parent
    try:
        parts = [(os.path.relpath(path, package), info.st_size, info.st_mtime_ns) for path, info in installed_files(package)]
    except OSError:
        return None
    settings = sorted((k, v) for k, v in os.environ.items() if k.startswith("HELM_"))
    return json.dumps([str(package), parts, settings])


class HelmResults:
    """One run's view of the cache folder; ``get``/``put`` by (operation, arguments)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._identity: str | None | bool = False
        self._charts: dict[str, str | None] = {}
        self._wrote = False
        self.hits = 0

    def key(self, op: str, args: tuple[Any, ...], limits: tuple[float, int] = (0.0, 0)) -> str | None:
        """``limits``: the worker's time and memory bounds; a render within one bound may
        overrun another, so a result is only reused under the same bounds."""
        if not args or not isinstance(args[0], str):
            return None
        if self._identity is False:
            self._identity = helm_identity()
        if self._identity is None:
            return None
        folder = args[0]
        if folder not in self._charts:
            self._charts[folder] = chart_digest(Path(folder))
        chart = self._charts[folder]
        if chart is None:
            return None
        try:
            # sort_keys: Helm's values are maps, their order means nothing; anything JSON
            # cannot say exactly (a set, a non-string key beside string ones) is not cached.
            text = json.dumps([FORMAT, op, list(args), list(limits), chart, self._identity], sort_keys=True,
                              allow_nan=False)
        except (TypeError, ValueError):
            return None
        if _unstable(text):  # values handed to `tpl`
            return None
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, key: str) -> tuple[str, Any] | None:
        try:
            stored = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(stored, list) or len(stored) != 2 or stored[0] not in ("ok", "helm"):
            return None
        self.hits += 1
        return stored[0], stored[1]

    def put(self, key: str, status: str, value: Any) -> None:
        path = self.folder / f"{key}.json"
        try:
            text = json.dumps([status, value])
        except (TypeError, ValueError):
            return
        # An unwritable cache only means asking Helm again next time.
        if store_entry(path, text.encode("utf-8")) and not self._wrote:
            self._wrote = True
            keep_newest(self.folder, ".json", KEEP)
