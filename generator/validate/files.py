"""Which files of the repository the checks look at.

"A file git would track": inside a git work tree we ask git itself; outside
one (a freshly generated directory) a small matcher applies the root
``.gitignore`` so both cases agree on what counts.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import ValidateError
from . import tool

YAML_SUFFIXES = (".yaml", ".yml")
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CLOUD_INIT_DIR = "bootstrap/cloud-init"
TALOS_DIR = "bootstrap/talos"
# Flux bootstrap manifests are indexed for cross-references even when a
# kustomization also builds them, so a broken build does not hide them.
FLUX_BOOTSTRAP_DIRS = ("bootstrap/flux", "clusters")


class GitIgnore:
    """The subset of gitignore(5) a generated repo's root .gitignore uses:
    comments, negation, anchoring, directory-only patterns, ``*``, ``?``, ``**``."""

    def __init__(self, lines: Iterable[str]):
        self.rules: list[tuple[re.Pattern[str], bool, bool]] = []
        for raw in lines:
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            line = line.rstrip(" ")
            negate = line.startswith("!")
            if negate:
                line = line[1:]
            if line.startswith("\\"):
                line = line[1:]
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            anchored = "/" in line
            line = line.lstrip("/")
            if not line:
                continue
            self.rules.append((re.compile(_translate(line, anchored)), negate, dir_only))

    @classmethod
    def from_root(cls, root: Path) -> GitIgnore:
        path = root / ".gitignore"
        try:
            return cls(path.read_text(encoding="utf-8", errors="replace").splitlines())
        except OSError:
            return cls(())

    def ignored(self, rel: str, is_dir: bool = False) -> bool:
        # A path is ignored when it, or any directory above it, is ignored.
        parts = rel.split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if self._match(sub, is_dir or i < len(parts)):
                return True
        return False

    def _match(self, rel: str, is_dir: bool) -> bool:
        result = False
        for pattern, negate, dir_only in self.rules:
            if dir_only and not is_dir:
                continue
            if pattern.fullmatch(rel):
                result = not negate
        return result


def _translate(pattern: str, anchored: bool) -> str:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    body = "".join(out)
    return body if anchored else f"(?:.*/)?{body}"


def links_leaving(root: Path) -> dict[str, str]:
    """Every symlink in the repository (tracked, ignored or untracked; .git aside) whose target
    lies outside it, by repo-relative path, with what it points to. Such links are reported
    and never followed: a repository from someone else may point one at /etc/shadow."""
    top = Path(os.path.realpath(root))
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == Path(root):
            dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink() and not Path(os.path.realpath(path)).is_relative_to(top):
                try:
                    target = os.readlink(path)
                except OSError:
                    target = "?"
                found[path.relative_to(root).as_posix()] = target
    return found


def beneath_any(rel: str, links: dict[str, str] | set[str]) -> str | None:
    """The link among ``links`` that ``rel`` is or lies beneath, or None."""
    parts = rel.split("/")
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        if prefix in links:
            return prefix
    return None


def inside(root: Path, path: Path) -> bool:
    """Whether ``path``, every symlink followed, is inside the repository."""
    return Path(os.path.realpath(path)).is_relative_to(Path(os.path.realpath(root)))


def discover(root: Path, leaving: dict[str, str] | None = None) -> list[str]:
    """Repo-relative POSIX paths of every file git would track, sorted; never one reached
    through a symlink that leaves the repository (see links_leaving)."""
    leaving = links_leaving(root) if leaving is None else leaving
    try:
        listed = tool.git_ls_files(root)
    except tool.ToolError as exc:
        raise ValidateError.single(f"git cannot list the files of {root}: {exc}", file=str(root),
                                   hint="repair the repository (git status says what is wrong), or validate a copy outside git") from None
    if listed is not None:
        return sorted(p for p in listed if not beneath_any(p, leaving) and (root / p).is_file())
    ignore = GitIgnore.from_root(root)
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        dirnames[:] = sorted(
            d for d in dirnames
            if d != ".git" and not ignore.ignored(posixpath.join(rel_dir, d), is_dir=True)
        )
        for name in filenames:
            rel = posixpath.join(rel_dir, name)
            if not ignore.ignored(rel) and rel not in leaving:
                found.append(rel)
    return sorted(found)


def bootstrap_files(root: Path, listed: list[str], leaving: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """cloud-init seeds and Talos configs, tracked or not: generated seeds carry
    join tokens and are git-ignored, yet they are what the machines boot.  Links
    leaving the repository are left out (reported by discovery)."""
    leaving = links_leaving(root) if leaving is None else leaving
    found = set(listed)
    for pattern in ("*/user-data", "*/network-config"):
        found.update(p.relative_to(root).as_posix() for p in (root / CLOUD_INIT_DIR).glob(pattern) if p.is_file())
    for suffix in YAML_SUFFIXES:
        found.update(p.relative_to(root).as_posix() for p in (root / TALOS_DIR).rglob("*" + suffix) if p.is_file())
    found = {f for f in found if not beneath_any(f, leaving)}
    cloud_init = sorted(f for f in found if under(f, CLOUD_INIT_DIR) and PurePosixPath(f).name in
                        ("user-data", "network-config") and f.count("/") == 3)
    talos = sorted(f for f in found if under(f, TALOS_DIR) and is_yaml(f))
    return cloud_init, talos


def is_yaml(rel: str) -> bool:
    return rel.endswith(YAML_SUFFIXES)


def under(rel: str, directory: str) -> bool:
    return directory == "" or rel == directory or rel.startswith(directory.rstrip("/") + "/")


@dataclass
class RepoLayout:
    """The repository's files sorted into the roles the checks care about."""

    files: list[str]
    # Symlinks leaving the repository (path -> where they point): reported, never read.
    links_out: dict[str, str] = field(default_factory=dict)
    yaml_files: list[str] = field(default_factory=list)
    kustomize_dirs: list[str] = field(default_factory=list)
    chart_dirs: list[str] = field(default_factory=list)
    cloud_init_files: list[str] = field(default_factory=list)
    talos_files: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, files: list[str], links_out: dict[str, str] | None = None) -> RepoLayout:
        layout = cls(files=files, links_out=dict(links_out or {}))
        for rel in files:
            p = PurePosixPath(rel)
            parent = "" if str(p.parent) == "." else str(p.parent)
            if p.name in KUSTOMIZATION_NAMES:
                layout.kustomize_dirs.append(parent)
            if p.name == "Chart.yaml":
                layout.chart_dirs.append(parent)
            if under(rel, CLOUD_INIT_DIR) and p.name in ("user-data", "network-config"):
                layout.cloud_init_files.append(rel)
        chart_templates = [posixpath.join(d, "templates") if d else "templates" for d in layout.chart_dirs]
        for rel in files:
            if not is_yaml(rel):
                continue
            # Chart templates are Go templates, not YAML; helm checks them.
            if any(under(rel, t) for t in chart_templates):
                continue
            layout.yaml_files.append(rel)
            if under(rel, TALOS_DIR):
                layout.talos_files.append(rel)
        layout.kustomize_dirs = sorted(set(layout.kustomize_dirs))
        layout.chart_dirs = sorted(set(layout.chart_dirs))
        return layout

    def links_under(self, directory: str) -> list[str]:
        """The links leaving the repository inside ``directory``'s tree."""
        return sorted(link for link in self.links_out if under(link, directory))

    def kustomize_managed(self, rel: str) -> bool:
        """Files inside a kustomization's tree are validated as kustomize
        builds them (patches alone are partial objects)."""
        return any(under(rel, d) for d in self.kustomize_dirs)

    def schema_role(self, rel: str) -> str | None:
        """Why a raw file's documents skip Kubernetes schema validation, or None."""
        if under(rel, TALOS_DIR) or under(rel, CLOUD_INIT_DIR):
            return "bootstrap"
        if under(rel, ".clustergen"):
            return "facts"
        if any(under(rel, d) for d in self.chart_dirs):
            return "chart"
        if self.kustomize_managed(rel):
            return "kustomize"
        return None

    def flux_bootstrap(self, rel: str) -> bool:
        return any(under(rel, d) for d in FLUX_BOOTSTRAP_DIRS)
