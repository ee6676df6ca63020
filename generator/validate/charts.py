"""Charts from outside the repository: where a release's chart comes from, and a cache of them.

A release names its chart through a source: an HTTP Helm repository (its
``index.yaml`` lists each version's archive and digest), an OCI registry, or
an upstream project's git.  ``ChartStore.get`` turns a ``ChartSource`` into a
chart folder on disk, with the chart's missing dependencies filled in the way
``helm dependency build`` would.  Each chart is fetched at most once: the cache
folder keeps charts keyed by source URL, chart name, version and digest, and
the HTTP indexes beside them, so a later run (or an ``offline`` one) needs no
network for what an earlier run fetched.

Everything fetched is untrusted: downloads are size-capped, archives are
checked against the index's digest, unpacked by hand only inside their cache
entry (no absolute paths, no ``..``, no links), and entries appear by rename
once complete, so an interrupted run leaves nothing half-written to reuse.
Network calls have short timeouts and the run a total budget: an unreachable
source costs seconds and becomes a message, never a hang.

Layout of the cache folder::

    index/<host-path>-<hash>/index.yaml     an HTTP repository's index
    chart/<name>-<version>-<hash>/chart/    a chart, dependencies included
    git/<name>@<ref>-<hash>/                a shallow checkout, .git removed
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import json
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from ..shared.cache import write_atomically
from ..shared.yamltext import safe_load
from . import tool
from .documents import load_all

MAX_DOWNLOAD = 50 * 1024 * 1024  # one archive or index; the biggest public indexes are ~30 MB
MAX_UNPACKED = 200 * 1024 * 1024  # a chart archive's content, against gzip bombs
MAX_MEMBERS = 20_000
USER_AGENT = "clustergen-validate"

_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_CHART_NAME = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9_.-]{1,100}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+/-]{0,127}$")  # an OCI tag or git ref name, not a range


class Unavailable(Exception):
    """A chart that could not be had.

    ``fault`` when the repository under validation is wrong about it (no such
    chart or version, a digest that does not match, a hostile archive);
    otherwise (offline, unreachable, out of time) the release is skipped.
    """

    def __init__(self, message: str, *, fault: bool = False):
        super().__init__(message)
        self.fault = fault


class NotAChart(Unavailable):
    """A folder fetched from git that holds no Chart.yaml (plain manifests)."""

    def __init__(self, message: str):
        super().__init__(message, fault=True)


def _loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http(source: ChartSource) -> bool:
    """Flux's `insecure`, or a registry on this machine's loopback, which container runtimes also
    speak plain HTTP to by default (an Argo CD source has no insecure flag of its own)."""
    return source.plain_http or _loopback(source.url)


@dataclass(frozen=True)
class ChartSource:
    kind: str  # "helm" (HTTP index), "oci" or "git"
    url: str  # https://charts.example.com, oci://host/path/name, or a git URL
    chart: str = ""  # chart name (helm) or folder inside the checkout (git); "" for oci
    version: str = ""  # chart version (helm), tag (oci), tag or commit (git)
    digest: str = ""  # sha256:… manifest digest pinning an OCI artifact
    plain_http: bool = False  # an OCI registry spoken to without TLS (Flux's insecure)

    def describe(self) -> str:
        if self.kind == "oci":
            pin = f"@{self.digest}" if self.digest else f":{self.version}"
            return f"chart {self.url}{pin}"
        if self.kind == "git":
            return f"chart {self.chart or '.'} from {self.url} at {self.version}"
        return f"chart {self.chart} {self.version} from {self.url}"

    @property
    def label(self) -> str:
        """Stands in for a repository file in faults about the chart's templates."""
        if self.kind == "git":
            name = posixpath.basename(self.url.rstrip("/")).removesuffix(".git") or "git"
            return posixpath.normpath(f"{name}@{self.version}/{self.chart}")
        name = posixpath.basename(self.url.rstrip("/")) if self.kind == "oci" else self.chart
        return f"{name}-{self.version or self.digest.removeprefix('sha256:')[:12]}"


