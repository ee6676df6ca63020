"""Every generated network-config goes through cloud-init's own ENI and netplan renderers.

Debian and Raspberry Pi OS render network-config with the ENI renderer
(/etc/network/interfaces), Ubuntu with netplan; a route cloud-init cannot
parse leaves a headless machine without its static address.

cloud-init is a Debian package (python3 under /usr/lib/python3/dist-packages),
not a wheel, so the renderers run in the system Python in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from generator.inventory import load_inventory, load_inventory_text
from generator.plan import plan_cluster
from generator.render.k3s import render_cloud_init

from .conftest import EXAMPLES, TEST_TOKEN, distribution_of

SYSTEM_PYTHON = Path("/usr/bin/python3")
RENDER_SCRIPT = Path(__file__).parent / "cloudinit_renderers.py"
K3S_EXAMPLES = sorted(p for p in EXAMPLES.glob("*.yaml") if distribution_of(p) == "k3s")


def _cloud_init_missing() -> str | None:
    if not SYSTEM_PYTHON.exists():
        return f"{SYSTEM_PYTHON} is missing"
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import cloudinit.net.eni, cloudinit.net.netplan, yaml"], capture_output=True, text=True)
    if probe.returncode != 0:
        return "cloud-init is not installed for the system Python (apt-get install --no-install-recommends cloud-init)"
    return None


pytestmark = pytest.mark.skipif(bool(_cloud_init_missing()), reason=_cloud_init_missing() or "")


def _dual_stack_plan():
    text = (EXAMPLES / "single-mini-pc.yaml").read_text()
    data = yaml.safe_load(text)
    data["network"]["nodeCidr"] = [data["network"]["nodeCidr"], "fd00:10::/64"]
    data["network"]["gateway"] = [data["network"]["gateway"], "fd00:10::1"]
    data["nodes"][0]["address"] = [data["nodes"][0]["address"], "fd00:10::10"]
    inv, warnings = load_inventory_text(yaml.safe_dump(data, sort_keys=False), "dual-stack.yaml")
    return plan_cluster(inv, warnings)


def _plans():
    plans = []
    for example in K3S_EXAMPLES:
        inv, warnings = load_inventory(example)
        plans.append((example.stem, plan_cluster(inv, warnings)))
    plans.append(("dual-stack", _dual_stack_plan()))
    return plans


def _network_configs() -> list[dict]:
    """name, text, and the addresses and gateways each rendered file must carry."""
    items = []
    for label, plan in _plans():
        texts = {f.path: f.content.decode() for f in render_cloud_init(plan, TEST_TOKEN) if f.path.endswith("/network-config")}
        for node in plan.nodes:
            items.append(
                {
                    "name": f"{label}/{node.name}",
                    "text": texts[f"bootstrap/cloud-init/{node.name}/network-config"],
                    "addresses": [str(a) for a in node.addresses],
                    "gateways": [str(g) for g in plan.inventory.network.gateways],
                }
            )
    return items


def _render_all(items: list[dict]) -> tuple[tuple[int, ...], dict[str, dict]]:
    """cloud-init's version and each item's ENI and netplan renders."""
    payload = json.dumps([{"name": i["name"], "text": i["text"]} for i in items])
    done = subprocess.run([str(SYSTEM_PYTHON), str(RENDER_SCRIPT)], input=payload, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    version = tuple(int(part) for part in answer["version"].split(".")[:2])
    return version, {r["name"]: r for r in answer["results"]}


def test_network_config_renders_with_eni_and_netplan() -> None:
    items = _network_configs()
    assert any(i["name"].startswith("mixed-shelf/") for i in items)
    assert any(":" in g for i in items for g in i["gateways"]), "an IPv6 gateway is covered"
    _, rendered = _render_all(items)
    for item in items:
        result = rendered[item["name"]]
        assert result["error"] is None, f"{item['name']}: cloud-init cannot parse its network-config:\n{result['error']}"
        for renderer in ("eni", "netplan"):
            text = result[renderer]
            for address in item["addresses"] + item["gateways"]:
                assert address in text, f"{item['name']}: {address} missing from the {renderer} render:\n{text}"


def test_eni_render_has_default_routes() -> None:
    """The ENI render routes everything through the gateway, for IPv4 and IPv6."""
    items = [i for i in _network_configs() if i["name"].startswith(("mixed-shelf/", "dual-stack/"))]
    version, rendered = _render_all(items)
    for item in items:
        eni_text = rendered[item["name"]]["eni"]
        for gateway in item["gateways"]:
            if ":" not in gateway:
                assert f"route add default gw {gateway}" in eni_text, eni_text
            elif version >= (23, 1):
                assert f"route add -A inet6 default gw {gateway}" in eni_text, eni_text
            else:
                # cloud-init before 23.1 (Debian 12 ships 22.4) drops the /0 of a v2
                # IPv6 route and writes ::/64 (upstream fix: "Fix default route
                # rendering on v2 ipv6", #1973); IPv4 is unaffected.
                assert f"gw {gateway}" in eni_text, eni_text
