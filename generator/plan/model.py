"""ClusterPlan: every decision about the cluster, before anything is rendered."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

from ..errors import Problem
# Value types the plan hands on unchanged: render takes them from here, never from inventory/.
from ..inventory.model import Device, Disk, ExternalService, Gpu, Inventory, IPAddress, Network, Taint

__all__ = [
    "AcmeSolver", "AppPlan", "ClusterPlan", "ClusterSettings", "ComponentPlan", "Device", "Disk", "ExternalService", "Gpu",
    "IPAddress", "MonitoringPlan", "NamespacePolicy", "Network", "NodePlan", "Peer", "Taint", "TalosNode",
    "DnsPlan", "NodeRegistries", "GatewayPlan", "LonghornBackup", "HTTP_LISTENER", "HTTPS_LISTENER",
]

LABEL_PREFIX = "clustergen.dev"
# The dockerconfigjson Secret of a namespace whose apps pull from a private registry (pullSecret).
PULL_SECRET = "registry-credentials"
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
class NvidiaDriver:
    """The NVIDIA driver branch a node installs (plan.gpu_drivers decides)."""

    branch: str  # e.g. "470", "580"
    packages: tuple[str, ...]  # OS packages (k3s) or system extensions (Talos) that install it
    generations: tuple[str, ...]  # the node's GPU generations the branch was chosen for
    reason: str  # generation | override | default (model unknown)
    apt_source: str | None = None  # Debian: the one-line apt sources of the non-free components it comes from ($MIRROR: the node's mirror)


@dataclass(frozen=True)
class NodePlan:
    """A node as the cluster runs it: role, labels, taints, storage and the overlays its hardware calls for."""

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
    storage_role: str = "none"  # the backend's node_role (ceph-osd, longhorn) on the nodes holding its disks, else none
    storage_disks: tuple[Disk, ...] = ()
    kernel_modules: tuple[str, ...] = ()  # loaded at boot: the inventory's, plus (Talos) the ones the hardware needs
    talos: TalosNode | None = None  # Talos only: install disk, EPHEMERAL disk, extensions
    allocatable: tuple[int | None, int] = (None, 0)  # (millicores or None when unknown, MiB) the node offers its pods
    os_release: str | None = None  # jammy | noble | bookworm | trixie (k3s); None on Talos
    nvidia_driver: NvidiaDriver | None = None  # the driver branch its NVIDIA GPUs get
    zone: str | None = None  # failure domain: topology.kubernetes.io/zone
    host: str | None = None  # the hypervisor (or physical machine) it runs on
    osd_memory_target_mib: int = 4096  # Ceph osd_memory_target for its OSDs
    metadata_disk: Disk | None = None  # Rook metadataDevice: the BlueStore DB of its OSDs
    ceph_daemon_ok: bool = True  # may carry Ceph mons, mgrs and MDSs (not SD-booted, > 2 GiB)

    @property
    def address(self) -> IPAddress:
        return self.addresses[0]

    @property
    def is_server(self) -> bool:
        return self.role == "controlplane"

    @property
    def has_nvidia_gpu(self) -> bool:
        return any(g.vendor == "nvidia" for g in self.gpus)

    @property
    def reboots_after_setup(self) -> bool:
        """cloud-init reboots once before k3s starts: a Pi for its kernel command line (memory
        cgroup), an NVIDIA node so its driver's module replaces nouveau."""
        return self.raspberry_pi or self.nvidia_driver is not None

    @property
    def failure_domain(self) -> str | None:
        """What one failure takes down with this node: its zone, else its hypervisor host."""
        if self.zone:
            return f"zone {self.zone}"
        return f"host {self.host}" if self.host else None


_NODE_FIELDS = tuple(f.name for f in fields(NodePlan))
assert all(f.init for f in fields(NodePlan)) and not hasattr(NodePlan, "__post_init__"), "replace_node copies fields as they are"


