"""Render network-config files with cloud-init's own ENI and netplan renderers.

Run by the system Python that has cloud-init installed (not the project's
virtualenv): reads [{"name", "text"}] as JSON on stdin and prints
{"version": cloud-init version, "results": [{"name", "eni", "netplan", "error"}]}
as JSON on stdout.
"""

from __future__ import annotations

import json
import sys
import tempfile
import traceback
from pathlib import Path

import yaml
from cloudinit import version
from cloudinit.net import eni, netplan, network_state


def render(text: str) -> dict[str, str]:
    config = yaml.safe_load(text)
    state = network_state.parse_net_config_data(config.get("network", config))
    with tempfile.TemporaryDirectory() as target:
        eni.Renderer({"netrules_path": None}).render_network_state(state, target=target)
        # features=[]: do not ask a netplan binary; postcmds stay off, so nothing is applied.
        netplan.Renderer({"features": [], "clean_default": False}).render_network_state(state, target=target)
        root = Path(target)
        return {
            "eni": (root / "etc/network/interfaces").read_text(),
            "netplan": (root / "etc/netplan/50-cloud-init.yaml").read_text(),
        }


def main() -> None:
    results = []
    for item in json.load(sys.stdin):
        try:
            results.append({"name": item["name"], "error": None, **render(item["text"])})
        except Exception:  # noqa: BLE001 - reported back to the test with its traceback
            results.append({"name": item["name"], "error": traceback.format_exc(), "eni": "", "netplan": ""})
    json.dump({"version": version.version_string(), "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