def exact_version(version: object) -> bool:
    return isinstance(version, str) and bool(_EXACT_VERSION.match(version.strip()))


def unpinned(source: ChartSource) -> str | None:
    """Why ``source`` is not fetched, or None: only pinned charts are, since a
    range would render whatever is newest today, not what the cluster runs."""
    if source.kind == "helm" and not exact_version(source.version):
        shown = source.version or "(none)"
        return f"version {shown!r} is not an exact version; only pinned charts are fetched"
    if source.kind == "oci" and not source.digest and not _TAG.match(source.version):
        return (f"{source.version!r} is a range, not a tag" if source.version else "no tag or digest") \
            + "; only pinned charts are fetched"
    if source.kind == "git" and not _TAG.match(source.version):
        return (f"{source.version!r} is a range, not a tag" if source.version else "no tag or commit") \
            + "; only pinned charts are fetched"
    return None


def is_commit(ref: str) -> bool:
    return bool(_COMMIT.match(ref))


def _key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", text).strip("_")[:60] or "x"


class Network:
    """HTTP GETs with a per-request timeout inside one budget for the run."""

    def __init__(self, offline: bool, timeout: float, budget: float):
        self.offline = offline
        self.timeout = timeout
        self.deadline = time.monotonic() + budget
        self.budget = budget
        self.requests = 0  # tests assert a warm cache makes none
        # Hosts that could not be reached this run: their other URLs fail at
        # once, since a name lookup is not bounded by the socket timeout.
        self._down: dict[str, str] = {}

    def allowance(self, multiple: float = 1.0) -> float:
        """Seconds the next request may take; raises once the budget is spent."""
        if self.offline:
            raise Unavailable("offline, and not in the chart cache")
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Unavailable(f"the run's {self.budget:.0f} s network budget is spent")
        return min(self.timeout * multiple, left)

    def get(self, url: str, limit: int | None = None) -> bytes:
        limit = limit or MAX_DOWNLOAD
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise Unavailable(f"{url}: only http and https URLs are fetched", fault=True)
        timeout = self.allowance()
        host = urllib.parse.urlsplit(url).netloc
        if host in self._down:
            raise Unavailable(f"cannot reach {url}: {self._down[host]}")
        self.requests += 1
        # Here, not at import: 40 ms that a run without fetching never needs.
        from urllib.error import HTTPError, URLError
        from urllib.request import Request, urlopen

        request = Request(url, headers={"User-Agent": USER_AGENT})
        try:
            with urlopen(request, timeout=timeout) as response:
                size = response.headers.get("Content-Length")
                if size and size.isdigit() and int(size) > limit:
                    raise Unavailable(f"{url} is {int(size)} bytes, over the {limit} byte limit", fault=True)
                chunks, total = [], 0
                while chunk := response.read(1 << 16):
                    total += len(chunk)
                    if total > limit:
                        raise Unavailable(f"{url} is over the {limit} byte limit", fault=True)
                    if time.monotonic() > self.deadline:
                        raise Unavailable(f"{url}: the run's {self.budget:.0f} s network budget is spent")
                    chunks.append(chunk)
                return b"".join(chunks)
        except HTTPError as exc:
            # A 404 means the repository names something that is not there.
            raise Unavailable(f"{url}: HTTP {exc.code} {exc.reason}", fault=exc.code in (404, 410)) from None
        except URLError as exc:
            self._down[host] = str(exc.reason)
            raise Unavailable(f"cannot reach {url}: {exc.reason}") from None
        except (TimeoutError, OSError, ValueError) as exc:
            self._down[host] = str(exc) or type(exc).__name__
            raise Unavailable(f"cannot reach {url}: {self._down[host]}") from None


