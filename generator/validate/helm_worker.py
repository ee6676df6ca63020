"""Helm's lint and template run in one worker process with a time and a memory limit.

A chart is code: a three-line template with ``range until 20000000`` runs for a minute
and takes gigabytes, and Helm (Go, in-process through helm-python) that runs out of
memory aborts the whole process with a runtime dump.  So validate never renders in its
own process: one worker is started per run (Python plus the Helm library take a moment
to load, so it is reused for every render), its address space is capped with
``RLIMIT_AS`` (the loaded library's reservation plus the memory a render may use), and
each request has a deadline.  A render that overruns it is killed and
reported; the next request starts a fresh worker.

The protocol is length-prefixed pickles over the worker's stdin and a duplicate of its
stdout (fd 1 itself goes to the stderr file, so nothing Helm prints can corrupt it).
Only this package's own parent process ever writes to the worker.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import tools

if TYPE_CHECKING:
    from .helm_cache import HelmResults

_HEADER = struct.Struct("!Q")


class WorkerLimit(Exception):
    """A request overran the time or memory limit (or the worker died): the render is lost."""


class HelmFailed(Exception):
    """Helm itself refused the chart (a template error and the like); str() is Helm's message.
    ``helm``: Helm's own error, not a failure around it (those are never kept)."""

    def __init__(self, message: str, helm: bool = False):
        super().__init__(message)
        self.helm = helm


class HelmWorker:
    """``results``: Helm's answers kept on disk (helm_cache.py); a request found there
    starts no worker."""

    def __init__(self, timeout: float = 60.0, memory_mib: int = 2048, results: HelmResults | None = None):
        self.timeout = timeout
        self.memory_mib = memory_mib
        self.results = results
        self._proc: tools.Process[bytes] | None = None
        self._stderr: Any = None
        self.started = 0  # how many worker processes this run needed

    def start(self) -> None:
        """Start the worker now (it loads while the caller does other work)."""
        if self._proc is not None and self._proc.poll() is None:
            return
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker; close() ends both
        # The user's locale as it is (not tools' C locale): nothing here parses Helm's words.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in [_package_root(), os.environ.get("PYTHONPATH", "")] if p)}
        # Started through the one tool wrapper; the limits are the worker's own (RLIMIT_AS,
        # set inside it) and this class's (a deadline per request), since one process
        # serves many requests and outlives any single call's timeout.
        self._proc = tools.start(
            [sys.executable, "-m", "generator.validate.helm_worker", str(self.memory_mib << 20)],
            env=env, stdin=True, stderr=self._stderr,
        ).process
        self.started += 1

    def cached(self, op: str, *args: Any) -> bool:
        """Whether ``call(op, *args)`` would be answered from the kept results."""
        key = self.results.key(op, args, (self.timeout, self.memory_mib)) if self.results is not None else None
        return key is not None and (self.results.folder / f"{key}.json").is_file()  # type: ignore[union-attr]

    def call(self, op: str, *args: Any) -> Any:
        """Run ``op`` in the worker; its result, or HelmFailed (Helm's error) or WorkerLimit."""
        key = self.results.key(op, args, (self.timeout, self.memory_mib)) if self.results is not None else None
        if key is not None:
            assert self.results is not None
            kept = self.results.get(key)
            if kept is not None:
                status, value = kept
                if status == "helm":
                    raise HelmFailed(value, helm=True)
                return value
        try:
            value = self._call(op, *args)
        except HelmFailed as exc:
            if key is not None and exc.helm:
                self.results.put(key, "helm", str(exc))  # type: ignore[union-attr]
            raise
        if key is not None:
            self.results.put(key, "ok", value)  # type: ignore[union-attr]
        return value

    def _call(self, op: str, *args: Any) -> Any:
        self.start()
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        payload = pickle.dumps((op, args), protocol=pickle.HIGHEST_PROTOCOL)
        deadline = time.monotonic() + self.timeout
        try:
            proc.stdin.write(_HEADER.pack(len(payload)) + payload)
            proc.stdin.flush()
            size = _HEADER.unpack(self._read(proc, _HEADER.size, deadline))[0]
            status, value = pickle.loads(self._read(proc, size, deadline))
        except TimeoutError:
            self._kill()
            raise WorkerLimit(f"exceeded {self.timeout:g} s (the time limit for one render)") from None
        except (BrokenPipeError, EOFError, ConnectionError, pickle.UnpicklingError, struct.error):
            raise WorkerLimit(self._death()) from None
        if status == "helm":
            raise HelmFailed(value, helm=True)
        if status == "memory":
            self._kill()
            raise WorkerLimit(self._out_of_memory())
        if status == "error":
            raise HelmFailed(value)
        return value

    def _read(self, proc: tools.Process[bytes], size: int, deadline: float) -> bytes:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        chunks = []
        left = size
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                raise TimeoutError
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _out_of_memory(self) -> str:
        return f"ran out of memory (the limit for one render is {self.memory_mib} MiB)"

    def _death(self) -> str:
        proc = self._proc
        code = proc.wait() if proc is not None else None
        tail = self._stderr_tail()
        self._proc = None
        if "out of memory" in tail or "cannot allocate memory" in tail.lower() or "MemoryError" in tail:
            return self._out_of_memory()
        last = next((line for line in reversed(tail.splitlines()) if line.strip()), "")
        return f"the Helm worker died (exit status {code}){': ' + last[:200] if last else ''}"

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0, os.SEEK_END)
            end = self._stderr.tell()
            self._stderr.seek(max(0, end - 65536))
            return self._stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        proc = self._proc
        if proc is not None:
            tools.finish(proc, grace=5)  # the worker ends at end of input
            self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __del__(self) -> None:
        # At interpreter shutdown close() may fail; the worker ends with its stdin anyway.
        with contextlib.suppress(Exception):
            self.close()

    def __enter__(self) -> HelmWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# -- the worker side ------------------------------------------------------------------------

