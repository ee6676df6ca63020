"""NVIDIA driver branch per node, from each GPU's generation and what the node's OS packages.

The branch data (which generations a branch drives, which branch each generation wants, which
packages each OS release has) lives in the catalog (`nvidia_drivers` in components.yaml).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from .. import catalog
from ..errors import Problem
from ..inventory.model import Gpu, Inventory
from .model import NodePlan, NvidiaDriver, replace_node

# Model names → generation, most specific first. Code names (GK107, GP107GL: what lspci prints)
# are exact; marketing names follow NVIDIA's product lists. A name two generations shared
# (GTX 860M was sold as Kepler and Maxwell) maps to both: the branch must drive either.
_GENERATION_PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"\bGF1\d\d|\bG[TX]{1,2}X? ?[45]\d\dM?\b", ("fermi",)),
    (r"\bGK\d{3}", ("kepler",)),
    (r"\bGM\d{3}", ("maxwell",)),
    (r"\bGP\d{3}", ("pascal",)),
    (r"\bGV\d{3}", ("volta",)),
    (r"\bTU\d{3}", ("turing",)),
    (r"\bGA\d{3}", ("ampere",)),
    (r"\bAD\d{3}", ("ada",)),
    (r"\bGH\d{3}", ("hopper",)),
    (r"\bGB\d{3}", ("blackwell",)),
    (r"\bGTX ?(860|870)M\b|\bGT ?(720|730)M\b|\b9[23]0M\b", ("kepler", "maxwell")),
    (r"\bQuadro K(620|1200|2200)\b|\bGTX ?(745|750)( ?Ti)?\b|\bGTX ?9\d\dM?X?\b|\b(94\d|93\d)MX?\b|\bGTX ?8[5-9]0M\b|\bQuadro M\d+|\bTesla M\d+|\bTITAN X\b(?! ?\(?Pascal)", ("maxwell",)),
    (r"\bGTX ?6\d\dM?\b|\bGT ?6\d\dM?\b|\bGTX ?7[6-8]0( ?Ti)?\b|\bGT ?7[1-4]0\b|\bQuadro K\d+|\bTesla K\d+|\bTITAN( Black| Z)?\b(?! ?(X|V|RTX))", ("kepler",)),
    (r"\bGTX ?16\d\d|\bRTX ?20\d\d|\bQuadro RTX|\bT(4|400|600|1000|1200)\b|\bMX ?(450|550|570)\b|\bTITAN RTX", ("turing",)),
    (r"\bGTX ?10\d\d|\bGT ?1030\b|\bMX ?(1[1-5]0|2[1-5]0|3[0-5]0)\b|\bQuadro P\d+|\bTesla P\d+|\bTITAN ?Xp?\b", ("pascal",)),
    (r"\bTITAN V\b|\bV100\b|\bQuadro GV100", ("volta",)),
    (r"\bRTX ?30\d\d|\bRTX A\d+|\bA(2|10|16|30|40|100)\b", ("ampere",)),
    (r"\bRTX ?40\d\d|\bRTX \d+ Ada|\bL4\b|\bL40S?\b", ("ada",)),
    (r"\bH100\b|\bH200\b|\bGH200\b", ("hopper",)),
    (r"\bRTX ?50\d\d|\bB200\b|\bB100\b|\bRTX PRO", ("blackwell",)),
)


def generations(model: str | None) -> tuple[str, ...]:
    """The generations a GPU model name can be (empty when the name is unknown)."""
    for pattern, found in _GENERATION_PATTERNS:
        if model and re.search(pattern, model, re.IGNORECASE):
            return found
    return ()


@dataclass(frozen=True)
class _Target:
    """What a node can install: the OS (ubuntu | debian | raspios | talos) and its release."""

    os: str
    release: str | None


def _data() -> dict[str, Any]:
    return catalog.components_file()["nvidia_drivers"]


def _drives(branch: str, generation: str) -> bool:
    data = _data()
    order = data["generations"]
    span = data["branches"].get(branch)
    if span is None:
        return False
    return order.index(span["oldest"]) <= order.index(generation) <= order.index(span["newest"])


def available_branches(target: _Target) -> dict[str, list[str]]:
    """Branch → what installs it (packages, or Talos extensions) on this OS release."""
    data = _data()
    if target.os == "talos":
        return {b: list(v) for b, v in data["talos"].items()}
    packages = data["os_packages"].get(target.os)
    if packages is None:
        return {}
    if "branches_by_release" in packages:
        return {b: list(v) for b, v in packages["branches_by_release"][target.release].items()}
    return {b: list(v) for b, v in packages["branches"].items()}


def default_release(os_name: str) -> str | None:
    packages = _data()["os_packages"].get(os_name)
    return packages["default_release"] if packages else None


def _branch_for(gens: tuple[str, ...], offered: dict[str, list[str]]) -> str | None:
    """The newest offered branch that drives every generation, preferring the generation's own
    branch (Kepler 470, Maxwell-Volta 580, newer: production)."""
    preferred = {_data()["preferred"].get(g) for g in gens}
    fitting = sorted((b for b in offered if all(_drives(b, g) for g in gens)), key=int, reverse=True)
    for branch in fitting:
        if branch in preferred:
            return branch
    return fitting[0] if fitting else None


def plan_gpu_drivers(inv: Inventory, nodes: list[NodePlan]) -> tuple[list[NodePlan], list[Problem]]:
    problems: list[Problem] = []
    result = []
    for node in nodes:
        target, release_problems = _target(inv, node)
        problems.extend(release_problems)
        driver = None
        if node.has_nvidia_gpu and not release_problems:
            driver, more = _node_driver(inv, node, target)
            problems.extend(more)
        if driver is not None and target.os == "debian":
            driver = replace(driver, apt_source=_debian_nonfree_source(target.release))
        result.append(replace_node(node, os_release=target.release, nvidia_driver=driver))
    return result, problems


def _debian_nonfree_source(release: str | None) -> str:
    """Debian's NVIDIA drivers live in non-free (their firmware in non-free-firmware), which a
    Debian cloud image does not list. ``$MIRROR`` is the node's own Debian mirror: cloud-init's
    apt module fills it in from the node's configuration, so no mirror is chosen here."""
    return "\n".join(f"deb $MIRROR {suite} contrib non-free non-free-firmware" for suite in (release, f"{release}-updates"))