def _bounded(call: Any, seconds: float, what: str) -> Any:
    """Run a native call that takes no timeout of its own; give up after ``seconds``.
    A call that overruns is abandoned on a daemon thread rather than waited for."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="chart-fetch")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise Unavailable(f"{what}: no answer within {seconds:.0f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def unpack(archive: bytes, dest: Path) -> None:
    """Unpack a chart archive's single top folder into ``dest``, refusing
    anything that would land outside it or is not a plain file or folder."""
    try:
        tar = tarfile.open(fileobj=io.BytesIO(archive), mode="r:*")  # noqa: SIM115 - closed by the `with tar:` below, after the open error is worded
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise Unavailable(f"not a chart archive: {exc}", fault=True) from None
    with tar:
        total, count = 0, 0
        try:
            for member in tar:
                count += 1
                if count > MAX_MEMBERS:
                    raise Unavailable(f"chart archive has over {MAX_MEMBERS} entries", fault=True)
                parts = PurePosixPath(member.name).parts
                if member.name.startswith("/") or ".." in parts or "\\" in member.name:
                    raise Unavailable(f"chart archive entry {member.name!r} leaves its folder", fault=True)
                if member.issym() or member.islnk():
                    raise Unavailable(f"chart archive entry {member.name!r} is a link", fault=True)
                if len(parts) < 2 or member.isdir():
                    continue  # the top folder itself; folders follow from files
                if not member.isfile():
                    raise Unavailable(f"chart archive entry {member.name!r} is not a file", fault=True)
                total += member.size
                if total > MAX_UNPACKED:
                    raise Unavailable(f"chart archive unpacks to over {MAX_UNPACKED} bytes", fault=True)
                target = dest.joinpath(*parts[1:])
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is not None:
                    with source, open(target, "wb") as out:
                        shutil.copyfileobj(source, out)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise Unavailable(f"chart archive is corrupt: {exc}", fault=True) from None
    if not (dest / "Chart.yaml").is_file():
        raise Unavailable("chart archive has no Chart.yaml in its top folder", fault=True)


def _copy_inside(src: Path, dest: Path, root: Path) -> None:
    """Copy a chart folder out of a checkout; a symlink may point anywhere
    inside the checkout but not out of it (it would copy the machine's files)."""
    root = root.resolve()

    def ignore(folder: str, names: list[str]) -> list[str]:
        skipped = [".git"] if ".git" in names else []
        for name in names:
            path = Path(folder) / name
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                raise Unavailable(f"{path.relative_to(root)} links outside the repository", fault=True)
        return skipped

    shutil.copytree(src, dest, symlinks=False, ignore=ignore)


def _load_yaml(path: Path) -> Any:
    try:
        docs, _ = load_all(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return docs[0] if docs else None


class ChartStore:
    """Charts from their sources, each fetched once into the cache folder."""

    def __init__(self, cache_dir: Path, *, offline: bool = False, timeout: float = 10.0,
                 budget: float = 120.0):
        self.cache = Path(cache_dir)
        self.net = Network(offline, timeout, budget)
        self._charts: dict[ChartSource, Path | Unavailable] = {}
        self._indexes: dict[str, dict | Unavailable] = {}  # fetched this run
        self._tags: dict[str, list[str]] = {}

    def get(self, source: ChartSource) -> Path:
        """The chart folder of ``source``; raises ``Unavailable``."""
        known = self._charts.get(source)
        if known is None:
            try:
                known = self._entry(source)
            except Unavailable as exc:
                known = exc
            except OSError as exc:  # an unwritable or full cache folder
                known = Unavailable(f"chart cache {self.cache}: {exc}")
            except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
                # Hostile or odd chart content must not end the run with a traceback.
                known = Unavailable(f"unusable chart: {type(exc).__name__}: {exc}", fault=True)
            self._charts[source] = known
        if isinstance(known, Unavailable):
            raise known
        return known

    def checkout(self, source: ChartSource) -> Path:
        """The whole checkout a git chart came from (cached with it)."""
        return self._checkout(source.url, source.version)

    # -- cache entries -----------------------------------------------------

    def _entry(self, source: ChartSource) -> Path:
        reason = unpinned(source)
        if reason:
            raise Unavailable(reason)
        name = source.chart if source.kind == "helm" else source.label
        entry = self.cache / "chart" / (
            f"{_slug(posixpath.basename(name))}-{_slug(source.version)}-"
            f"{_key(source.kind, source.url, source.chart, source.version, source.digest)}")
        chart = entry / "chart"
        if (chart / "Chart.yaml").is_file():
            return chart
        entry.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".part-", dir=entry.parent))
        try:
            origin = self._fill(source, work / "chart", work)
            self._dependencies(work / "chart", origin)
            (work / "source.json").write_text(json.dumps(source.__dict__, indent=2) + "\n", encoding="utf-8")
            try:
                os.rename(work, entry)
            except OSError:
                if not (chart / "Chart.yaml").is_file():  # not another run finishing first
                    raise
        except OSError as exc:
            raise Unavailable(f"cannot write the chart cache {self.cache}: {exc}") from None
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return chart

    def _fill(self, source: ChartSource, chart: Path, work: Path) -> Path | None:
        """Put the chart's files into ``chart``; returns the folder its
        ``file://`` dependencies are relative to, when it has one on disk."""
        if source.kind == "git":
            checkout = self._checkout(source.url, source.version)
            folder = (checkout / source.chart).resolve()
            if not folder.is_relative_to(checkout.resolve()):
                raise Unavailable(f"chart path {source.chart!r} points outside the repository", fault=True)
            if not (folder / "Chart.yaml").is_file():
                raise NotAChart(f"{source.chart or '.'} has no Chart.yaml in {source.url} at {source.version}")
            _copy_inside(folder, chart, checkout)
            return folder
        archive = self._helm_archive(source) if source.kind == "helm" else self._oci_archive(source, work)
        chart.mkdir()
        unpack(archive, chart)
        return None

    # -- HTTP repositories ---------------------------------------------------

    def _index_file(self, url: str) -> Path:
        parts = urllib.parse.urlsplit(url)
        return self.cache / "index" / f"{_slug(parts.netloc + parts.path)}-{_key(url)}" / "index.yaml"

    def _index(self, url: str, refresh: bool) -> dict:
        """The repository's index: this run's copy, else the cached file unless
        ``refresh``, else a fresh download (kept for later and offline runs)."""
        got = self._indexes.get(url)
        if isinstance(got, Unavailable):
            raise got
        if got is not None:
            return got
        file = self._index_file(url)
        if not refresh and file.is_file():
            data = _load_yaml(file)
            if isinstance(data, dict) and isinstance(data.get("entries"), dict):
                return data
        index_url = url.rstrip("/") + "/index.yaml"
        try:
            raw = self.net.get(index_url)
            try:
                docs, _ = load_all(raw.decode("utf-8", errors="replace"))
            except yaml.YAMLError as exc:
                raise Unavailable(f"{index_url} is not YAML: {exc}", fault=True) from None
            data = docs[0] if docs and isinstance(docs[0], dict) else None
            if data is None or not isinstance(data.get("entries"), dict):
                raise Unavailable(f"{index_url} is not a Helm repository index (no entries)", fault=True)
        except Unavailable as exc:
            self._indexes[url] = exc  # one failure per repository and run, not one per release
            raise
        file.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(file, raw, prefix=".part-")
        self._indexes[url] = data
        return data

    def _index_entry(self, url: str, chart: str, version: str) -> dict:
        index = self._index(url, refresh=False)
        found = _find_version(index, chart, version)
        if found is None and url not in self._indexes and not self.net.offline:
            index = self._index(url, refresh=True)  # the cached copy predates this version
            found = _find_version(index, chart, version)
        if found is None and self.net.offline:
            raise Unavailable(f"offline, and the cached index of {url} has no version {version} of {chart!r}")
        if found is None:
            versions = [str(e.get("version")) for e in index["entries"].get(chart) or [] if isinstance(e, dict)]
            if not versions:
                raise Unavailable(f"{url}/index.yaml has no chart {chart!r}", fault=True)
            raise Unavailable(f"{url}/index.yaml has no version {version} of chart {chart!r} "
                              f"(it has {', '.join(versions[:5])}{', …' if len(versions) > 5 else ''})", fault=True)
        return found

    def _helm_archive(self, source: ChartSource) -> bytes:
        entry = self._index_entry(source.url, source.chart, source.version)
        urls = entry.get("urls") or []
        if not urls or not isinstance(urls[0], str):
            raise Unavailable(f"{source.url}/index.yaml lists no download URL for "
                              f"{source.chart} {source.version}", fault=True)
        # Relative URLs are relative to the repository, as Helm resolves them.
        archive_url = urllib.parse.urljoin(source.url.rstrip("/") + "/", urls[0])
        data = self.net.get(archive_url)
        digest = entry.get("digest")
        if isinstance(digest, str) and digest:
            actual = hashlib.sha256(data).hexdigest()
            if actual != digest.removeprefix("sha256:").lower():
                raise Unavailable(f"{archive_url} has sha256 {actual}, which does not match the index's digest {digest}",
                                  fault=True)
        return data

    # -- OCI registries --------------------------------------------------------

    def _oci_archive(self, source: ChartSource, work: Path | None) -> bytes:
        import helm_python as helm

        seconds = self.net.allowance(multiple=3)  # a pull is several requests
        self.net.requests += 1
        ref = f"{source.url}@{source.digest}" if source.digest else source.url
        version = None if source.digest else source.version
        with tempfile.TemporaryDirectory(prefix=".pull-", dir=work) as dest:
            try:
                _bounded(lambda: helm.pull(ref, destination=dest, version=version, plain_http=plain_http(source)),
                         seconds, f"cannot reach {source.url}")
            except helm.HelmError as exc:
                text = " ".join(str(exc).split())
                missing = re.search(r"not found|manifest unknown|name unknown|\b404\b", text, re.IGNORECASE)
                raise Unavailable(text, fault=bool(missing)) from None
            archives = sorted(Path(dest).glob("*.tgz"))
            if not archives:
                raise Unavailable("the pull produced no chart archive", fault=True)
            if archives[0].stat().st_size > MAX_DOWNLOAD:
                raise Unavailable(f"the archive is over the {MAX_DOWNLOAD} byte limit", fault=True)
            return archives[0].read_bytes()

    def _oci_tags(self, url: str, plain_http: bool) -> list[str]:
        import helm_python as helm

        if url not in self._tags:
            seconds = self.net.allowance()
            self.net.requests += 1
            try:
                with helm.RegistryClient(plain_http=plain_http or _loopback(url)) as client:
                    self._tags[url] = _bounded(lambda: client.tags(url), seconds, f"cannot reach {url}")
            except helm.HelmError as exc:
                raise Unavailable(f"cannot list the tags of {url}: {' '.join(str(exc).split())}") from None
        return self._tags[url]

    # -- git -------------------------------------------------------------------

    def _checkout(self, url: str, ref: str) -> Path:
        name = posixpath.basename(url.rstrip("/")).removesuffix(".git")
        where = self.cache / "git" / f"{_slug(name)}@{_slug(ref)}-{_key(url, ref)}"
        if where.is_dir():
            return where
        self.net.allowance()  # offline or out of time: no clone
        seconds = self.net.allowance(multiple=6)  # a clone outlasts one request
        self.net.requests += 1
        where.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".part-", dir=where.parent))
        try:
            tool.git_fetch_ref(url, ref, work / "tree", commit=is_commit(ref), timeout=seconds)
            shutil.rmtree(work / "tree" / ".git", ignore_errors=True)
            try:
                os.rename(work / "tree", where)
            except OSError:
                if not where.is_dir():
                    raise
        except tool.ToolError as exc:
            text = exc.describe()
            missing = re.search(r"not found in upstream|could not find remote branch|couldn't find remote ref|not our ref|"
                                r"does not appear to be a git repository", text, re.IGNORECASE)
            raise Unavailable(f"git fetch of {url} at {ref}: {text}", fault=bool(missing)) from None
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return where

    # -- dependencies ------------------------------------------------------------

    def _dependencies(self, chart: Path, origin: Path | None) -> None:
        """Fill ``charts/`` with the declared dependencies it lacks, at the
        versions Chart.lock records (else the newest matching the range), as
        ``helm dependency build`` would.  Which of them render (``condition``,
        ``tags``) Helm itself decides at render time from the values."""
        meta = _load_yaml(chart / "Chart.yaml")
        deps = meta.get("dependencies") if isinstance(meta, dict) else None
        if not isinstance(deps, list) or not deps:
            return
        present = _vendored(chart)
        lock = _load_yaml(chart / "Chart.lock")
        locked = {str(d.get("name")): str(d.get("version")) for d in (lock or {}).get("dependencies") or []
                  if isinstance(d, dict)} if isinstance(lock, dict) else {}
        for dep in deps:
            if not isinstance(dep, dict) or not dep.get("name"):
                continue
            name = str(dep["name"])
            if name in present:
                continue
            if not _CHART_NAME.match(name):  # it becomes a folder name under charts/
                raise Unavailable(f"dependency name {name!r} is not a chart name", fault=True)
            repo = str(dep.get("repository") or "")
            wanted = locked.get(name) or str(dep.get("version") or "*")
            target = chart / "charts" / name
            target.parent.mkdir(exist_ok=True)
            if repo.startswith("file://"):
                self._local_dependency(chart, origin, name, repo, target)
                continue
            source = self._dependency_source(name, repo, wanted)
            try:
                folder = self.get(source)
            except Unavailable as exc:
                raise Unavailable(f"dependency {name} ({repo}): {exc}", fault=exc.fault) from None
            shutil.copytree(folder, target)

    def _local_dependency(self, chart: Path, origin: Path | None, name: str, repo: str, target: Path) -> None:
        if origin is None:
            raise Unavailable(f"dependency {name} ({repo}) is neither in the archive's charts/ nor fetchable",
                              fault=True)
        folder = (origin / repo.removeprefix("file://")).resolve()
        if not (folder / "Chart.yaml").is_file():
            raise Unavailable(f"dependency {name}: {repo} has no Chart.yaml", fault=True)
        shutil.copytree(folder, target)
        self._dependencies(target, folder)

    def _dependency_source(self, name: str, repo: str, wanted: str) -> ChartSource:
        if repo.startswith("oci://"):
            url = repo.rstrip("/") + "/" + name
            version = wanted if exact_version(wanted) else _newest(self._oci_tags(url, False), wanted)
            if version is None:
                raise Unavailable(f"dependency {name}: no tag of {url} matches {wanted!r}", fault=True)
            return ChartSource("oci", url, version=version)
        if repo.startswith(("http://", "https://")):
            version = wanted
            if not exact_version(wanted):
                index = self._index(repo, refresh=False)
                offered = [str(e.get("version")) for e in index["entries"].get(name) or [] if isinstance(e, dict)]
                version = _newest(offered, wanted)
                if version is None:
                    raise Unavailable(f"dependency {name}: {repo}/index.yaml has no version matching {wanted!r}",
                                      fault=True)
            return ChartSource("helm", repo, name, version)
        if not repo:
            raise Unavailable(f"dependency {name} is not in charts/ and names no repository", fault=True)
        raise Unavailable(f"dependency {name} names repository {repo!r}, which only a local "
                          "'helm repo add' configuration knows; vendor it in charts/ or use its URL", fault=True)