def replace_node(node: NodePlan, **changes: Any) -> NodePlan:
    """dataclasses.replace(node, **changes), for the plan's passes over every node (seven of
    them, each replacing all 1,000 nodes of a large inventory): the same new NodePlan, built
    from the fields' values without replace's field-by-field walk and keyword call."""
    unknown = changes.keys() - set(_NODE_FIELDS)
    if unknown:
        raise TypeError(f"NodePlan has no field {', '.join(sorted(unknown))}")
    state = node.__dict__
    new = object.__new__(NodePlan)
    new.__dict__.update({name: state[name] for name in _NODE_FIELDS}, **changes)
    return new


@dataclass(frozen=True)
class ComponentPlan:
    """A cluster component to deploy: its chart, namespace, layer and values."""

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
    """An app as deployed: its namespace, values, placement and what it needs (devices, storage, logins)."""

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
    pull_secret: bool = False  # its namespace needs the registry-credentials Secret (from the secrets store)
    route_hosts: tuple[str, ...] = ()  # hosts of its extra ingress routes (apps[].routes)

    @property
    def reachable_from_ingress(self) -> bool:
        """The ingress controller routes to it: its own host, or a route's."""
        return self.host is not None or bool(self.route_hosts)

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
class GeneratedSecret:
    """A Kubernetes Secret built from the secrets store (plan.wiring decides, render fills it).

    Each data entry is (key in the Secret, source): source ("literal", text) is written as is,
    ("password", store key) is a generated password kept in the store (never rotated), and
    ("mosquitto-passwd", ((user, store key), ...)) is Mosquitto's password file of those users."""

    name: str
    namespace: str
    type: str  # Opaque | kubernetes.io/basic-auth
    data: tuple[tuple[str, tuple[Any, ...]], ...]

    @property
    def password_keys(self) -> tuple[str, ...]:
        keys: list[str] = []
        for _, (kind, arg) in self.data:
            if kind == "password":
                keys.append(arg)
            elif kind == "mosquitto-passwd":
                keys.extend(store_key for _, store_key in arg)
        return tuple(keys)


@dataclass(frozen=True)
class DatabasePlan:
    """A CloudNativePG Cluster for one app, in the app's namespace."""

    app: str  # the app it serves
    name: str  # the Cluster's name; CNPG names the Services <name>-rw/-ro/-r
    namespace: str
    database: str
    owner: str
    secret: str  # kubernetes.io/basic-auth Secret named by bootstrap.initdb.secret
    image: str  # the PostgreSQL operand image CNPG runs
    instances: int
    storage_class: str
    size: str
    resources: dict[str, Any]
    postgresql: dict[str, Any] = field(default_factory=dict)  # spec.postgresql (shared_preload_libraries, parameters)
    post_init_sql: tuple[str, ...] = ()  # bootstrap.initdb.postInitApplicationSQL

    @property
    def host(self) -> str:
        return f"{self.name}-rw.{self.namespace}.svc"


@dataclass(frozen=True)
class ClusterSettings:
    """The inventory's cluster-wide settings, as render uses them: render reads these, never the inventory."""

    cluster_name: str
    domain: str
    timezone: str
    distribution: str  # k3s | talos
    engine: str  # gitops.engine: flux | argocd
    repository: str
    branch: str
    sync_path: str  # gitops.path: the folder the engine syncs
    network: Network
    registry_mirrors: dict[str, tuple[str, ...]]
    load_balancer: str  # components.loadBalancer: metallb | kube-vip | servicelb | none
    ingress_class: str  # the IngressClass of components.ingress; "" without an ingress controller
    monitoring: bool
    acme_server: str  # Let's Encrypt's ACME directory: staging or production
    tls_email: str  # the ACME account's address; "" when not set
    # Where the inventory sets gitops.path and the apps: Problem locations for render's errors.
    sync_path_where: dict[str, Any] = field(default_factory=dict)
    apps_where: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StorageClassPlan:
    """A StorageClass clustergen writes itself (a backend whose chart makes its classes has none)."""

    name: str
    provisioner: str
    default: bool
    comment: str  # one line above the object: what the class is for
    parameters: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class StoragePlan:
    """What render needs of the storage backend, from its catalog entry (storage_backends:)."""

    backend: str = ""
    storage_classes: tuple[StorageClassPlan, ...] = ()
    node_packages: tuple[str, ...] = ()  # k3s: on every node
    disk_node_packages: tuple[str, ...] = ()  # k3s: on the nodes holding its disks
    disk_mount: tuple[str, ...] = ()  # k3s: the fstab entry of the nodes holding its disks; () none
    talos_image_label: str = ""  # names a Talos schematic carrying the backend's extensions
    talos_extensions: tuple[str, ...] = ()
    readme: str = ""  # Jinja: the README's paragraph on the backend
    disk_label: str = ""  # README "Disks to prepare": what a disk becomes
    disk_preparation: str = ""  # ... and the command that prepares it ({path})
    metadata_disks: bool = False  # uses the nodes' use: metadata disks
    node_text: str = "none"  # `clustergen plan`: a holder's storage cell ({count} disks)


