"""Node facts resolved against their profiles; control planes chosen; labels set."""

from __future__ import annotations


from .. import catalog
from ..errors import Problem
from ..inventory.model import Inventory, Node, quantity_to_mib
from .components import gpu_config_name
from .load_balancer import service_lb_labels
from .model import DEVICE_LABEL_PREFIX, LABEL_PREFIX, NodePlan, replace_node

# SD cards and eMMC wear out under etcd's constant fsync writes; the k3s and
# etcd docs both ask for SSD-class storage for the datastore.
WEAR_PRONE_MEDIA = frozenset({"sd", "emmc"})
# etcd plus the API server want about 2 GiB to stay out of OOM trouble
# (k3s server requirements list 2 GB RAM for servers).
CONTROL_PLANE_MIN_MIB = 2048
ZONE_LABEL = "topology.kubernetes.io/zone"
HOST_LABEL = f"{LABEL_PREFIX}/host"  # the hypervisor a VM runs on (location.host)


def _profile_value(inv: Inventory, node: Node, key: str) -> object:
    custom = inv.profiles.get(node.profile)
    if custom is not None:
        value = getattr(custom, {"bootMedium": "boot_medium", "memory": "memory_mib"}.get(key, key), None)
        if value is not None:
            return value
    builtin = catalog.profiles().get(node.profile, {})
    value = builtin.get(key)
    if key == "memory" and isinstance(value, str):
        return quantity_to_mib(value)
    return value


def resolve_nodes(inv: Inventory) -> tuple[list[NodePlan], list[Problem]]:
    warnings: list[Problem] = []
    resolved = []
    for node in inv.nodes:
        arch = node.arch or str(_profile_value(inv, node, "arch") or "amd64")
        memory = node.memory_mib or int(str(_profile_value(inv, node, "memory") or 4096))
        boot = node.boot_medium or str(_profile_value(inv, node, "bootMedium") or "ssd")
        os_name = node.os or str(_profile_value(inv, node, "os") or "ubuntu")
        if node.memory_mib is None:
            warnings.append(
                Problem(
                    f"node '{node.name}' has no memory fact; assuming the {node.profile} profile's {memory // 1024} GiB",
                    hint="add memory: to the node so placement rules use the real figure",
                    severity="warning",
                    **inv.where("nodes", node.index, "name"),
                )
            )
        resolved.append(
            NodePlan(
                index=node.index,
                name=node.name,
                addresses=node.addresses,
                mac=node.mac,
                arch=arch,
                os=os_name,
                profile=node.profile,
                role=node.role,
                first_server=False,
                cpu=node.cpu or _profile_value(inv, node, "cpu"),  # type: ignore[arg-type]
                memory_mib=memory,
                boot_medium=boot,
                disks=node.disks,
                gpus=node.gpus,
                devices=node.devices,
                node_labels={},
                labels={},
                taints=node.taints,
                kernel_modules=node.kernel_modules,
                zone=node.zone,
                host=node.host,
            )
        )
    chosen, more = choose_control_planes(inv, resolved)
    warnings.extend(more)
    embedded_etcd = sum(n.is_server for n in chosen) > 1
    return [label_node(inv, n, embedded_etcd) for n in chosen], warnings


def choose_control_planes(inv: Inventory, nodes: list[NodePlan]) -> tuple[list[NodePlan], list[Problem]]:
    """Explicit roles win; `auto` picks an odd count (1 or 3) of the sturdiest nodes."""
    explicit = {n.name for n in nodes if n.role == "controlplane"}
    servers, warnings = (explicit, []) if explicit else _auto_servers(inv, nodes)
    result = _assign_roles(nodes, servers)
    warnings.extend(_wear_prone_server_warnings(inv, result))
    warnings.extend(quorum_domain_warnings(inv, [n for n in result if n.is_server], "etcd"))
    return result, warnings


def _sturdy(node: NodePlan) -> bool:
    return node.boot_medium not in WEAR_PRONE_MEDIA and node.memory_mib >= CONTROL_PLANE_MIN_MIB


def _server_count(inv: Inventory, pool: list[NodePlan], node_count: int) -> int:
    # etcd needs a majority: 3 servers survive one failure, 5 survive two.
    # More servers cost write latency, so 5 only for large clusters. HA also needs a VIP.
    if inv.network.control_plane_endpoint is None:
        return 1
    if len(pool) >= 5 and node_count >= 10:
        return 5
    return 3 if len(pool) >= 3 else 1


def _spread_ranking(pool: list[NodePlan]) -> list[NodePlan]:
    """Biggest first, but one per failure domain before a second in any (a node without a
    location is its own domain)."""
    ranked = sorted(pool, key=lambda n: (-n.memory_mib, n.index))
    seen: dict[str, int] = {}
    order: list = []
    for n in ranked:
        domain = n.failure_domain or f"node {n.name}"
        order.append((seen.get(domain, 0), len(order), n))
        seen[domain] = seen.get(domain, 0) + 1
    return [n for _, _, n in sorted(order, key=lambda t: (t[0], t[1]))]


