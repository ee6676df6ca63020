"""Stage 2: turn the inventory's facts into decisions (a ClusterPlan). Pure."""

from __future__ import annotations

import dataclasses

from .. import catalog
from ..errors import PlanError, Problem
from ..inventory.model import Inventory
from .app_shapes import plan_shared_volumes
from .apps import plan_apps
from .backup import backup_problems, plan_backup
from . import backends
from .components import cluster_issuer_name, ingress_address, plan_components
from .dns import dns_problems, plan_dns
from .gateway import gateway_problems, plan_gateway
from .lan import lan_dns_problems, plan_node_registries
from .hardware import apply_hardware_rules
from .lessons import check_lessons
from .load_balancer import bgp_problems, k3s_disabled_components, load_balancer_warnings, metallb_bgp
from .gpu_drivers import plan_gpu_drivers
from .monitoring import plan_monitoring
from .storage import choose_storage
from .tls import choose_acme_solver
from .talos import plan_talos_nodes, storage_host_path
from .model import AppPlan, ClusterPlan, ClusterSettings, ComponentPlan, NodePlan
from .network_policy import api_server_blocks, network_policy_warnings, plan_network_policies
from .nodes import resolve_nodes
from .settings import cluster_settings, profiles_in_use, with_allocatable
from .wiring import plan_wiring

__all__ = ["AppPlan", "ClusterPlan", "ClusterSettings", "ComponentPlan", "NodePlan", "plan_cluster"]


def _raise_errors(problems: list[Problem]) -> list[Problem]:
    """Stop on the errors among a rule's problems; hand back its warnings."""
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise PlanError(errors)
    return problems


def default_version(distribution: str) -> str:
    return catalog.talos_version() if distribution == "talos" else catalog.k3s_version()


def kubernetes_version(inv: Inventory) -> str:
    """Without the leading v, as kubeconform and kubernetes-validate spell it."""
    if inv.distribution == "talos":
        return (inv.kubernetes_version or catalog.talos_kubernetes_version()).lstrip("v")
    if inv.distribution_version:
        return inv.distribution_version.lstrip("v").split("+")[0]
    return catalog.kubernetes_version()


def plan_cluster(inv: Inventory, warnings: list[Problem] | None = None) -> ClusterPlan:
    collected = list(warnings or [])
    nodes, node_warnings = resolve_nodes(inv)
    collected.extend(node_warnings)
    nodes, hardware_problems = apply_hardware_rules(inv, nodes)
    nodes, driver_problems = plan_gpu_drivers(inv, nodes)
    hardware_problems += driver_problems
    storage_backend, nodes, storage_problems = choose_storage(inv, nodes)
    distribution_problems: list[Problem] = []
    if inv.distribution == "talos":
        nodes, distribution_problems = plan_talos_nodes(inv, nodes, storage_backend)
    collected.extend(_raise_errors(hardware_problems + storage_problems + distribution_problems))
    issuer = cluster_issuer_name(inv)
    acme_solver, tls_problems = choose_acme_solver(inv)
    node_registries, registry_problems = plan_node_registries(inv)
    collected.extend(_raise_errors(dns_problems(inv) + tls_problems + registry_problems + lan_dns_problems(inv, ingress_address(inv))
                                     + gateway_problems(inv) + bgp_problems(inv)))
    # The cluster's ReadWriteMany class, for claims that ask for one without naming a class.
    # None until the storage backend provides one (CephFS, Longhorn RWX).
    rwx_class = None
    apps, app_warnings = plan_apps(inv, nodes, issuer, rwx_class)
    collected.extend(app_warnings)
    collected.extend(_raise_errors(backup_problems(inv, storage_backend, apps)))
    shared_volumes, shared_warnings = plan_shared_volumes(inv, {a.name: a.namespace for a in apps}, rwx_class)
    collected.extend(shared_warnings)
    apps, generated_secrets, databases = plan_wiring(inv, apps, backends.backend(storage_backend).spec.storage_class)
    collected.extend(_raise_errors(check_lessons(inv, nodes, apps)))
    collected.extend(load_balancer_warnings(inv))
    collected.extend(network_policy_warnings(inv))
    components = plan_components(inv, nodes, storage_backend)
    backend = backends.backend(storage_backend)
    plan = ClusterPlan(
        inventory=inv,
        settings=cluster_settings(inv),
        distribution_version=inv.distribution_version or default_version(inv.distribution),
        kubernetes_version=kubernetes_version(inv),
        nodes=tuple(with_allocatable(nodes, inv.distribution)),
        components=tuple(components),
        apps=tuple(apps),
        external_services=inv.external_services,
        storage_class=backend.spec.storage_class,
        storage_backend=storage_backend,
        cluster_issuer=issuer,
        ingress_address=ingress_address(inv),
        warnings=tuple(collected),
        k3s_disable=k3s_disabled_components(inv),
        acme_solver=acme_solver,
        monitoring=plan_monitoring(inv.components.monitoring, components),
        profiles=profiles_in_use(inv, nodes),
        storage_host_path=storage_host_path(inv, storage_backend),
        rwx_storage_class=backend.spec.rwx_storage_class,
        ceph_failure_domain=backend.failure_domain(nodes),
        storage=backend.storage_plan(),
        shared_volumes=shared_volumes,
        generated_secrets=generated_secrets,
        databases=databases,
        node_registries=node_registries,
        bgp=metallb_bgp(inv),
        gateway=plan_gateway(inv, issuer, ingress_address(inv)),
        dns=plan_dns(inv, dns01=acme_solver is not None and acme_solver.kind == "dns01"),
        lan_dns=inv.components.lan_dns,
    )
    # The Schedules follow the namespaces' Pod Security levels, which the apps decide.
    backup = plan_backup(inv, apps, plan.namespaces)
    ingress_ns = catalog.component(inv.components.ingress)["namespace"] if inv.components.ingress != "none" else None
    policies = plan_network_policies(inv, apps, ingress_ns, {n.name for n in backup.namespaces} if backup else set(),
                                     http01=acme_solver is not None and acme_solver.kind == "http01",
                                     databases=databases, api_servers=api_server_blocks(inv, nodes))
    return dataclasses.replace(plan, backup=backup, network_policies=policies)