@dataclass(frozen=True)
class MonitoringPlan:
    """kube-prometheus-stack's side of the cluster that render writes besides its chart values."""

    namespace: str
    grafana_secret: str  # the Secret holding Grafana's admin login (render writes it SOPS-encrypted)
    scraped: tuple[str, ...]  # components whose ServiceMonitors are switched on, in component order


@dataclass(frozen=True)
class Peer:
    """A namespace a network policy lets traffic to or from, on some ports or all."""

    namespace: str  # the other side's namespace
    ports: tuple[tuple[int, str], ...] = ()  # (port, protocol); () means every port


@dataclass(frozen=True)
class NamespacePolicy:
    """The traffic a namespace's network policies allow in and out."""

    namespace: str
    ingress_from: tuple[Peer, ...]
    egress_to: tuple[Peer, ...]
    open_ports: tuple[tuple[int, str], ...]  # LoadBalancer ports anyone may reach
    leaves_cluster: bool
    cluster_cidrs: tuple[str, ...]  # pod and Service ranges: "outside the cluster" excludes them
    # CloudNativePG instances in it (pods labelled cnpg.io/cluster): the operator's namespace
    # reaches their status port, and they reach the control-plane addresses (/32, /128) on the
    # API server's port (6443 on k3s and Talos alike; pods reach it through the kubernetes
    # Service, translated to these addresses before policies apply).
    database_operator: str | None = None
    database_status_port: tuple[int, str] = (8000, "TCP")
    api_servers: tuple[str, ...] = ()
    api_server_port: int = 6443


@dataclass(frozen=True)
class DnsPlan:
    """external-dns's provider and credentials (plan.dns decides)."""

    provider: str  # the inventory's name: route53, digitalocean, ...
    external_dns_name: str  # external-dns's --provider: aws, webhook, ...
    secret_name: str
    secret_managed: bool  # clustergen commits the Secret (SOPS); False: the user's own
    credentials: tuple[tuple[str, str], ...]  # (environment variable, Secret key)
    secret_namespaces: tuple[str, ...]  # where the Secret must exist: external-dns, and cert-manager for DNS-01
    webhook_image: str | None = None  # the pinned webhook sidecar serving a provider external-dns has not in-tree

    @property
    def secret_keys(self) -> tuple[str, ...]:
        return tuple(key for _, key in self.credentials)

    @staticmethod
    def store_field(key: str) -> str:
        """The ClusterSecrets field a managed Secret's key is read from: token → dns_token."""
        return "dns_" + key.replace("-", "_")


@dataclass(frozen=True)
class NodeRegistries:
    """What every node's container runtime and resolver get (k3s registries.yaml, Talos documents)."""

    mirrors: tuple[tuple[str, tuple[str, ...]], ...] = ()  # registry → endpoint URLs, in order
    skip_verify: tuple[str, ...] = ()  # endpoint hosts (host:port) whose certificate is not checked
    host_entries: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (address, host names)

    def __bool__(self) -> bool:
        return bool(self.mirrors or self.host_entries)


HTTPS_LISTENER = "https"
HTTP_LISTENER = "http"