def _find_version(index: dict, chart: str, version: str) -> dict | None:
    want = version.strip().removeprefix("v")
    for entry in (index.get("entries") or {}).get(chart) or []:
        if isinstance(entry, dict) and str(entry.get("version", "")).removeprefix("v") == want:
            return entry
    return None


def _vendored(chart: Path) -> set[str]:
    """Names of the subcharts already in ``charts/`` (folders or archives)."""
    names: set[str] = set()
    folder = chart / "charts"
    if not folder.is_dir():
        return names
    for item in folder.iterdir():
        if item.is_dir():
            meta = _load_yaml(item / "Chart.yaml")
            if isinstance(meta, dict) and meta.get("name"):
                names.add(str(meta["name"]))
        elif item.suffix == ".tgz":
            try:
                with tarfile.open(item) as tar:
                    for member in tar:
                        if member.name.count("/") == 1 and member.name.endswith("/Chart.yaml"):
                            file = tar.extractfile(member)
                            meta = safe_load(file.read()) if file else None
                            if isinstance(meta, dict) and meta.get("name"):
                                names.add(str(meta["name"]))
                            break
            except (tarfile.TarError, OSError, yaml.YAMLError):
                continue  # Helm reports a corrupt subchart when it loads the chart
    return names


# -- semantic version ranges (the subset of Masterminds/semver charts use) -------

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def _parse(version: str) -> tuple[tuple[int, int, int], str] | None:
    m = _VERSION.match(version.strip())
    if not m or any(p in ("x", "X", "*") for p in m.groups()[1:3] if p):
        return None
    return (int(m[1]), int(m[2] or 0), int(m[3] or 0)), m[4] or ""