def _target(inv: Inventory, node: NodePlan) -> tuple[_Target, list[Problem]]:
    if inv.distribution == "talos":
        return _Target("talos", None), []
    release = inv.nodes[node.index].os_release
    packages = _data()["os_packages"].get(node.os)
    if release is None:
        return _Target(node.os, default_release(node.os)), []
    if packages is None or release not in packages["releases"]:
        known = ", ".join(f"{os}: {' or '.join(p['releases'])}" for os, p in _data()["os_packages"].items())
        return _Target(node.os, None), [
            Problem(
                f"node '{node.name}' runs {node.os}, which has no release '{release}'",
                hint=f"osRelease names the node's OS release ({known}); remove it for the default",
                **inv.where("nodes", node.index, "osRelease"),
            )
        ]
    return _Target(node.os, release), []


def _node_driver(inv: Inventory, node: NodePlan, target: _Target) -> tuple[NvidiaDriver | None, list[Problem]]:
    nvidia = [(i, g) for i, g in enumerate(node.gpus) if g.vendor == "nvidia"]
    offered = available_branches(target)
    overrides = sorted({g.driver for _, g in nvidia if g.driver})
    if len(overrides) > 1:
        return None, [
            Problem(
                f"node '{node.name}' asks for NVIDIA drivers {' and '.join(overrides)}; one node loads one driver",
                hint="set the same gpus[].driver on every GPU of the node, or leave it out",
                **inv.where("nodes", node.index, "gpus"),
            )
        ]
    all_gens = _node_generations(nvidia)
    if overrides:
        return _override(inv, node, nvidia, overrides[0], offered, target, tuple(all_gens))
    # An unknown model gets the branch that drives the most generations.
    branch = _branch_for(tuple(all_gens) or ("maxwell", "turing"), offered)
    if branch is None:
        return None, [_no_driver(inv, node, nvidia, tuple(all_gens), target, bool(offered))]
    problems = [_unknown_model(inv, node, i, g, branch) for i, g in nvidia if not generations(g.model)]
    return NvidiaDriver(branch, tuple(offered[branch]), tuple(all_gens), "generation" if all_gens else "default"), problems


