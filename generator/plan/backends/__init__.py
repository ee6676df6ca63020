"""Storage backends: data plus one small interface.

What a backend *is* lives in the catalog (``storage_backends:`` in components.yaml): its charts
in install order, default and ReadWriteMany classes, the release whose readiness means volumes
provision, node packages, Talos extensions and host path, the StorageClasses clustergen writes,
its README paragraph. What needs code (which nodes hold its disks, whether auto may pick it, its
own rules, chart values computed from the nodes) is a ``StorageBackend`` subclass in one module
of this package, named after the catalog key (``rook-ceph`` → ``rook_ceph.py``). Every consumer
asks the registry here; none compares backend names.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, ClassVar

from ... import catalog
from ...errors import Problem
from ...inventory.model import Disk, Inventory
from ..model import NodePlan, StorageClassPlan, StoragePlan


@dataclass(frozen=True)
class BackendSpec:
    """A catalog entry of storage_backends:, typed."""

    name: str
    components: tuple[str, ...]
    storage_class: str
    rwx_storage_class: str | None
    ready_when: str  # component key
    needs_storage_disks: bool
    min_storage_nodes: int
    node_role: str
    depends_on: dict[str, tuple[str, ...]]
    every_node_packages: tuple[str, ...]
    disk_node_packages: tuple[str, ...]
    disk_mount: tuple[str, ...]
    kernel_modules: tuple[str, ...]
    talos_extensions: tuple[str, ...]
    talos_host_path: str | None
    talos_image_label: str
    runtime_drivers: tuple[dict[str, str], ...]
    monitoring_values: dict[str, dict[str, Any]]
    storage_classes: tuple[StorageClassPlan, ...]
    metadata_disks: bool
    disk_label: str
    disk_preparation: str
    disk_text: str
    readme: str

    @classmethod
    def from_data(cls, name: str, data: dict[str, Any]) -> BackendSpec:
        packages = data.get("packages") or {}
        talos = data.get("talos") or {}
        disks = data.get("disks") or {}
        return cls(
            name=name,
            components=tuple(data["components"]),
            storage_class=data["storage_class"],
            rwx_storage_class=data.get("rwx_storage_class"),
            ready_when=data["ready_when"],
            needs_storage_disks=bool(data.get("needs_storage_disks")),
            min_storage_nodes=int(data.get("min_storage_nodes", 0)),
            node_role=data.get("node_role", "none"),
            depends_on={k: tuple(v) for k, v in (data.get("depends_on") or {}).items()},
            every_node_packages=tuple(packages.get("every_node") or ()),
            disk_node_packages=tuple(packages.get("disk_nodes") or ()),
            disk_mount=tuple(data.get("disk_mount") or ()),
            kernel_modules=tuple(data.get("kernel_modules") or ()),
            talos_extensions=tuple(talos.get("extensions") or ()),
            talos_host_path=talos.get("host_path"),
            talos_image_label=talos.get("image_label", ""),
            runtime_drivers=tuple(dict(d) for d in data.get("runtime_drivers") or ()),
            monitoring_values=dict(data.get("monitoring_values") or {}),
            storage_classes=tuple(
                StorageClassPlan(name=c["name"], provisioner=c["provisioner"], default=bool(c.get("default")),
                                 comment=c.get("comment", ""), parameters=tuple((str(k), str(v)) for k, v in c.get("parameters", {}).items()))
                for c in data.get("storage_classes") or ()
            ),
            metadata_disks=bool(data.get("metadata_disks")),
            disk_label=disks.get("label", ""),
            disk_preparation=disks.get("preparation", ""),
            disk_text=disks.get("text", "none"),
            readme=data.get("readme", ""),
        )


def storage_disks(node: NodePlan) -> tuple[Disk, ...]:
    return tuple(d for d in node.disks if d.use == "storage")


class StorageBackend:
    """The code half of a backend. The defaults suit a backend that needs nothing but its data."""

    name: ClassVar[str] = ""

    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec

    def disk_holders(self, nodes: list[NodePlan]) -> list[NodePlan]:
        """The nodes whose use: storage disks it takes."""
        return [n for n in nodes if storage_disks(n)] if self.spec.needs_storage_disks else []

    def fits(self, inv: Inventory, nodes: list[NodePlan]) -> bool:
        """Whether storage: auto may choose it for these nodes."""
        return len(self.disk_holders(nodes)) >= self.spec.min_storage_nodes

    def check(self, inv: Inventory, nodes: list[NodePlan], holders: list[NodePlan]) -> list[Problem]:
        """Its rules once chosen: warnings to return, a PlanError to raise."""
        return []

    def place(self, inv: Inventory, nodes: list[NodePlan]) -> tuple[list[NodePlan], list[Problem]]:
        """After the disk holders are marked: node labels and checks of where its daemons run."""
        return nodes, []

    def chart_values(self, key: str, inv: Inventory, nodes: list[NodePlan]) -> dict[str, Any]:
        """The cluster-specific values of one of its components (the overlay patch)."""
        return {}

    def failure_domain(self, nodes: list[NodePlan]) -> str | None:
        """The failure domain its replicas spread over, when it decides one."""
        return None

    def storage_plan(self) -> StoragePlan:
        s = self.spec
        return StoragePlan(
            backend=s.name,
            storage_classes=s.storage_classes,
            node_packages=s.every_node_packages,
            disk_node_packages=s.disk_node_packages,
            disk_mount=s.disk_mount,
            talos_image_label=s.talos_image_label,
            talos_extensions=s.talos_extensions,
            readme=s.readme,
            disk_label=s.disk_label,
            disk_preparation=s.disk_preparation,
            metadata_disks=s.metadata_disks,
            node_text=s.disk_text,
        )


_REGISTRY: dict[str, StorageBackend] = {}
_AUTO_ORDER: list[str] = []
_LOADED = False


def register(cls: type[StorageBackend]) -> type[StorageBackend]:
    """Class decorator: the backend's data is the catalog entry named cls.name."""
    register_backend(cls(BackendSpec.from_data(cls.name, catalog.storage_backends()[cls.name])))
    return cls


