"""Per-node hardware rules: Raspberry Pis, swap, SD cards. Each names the fact it rests on."""

from __future__ import annotations


from .. import catalog
from ..errors import Problem
from ..inventory.model import Disk, Inventory
from .model import NodePlan, replace_node
from .nodes import WEAR_PRONE_MEDIA

# Nodes with this little memory lock up without swap (the seeds' "node with no
# swap locks up" story); Kubernetes' NodeSwap feature lets pods use it under
# LimitedSwap, which needs failSwapOn: false *and* a swapBehavior.
SWAP_MEMORY_THRESHOLD_MIB = 2048
MAX_SWAP_MIB = 2048
# Media that survive k3s's and etcd's write load.
DURABLE_TYPES = frozenset({"ssd", "nvme", "hdd", "usb"})


def durable_data_disk(node: NodePlan) -> Disk | None:
    """The first disk listed for data that survives constant writes."""
    return next((d for d in node.disks if d.use == "data" and d.type in DURABLE_TYPES), None)


def profile_family(inv: Inventory, profile: str) -> str | None:
    custom = inv.raw.get("profiles", {}).get(profile, {})
    return custom.get("family") or catalog.profiles().get(profile, {}).get("family")


def apply_hardware_rules(inv: Inventory, nodes: list[NodePlan]) -> tuple[list[NodePlan], list[Problem]]:
    problems: list[Problem] = []
    result = []
    for node in nodes:
        index = node.index
        original = inv.nodes[index]
        pi = profile_family(inv, node.profile) == "raspberry-pi"
        if pi and node.arch != "arm64":
            problems.append(
                Problem(
                    f"Raspberry Pi node '{node.name}' must run a 64-bit (arm64) OS; most charts publish no 32-bit ARM images",
                    hint="flash the 64-bit Ubuntu or Raspberry Pi OS image and set arch: arm64",
                    **inv.where("nodes", index, "arch" if original.arch else "profile"),
                )
            )
        swap = 0
        if original.swap == "on" or (original.swap == "auto" and node.memory_mib <= SWAP_MEMORY_THRESHOLD_MIB):
            swap = min(max(node.memory_mib, 1024), MAX_SWAP_MIB)
        data_disk = None
        wear_prone = node.boot_medium in WEAR_PRONE_MEDIA
        if wear_prone:
            # etcd and containerd write constantly; on an SD card that is the
            # documented way to kill it. Put /var/lib/rancher on a real disk.
            data_disk = durable_data_disk(node)
            if data_disk is None:
                problems.append(
                    Problem(
                        f"node '{node.name}' boots from {node.boot_medium} and has no other disk: {inv.distribution} and container images will wear the card out",
                        hint="attach a USB SSD and list it under disks with use: data; clustergen then "
                        + ("puts Talos's EPHEMERAL volume (/var) on it" if inv.distribution == "talos" else "mounts it at /var/lib/rancher"),
                        severity="warning",
                        **inv.where("nodes", index, "name"),
                    )
                )
        result.append(
            replace_node(
                node,
                raspberry_pi=pi,
                swap_mib=swap,
                data_disk=data_disk,
                # Logs in RAM spare the card: journald writes constantly otherwise.
                volatile_logs=wear_prone,
            )
        )
    return result, problems


# What the kubelet keeps back. k3s reserves nothing but the eviction threshold; Talos also
# reserves 50m CPU and 192Mi for the system. The kernel and firmware take about 5% of the
# nominal memory before Kubernetes sees it. An estimate: the real figure is on the node.
EVICTION_MIB = 100
SYSTEM_RESERVED = {"talos": (50, 192)}


def allocatable(cpu: int | None, memory_mib: int, distribution: str) -> tuple[int | None, int]:
    """(millicores or None when unknown, MiB) a node offers its pods."""
    reserved_cpu, reserved_mib = SYSTEM_RESERVED.get(distribution, (0, 0))
    mib = int(memory_mib * 0.95) - EVICTION_MIB - reserved_mib
    return (None if cpu is None else cpu * 1000 - reserved_cpu), max(mib, 0)
