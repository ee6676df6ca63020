"""Talos decisions per node: where it installs, where EPHEMERAL lives, which extensions its image needs."""

from __future__ import annotations


from .. import catalog
from ..errors import Problem
from ..inventory.model import Disk, Inventory
from . import backends
from .hardware import durable_data_disk
from .model import NodePlan, TalosNode, replace_node

# Talos publishes amd64 and arm64 images only.
TALOS_ARCHES = frozenset({"amd64", "arm64"})
# Talos's documented minimums: a control plane runs etcd and the API server.
MIN_MEMORY_MIB = {"controlplane": 2048, "worker": 1024}
# Loaded at boot on NVIDIA nodes: the nonfree driver does not load itself on Talos.
NVIDIA_MODULES = ("nvidia", "nvidia_uvm", "nvidia_drm", "nvidia_modeset")
# Talos disk selector types for a boot medium, used when the inventory lists no system disk.
SELECTOR_TYPE = {"sd": "sd", "emmc": "sd", "nvme": "nvme", "ssd": "ssd", "usb": "ssd", "hdd": "hdd", "network": "ssd"}


def plan_talos_nodes(inv: Inventory, nodes: list[NodePlan], storage_backend: str) -> tuple[list[NodePlan], list[Problem]]:
    problems: list[Problem] = []
    result = []
    for node in nodes:
        problems.extend(_hardware_problems(inv, node))
        if node.mac is None:
            problems.append(
                Problem(
                    f"node '{node.name}' has no mac: Talos selects the LAN interface by its MAC address",
                    hint="add mac: to the node (bootstrap/probe.py prints it, as does the Talos console)",
                    **inv.where("nodes", node.index, "name"),
                )
            )
        install = next((d for d in node.disks if d.use == "system"), None)
        if install is None:
            problems.append(
                Problem(
                    f"node '{node.name}' lists no system disk; Talos will install to the first {SELECTOR_TYPE[node.boot_medium]} disk it finds",
                    hint="list the install disk under disks with use: system (bootstrap/probe.py prints stable paths and serials)",
                    severity="warning",
                    **inv.where("nodes", node.index, "name"),
                )
            )
        result.append(
            replace_node(
                node,
                kernel_modules=_kernel_modules(node),
                talos=TalosNode(
                    install_disk=install,
                    install_disk_type=SELECTOR_TYPE[node.boot_medium],
                    ephemeral_disk=_ephemeral_disk(node),
                    extensions=_extensions(inv, node, storage_backend),
                    overlay=_overlay(node),
                ),
            )
        )
    return result, problems


def _hardware_problems(inv: Inventory, node: NodePlan) -> list[Problem]:
    problems = []
    original = inv.nodes[node.index]
    if node.arch not in TALOS_ARCHES:
        problems.append(
            Problem(
                f"node '{node.name}' is {node.arch}; Talos runs on amd64 and arm64 only",
                hint="use distribution: k3s for this machine's cluster, or leave the machine out",
                **inv.where("nodes", node.index, "arch" if original.arch else "profile"),
            )
        )
    if node.raspberry_pi and node.profile not in catalog.talos()["raspberry_pi_overlays"]:
        problems.append(
            Problem(
                f"node '{node.name}' is a {node.profile}; Talos boots the Raspberry Pi 4, CM4 and 5 only",
                hint="use distribution: k3s for a cluster with this Pi, or replace it with a Pi 4 or 5",
                **inv.where("nodes", node.index, "profile"),
            )
        )
    minimum = MIN_MEMORY_MIB[node.role]
    if node.memory_mib < minimum:
        problems.append(
            Problem(
                f"node '{node.name}' has {node.memory_mib} MiB of memory; a Talos {node.role} needs at least {minimum} MiB",
                hint="pick a node with more memory for this role (role: worker / controlplane), or use k3s, which fits smaller boards",
                **inv.where("nodes", node.index, "memory" if original.memory_mib else "role"),
            )
        )
    return problems


def _ephemeral_disk(node: NodePlan) -> Disk | None:
    """EPHEMERAL (/var: containerd, kubelet, etcd) goes on the data disk when there is one,
    which also keeps it off an SD card; never on a disk Ceph or Longhorn will wipe."""
    return node.data_disk or durable_data_disk(node)


def _extensions(inv: Inventory, node: NodePlan, storage_backend: str) -> tuple[str, ...]:
    wanted = set(inv.extensions)
    # On every node, not only the ones holding its disks (any node may mount a Longhorn volume).
    wanted.update(backends.backend(storage_backend).spec.talos_extensions)
    if node.nvidia_driver is not None:
        # The branch plan.gpu_drivers chose: lts (580) for Maxwell to Volta, production for newer.
        wanted.update(node.nvidia_driver.packages)
    return tuple(sorted(wanted))


def _kernel_modules(node: NodePlan) -> tuple[str, ...]:
    modules = list(NVIDIA_MODULES) if node.has_nvidia_gpu else []
    modules += [m for m in node.kernel_modules if m not in modules]
    return tuple(modules)


def _overlay(node: NodePlan) -> dict[str, str] | None:
    overlay = catalog.talos()["raspberry_pi_overlays"].get(node.profile) if node.raspberry_pi else None
    return dict(overlay) if overlay else None  # an unsupported Pi is reported by _hardware_problems


def storage_host_path(inv: Inventory, storage_backend: str) -> str | None:
    """The host folder a Talos kubelet binds (rshared) so the storage driver's volumes reach pods."""
    return backends.backend(storage_backend).spec.talos_host_path if inv.distribution == "talos" else None
