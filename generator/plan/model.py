"""ClusterPlan: every decision about the cluster, before anything is rendered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem
from ..inventory.model import Device, Disk, ExternalService, Gpu, Inventory, IPAddress, Taint

LABEL_PREFIX = "clustergen.dev"
DEVICE_LABEL_PREFIX = "device.clustergen.dev"


@dataclass(frozen=True)
class TalosNode:
    """What a Talos machine config needs beyond the generic node plan."""

    install_disk: Disk | None  # None: chosen by type (install_disk_type) at install time
    install_disk_type: str  # Talos disk selector type: ssd | hdd | nvme | sd
    ephemeral_disk: Disk | None  # None: EPHEMERAL stays on the install disk
    extensions: tuple[str, ...]  # official system extensions in the node's schematic
    overlay: dict[str, str] | None  # SBC overlay (Raspberry Pi) for the schematic


@dataclass(frozen=True)
class NodePlan:
    index: int  # position in the inventory's nodes list, for error locations
    name: str
    addresses: tuple[IPAddress, ...]
    mac: str | None
    arch: str
    os: str
    profile: str
    role: str  # controlplane | worker
    first_server: bool
    cpu: int | None
    memory_mib: int
    boot_medium: str
    disks: tuple[Disk, ...]
    gpus: tuple[Gpu, ...]
    devices: tuple[Device, ...]
    node_labels: dict[str, str]  # set by clustergen at registration (k3s node-label)
    labels: dict[str, str]  # the full set the node will carry, automatic ones included
    taints: tuple[Taint, ...]
    reasons: tuple[str, ...] = ()
    raspberry_pi: bool = False
    swap_mib: int = 0  # swap file size; 0 = none
    data_disk: Disk | None = None  # where k3s keeps its data when the boot medium would wear out
    volatile_logs: bool = False
    storage_role: str = "none"  # ceph-osd | longhorn | none
    storage_disks: tuple[Disk, ...] = ()
    kernel_modules: tuple[str, ...] = ()  # loaded at boot: the inventory's, plus (Talos) the ones the hardware needs
    talos: TalosNode | None = None  # Talos only: install disk, EPHEMERAL disk, extensions

    @property
    def address(self) -> IPAddress:
        return self.addresses[0]

    @property
    def is_server(self) -> bool:
        return self.role == "controlplane"

    @property
    def has_nvidia_gpu(self) -> bool:
        return any(g.vendor == "nvidia" for g in self.gpus)


@dataclass(frozen=True)
class ComponentPlan:
    key: str  # catalog key, also the base folder name
    layer: str  # controllers | configs
    namespace: str
    pod_security: str
    chart: dict[str, Any]
    values: dict[str, Any]  # baseline values from the catalog (the base)
    cluster_values: dict[str, Any]  # inventory-specific values (the overlay patch)
    release_name: str = ""
    keeps_data: bool = False
    depends_on: tuple[str, ...] = ()  # HelmReleases (same namespace) that must be ready first
    install_step: int = 0  # length of the longest depends_on chain below it (Argo CD's sync wave)
    owns_namespace: bool = True  # declares the Namespace (the first component in it does)


@dataclass(frozen=True)
class AppPlan:
    index: int  # position in the inventory's apps list, for error locations
    name: str
    namespace: str
    catalog: str | None
    base_values: dict[str, Any]  # generic: catalog or custom-app definition
    cluster_values: dict[str, Any]  # placement, host, storage: the overlay patch
    eligible_nodes: tuple[str, ...]
    placement_reason: str
    pod_security: str
    host: str | None
    notes: str = ""
    image: str = ""
    fs_group: int | None = None  # the pods' fsGroup: the group that may read the app's files

    @property
    def has_data(self) -> bool:
        return bool(self.base_values.get("persistence") or self.cluster_values.get("persistence"))


@dataclass(frozen=True)
class AcmeSolver:
    """How cert-manager answers Let's Encrypt's challenge (plan.tls decides)."""

    kind: str  # dns01 | http01
    provider: str | None  # the DNS provider, for dns01
    config: dict[str, Any]  # the solver body under `dns01:` or `http01:`, as cert-manager reads it
    credentials_secret: str | None = None  # dns01: must exist in the cert-manager namespace too


@dataclass(frozen=True)
class ClusterPlan:
    inventory: Inventory
    distribution_version: str
    kubernetes_version: str
    nodes: tuple[NodePlan, ...]
    components: tuple[ComponentPlan, ...]
    apps: tuple[AppPlan, ...]
    external_services: tuple[ExternalService, ...]
    storage_class: str  # the default StorageClass
    storage_backend: str  # local-path | longhorn | rook-ceph
    cluster_issuer: str | None
    ingress_address: str | None
    warnings: tuple[Problem, ...] = field(default_factory=tuple)
    k3s_disable: tuple[str, ...] = ()  # k3s's packaged components switched off (its `disable:` list)
    acme_solver: AcmeSolver | None = None  # issuer: letsencrypt only
    backup: Any = None  # BackupPlan (plan.backup) when components.backup is on
    network_policies: tuple[Any, ...] = ()
    bgp: Any = None  # inventory Bgp when MetalLB announces by BGP; None: Layer 2
    node_registries: Any = None  # NodeRegistries (plan.lan): mirrors, TLS and host entries for every node
    gateway: Any = None  # GatewayPlan (plan.gateway) when the ingress is Gateway API (envoy-gateway)
    dns: Any = None  # DnsPlan (plan.dns) when components.externalDns names a provider  # NamespacePolicy (plan.network_policy), one per app namespace

    @property
    def servers(self) -> tuple[NodePlan, ...]:
        return tuple(n for n in self.nodes if n.is_server)

    @property
    def has_nvidia_gpus(self) -> bool:
        return any(n.has_nvidia_gpu for n in self.nodes)

    @property
    def first_server(self) -> NodePlan:
        return next(n for n in self.nodes if n.first_server)

    @property
    def api_endpoint(self) -> IPAddress:
        return self.inventory.network.control_plane_endpoint or self.first_server.address

    @property
    def namespaces(self) -> dict[str, str]:
        """App namespace → Pod Security level (the strictest every app in it allows)."""
        order = {"restricted": 0, "baseline": 1, "privileged": 2}
        result: dict[str, str] = {}
        for app in self.apps:
            current = result.get(app.namespace, "restricted")
            result[app.namespace] = max(current, app.pod_security, key=order.__getitem__)
        for svc in self.external_services:
            result.setdefault(svc.namespace, "restricted")
        return dict(sorted(result.items()))