def _render(helm: Any, folder: str, values: dict, release: str, namespace: str) -> tuple[dict, list]:
    # A fresh load each time: rendering drops the subcharts whose condition is false.
    with helm.Chart.load(folder) as loaded:
        manifests = loaded.render(values, name=release, namespace=namespace)
        crds = loaded.crds  # after render, so disabled subcharts' CRDs are gone
    return manifests, crds


def _lint(helm: Any, path: str, values: dict | None, strict: bool, kube_version: str) -> dict:
    return helm.lint(path, values, strict=strict, kube_version=kube_version)


def _address_space() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _serve(memory_bytes: int) -> None:
    import resource

    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever Helm prints goes to the stderr file, not into the protocol
    inp = sys.stdin.buffer
    import helm_python as helm

    if memory_bytes > 0:
        # The Go runtime reserves ~1.8 GB of address space when the library loads, little of
        # it used: the limit is what a render may take on top of the loaded library.
        limit = _address_space() + memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    operations: dict[str, Callable[..., Any]] = {"render": _render, "lint": _lint}
    while True:
        header = inp.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        op, args = pickle.loads(inp.read(_HEADER.unpack(header)[0]))
        try:
            reply: tuple[str, Any] = ("ok", operations[op](helm, *args))
        except helm.HelmError as exc:
            reply = ("helm", str(exc))
        except MemoryError:
            reply = ("memory", None)
        except Exception as exc:  # a bug or a broken chart beyond Helm's own checks: report, keep serving
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            data = pickle.dumps(("memory", None))
        out.write(_HEADER.pack(len(data)) + data)
        out.flush()


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
    # Every reply was flushed: skip the interpreter's and the Go runtime's teardown, which
    # the parent would otherwise wait ~0.1 s for at the end of every run.
    os._exit(0)