def _term(version: tuple[tuple[int, int, int], str], term: str) -> bool:
    m = re.match(r"^(\^|~>?|>=|<=|!=|>|<|=)?\s*(.+)$", term)
    if not m:
        return False
    op, text = m[1] or "", m[2]
    if text in ("*", "x", "X"):
        return True
    parts = _VERSION.match(text)
    if not parts:
        return False
    fixed = [p for p in parts.groups()[:3] if p is not None and p not in ("x", "X", "*")]
    nums = tuple(int(p) for p in fixed) + (0,) * (3 - len(fixed))
    v = version[0]
    if op in ("", "=") and len(fixed) < 3:  # 1.2 or 1.2.x: that minor line
        return v[:len(fixed)] == nums[:len(fixed)]
    if op == "^":
        first = next((i for i, n in enumerate(nums) if n), len(fixed) - 1)
        first = min(first, max(len(fixed) - 1, 0))
        return v >= nums and v[:first + 1] == nums[:first + 1]
    if op.startswith("~"):
        keep = 2 if len(fixed) >= 2 else 1
        return v >= nums and v[:keep] == nums[:keep]
    return {"": v == nums, "=": v == nums, "!=": v != nums, ">": v > nums, "<": v < nums,
            ">=": v >= nums, "<=": v <= nums}[op]


def matches(version: str, constraint: str) -> bool:
    parsed = _parse(version)
    if parsed is None:
        return False
    if parsed[1] and "-" not in constraint:  # pre-releases only when asked for
        return False
    for alternative in constraint.split("||"):
        text = re.sub(r"([<>=!~^])\s+", r"\1", alternative.strip())
        terms = [t for t in re.split(r"[\s,]+", text) if t]
        if terms and all(_term(parsed, t) for t in terms):
            return True
    return False


def _newest(versions: list[str], constraint: str) -> str | None:
    fitting = [v for v in versions if matches(v, constraint)]
    def order(v: str) -> tuple:
        nums, pre = _parse(v) or ((0, 0, 0), "")
        return nums, pre == "", pre  # 1.0.0-rc.1 comes before 1.0.0

    return max(fitting, key=order, default=None)
