"""validate on a repository someone else wrote: no network, no reads outside it, no blind
spots in the secret scan, no unbounded Helm render."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from generator.validate import ValidateOptions, validate_repository

DEPLOYMENT = """apiVersion: v1
kind: ConfigMap
metadata:
  name: local
  namespace: default
data:
  a: b
"""


def _write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def _validate(root: Path, **options: object):
    return validate_repository(root, ValidateOptions(charts="local", cache_dir=root.parent / "schema-cache", **options))


class _Listener:
    """A loopback port that counts connections (and closes them at once)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.thread.join()
        self.sock.close()


# -- 3. remote kustomize resources ------------------------------------------------------

@pytest.mark.parametrize("entry", [
    "https://github.com/example/app//deploy?ref=v1.0.0",
    "github.com/example/app/deploy",
    "git::https://example.com/app.git//deploy",
    "ssh://git@example.com/app.git",
    "git@github.com:example/app.git",
    "example.com/app/deploy?ref=main",
    "https://example.com/raw/app.yaml",
])
def test_remote_references_are_recognised(entry: str) -> None:
    from generator.validate.kustomize import remote_reference

    assert remote_reference(entry)


@pytest.mark.parametrize("entry", ["deployment.yaml", "../base", "sub.dir/app.yaml", "./x.yml", "../../bases/apps/node-red"])
def test_local_references_are_not_remote(entry: str, tmp_path: Path) -> None:
    from generator.validate.kustomize import remote_reference

    (tmp_path / "sub.dir").mkdir()
    (tmp_path / "sub.dir" / "app.yaml").write_text("x: 1\n")
    assert not remote_reference(entry, tmp_path)


def test_remote_kustomize_resources_are_a_fault_and_never_fetched(tmp_path: Path) -> None:
    listener = _Listener()
    try:
        remote = [
            f"https://127.0.0.1:{listener.port}/example/app//deploy?ref=v1.0.0",
            f"git::https://127.0.0.1:{listener.port}/app.git//deploy",
            f"http://127.0.0.1:{listener.port}/raw/app.yaml",
        ]
        resources = "".join(f"  - {r}\n" for r in ["local.yaml", *remote])
        root = _write(tmp_path / "repo", {
            "apps/kustomization.yaml": f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n{resources}",
            "apps/local.yaml": DEPLOYMENT,
            # Includes the folder above: not buildable either, without fetching.
            "cluster/kustomization.yaml": "resources:\n  - ../apps\n",
        })
        started = time.monotonic()
        report = _validate(root)
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert listener.connections == 0, "validate connected out"
    assert elapsed < 30
    faults = [f for f in report.faults if f.check == "kustomize"]
    text = "\n".join(f.message for f in faults)
    for r in remote:
        assert r in text, text
    assert "not fetched" in text
    apps = [f for f in faults if f.file == "apps/kustomization.yaml"]
    assert apps and all(f.line for f in apps), faults
    assert any(f.file == "cluster/kustomization.yaml" and "apps" in f.message for f in faults), text


# -- 4. symlinks that leave the repository -----------------------------------------------

def test_symlinks_leaving_the_repo_are_reported_and_never_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    shadow = outside / "shadow"
    shadow.write_text("root:$6$VERYSECRETHASH:19000:0:99999:7:::\n")
    (outside / "dir").mkdir()
    (outside / "dir" / "x.yaml").write_text("secretline: VERYSECRETHASH\n")
    root = _write(tmp_path / "repo", {
        "apps/kustomization.yaml": "resources:\n  - local.yaml\n",
        "apps/local.yaml": DEPLOYMENT,
        "charts/demo/Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
        "charts/demo/templates/cm.yaml": DEPLOYMENT,
        "bootstrap/cloud-init/n1/network-config": "version: 2\n",
    })
    links = {
        "bootstrap/cloud-init/n1/user-data": shadow,
        "docs/leak.yaml": shadow,
        "apps/stolen.yaml": shadow,
        "charts/demo/templates/leak.yaml": shadow,
        "bootstrap/talos/controlplane.yaml": shadow,
        "linked-dir": outside / "dir",
    }
    for rel, target in links.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
    report = _validate(root)
    everything = "\n".join(f"{f.file} {f.message} {f.path}" for f in report.faults)
    everything += "\n".join(str(s) for s in report.skipped)
    assert "VERYSECRETHASH" not in everything
    for rel in links:
        named = [f for f in report.faults if f.file == rel and "leaves the repository" in f.message]
        assert named, f"{rel} not reported:\n{everything}"
    # The kustomization and the chart holding such a link are not built or rendered.
    assert any(f.file == "apps/kustomization.yaml" and "not built" in f.message for f in report.faults), everything
    assert any(f.file.startswith("charts/demo") and "not linted" in f.message for f in report.faults), everything


