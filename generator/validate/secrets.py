"""Secret hygiene: nothing that would grant access may be committed in clear.

Runs on every file git would track (the caller already dropped ignored
files), so a key kept out of git by .gitignore is fine, and so is anything
SOPS encrypted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

from .documents import Document, PathPart, json_path, load_all
from .report import Fault

CHECK = "secrets"

# The body requirement keeps prose that merely names the marker from matching.
_PEM = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----[ \t]*\r?\n"
    r"(?:[A-Za-z0-9-]+:[^\n]*\n)*\s*[A-Za-z0-9+/=]{16,}"
)
_AGE = re.compile(r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{20,}")
# k3s "secure" token: K10<CA hash>::<user>:<password>
_K3S_TOKEN = re.compile(r"K10[0-9a-fA-F]{16,}::[A-Za-z0-9_.-]+:[^\s'\"]+")
_K3S_ENV = re.compile(r"\bK3S_(?:AGENT_)?TOKEN=([\"']?)(?![\"'$\s])(\S+?)\1(?=\s|$)")
_SOPS_JSON = re.compile(r'"sops"\s*:\s*\{[^}]*?"mac"\s*:', re.S)
_SOPS_DOTENV = re.compile(r"^sops_mac=", re.M)

# Keys only a k3s config.yaml carries; a "token" beside one of them is k3s's.
_K3S_KEYS = {
    "server", "tls-san", "cluster-init", "node-label", "node-taint", "disable",
    "flannel-backend", "write-kubeconfig-mode", "kubelet-arg", "kube-apiserver-arg",
    "cluster-cidr", "service-cidr", "cluster-dns", "cluster-domain", "node-ip", "node-name",
    "node-external-ip", "secrets-encryption", "disable-network-policy", "embedded-registry",
    "etcd-expose-metrics", "flannel-iface", "data-dir", "disable-cloud-controller",
    "disable-kube-proxy", "protect-kernel-defaults", "selinux",
}
_TOKEN_KEYS = ("token", "agent-token")
_TOKEN_KEY_SET = frozenset(_TOKEN_KEYS)

Locate = Callable[[Document, tuple[PathPart, ...]], "int | None"]


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def sops_encrypted_text(text: str, docs: list[Document]) -> bool:
    if any(d.sops_encrypted for d in docs):
        return True
    # The searches run over every file; nearly all of them hold neither marker.
    return bool(('"sops"' in text and _SOPS_JSON.search(text)) or ("sops_mac=" in text and _SOPS_DOTENV.search(text)))


def scan(rel: str, text: str, docs: list[Document], locate: Locate) -> list[Fault]:
    """Every secret-hygiene fault of one file. The key patterns apply to every file, SOPS
    files too: SOPS leaves fields outside encrypted_regex in clear, and a marker such as
    a sops_mac= line costs nothing to add; only the document checks trust SOPS."""
    faults = _marker_faults(rel, text)
    if sops_encrypted_text(text, docs):
        return faults
    for doc in docs:
        faults.extend(_document_faults(rel, doc, locate))
    return faults


def _marker_faults(rel: str, text: str) -> list[Fault]:
    faults = []
    # Most files hold none of these markers, and a substring test is far
    # cheaper than a regex pass over every tracked file.
    pem = _PEM.finditer(text) if "PRIVATE KEY" in text else ()
    age = _AGE.finditer(text) if "AGE-SECRET-KEY-1" in text else ()
    k3s = _K3S_TOKEN.finditer(text) if "K10" in text else ()
    k3s_env = _K3S_ENV.finditer(text) if "K3S_" in text else ()
    for m in pem:
        if "ENCRYPTED" in m.group(1):
            continue  # passphrase-protected PKCS#8 is not usable as committed
        faults.append(Fault(CHECK, rel, _line_of(text, m.start()), None, None,
                            f"PEM {m.group(1)}PRIVATE KEY committed in plaintext; "
                            "encrypt it with SOPS or keep it out of git"))
    for m in age:
        faults.append(Fault(CHECK, rel, _line_of(text, m.start()), None, None,
                            "age secret key (AGE-SECRET-KEY-1…) committed in plaintext"))
    for m in k3s:
        faults.append(Fault(CHECK, rel, _line_of(text, m.start()), None, None,
                            "k3s join token (K10…::server:…) committed in plaintext"))
    for m in k3s_env:
        if _K3S_TOKEN.fullmatch(m.group(2)):
            continue  # already reported above
        faults.append(Fault(CHECK, rel, _line_of(text, m.start()), None, None,
                            "K3S_TOKEN set to a literal value; read it from an encrypted file"))
    return faults


# -- bytes: binary files and files too big to parse, read in chunks ---------------------------

_CHUNK = 8 << 20
# Longer than any marker match needs to see at once (a PEM header plus its first body line,
# a k3s token); a match that starts in the overlap is found in the next chunk as well and
# is counted once, by its offset.
_OVERLAP = 64 << 10


def scan_stream(rel: str, read: Callable[[int], bytes]) -> list[Fault]:
    """The key patterns over a file's bytes, streamed: ``read(n)`` returns the next bytes
    (b"" at the end), so a file of any size is scanned in bounded memory."""
    faults: list[Fault] = []
    seen: set[int] = set()
    carry = b""
    carry_start = 0  # file offset of carry[0]
    lines_before = 0  # newlines before carry_start
    while True:
        chunk = read(_CHUNK)
        data = carry + chunk
        if not data:
            break
        for offset, message in _byte_matches(data):
            at = carry_start + offset
            if at not in seen:
                seen.add(at)
                faults.append(Fault(CHECK, rel, lines_before + data.count(b"\n", 0, offset) + 1, None, None, message))
        if not chunk:
            break
        keep = min(len(data), _OVERLAP)
        lines_before += data.count(b"\n", 0, len(data) - keep)
        carry_start += len(data) - keep
        carry = data[len(data) - keep:]
    faults.sort(key=lambda f: f.line or 0)
    return faults


def scan_bytes(rel: str, data: bytes) -> list[Fault]:
    view = iter([data, b""])
    return scan_stream(rel, lambda n: next(view, b""))


_B_PEM = re.compile(_PEM.pattern.encode())
_B_AGE = re.compile(_AGE.pattern.encode())
_B_K3S_TOKEN = re.compile(_K3S_TOKEN.pattern.encode())
_B_K3S_ENV = re.compile(_K3S_ENV.pattern.encode())


def _byte_matches(data: bytes) -> list[tuple[int, str]]:
    found = []
    if b"PRIVATE KEY" in data:
        for m in _B_PEM.finditer(data):
            if b"ENCRYPTED" not in m.group(1):
                found.append((m.start(), f"PEM {m.group(1).decode('ascii', 'replace')}PRIVATE KEY committed in plaintext; "
                                         "encrypt it with SOPS or keep it out of git"))
    if b"AGE-SECRET-KEY-1" in data:
        found.extend((m.start(), "age secret key (AGE-SECRET-KEY-1…) committed in plaintext") for m in _B_AGE.finditer(data))
    if b"K10" in data:
        found.extend((m.start(), "k3s join token (K10…::server:…) committed in plaintext") for m in _B_K3S_TOKEN.finditer(data))
    if b"K3S_" in data:
        for m in _B_K3S_ENV.finditer(data):
            if not _B_K3S_TOKEN.fullmatch(m.group(2)):
                found.append((m.start(), "K3S_TOKEN set to a literal value; read it from an encrypted file"))
    return found


def _document_faults(rel: str, doc: Document, locate: Locate) -> list[Fault]:
    data = doc.data
    if not isinstance(data, dict) or doc.sops_encrypted:
        return []
    faults = []
    if doc.kind == "Secret" and doc.api_version == "v1":
        for key in ("data", "stringData"):
            if data.get(key):
                faults.append(Fault(CHECK, rel, locate(doc, (key,)), doc.ident, key,
                                    f"plaintext Secret: {key} is not encrypted "
                                    "(encrypt with SOPS or use a SealedSecret/ExternalSecret)"))
    if doc.api_version.startswith("kustomize.config.k8s.io/"):
        for i, gen in enumerate(data.get("secretGenerator") or []):
            if isinstance(gen, dict) and gen.get("literals"):
                path: tuple[PathPart, ...] = ("secretGenerator", i, "literals")
                faults.append(Fault(CHECK, rel, locate(doc, path), None, json_path(path),
                                    "secretGenerator literals put secret values in git"))
    for path in k3s_token_paths(data, rel):
        faults.append(Fault(CHECK, rel, locate(doc, path), None, json_path(path),
                            "k3s config carries a plaintext token"))
    for path, config in _cloud_init_k3s_configs(data):
        for tpath in k3s_token_paths(config, "k3s/config.yaml"):
            faults.append(Fault(CHECK, rel, locate(doc, path), None, json_path(path + tpath),
                                "k3s config written by cloud-init carries a plaintext token"))
    return faults


def _plain_value(value: Any) -> bool:
    if not isinstance(value, str | int) or value in ("", None):
        return False
    text = str(value).strip()
    return bool(text) and not text.startswith(("ENC[", "${", "{{"))


def k3s_token_paths(data: Any, rel: str) -> list[tuple[PathPart, ...]]:
    if not isinstance(data, dict) or _TOKEN_KEY_SET.isdisjoint(data):  # one C loop: this runs for every document
        return []
    looks_k3s = "k3s" in rel.lower() or any(k in data for k in _K3S_KEYS)
    if not looks_k3s:
        return []
    return [(k,) for k in _TOKEN_KEYS if _plain_value(data.get(k))]


def _cloud_init_k3s_configs(data: dict) -> list[tuple[tuple[PathPart, ...], Any]]:
    found: list[tuple[tuple[PathPart, ...], Any]] = []
    files = data.get("write_files")
    if not isinstance(files, list):
        return found
    for i, entry in enumerate(files):
        if not isinstance(entry, dict):
            continue
        target = str(entry.get("path", ""))
        content = entry.get("content")
        if "k3s" not in target or not isinstance(content, str):
            continue
        try:
            docs, _ = load_all(content)
        except yaml.YAMLError:
            continue
        for config in docs:
            found.append((("write_files", i, "content"), config))
    return found
