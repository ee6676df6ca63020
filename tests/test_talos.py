"""Talos machine configs: the schema, the hardware plan in the configs, schematics, and secrets that never rotate."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
import yaml

from generator.cli import main
from generator.render.talos import schematic_id, schematic_yaml
from generator.talos_pki import parse_admin_client, parse_bundle
from generator.write import load_or_create_secrets

from .conftest import EXAMPLES, SHARED_SCHEMAS, requires_shared, seed_secrets

TALOS_EXAMPLES = ["talos-rack", "talos-argocd"]
TALOS_SCHEMA = SHARED_SCHEMAS / "talos" / "v1.13" / "config.schema.json"


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for name in TALOS_EXAMPLES:
        repo = tmp_path_factory.mktemp(name)
        seed_secrets(repo, "talos")
        assert main(["generate", str(EXAMPLES / f"{name}.yaml"), "-o", str(repo)]) == 0
        out[name] = repo
    return out


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def machine_config(path: Path) -> dict:
    return next(d for d in documents(path) if "kind" not in d)


def kinds(path: Path, kind: str) -> list[dict]:
    return [d for d in documents(path) if d.get("kind") == kind]


@requires_shared
@pytest.mark.parametrize("example", TALOS_EXAMPLES)
def test_every_talos_document_passes_the_v1_13_schema(example: str, repos: dict[str, Path]) -> None:
    import jsonschema

    schema = json.loads(TALOS_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema) if "draft-07" in schema.get("$schema", "") else jsonschema.validators.validator_for(schema)(schema)
    files = sorted((repos[example] / "bootstrap" / "talos").rglob("*.yaml"))
    configs = [f for f in files if "schematics" not in f.parts]
    assert any("clusterconfig" in f.parts for f in configs) and any("nodes" in f.parts for f in configs)
    for path in configs:
        for doc in documents(path):
            errors = sorted(validator.iter_errors(doc), key=str)
            assert not errors, f"{path.relative_to(repos[example])}: {errors[0].message}"


@requires_shared
@pytest.mark.parametrize("example", TALOS_EXAMPLES)
def test_clustergen_validate_strict_checks_the_talos_configs(example: str, repos: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    repo = repos[example]
    assert main(["validate", "--charts", "local", "--strict", "--schema-location", str(SHARED_SCHEMAS / "crds"), "-o", "json", str(repo)]) == 0, capsys.readouterr().out
    capsys.readouterr()
    # The same check fails on a config Talos 1.13 would reject, so it really ran.
    broken = repo / "bootstrap" / "talos" / "clusterconfig" / "broken.yaml"
    broken.write_text("version: v1alpha1\npersist: true\nmachine:\n  type: worker\n", encoding="utf-8")
    try:
        assert main(["validate", "--charts", "local", "--strict", "--schema-location", str(SHARED_SCHEMAS / "crds"), str(repo)]) == 1
        assert "persist" in capsys.readouterr().out
    finally:
        broken.unlink()


def test_the_rack_configs_follow_the_hardware_plan(repos: dict[str, Path]) -> None:
    talos = repos["talos-rack"] / "bootstrap" / "talos"
    formula = talos / "clusterconfig" / "formula.yaml"
    config = machine_config(formula)
    machine, cluster = config["machine"], config["cluster"]
    assert machine["type"] == "controlplane"
    # Installed by serial; EPHEMERAL stays on that NVMe, away from the SATA SSDs Ceph takes.
    assert machine["install"]["diskSelector"] == {"serial": "S5GXNF0W000011"}
    (ephemeral,) = kinds(formula, "VolumeConfig")
    assert ephemeral["name"] == "EPHEMERAL" and ephemeral["provisioning"]["diskSelector"]["match"] == "system_disk"
    assert kinds(formula, "HostnameConfig")[0]["hostname"] == "formula"
    assert kinds(formula, "LinkAliasConfig")[0]["selector"]["match"] == 'mac(link.permanent_addr) == "24:6e:96:00:00:11"'
    link = kinds(formula, "LinkConfig")[0]
    assert link["addresses"] == [{"address": "10.20.0.11/24"}] and link["routes"] == [{"gateway": "10.20.0.1"}]
    assert [d["name"] for d in kinds(formula, "Layer2VIPConfig")] == ["10.20.0.10"]
    assert {d["name"]: d["endpoints"] for d in kinds(formula, "RegistryMirrorConfig")} == {
        "docker.io": [{"url": "https://mirror.lab.example.com:5000"}],
        "ghcr.io": [{"url": "https://mirror.lab.example.com:5001"}],
    }
    assert cluster["network"]["podSubnets"] == ["10.244.0.0/16"] and cluster["network"]["serviceSubnets"] == ["10.96.0.0/12"]
    assert cluster["controlPlane"]["endpoint"] == "https://10.20.0.10:6443"
    assert machine["kubelet"]["image"].endswith(":v1.36.1") and cluster["apiServer"]["image"].endswith(":v1.36.1")
    # By model when there is no serial.
    assert machine_config(talos / "clusterconfig" / "mastema.yaml")["machine"]["install"]["diskSelector"] == {"model": "WD_BLACK SN770 1TB"}

    gpu = talos / "clusterconfig" / "amdusias.yaml"
    worker = machine_config(gpu)
    assert worker["machine"]["type"] == "worker"
    assert not kinds(gpu, "Layer2VIPConfig"), "only control planes hold the VIP"
    # EPHEMERAL on the workstation's data NVMe, selected by its serial.
    assert kinds(gpu, "VolumeConfig")[0]["provisioning"]["diskSelector"]["match"] == 'disk.serial == "S7DNNJ0W000021"'
    assert [m["name"] for m in worker["machine"]["kernel"]["modules"]] == ["nvidia", "nvidia_uvm", "nvidia_drm", "nvidia_modeset", "br_netfilter"]
    assert worker["machine"]["sysctls"] == {"net.core.bpf_jit_harden": "1"}
    assert worker["machine"]["nodeLabels"]["nvidia.com/device-plugin.config"] == "time-slicing-2"
    # A worker carries CA certificates but never their keys, nor the cluster-only secrets.
    assert worker["machine"]["ca"]["key"] == "" and worker["cluster"]["ca"]["key"] == ""
    assert "secretboxEncryptionSecret" not in worker["cluster"] and "etcd" not in worker["cluster"]


def test_the_pi_spares_its_sd_card_and_swaps_on_the_ssd(repos: dict[str, Path]) -> None:
    pi = repos["talos-argocd"] / "bootstrap" / "talos" / "clusterconfig" / "pi.yaml"
    ssd_match = '"/dev/disk/by-id/usb-Samsung_PSSD_T7_S5T0NS0R000021-0:0" in disk.symlinks'
    assert kinds(pi, "VolumeConfig")[0]["provisioning"]["diskSelector"]["match"] == ssd_match
    (swap,) = kinds(pi, "SwapVolumeConfig")
    assert swap["provisioning"]["diskSelector"]["match"] == ssd_match and swap["provisioning"]["maxSize"] == "2048MiB"
    machine = machine_config(pi)["machine"]
    assert machine["kubelet"]["extraConfig"]["memorySwap"] == {"swapBehavior": "LimitedSwap"}
    assert machine["install"]["disk"] == "/dev/mmcblk0"
    # Longhorn needs its data path shared into the kubelet on every node.
    assert {"destination": "/var/lib/longhorn", "type": "bind", "source": "/var/lib/longhorn", "options": ["bind", "rshared", "rw"]} in machine["kubelet"]["extraMounts"]


def test_schematics_carry_the_extensions_the_plan_needs(repos: dict[str, Path]) -> None:
    talos = repos["talos-argocd"] / "bootstrap" / "talos"
    found = {p.stem: yaml.safe_load(p.read_text()) for p in (talos / "schematics").glob("*.yaml")}
    assert set(found) == {"longhorn", "nvidia-longhorn", "rpi-generic-longhorn"}
    assert found["nvidia-longhorn"]["customization"]["systemExtensions"]["officialExtensions"] == [
        "siderolabs/iscsi-tools",
        "siderolabs/nonfree-kmod-nvidia-lts",
        "siderolabs/nvidia-container-toolkit-lts",
        "siderolabs/util-linux-tools",
    ]
    assert found["rpi-generic-longhorn"]["overlay"] == {"image": "siderolabs/sbc-raspberrypi", "name": "rpi_generic"}
    for node, label in (("gamer", "nvidia-longhorn"), ("pi", "rpi-generic-longhorn"), ("mini1", "longhorn")):
        text = (talos / "schematics" / f"{label}.yaml").read_text()
        body = "".join(line + "\n" for line in text.splitlines() if not line.startswith("#"))
        image = machine_config(talos / "clusterconfig" / f"{node}.yaml")["machine"]["install"]["image"]
        # The installer image names the schematic by the sha256 of the very bytes in the file.
        assert image == f"factory.talos.dev/metal-installer/{hashlib.sha256(body.encode()).hexdigest()}:v1.13.9"
        assert hashlib.sha256(body.encode()).hexdigest() in text


@pytest.mark.parametrize(
    ("schematic", "published"),
    [
        ({"customization": {}}, "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"),
        (
            {"customization": {"systemExtensions": {"officialExtensions": ["siderolabs/iscsi-tools", "siderolabs/util-linux-tools"]}}},
            "613e1592b2da41ae5e265e8789429f22e121aab91cb4deb6bc3c0b6262961245",
        ),
        ({"overlay": {"image": "siderolabs/sbc-raspberrypi", "name": "rpi_generic"}, "customization": {}}, "ee21ef4a5ef808a9b7484cc0dda0f25075021691c8c09a276591eedb638ea1f9"),
    ],
)
def test_schematic_ids_match_the_ones_image_factory_publishes(schematic: dict, published: str) -> None:
    assert schematic_id(schematic) == published
    assert yaml.safe_load(schematic_yaml(schematic)) == schematic


def test_configs_carry_the_stored_secrets_and_talosconfig_trusts_them(repos: dict[str, Path]) -> None:
    repo = repos["talos-argocd"]
    stored = load_or_create_secrets(repo, "talos")
    bundle = parse_bundle(stored.talos_secrets)
    config = machine_config(repo / "bootstrap" / "talos" / "clusterconfig" / "mini1.yaml")
    assert config["cluster"]["token"] == bundle.bootstrap_token and config["machine"]["token"] == bundle.trustd_token
    assert config["cluster"]["ca"] == {"crt": bundle.k8s.crt, "key": bundle.k8s.key}
    assert config["cluster"]["etcd"]["ca"] == {"crt": bundle.etcd.crt, "key": bundle.etcd.key}
    assert config["cluster"]["secretboxEncryptionSecret"] == bundle.secretbox_secret
    talosconfig = yaml.safe_load((repo / "bootstrap" / "talos" / "clusterconfig" / "talosconfig").read_text())
    context = talosconfig["contexts"][talosconfig["context"]]
    assert context["ca"] == bundle.os.crt and (context["crt"], context["key"]) == parse_admin_client(stored.talos_admin_client)
    assert context["endpoints"] == ["192.168.10.11", "192.168.10.12", "192.168.10.13"]
    assert base64.b64decode(context["key"]).startswith(b"-----BEGIN")


def test_secrets_stay_out_of_git(repos: dict[str, Path]) -> None:
    repo = repos["talos-argocd"]
    assert "/bootstrap/talos/clusterconfig/" in (repo / ".gitignore").read_text().splitlines()
    for path in (repo / "bootstrap" / "talos" / "clusterconfig").iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path
    bundle = parse_bundle(load_or_create_secrets(repo, "talos").talos_secrets)
    for path in (repo / "bootstrap" / "talos").rglob("*.yaml"):
        if "clusterconfig" not in path.parts:
            text = path.read_text()
            assert bundle.k8s.key not in text and bundle.bootstrap_token not in text, path


def test_talos_secrets_survive_regeneration_byte_for_byte(tmp_path: Path) -> None:
    """A fresh cluster's secrets are made once; adding a node re-renders every config from the same ones."""
    repo = tmp_path / "repo"
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text((EXAMPLES / "talos-argocd.yaml").read_text(), encoding="utf-8")
    assert main(["generate", str(inventory), "-o", str(repo), "--allow-dirty"]) == 0
    store = (repo / ".clustergen" / "secrets.sops.yaml").read_bytes()
    before = machine_config(repo / "bootstrap" / "talos" / "clusterconfig" / "mini1.yaml")
    talosconfig = (repo / "bootstrap" / "talos" / "clusterconfig" / "talosconfig").read_bytes()

    text = inventory.read_text().replace(
        "components:\n",
        "  - name: mini3\n"
        "    address: 192.168.10.14\n"
        '    mac: "00:e0:4c:00:00:14"\n'
        "    profile: mini-pc\n"
        "    memory: 16Gi\n"
        "    role: worker\n"
        "    disks:\n"
        "      - {path: /dev/nvme0n1, size: 512Gi, type: nvme, use: system}\n"
        "components:\n",
        1,
    )
    inventory.write_text(text, encoding="utf-8")
    assert main(["generate", str(inventory), "-o", str(repo), "--allow-dirty"]) == 0
    assert (repo / ".clustergen" / "secrets.sops.yaml").read_bytes() == store
    assert (repo / "bootstrap" / "talos" / "clusterconfig" / "talosconfig").read_bytes() == talosconfig
    after = machine_config(repo / "bootstrap" / "talos" / "clusterconfig" / "mini1.yaml")
    assert after["cluster"] == before["cluster"] and after["machine"]["ca"] == before["machine"]["ca"]
    joined = machine_config(repo / "bootstrap" / "talos" / "clusterconfig" / "mini3.yaml")
    assert joined["cluster"]["token"] == before["cluster"]["token"] and joined["machine"]["token"] == before["machine"]["token"]
    assert joined["cluster"]["ca"]["crt"] == before["cluster"]["ca"]["crt"]