# -- 5. the secret scan has no blind spots -------------------------------------------------

KEY = "AGE-SECRET-KEY-1QQPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQQPZRY9X8GF2TVDW0S3JN54KH\n"


def test_secret_scan_reads_big_and_binary_files(tmp_path: Path) -> None:
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n"
    big = "# padding\n" * 2_200_000  # 22 MB of YAML comments
    root = _write(tmp_path / "repo", {
        "blob.bin": b"\0\1\2binary" * 1000 + pem.encode() + b"\0tail",
        "big.yaml": big + "key: " + KEY,
        "nul.yaml": "a: 1\n\0\n" + KEY,
        # sops markers do not exempt a file from the key patterns
        "fake-sops.env": "sops_mac=abc\n" + KEY,
    })
    report = _validate(root)
    secrets = {f.file for f in report.faults if f.check == "secrets"}
    assert {"blob.bin", "big.yaml", "nul.yaml", "fake-sops.env"} <= secrets, report.faults
    skipped = "\n".join(str(s) for s in report.skipped)
    assert "big.yaml" in skipped and "secrets only" in skipped, skipped


# -- 6. Helm renders are bounded -----------------------------------------------------------

LOOP = "{{- range until 20000000 }}\n# {{ . }}\n{{- end }}\n"


def test_unbounded_helm_template_is_stopped(tmp_path: Path) -> None:
    pytest.importorskip("helm_python")
    root = _write(tmp_path / "repo", {
        "charts/loop/Chart.yaml": "apiVersion: v2\nname: loop\nversion: 0.1.0\n",
        "charts/loop/templates/cm.yaml": LOOP,
    })
    started = time.monotonic()
    report = _validate(root, helm_timeout=4.0, helm_memory_mib=768)
    elapsed = time.monotonic() - started
    assert elapsed < 40, elapsed
    faults = [f for f in report.faults if f.check == "helm"]
    text = "\n".join(f"{f.file}: {f.message}" for f in faults)
    assert any(("exceeded 4 s" in f.message or "ran out of memory" in f.message) for f in faults), text
    assert all(f.file.startswith("charts/loop") for f in faults), text


# -- 7. values their tags cannot hold ----------------------------------------------------

@pytest.mark.parametrize("value", ["!!int yes", "!!bool 1", "!!float many", "[!!int 0x]", "!!binary '%%%'"])
def test_a_value_its_tag_cannot_hold_is_a_yaml_fault_at_its_line(tmp_path: Path, value: str) -> None:
    """PyYAML's converters raise ValueError and KeyError for these; validate ended in a
    traceback. !!binary of bad base64 decodes to nothing, as PyYAML has it, and is no fault."""
    root = _write(tmp_path / "repo", {"cm.yaml": DEPLOYMENT + f"  c: {value}\n"})
    faults = [f for f in _validate(root).faults if f.check == "yaml"]
    if value.startswith("!!binary"):
        assert faults == []
    else:
        assert [(f.file, f.line) for f in faults] == [("cm.yaml", 8)]
        assert "is not a valid !!" in faults[0].message


def test_kustomization_files_with_odd_tags_or_bytes_are_reported_not_a_crash(tmp_path: Path) -> None:
    """The kustomize stage read kustomization files with PyYAML's plain loader: a tagged value
    it cannot convert, or bytes that are not UTF-8, ended the run in a traceback."""
    root = _write(tmp_path / "repo", {
        "app/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                                  "resources: [cm.yaml]\nreplicas: !!int many\n",
        "app/cm.yaml": DEPLOYMENT,
        "other/kustomization.yaml": b"\xff\xferesources: [cm.yaml]\ngenerators: [x.yaml]\n",
        "other/cm.yaml": DEPLOYMENT,
    })
    report = _validate(root)
    files = {f.file for f in report.faults}
    assert {"app/kustomization.yaml", "other/kustomization.yaml"} <= files, report.faults
