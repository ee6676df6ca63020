"""Typed inventory: what the user wrote, with defaults filled in.

Nothing here decides anything about the cluster; that is the plan stage's
job.  Sizes are kept in MiB so rules can compare them without parsing.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_UNIT_MIB = {"Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}


def quantity_to_mib(text: str) -> int:
    """512Mi, 1.5Gi, 2Ti → MiB, exactly (Decimal: a 400-digit number does not overflow)."""
    from decimal import Decimal

    number, unit = text[:-2], text[-2:]
    return int(Decimal(number) * _UNIT_MIB[unit])


@dataclass(frozen=True)
class Disk:
    """A node's disk: its device path, size, type (ssd, hdd, nvme, sd, emmc, usb) and use."""

    path: str
    size_mib: int
    type: str
    use: str
    serial: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class Gpu:
    """A node's GPU: vendor, model, memory, and how many pods may share it."""

    vendor: str
    model: str | None
    memory_mib: int | None
    sharing: int
    driver: str | None = None  # NVIDIA driver branch override, e.g. "470"


@dataclass(frozen=True)
class Device:
    """A device on a node that an app opens (a Zigbee or Z-Wave stick, a serial port)."""

    name: str
    type: str
    path: str


@dataclass(frozen=True)
class Taint:
    """A Kubernetes taint the inventory puts on a node."""

    key: str
    value: str | None
    effect: str


@dataclass(frozen=True)
class Profile:
    """A hardware profile: the facts a kind of machine shares (arch, boot medium, memory, CPUs, OS)."""

    name: str
    description: str = ""
    arch: str | None = None
    boot_medium: str | None = None
    memory_mib: int | None = None
    cpu: int | None = None
    os: str | None = None
    notes: str = ""


@dataclass(frozen=True)
class Node:
    """One machine of the inventory with its hardware facts, as checked."""

    index: int  # position in the file, for error locations
    name: str
    addresses: tuple[IPAddress, ...]
    mac: str | None
    profile: str
    arch: str | None
    os: str | None
    role: str
    cpu: int | None
    memory_mib: int | None
    boot_medium: str | None
    disks: tuple[Disk, ...]
    gpus: tuple[Gpu, ...]
    devices: tuple[Device, ...]
    labels: dict[str, str]
    taints: tuple[Taint, ...]
    swap: str
    kernel_modules: tuple[str, ...] = ()
    service_lb: bool | None = None  # None: not set (serves when loadBalancer is servicelb)
    zone: str | None = None  # location.zone: rack, room (topology.kubernetes.io/zone)
    host: str | None = None  # location.host: the hypervisor a VM runs on
    os_release: str | None = None  # jammy | noble | bookworm | trixie; None: the OS's default
    osd_memory_target_mib: int | None = None  # Ceph osd_memory_target for this node's OSDs

    @property
    def address(self) -> IPAddress:
        return self.addresses[0]


@dataclass(frozen=True)
class PrivateRegistry:
    """A registry the nodes reach by a name no DNS serves (network.registries)."""

    index: int
    name: str  # host[:port], as image references spell it
    address: IPAddress
    tls: str = "none"  # none (plain HTTP) | verify | skip-verify

    @property
    def host(self) -> str:
        return self.name.rsplit(":", 1)[0] if ":" in self.name else self.name


@dataclass(frozen=True)
class BgpPeer:
    """A router MetalLB announces the load-balancer addresses to over BGP."""

    address: IPAddress
    asn: int
    port: int = 179


@dataclass(frozen=True)
class Bgp:
    """network.bgp: MetalLB announces the pool to these routers instead of answering ARP."""

    local_asn: int
    peers: tuple[BgpPeer, ...]


@dataclass(frozen=True)
class LanDns:
    """components.lanDns: an in-cluster DNS server for the cluster domain on the LAN."""

    address: IPAddress | None = None


@dataclass(frozen=True)
class Network:
    """The cluster's LAN: node subnets, gateways, DNS, the API endpoint and the load-balancer pool."""

    node_cidrs: tuple[IPNetwork, ...]
    gateways: tuple[IPAddress, ...]
    dns_servers: tuple[IPAddress, ...]
    control_plane_endpoint: IPAddress | None
    load_balancer_pools: tuple[str, ...]
    ingress_address: IPAddress | None
    pod_cidrs: tuple[IPNetwork, ...]
    service_cidrs: tuple[IPNetwork, ...]
    registries: tuple[PrivateRegistry, ...] = ()
    bgp: Bgp | None = None


@dataclass(frozen=True)
class Rfc2136Server:
    """A DNS server that takes dynamic updates signed with a TSIG key."""

    server: str
    port: int
    tsig_key_name: str
    tsig_algorithm: str  # BIND's spelling: hmac-sha256


# restic forget --keep-* counts for the prune schedule, unless components.backup.keep says others.
DEFAULT_KEEP: tuple[tuple[str, int], ...] = (("last", 5), ("daily", 7), ("weekly", 4), ("monthly", 6))


@dataclass(frozen=True)
class PiholeServer:
    """The Pi-hole whose local DNS records external-dns keeps (provider: pihole)."""

    server: str  # base URL of its web interface, e.g. http://192.168.1.3
    api_version: str = "6"  # Pi-hole v6 (2025) and later; "5" for the older API


@dataclass(frozen=True)
class Backup:
    """Where and how often k8up backs up the cluster's volumes (components.backup)."""

    s3_endpoint: str
    s3_bucket: str
    schedule: str = "@daily-random"
    engine: str = "k8up"  # k8up | longhorn
    s3_region: str = "us-east-1"
    # restic forget --keep-* counts for the prune schedule.
    keep: tuple[tuple[str, int], ...] = DEFAULT_KEEP