def _auto_servers(inv: Inventory, nodes: list[NodePlan]) -> tuple[set[str], list[Problem]]:
    warnings: list[Problem] = []
    candidates = [n for n in nodes if n.role == "auto"]
    sturdy = [n for n in candidates if _sturdy(n)]
    pool = sturdy or candidates
    if not pool:
        raise_no_server(inv)
    want = _server_count(inv, pool, len(nodes))
    servers = {n.name for n in _spread_ranking(pool)[:want]}
    if not sturdy:
        warnings.append(
            Problem(
                "no node has an SSD-class boot disk and 2 GiB of memory; the control plane runs on an SD card or a small node",
                hint="etcd wears out SD cards; give one node an SSD or more memory, or accept the risk",
                severity="warning",
                code="etcd-on-sd-card",
                **inv.where("nodes"),
            )
        )
    if len(pool) >= 3 and inv.network.control_plane_endpoint is None:
        warnings.append(
            Problem(
                "three or more nodes could form an HA control plane, but network.controlPlaneEndpoint is not set; using one server",
                hint="set network.controlPlaneEndpoint to a free LAN address for the API VIP",
                severity="warning",
                **inv.where("network"),
            )
        )
    return servers, warnings


def _assign_roles(nodes: list[NodePlan], servers: set[str]) -> list[NodePlan]:
    result = []
    first_done = False
    for n in nodes:
        is_server = n.name in servers
        first = is_server and not first_done
        first_done = first_done or first
        result.append(replace_node(n, role="controlplane" if is_server else "worker", first_server=first))
    return result


def _wear_prone_server_warnings(inv: Inventory, nodes: list[NodePlan]) -> list[Problem]:
    return [
        Problem(
            f"control plane '{n.name}' boots from {n.boot_medium}: etcd's writes wear it out",
            hint="move k3s data to an SSD or pick another node as control plane",
            severity="warning",
            code="etcd-on-sd-card",
            **inv.where("nodes", n.index, "role"),
        )
        for n in nodes
        if n.is_server and n.boot_medium in WEAR_PRONE_MEDIA
    ]


def quorum_domain_warnings(inv: Inventory, members: list[NodePlan], quorum: str) -> list[Problem]:
    """Members of a quorum (etcd, Ceph monitors) that share a failure domain: losing it loses
    them together, and with a majority among them, the quorum."""
    if len(members) < 2:
        return []
    by_domain: dict[str, list[NodePlan]] = {}
    for n in members:
        if n.failure_domain:
            by_domain.setdefault(n.failure_domain, []).append(n)
    problems = []
    for domain, shared in sorted(by_domain.items()):
        if len(shared) < 2:
            continue
        lost = "the quorum" if len(shared) > len(members) // 2 else "two members at once"
        problems.append(
            Problem(
                f"{quorum} quorum members {', '.join(n.name for n in shared)} share {domain}: losing it loses {lost}",
                hint="give the nodes different location.zone/location.host (spread the VMs over hypervisors), or accept the risk",
                severity="warning",
                code="quorum-shares-failure-domain",
                **inv.where("nodes", shared[1].index, "location"),
            )
        )
    return problems


def raise_no_server(inv: Inventory) -> None:
    from ..errors import PlanError

    raise PlanError(
        [
            Problem(
                "no node can be a control plane: every node is role: worker",
                hint="set role: controlplane (or auto) on at least one node",
                **inv.where("nodes"),
            )
        ]
    )


def label_node(inv: Inventory, node: NodePlan, embedded_etcd: bool) -> NodePlan:
    node_labels = {f"{LABEL_PREFIX}/profile": node.profile}
    # k3s refuses kubernetes.io/k8s.io labels in --node-label (NodeRestriction),
    # so clustergen's own labels live under clustergen.dev.
    for device in node.devices:
        node_labels[f"{DEVICE_LABEL_PREFIX}/{device.name}"] = "true"
        node_labels[f"{DEVICE_LABEL_PREFIX}/{device.type}"] = "true"
    for gpu in node.gpus:
        node_labels[f"{LABEL_PREFIX}/gpu"] = gpu.vendor
    if node.has_nvidia_gpu:
        # The device plugin reads its per-node config name from this label.
        node_labels["nvidia.com/device-plugin.config"] = gpu_config_name(max(g.sharing for g in node.gpus))
    if node.memory_mib <= 1024:
        node_labels[f"{LABEL_PREFIX}/small-memory"] = "true"
    if node.zone:
        # The well-known zone label is one the kubelet may set on itself (NodeRestriction allows
        # topology.kubernetes.io/*); Rook's CRUSH map and Longhorn's zone anti-affinity read it.
        node_labels[ZONE_LABEL] = node.zone
    if node.host:
        node_labels[HOST_LABEL] = node.host
    original = inv.nodes[node.index]
    node_labels.update(service_lb_labels(inv, original))
    node_labels.update(original.labels)
    automatic = {
        "kubernetes.io/arch": node.arch,
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
    }
    if node.is_server:
        automatic["node-role.kubernetes.io/control-plane"] = "true"
        automatic["node-role.kubernetes.io/master"] = "true"
        if embedded_etcd:
            automatic["node-role.kubernetes.io/etcd"] = "true"
    labels = dict(sorted({**automatic, **node_labels}.items()))
    return replace_node(node, node_labels=dict(sorted(node_labels.items())), labels=labels)