def _node_generations(nvidia: list[tuple[int, Gpu]]) -> list[str]:
    found: list[str] = []
    for _, gpu in nvidia:
        found.extend(g for g in generations(gpu.model) if g not in found)
    return found


def _where_os(target: _Target) -> str:
    return f"{target.os} {target.release}" if target.release else target.os


def _override(inv: Inventory, node: NodePlan, nvidia: list[tuple[int, Gpu]], branch: str, offered: dict[str, list[str]],
              target: _Target, gens: tuple[str, ...]) -> tuple[NvidiaDriver | None, list[Problem]]:
    if branch in offered:
        return NvidiaDriver(branch, tuple(offered[branch]), gens, "override"), []
    index = next(i for i, g in nvidia if g.driver)
    return None, [
        Problem(
            f"node '{node.name}' asks for NVIDIA driver {branch}, which {_where_os(target)} does not offer (it has {', '.join(sorted(offered)) or 'none'})",
            hint="pick one of those branches for gpus[].driver, or another OS release (osRelease)",
            **inv.where("nodes", node.index, "gpus", index, "driver"),
        )
    ]


def _no_driver(inv: Inventory, node: NodePlan, nvidia: list[tuple[int, Gpu]], gens: tuple[str, ...], target: _Target, packaged: bool) -> Problem:
    names = ", ".join(g.model or "unnamed GPU" for _, g in nvidia)
    first = nvidia[0][1]
    return Problem(
        f"node '{node.name}': no NVIDIA driver {_where_os(target)} offers drives its GPU ({names}: {'/'.join(gens)})",
        hint=_no_driver_hint(gens, target) if packaged else f"clustergen installs NVIDIA drivers on Ubuntu, Debian and Talos, not {target.os}: set os: ubuntu or debian on the node",
        code="gpu-without-driver",
        **inv.where("nodes", node.index, "gpus", nvidia[0][0], "model" if first.model else "vendor"),
    )


def _no_driver_hint(gens: tuple[str, ...], target: _Target) -> str:
    if "fermi" in gens:
        return "Fermi's last driver (390) is no longer packaged: remove the GPU from gpus (the node still joins), or replace the card"
    if "kepler" in gens and target.os == "talos":
        return "Kepler needs the 470 driver, which Talos has no extension for: run this node's cluster on k3s with Ubuntu or Debian bookworm, or remove the GPU from gpus"
    if "kepler" in gens:
        return "Kepler needs the 470 driver: use Ubuntu, or osRelease: bookworm on Debian, or remove the GPU from gpus"
    return "put the GPUs that need different driver branches on different nodes, or set gpus[].driver"


def _unknown_model(inv: Inventory, node: NodePlan, index: int, gpu: Gpu, branch: str) -> Problem:
    return Problem(
        f"node '{node.name}': cannot tell the generation of NVIDIA GPU {gpu.model or '(no model)'}; installing driver {branch}, which drives Maxwell to Hopper cards",
        hint="write the model as lspci prints it (e.g. GeForce GTX 660M or GK106M), or set gpus[].driver",
        severity="warning",
        code="gpu-generation-unknown",
        **inv.where("nodes", node.index, "gpus", index, "model" if gpu.model else "vendor"),
    )
