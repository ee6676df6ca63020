"""MetalLB in BGP mode as well as Layer 2: the configs layer announces the pool the way the
inventory says, with objects the pinned MetalLB CRDs accept."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from generator import catalog
from generator.cli import main
from generator.inventory import load_inventory_text
from generator.plan import plan_cluster
from generator.render import ClusterSecrets, render_repository

from .conftest import EXAMPLES, SHARED_SCHEMAS, TEST_TOKEN, requires_shared

THREE = yaml.safe_load((EXAMPLES / "three-mini-pcs.yaml").read_text())
POOL_FILE = "overlays/trio/infrastructure/configs/metallb-pool.yaml"
MIRROR = Path("/work/.mirror/metallb+metallb/repo")


def with_bgp(bgp: dict | None, **components: Any) -> dict[str, Any]:
    data = copy.deepcopy(THREE)
    if bgp is not None:
        data["network"]["bgp"] = bgp
    data["components"].update(components)
    return data


def objects(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    text = yaml.safe_dump(data, sort_keys=False)
    inv, warnings = load_inventory_text(text, "inventory.yaml")
    files = {f.path: f.content.decode() for f in render_repository(plan_cluster(inv, warnings), ClusterSecrets(TEST_TOKEN), text)}
    result: dict[str, list[dict[str, Any]]] = {}
    for d in yaml.safe_load_all(files[POOL_FILE]):
        if d:
            result.setdefault(d["kind"], []).append(d)
    return result


ONE = {"localAsn": 64512, "peers": [{"address": "10.0.10.1", "asn": 64513}]}
TWO = {"localAsn": 64512, "peers": [{"address": "10.0.10.1", "asn": 64512}, {"address": "10.0.10.2", "asn": 4200000000, "port": 1179}]}
# (id, network.bgp, expected BGPPeer specs; None: Layer 2)
ROWS = [
    ("layer 2", None, None),
    ("one router", ONE, [{"myASN": 64512, "peerASN": 64513, "peerAddress": "10.0.10.1"}]),
    ("iBGP and a 4-byte AS on another port", TWO,
     [{"myASN": 64512, "peerASN": 64512, "peerAddress": "10.0.10.1"}, {"myASN": 64512, "peerASN": 4200000000, "peerAddress": "10.0.10.2", "peerPort": 1179}]),
]


def _crd_schema(kind_file: str, version: str) -> dict[str, Any]:
    tag = "v" + catalog.component("metallb")["chart"]["version"]
    text = subprocess.run(["git", f"--git-dir={MIRROR}", "show", f"{tag}:config/crd/bases/{kind_file}"], check=True, capture_output=True, text=True).stdout
    crd = yaml.safe_load(text)
    return next(v["schema"]["openAPIV3Schema"] for v in crd["spec"]["versions"] if v["name"] == version)


@requires_shared
@pytest.mark.parametrize(("bgp", "peers"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_the_pool_is_announced_by_the_chosen_mode(bgp: dict | None, peers: list | None) -> None:
    found = objects(with_bgp(bgp))
    assert [p["metadata"]["name"] for p in found["IPAddressPool"]] == ["default"]
    if peers is None:
        assert set(found) == {"IPAddressPool", "L2Advertisement"}
        return
    assert set(found) == {"IPAddressPool", "BGPPeer", "BGPAdvertisement"}, "BGP mode announces by BGP only, no ARP"
    assert [p["spec"] for p in found["BGPPeer"]] == peers
    assert found["BGPAdvertisement"][0]["spec"] == {"ipAddressPools": ["default"]}
    peer_schema = json.loads((SHARED_SCHEMAS / "crds" / "metallb.io" / "bgppeer_v1beta2.json").read_text())
    for peer in found["BGPPeer"]:
        assert peer["apiVersion"] == "metallb.io/v1beta2"  # v1beta1 is deprecated at 0.16
        assert not [e.message for e in Draft202012Validator(peer_schema).iter_errors(peer)]
    if MIRROR.is_dir():
        schema = _crd_schema("metallb.io_bgpadvertisements.yaml", "v1beta1")
        assert not [e.message for e in Draft202012Validator(schema).iter_errors(found["BGPAdvertisement"][0])]


@pytest.mark.parametrize(("data", "message", "field"), [
    (with_bgp(ONE, loadBalancer="kube-vip"), "components.loadBalancer is kube-vip", "network.bgp"),
    (with_bgp({"localAsn": 64512, "peers": [{"address": "10.0.10.1", "asn": 1}, {"address": "10.0.10.1", "asn": 2}]}), "listed twice", "network.bgp.peers[1].address"),
], ids=["not-metallb", "same-router-twice"])
def test_bgp_mistakes_are_errors(data: dict, message: str, field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["generate", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and field in err


@pytest.mark.parametrize(("asn", "ok"), [(0, False), (1, True), (4294967295, True), (4294967296, False)])
def test_as_numbers_at_their_bounds(asn: int, ok: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(with_bgp({"localAsn": asn, "peers": [{"address": "10.0.10.1", "asn": 64513}]}), sort_keys=False))
    assert main(["plan", str(path)]) == (0 if ok else 2)
    out = capsys.readouterr().out
    if ok:
        assert f"load balancer: MetalLB BGP as AS {asn}, announcing the pool to 10.0.10.1 (AS 64513)" in out