@dataclass(frozen=True)
class Components:
    """The cluster-wide components: ingress, TLS, DNS, load balancer, storage, monitoring, backups, network policies."""

    ingress: str = "traefik"
    tls_issuer: str = "selfsigned"
    tls_email: str | None = None
    tls_staging: bool = False
    tls_solver: str | None = None  # dns01 | http01; None: not set (the plan decides)
    external_dns_provider: str = "none"
    external_dns_secret: str | None = None
    external_dns_rfc2136: Rfc2136Server | None = None
    external_dns_pihole: PiholeServer | None = None
    external_dns_ovh_endpoint: str = "ovh-eu"
    lan_dns: LanDns | None = None
    load_balancer: str = "metallb"
    storage: str = "auto"
    monitoring: bool = False
    backup: Backup | None = None  # None: backups off
    network_policies: bool = True
    osd_memory_target_mib: int | None = None  # components.ceph.osdMemoryTarget; None: Ceph's 4 GiB


@dataclass(frozen=True)
class AppPort:
    """A port a custom app serves."""

    name: str
    port: int
    protocol: str = "TCP"


@dataclass(frozen=True)
class AppVolume:
    """apps[].persistence[]: a claim the app mounts, its own or an existing one."""

    name: str
    mount_path: str
    size: str = "1Gi"
    existing_claim: str | None = None
    access_mode: str = "ReadWriteOnce"
    storage_class: str | None = None


@dataclass(frozen=True)
class AppMount:
    """apps[].volumes[]: a volume that is no new claim of the app's own."""

    index: int  # position in the app's volumes list, for error locations
    name: str
    source: str  # hostPath | nfs | emptyDir | configMap | secret | shared
    config: Any  # the source's value: a path, a name, or an object (nfs, emptyDir)
    mount_path: str | None = None
    sub_path: str | None = None
    read_only: bool = False
    node: str | None = None  # hostPath: the node that has the directory


@dataclass(frozen=True)
class AppContainer:
    """apps[].containers[] and apps[].initContainers[]: the fields as the inventory gives them."""

    index: int
    name: str
    image: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    ports: tuple[AppPort, ...] = ()
    probes: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    security_context: dict[str, Any] = field(default_factory=dict)
    volume_mounts: tuple[dict[str, Any], ...] = ()
    gpu: int = 0
    sidecar: bool = False


@dataclass(frozen=True)
class AppRoute:
    """A path of an app's host that routes to one of its ports."""

    index: int
    name: str
    path: str
    host: str | None = None
    strip_prefix: bool = False
    port: str | None = None
    middlewares: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SharedVolume:
    """volumes[]: one claim, declared once, that several apps mount."""

    index: int
    name: str
    size: str
    access_mode: str = "ReadWriteMany"
    storage_class: str | None = None


@dataclass(frozen=True)
class App:
    """An app the inventory wants: a catalog entry or a custom image, with its overrides."""

    index: int
    name: str
    catalog: str | None  # None for a custom app
    image: str | None
    namespace: str | None
    replicas: int | None
    ports: tuple[AppPort, ...]
    env: dict[str, str]
    persistence: tuple[AppVolume, ...]
    host: str | None
    ingress: bool | None
    devices: tuple[str, ...]
    gpu: int
    arches: tuple[str, ...] | None
    weight: str | None
    values: dict[str, Any]
    backup: bool = True  # with components.backup on: back this app's volumes up
    kind: str = "Deployment"
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    cron_job: dict[str, Any] | None = None  # kind CronJob: schedule, concurrencyPolicy, history limits
    containers: tuple[AppContainer, ...] = ()
    init_containers: tuple[AppContainer, ...] = ()
    replica_mount_path: str | None = None  # replicaConfig.mountPath
    replica_files: tuple[dict[str, str], ...] = ()  # replicaConfig.replicas, by ordinal
    volumes: tuple[AppMount, ...] = ()
    routes: tuple[AppRoute, ...] = ()
    pull_secret: bool = False

    @property
    def is_custom(self) -> bool:
        return self.image is not None


@dataclass(frozen=True)
class ExternalService:
    """A service outside the cluster (a NAS, a router) given a Service inside it, and a route when it has a host."""

    index: int
    name: str
    namespace: str
    address: IPAddress
    port: int
    protocol: str
    host: str | None


@dataclass(frozen=True)
class Inventory:
    """The whole inventory, checked and typed: what plan reads."""

    source: str  # file name, for messages
    cluster_name: str
    domain: str
    timezone: str
    distribution: str
    distribution_version: str | None
    engine: str
    repository: str
    branch: str
    sync_path: str
    network: Network
    profiles: dict[str, Profile]
    nodes: tuple[Node, ...]
    components: Components
    apps: tuple[App, ...]
    external_services: tuple[ExternalService, ...]
    kubernetes_version: str | None = None  # Talos only; k3s versions pin Kubernetes
    registry_mirrors: dict[str, tuple[str, ...]] = field(default_factory=dict)
    extensions: tuple[str, ...] = ()  # extra Talos system extensions
    volumes: tuple[SharedVolume, ...] = ()  # claims shared by several apps
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    source_map: Any = field(repr=False, compare=False, default=None)

    def where(self, *path: str | int) -> dict[str, Any]:
        """Problem keyword arguments (file, line, column, field) for a field path."""
        from .locations import format_path

        line, column = self.source_map.locate(path) if self.source_map else (None, None)
        return {"file": self.source, "line": line, "column": column, "field": format_path(path)}