def register_backend(backend: StorageBackend, auto_rank: int | None = None) -> None:
    """Add a backend; auto_rank puts it into storage: auto's order at that position."""
    _load_builtin()  # the built-in ones first, so auto_rank counts among them
    _REGISTRY[backend.spec.name] = backend
    if auto_rank is not None and backend.spec.name not in _AUTO_ORDER:
        _AUTO_ORDER.insert(auto_rank, backend.spec.name)


def unregister_backend(name: str) -> None:
    _REGISTRY.pop(name, None)
    if name in _AUTO_ORDER:
        _AUTO_ORDER.remove(name)


def _load_builtin() -> None:
    """Import every module of this package once (each registers its backend)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    _AUTO_ORDER[:0] = [n for n in catalog.storage_auto_order() if n not in _AUTO_ORDER]
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def backend(name: str) -> StorageBackend:
    _load_builtin()
    return _REGISTRY[name]


def names() -> tuple[str, ...]:
    _load_builtin()
    return tuple(sorted(_REGISTRY))


def all_backends() -> tuple[StorageBackend, ...]:
    _load_builtin()
    return tuple(_REGISTRY[n] for n in sorted(_REGISTRY))


def auto_order() -> tuple[StorageBackend, ...]:
    _load_builtin()
    return tuple(_REGISTRY[n] for n in _AUTO_ORDER if n in _REGISTRY)


def storage_component_keys() -> frozenset[str]:
    """Every backend's components: they hold data, so their namespaces are never pruned."""
    return frozenset(k for b in all_backends() for k in b.spec.components)


def depends_on() -> dict[str, tuple[str, ...]]:
    """Component key → the components (same namespace) it waits for, over every backend."""
    return {k: v for b in all_backends() for k, v in b.spec.depends_on.items()}


def monitoring_values() -> dict[str, dict[str, Any]]:
    return {k: v for b in all_backends() for k, v in b.spec.monitoring_values.items()}
