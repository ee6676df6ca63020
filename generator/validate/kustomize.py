"""Real kustomize builds, and Flux Kustomization paths.

Built objects are attributed back to the raw document they came from
(matched by kind and name, preferring the build's own tree) so a fault
names a file a user can edit rather than a build output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..shared.cache import keep_newest, store_entry
from .trees import tree_entries
from . import tool
from .documents import BUILT, Document, error_message, get_path, load_all, mapping, parse_documents
from .files import KUSTOMIZATION_NAMES, under
from .report import Fault
from .sources import LocalSources

CHECK = "kustomize"
# A build of local files takes well under a second; nothing it runs waits on the network.
BUILD_TIMEOUT = 60.0
FLUX_KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io/"


@dataclass
class Build:
    directory: str
    kustomization: str  # repo-relative kustomization file
    text: str = ""
    fault: Fault | None = None
    docs: list[Document] = field(default_factory=list)


def kustomization_file(root: Path, directory: str) -> str:
    for name in KUSTOMIZATION_NAMES:
        rel = posixpath.join(directory, name) if directory else name
        if (root / rel).is_file():
            return rel
    return posixpath.join(directory, KUSTOMIZATION_NAMES[0])


_FROM = re.compile(r"accumulating resources from '([^']+)'")


def _fault_line(root: Path, kustomization: str, stderr: str) -> int | None:
    """The kustomization line naming the resource kustomize could not load."""
    m = _FROM.search(stderr)
    if not m:
        return None
    target = m.group(1)
    try:
        lines = (root / kustomization).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for i, line in enumerate(lines, 1):
        if re.search(r"(^|[\s'\"-])" + re.escape(target) + r"(['\"]?\s*$)", line):
            return i
    return None


def _summarise(root: Path, exc: tool.ToolError) -> str:
    """kustomize nests every cause into one long line; keep what a user acts on."""
    missing = _FROM.search(exc.stderr)
    if missing and "no such file or directory" in exc.stderr:
        return f"resource {missing.group(1)!r} does not exist"
    detail = tool.first_error_line(exc.stderr) or f"exit code {exc.exit_code}"
    detail = detail.replace(str(root.resolve()) + "/", "").replace(str(root) + "/", "")
    return detail if len(detail) <= 300 else detail[:297] + "..."


# ---- what a build would reach: remote resources and links out of the repository ----------

# Fields whose entries kustomize loads as files or kustomization folders, any of which it
# fetches when the entry is a URL (git clone, or an HTTP GET for a single file).
REFERENCE_FIELDS = ("resources", "bases", "components", "generators", "transformers", "validators", "crds")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^git::|^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:")
_FORGE = re.compile(r"^(?:[^/]*\.)?(?:github\.com|gitlab\.com|bitbucket\.org|dev\.azure\.com)(?:[/:]|$)", re.I)
_HOST_FIRST = re.compile(r"^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::[0-9]+)?/")
_QUERY = re.compile(r"\?(?:ref|version|submodules|timeout)=")


def remote_reference(entry: object, base: Path | None = None) -> bool:
    """Whether kustomize would fetch ``entry`` from the network: a URL, a git address
    (git::, git@host:, github.com/…), a ?ref= query, or a host-like first segment that is no
    folder here (kustomize tries a missing local path as a repository address)."""
    if not isinstance(entry, str):
        return False
    text = entry.strip()
    if _SCHEME.match(text) or _FORGE.match(text) or _QUERY.search(text):
        return True
    if base is not None and (base / text).exists():
        return False
    return bool(_HOST_FIRST.match(text)) or "//" in text


def _first_document(path: Path) -> Any:
    """A kustomization file's one document (None when it holds none or several, which
    kustomize reports), read as the checks read every file: an odd tag or byte is a YAML
    error here, never a crash."""
    docs, _ = load_all(path.read_text(encoding="utf-8", errors="replace"))
    return docs[0] if len(docs) == 1 else None


def _entries(root: Path, kfile: str) -> list[tuple[str, int, str]]:
    """(field, index, entry) of every string entry in the reference fields."""
    try:
        data = _first_document(root / kfile)
    except (OSError, yaml.YAMLError):
        return []  # kustomize reports it
    if not isinstance(data, dict):
        return []
    found: list = []
    for name in REFERENCE_FIELDS:
        items = data.get(name)
        if isinstance(items, list):
            found.extend((name, i, item.strip()) for i, item in enumerate(items) if isinstance(item, str))
    return found


def _entry_line(root: Path, kfile: str, entry: str) -> int | None:
    try:
        lines = (root / kfile).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for i, line in enumerate(lines, 1):
        if entry in line:
            return i
    return None


def unbuildable(root: Path, directories: list[str], links_out: dict[str, str]) -> dict[str, list[Fault]]:
    """Kustomizations not to build, with why: a build would fetch a remote resource (the
    network is never reached from validate), or read through a symlink leaving the
    repository, or load a folder outside it; and, in turn, every kustomization that
    includes one of those."""
    from .files import beneath_any

    top = Path(os.path.realpath(root))
    refused: dict[str, list[Fault]] = {}
    includes: dict[str, list[tuple[str, int | None, str]]] = {}
    for directory in directories:
        kfile = kustomization_file(root, directory)
        base = root / directory if directory else root
        faults = []
        links = sorted(link for link in links_out if under(link, directory))
        if links:
            faults.append(Fault(CHECK, kfile, None, None, None,
                                f"not built: {', '.join(links)} {'is a symlink' if len(links) == 1 else 'are symlinks'} "
                                "leaving the repository, which kustomize would follow"))
        for field_name, index, entry in _entries(root, kfile):
            line = _entry_line(root, kfile, entry)
            if remote_reference(entry, base):
                faults.append(Fault(CHECK, kfile, line, None, f"{field_name}[{index}]",
                                    f"remote {field_name[:-1] if field_name.endswith('s') else field_name} {entry!r} is not fetched: "
                                    "validate never reaches the network, so this kustomization is not built "
                                    "(vendor it into the repository to have it checked)"))
                continue
            target = Path(os.path.normpath(base / entry))
            if not Path(os.path.realpath(target)).is_relative_to(top):
                faults.append(Fault(CHECK, kfile, line, None, f"{field_name}[{index}]",
                                    f"{entry!r} leads outside the repository; not built"))
                continue
            rel = target.relative_to(root).as_posix() if target.is_relative_to(root) else None
            if rel is not None:
                link = beneath_any(rel, links_out)
                if link is not None and link not in links:
                    faults.append(Fault(CHECK, kfile, line, None, f"{field_name}[{index}]",
                                        f"not built: {entry!r} goes through {link}, a symlink leaving the repository"))
                    continue
                includes.setdefault(directory, []).append(("" if rel == "." else rel, line, entry))
        if faults:
            refused[directory] = faults
    changed = True
    while changed:  # a kustomization including a refused one cannot be built either
        changed = False
        for directory, targets in includes.items():
            if directory in refused:
                continue
            for rel, line, entry in targets:
                hit = rel if rel in refused else None
                if hit is not None:
                    refused[directory] = [Fault(CHECK, kustomization_file(root, directory), line, None, None,
                                                f"not built: it includes {entry!r}, and {hit or '.'} is not built "
                                                "(see its fault)")]
                    changed = True
                    break
    return refused


# kustomize is never to reach the network, even for a reference the checks above missed:
# git may use the local file protocol only, and HTTP goes to a closed loopback port.
OFFLINE_ENV = {
    "GIT_ALLOW_PROTOCOL": "file",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_SSH_COMMAND": "false",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "no_proxy": "",
}


def build(root: Path, directory: str) -> Build:
    kfile = kustomization_file(root, directory)
    result = Build(directory, kfile)
    try:
        result.text = tool.run(tool.kustomize_command(root / directory if directory else root), env=OFFLINE_ENV,
                               timeout=BUILD_TIMEOUT)
    except tool.ToolMissing as exc:
        result.fault = Fault(CHECK, kfile, None, None, None, f"cannot build: {exc.describe()}")
    except tool.ToolError as exc:
        result.fault = Fault(CHECK, kfile, _fault_line(root, kfile, exc.stderr), None, None,
                             f"kustomize build {directory or '.'} failed: {_summarise(root, exc)}")
    return result


def included_dirs(docs: Iterable[Document], directories: set[str]) -> set[str]:
    """Kustomization folders that another kustomization includes (resources, components, bases)."""
    found: set[str] = set()
    for d in docs:
        if d.kind not in ("Kustomization", "Component") or not d.api_version.startswith("kustomize.config.k8s.io/"):
            continue
        here = posixpath.dirname(d.file)
        for key in ("resources", "components", "bases"):
            for entry in d.data.get(key) or []:
                if not isinstance(entry, str) or "://" in entry or entry.startswith(("git@", "github.com/")):
                    continue
                target = posixpath.normpath(posixpath.join(here, entry))
                if target != here and target in directories:
                    found.add(target)
    return found


def build_all(root: Path, directories: list[str], jobs: int,
              advance: Callable[[int], None] = lambda n: None, cache: BuildCache | None = None) -> list[Build]:
    """Builds run as subprocesses, so threads give real parallelism. With a cache, a
    directory built before from the very same tree is not built again."""
    if not directories:
        return []
    results: dict[str, Build] = {}
    todo = []
    for d in directories:
        text = cache.get(d) if cache is not None else None
        if text is not None:
            results[d] = Build(d, kustomization_file(root, d), text)
            advance(1)
        else:
            todo.append(d)
    if todo:
        with ksops_resolved(root) as build_root, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for b in pool.map(lambda d: build(build_root, d), todo):
                if build_root != root and b.fault is not None:
                    b.fault = dataclasses.replace(b.fault, message=b.fault.message.replace(str(build_root) + "/", ""))
                elif b.fault is None and cache is not None:
                    cache.put(b.directory, b.text)
                results[b.directory] = b
                advance(1)
    return [results[d] for d in directories]


class BuildCache:
    """Successful build outputs, kept by what decides them: every file of the repository
    (path, mode, bytes; a symlink by its target; .git aside), the directory, and the
    kustomize binary and settings. A build reads nothing else (unbuildable() refuses the
    kustomizations that would reach outside the repository or the network), so a repository
    unchanged since the last run is not built again. Failed builds are never kept."""

    KEEP = 512  # newest entries kept; older ones are removed when a new one is written

    def __init__(self, folder: Path, root: Path):
        self.folder = folder
        self.root = root
        self._read = False  # the tree is read at the first build asked for, not before
        self._tree: str | None = None
        self._tool: str | None = None
        self._wrote = False

    def _path(self, directory: str) -> Path | None:
        if not self._read:
            self._read = True
            self._tree = _tree_digest(self.root)
            self._tool = _tool_identity(self.root)
        if self._tree is None or self._tool is None:
            return None
        import hashlib

        key = hashlib.sha256("\0".join((self._tree, self._tool, directory)).encode()).hexdigest()
        return self.folder / f"{key}.yaml"

    def get(self, directory: str) -> str | None:
        path = self._path(directory)
        if path is None:
            return None
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def put(self, directory: str, text: str) -> None:
        path = self._path(directory)
        if path is None:
            return
        # An unwritable cache only means building again next time.
        if store_entry(path, text.encode("utf-8")) and not self._wrote:
            self._wrote = True
            keep_newest(self.folder, ".yaml", self.KEEP)


def _tree_digest(root: Path) -> str | None:
    import hashlib
    import stat as st

    digest = hashlib.sha256()
    top = os.fspath(root)
    try:
        for rel, path, info in tree_entries(top, frozenset({".git"})):
            if st.S_ISLNK(info.st_mode):
                digest.update(b"L\0" + rel + b"\0" + os.fsencode(os.readlink(path)) + b"\0")
            elif st.S_ISDIR(info.st_mode):
                digest.update(b"D\0" + rel + b"\0")
            elif st.S_ISREG(info.st_mode):
                with open(path, "rb") as stream:
                    content = hashlib.sha256(stream.read()).hexdigest().encode()
                digest.update(b"F\0" + rel + b"\0" + oct(info.st_mode).encode() + b"\0" + content + b"\0")
            else:
                return None  # a FIFO or device: nothing to cache by
    except OSError:
        return None
    return digest.hexdigest()


def _tool_identity(root: Path) -> str | None:
    try:
        command = tool.kustomize_command(root)
        info = os.stat(command[0])
    except (tool.ToolMissing, OSError):
        return None
    settings = sorted((k, v) for k, v in os.environ.items() if k.startswith(("KUSTOMIZE", "KUBECTL")))
    return repr((command[0], command[1], info.st_size, info.st_mtime_ns, sorted(OFFLINE_ENV.items()), settings))


# ---- KSOPS generators (Argo CD) ---------------------------------------------------------

KSOPS_API = "viaduct.ai/"


def _ksops_files(directory: Path, generators: list) -> tuple[list[str], list]:
    """The files KSOPS generators would decrypt, and the generators that are not KSOPS."""
    files: list[str] = []
    others: list = []
    for entry in generators:
        path = directory / str(entry)
        try:
            docs = load_all(path.read_text(encoding="utf-8", errors="replace"))[0] if path.is_file() else []
        except (OSError, yaml.YAMLError):
            docs = []
        ksops = [d for d in docs if isinstance(d, dict) and d.get("kind") == "ksops" and str(d.get("apiVersion", "")).startswith(KSOPS_API)]
        if ksops:
            files.extend(str(f) for d in ksops for f in d.get("files") or [])
        else:
            others.append(entry)
    return files, others


@contextlib.contextmanager
def ksops_resolved(root: Path) -> Iterator[Path]:
    """The tree to build: ``root`` itself, or, when a kustomization uses a KSOPS generator
    (an exec plugin Argo CD's repo-server runs), a copy in which the generator's files are
    plain resources. They stay encrypted: the checks read SOPS-encrypted Secrets as such."""
    found = []
    for kfile in root.rglob("kustomization.yaml"):
        if ".git" in kfile.relative_to(root).parts:
            continue
        try:
            data = _first_document(kfile)
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and isinstance(data.get("generators"), list):
            files, others = _ksops_files(kfile.parent, data["generators"])
            if files:
                found.append((kfile.relative_to(root), data, files, others))
    if not found:
        yield root
        return
    with tempfile.TemporaryDirectory(prefix="clustergen-ksops-") as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".git"), symlinks=True)
        for rel, data, files, others in found:
            data["resources"] = list(data.get("resources") or []) + files
            if others:
                data["generators"] = others
            else:
                data.pop("generators")
            (copy / rel).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        yield copy


# ---- Flux postBuild substitution --------------------------------------------------------

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([=-])([^}]*))?\}")


def substitute(text: str, variables: dict[str, str]) -> str:
    """Flux's ${var}, ${var:=default} and ${var:-default}; unknown vars stay."""
    def repl(m: re.Match[str]) -> str:
        name, op, default = m.group(1), m.group(2), m.group(3)
        if name in variables:
            return variables[name]
        return default if op else m.group(0)
    return _VAR.sub(repl, text)


def flux_path(doc: Document, sources: LocalSources | None = None) -> str | None:
    """A Flux Kustomization's spec.path as a repo-relative directory, or None
    when its source is not this repository."""
    spec = mapping(doc.data.get("spec")) if isinstance(doc.data, dict) else {}
    if not spec:
        return None
    ref = mapping(spec.get("sourceRef"))
    if ref.get("kind") not in (None, "GitRepository"):
        return None  # an artifact's paths are not this repository's
    if sources is not None and not sources.is_local(ref.get("name"), ref.get("namespace") or doc.namespace):
        return None
    raw = spec.get("path") or "./"
    if not isinstance(raw, str):
        return None
    norm = posixpath.normpath(raw.lstrip("/"))
    return "" if norm == "." else norm


def is_flux_kustomization(doc: Document) -> bool:
    return doc.kind == "Kustomization" and doc.api_version.startswith(FLUX_KUSTOMIZE_GROUP)


def substitutions(flux_docs: Iterable[Document], configmaps: dict[tuple[str, str], dict],
                  sources: LocalSources) -> dict[str, dict[str, str]]:
    """Variables per built directory, from each Flux Kustomization's postBuild."""
    out: dict[str, dict[str, str]] = {}
    for doc in flux_docs:
        path = flux_path(doc, sources)
        post = get_path(doc.data, ("spec", "postBuild"))
        if path is None or not isinstance(post, dict):
            continue
        variables: dict[str, str] = {}
        for ref in post.get("substituteFrom") or []:
            if isinstance(ref, dict) and ref.get("kind") == "ConfigMap":
                data = configmaps.get((doc.namespace, str(ref.get("name"))), {})
                variables.update({str(k): str(v) for k, v in data.items()})
        variables.update({str(k): str(v) for k, v in (post.get("substitute") or {}).items()})
        if variables:
            out.setdefault(path, {}).update(variables)
    return out


def parse_build(b: Build, variables: dict[str, str] | None) -> None:
    text = substitute(b.text, variables) if variables else b.text
    try:
        b.docs = parse_documents(text, b.kustomization, BUILT, f"kustomize build {b.directory or '.'}")
    except yaml.YAMLError as exc:  # kustomize emits valid YAML; substitution may not
        b.fault = Fault(CHECK, b.kustomization, None, None, None,
                        f"build output of {b.directory or '.'} is not YAML: {error_message(exc)}")
        return
    for d in b.docs:
        d.index, d.line = -1, None


def attribute(docs: list[Document], directory: str, raw_index: dict[tuple[str, str], list[Document]]) -> None:
    """Point built documents at the raw document they were made from."""
    for d in docs:
        candidates = raw_index.get((d.kind, d.name), [])
        if not candidates:
            continue
        ranked = sorted(candidates, key=lambda s: (not under(s.file, directory),
                                                   s.metadata.get("namespace") != d.metadata.get("namespace")))
        src = ranked[0]
        d.file, d.index, d.line = src.file, src.index, src.line


def check_flux_paths(root: Path, flux_docs: Iterable[Document], sources: LocalSources,
                     locate: Callable[[Document, tuple], int | None]) -> list[Fault]:
    faults = []
    for doc in flux_docs:
        path = flux_path(doc, sources)
        if path is None:
            continue
        target = (root / path) if path else root
        escaped = path.startswith("..")
        if escaped or not target.is_dir():
            raw = get_path(doc.data, ("spec", "path"))
            why = "points outside the repository" if escaped else "does not exist in the repository"
            faults.append(Fault(CHECK, doc.file, locate(doc, ("spec", "path")), doc.ident,
                                "spec.path", f"Flux Kustomization path {raw!r} {why}"))
    return faults