@dataclass(frozen=True)
class GatewayPlan:
    """The cluster's one Gateway (components.ingress: envoy-gateway; plan.gateway decides)."""

    name: str
    namespace: str
    class_name: str
    controller_name: str
    envoy_proxy_api: str
    domain: str
    certificate_secret: str
    cluster_issuer: str | None  # None: no TLS (tls.issuer none): HTTP listener only, no redirect
    service_annotations: dict[str, str] = field(default_factory=dict)

    @property
    def tls(self) -> bool:
        return self.cluster_issuer is not None

    @property
    def app_listener(self) -> str:
        """The listener apps attach to."""
        return HTTPS_LISTENER if self.tls else HTTP_LISTENER

    def parent_ref(self) -> dict[str, str]:
        """The app chart's ingress.gateway values (charts/app/templates/httproute.yaml)."""
        return {"name": self.name, "namespace": self.namespace, "sectionName": self.app_listener}


@dataclass(frozen=True)
class LonghornBackup:
    """Longhorn's own backups (components.backup.engine: longhorn; plan.backup decides)."""

    target: str  # s3://<bucket>@<region>/<cluster>/, Longhorn's default backup target
    endpoint: str  # AWS_ENDPOINTS in the credentials Secret (MinIO, Garage, ...)
    credential_secret: str
    namespace: str  # Longhorn's, where the credentials Secret lives
    cron: str
    retain: int
    groups: tuple[str, ...] = ("default",)


@dataclass(frozen=True)
class ClusterPlan:
    """Every decision about the cluster: what render renders."""

    inventory: Inventory  # for the report and the pipeline; render reads settings instead
    settings: ClusterSettings
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
    network_policies: tuple[NamespacePolicy, ...] = ()  # one per app namespace (plan.network_policy)
    monitoring: MonitoringPlan | None = None  # components.monitoring on
    # Hardware profiles in use → {description, overlay}: the catalog's, with the inventory's own on top.
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    storage_host_path: str | None = None  # Talos: the host folder the storage driver's volumes live under
    rwx_storage_class: str | None = None  # the ReadWriteMany StorageClass (CephFS, Longhorn), None: none
    ceph_failure_domain: str | None = None  # rook-ceph: the CRUSH failure domain of its pools (zone | chassis | host)
    shared_volumes: tuple[Any, ...] = ()  # SharedVolumePlan (plan.app_shapes): claims several apps mount
    generated_secrets: tuple[GeneratedSecret, ...] = ()  # credentials between apps (plan.wiring)
    databases: tuple[DatabasePlan, ...] = ()  # CloudNativePG Clusters (plan.wiring)
    storage: StoragePlan = field(default_factory=StoragePlan)  # the backend's data render uses
    bgp: Any = None  # inventory Bgp when MetalLB announces by BGP; None: Layer 2
    node_registries: Any = None  # NodeRegistries (plan.lan): mirrors, TLS and host entries for every node
    gateway: Any = None  # GatewayPlan (plan.gateway) when the ingress is Gateway API (envoy-gateway)
    dns: Any = None  # DnsPlan (plan.dns) when components.externalDns names a provider
    lan_dns: Any = None  # inventory LanDns when k8s_gateway answers the domain on the LAN

    @cached_property
    def servers(self) -> tuple[NodePlan, ...]:
        # Cached (the plan is frozen, its nodes a tuple): each node's render asks for it,
        # which made a 1,000-node render quadratic.
        return tuple(n for n in self.nodes if n.is_server)

    @property
    def has_nvidia_gpus(self) -> bool:
        return any(n.has_nvidia_gpu for n in self.nodes)

    @property
    def first_server(self) -> NodePlan:
        return next(n for n in self.nodes if n.first_server)

    @property
    def api_endpoint(self) -> IPAddress:
        return self.settings.network.control_plane_endpoint or self.first_server.address

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
        for db in self.databases:
            # CloudNativePG's instances run restricted (uid 26, no capabilities, RuntimeDefault seccomp).
            result.setdefault(db.namespace, "restricted")
        return dict(sorted(result.items()))
