"""`clustergen plan` output: the plan as tables (rich) or as data."""

from __future__ import annotations

from typing import Any

from .plan.model import ClusterPlan


def _gib(mib: int) -> str:
    return f"{mib / 1024:g} GiB"


def plan_as_data(plan: ClusterPlan) -> dict[str, Any]:
    return {
        "cluster": plan.inventory.cluster_name,
        "distribution": {"name": plan.inventory.distribution, "version": plan.distribution_version},
        "engine": plan.inventory.engine,
        "apiEndpoint": str(plan.api_endpoint),
        "storageClass": plan.storage_class,
        "storageBackend": plan.storage_backend,
        "rwxStorageClass": plan.rwx_storage_class,
        "cephFailureDomain": plan.ceph_failure_domain,
        "nodes": [
            {
                "name": n.name,
                "address": str(n.address),
                "profile": n.profile,
                "arch": n.arch,
                "memoryMiB": n.memory_mib,
                "bootMedium": n.boot_medium,
                "role": n.role,
                "firstServer": n.first_server,
                "etcdMember": _etcd_member(plan, n),
                "gpus": [g.vendor + (f" {g.model}" if g.model else "") for g in n.gpus],
                "nvidiaDriver": {"branch": n.nvidia_driver.branch, "packages": list(n.nvidia_driver.packages), "reason": n.nvidia_driver.reason}
                if n.nvidia_driver else None,
                "location": {"zone": n.zone, "host": n.host},
                "devices": [d.name for d in n.devices],
                "labels": n.node_labels,
                "storage": {"role": n.storage_role, "disks": [d.path for d in n.storage_disks],
                            "osdMemoryTargetMiB": n.osd_memory_target_mib if n.storage_role == "ceph-osd" else None,
                            "metadataDisk": n.metadata_disk.path if n.metadata_disk and n.storage_role == "ceph-osd" else None,
                            "cephDaemons": n.ceph_daemon_ok},
                "swapMiB": n.swap_mib,
                "k3sDataDisk": n.data_disk.path if n.data_disk else None,
                "kernelModules": list(n.kernel_modules),
                **({"talos": _talos_json(n)} if n.talos else {}),
            }
            for n in plan.nodes
        ],
        "components": [{"name": c.key, "namespace": c.namespace, "chart": c.chart.get("name"), "version": c.chart.get("version")} for c in plan.components],
        "apps": [
            {"name": a.name, "namespace": a.namespace, "image": a.image, "host": a.host, "nodes": list(a.eligible_nodes), "why": a.placement_reason}
            for a in plan.apps
        ],
        "network": network_lines(plan),
        "warnings": [{"code": w.code, "message": w.message, "location": w.location(), "field": w.field, "hint": w.hint} for w in plan.warnings],
    }


def _etcd_member(plan: ClusterPlan, node: Any) -> bool:
    # A single k3s server keeps its state in SQLite; Talos always runs etcd.
    return node.is_server and (plan.inventory.distribution == "talos" or len(plan.servers) > 1)


def _storage_text(plan: ClusterPlan, node: Any) -> str:
    if not node.storage_disks:
        return "none"
    return plan.storage.node_text.format(count=len(node.storage_disks))


def _gpu_text(node: Any) -> str:
    """Each GPU with the NVIDIA driver branch the node installs, and why that branch."""
    if not node.gpus:
        return "-"
    names = ", ".join(g.model or g.vendor for g in node.gpus)
    driver = node.nvidia_driver
    if driver is None:
        return names
    why = {"override": "set in gpus[].driver", "default": "model unknown"}.get(driver.reason, "/".join(driver.generations))
    return f"{names}: driver {driver.branch} ({why})"


def _location_text(node: Any) -> str:
    return " / ".join(p for p in (node.zone, node.host) if p) or "-"


def _storage_cell(plan: ClusterPlan, node: Any) -> str:
    text = _storage_text(plan, node)
    if node.storage_role == "ceph-osd":
        text += f", target {_gib(node.osd_memory_target_mib)}" + (", DB on " + node.metadata_disk.path.rsplit("/", 1)[-1] if node.metadata_disk else "")
    if not node.ceph_daemon_ok:
        text += ", no mon/mgr"
    return text


def _talos_json(node: Any) -> dict[str, Any]:
    talos = node.talos
    return {
        "installDisk": talos.install_disk.path if talos.install_disk else f"first {talos.install_disk_type} disk",
        "ephemeralDisk": talos.ephemeral_disk.path if talos.ephemeral_disk else None,
        "extensions": list(talos.extensions),
        "overlay": talos.overlay["name"] if talos.overlay else None,
    }


def _talos_image(node: Any) -> str:
    """The node's Image Factory extensions, shortened, and where EPHEMERAL goes."""
    extensions = ", ".join(e.split("/", 1)[1] for e in node.talos.extensions) or "plain"
    ephemeral = node.talos.ephemeral_disk.path.rsplit("/", 1)[-1] if node.talos.ephemeral_disk else "install disk"
    return f"{extensions}; EPHEMERAL on {ephemeral}"


def network_lines(plan: ClusterPlan) -> list[str]:
    """The network choices, one line each: DNS records, LAN names, ingress, load balancer."""
    lines = []
    dns = plan.dns
    if dns is not None:
        how = "webhook sidecar" if dns.external_dns_name == "webhook" else f"in-tree provider {dns.external_dns_name}"
        owner = "committed by clustergen (SOPS)" if dns.secret_managed else "yours"
        acme = " and cert-manager DNS-01" if plan.acme_solver is not None and plan.acme_solver.kind == "dns01" else ""
        lines.append(f"DNS: external-dns{acme} through {dns.provider} ({how}); credentials Secret {dns.secret_name}, {owner}")
    if plan.inventory.components.load_balancer == "metallb":
        if plan.bgp is not None:
            peers = ", ".join(f"{p.address} (AS {p.asn})" for p in plan.bgp.peers)
            lines.append(f"load balancer: MetalLB BGP as AS {plan.bgp.local_asn}, announcing the pool to {peers}")
        else:
            lines.append("load balancer: MetalLB Layer 2 (a node answers ARP for each address)")
    gateway = plan.gateway
    if gateway is not None:
        cert = f"wildcard certificate *.{gateway.domain} from {gateway.cluster_issuer}" if gateway.tls else "HTTP only (no TLS issuer)"
        lines.append(f"ingress: Gateway API, Gateway {gateway.namespace}/{gateway.name} at {plan.ingress_address or 'the load balancer address'}, "
                     f"{cert}; an HTTPRoute per app")
    lan = plan.inventory.components.lan_dns
    if lan is not None:
        where = "the nodes' addresses (servicelb)" if lan.address is None or plan.inventory.components.load_balancer == "servicelb" else str(lan.address)
        lines.append(f"LAN DNS: k8s_gateway answers *.{plan.inventory.domain} at {where}, port 53: forward the domain there from your router")
    registries = plan.node_registries
    for address, names in registries.host_entries if registries is not None else ():
        served = [r for r, _ in registries.mirrors if r.split(":")[0] in names]
        lines.append(f"registry: {', '.join(served)} → {address} on every node (host entry and mirror)")
    return lines


def print_plan(plan: ClusterPlan) -> None:
    from rich.console import Console
    from rich.table import Table

    import sys

    # Piped output gets a wide table instead of rich's 80-column fallback.
    console = Console(width=None if sys.stdout.isatty() else 200)
    talos = plan.inventory.distribution == "talos"
    release = f"Talos {plan.distribution_version}, Kubernetes v{plan.kubernetes_version}" if talos else f"k3s {plan.distribution_version}"
    nodes = Table(title=f"{plan.inventory.cluster_name}: nodes ({release}, {plan.inventory.engine}, API {plan.api_endpoint}, storage {plan.storage_backend}: default class {plan.storage_class}"
                  + (f", ReadWriteMany {plan.rwx_storage_class}" if plan.rwx_storage_class else "")
                  + (f", Ceph failure domain {plan.ceph_failure_domain}" if plan.ceph_failure_domain else "") + ")")
    columns = ["node", "profile", "arch", "memory", "boot", "location", "role", "etcd", "storage", "GPU", "devices", "labels"]
    if talos:
        columns.insert(columns.index("labels"), "image")
    for column in columns:
        nodes.add_column(column)
    # k3s and Talos name the roles differently; the plan's roles are the same.
    names = ("control plane", "worker") if talos else ("server", "agent")
    for n in plan.nodes:
        role = (f"{names[0]}, first" if n.first_server else names[0]) if n.is_server else names[1]
        etcd = "yes" if _etcd_member(plan, n) else ("sqlite" if n.is_server else "-")
        nodes.add_row(
            n.name,
            n.profile,
            n.arch,
            _gib(n.memory_mib),
            n.boot_medium,
            _location_text(n),
            role,
            etcd,
            _storage_cell(plan, n),
            _gpu_text(n),
            ", ".join(d.name for d in n.devices) or "-",
            *([_talos_image(n)] if talos else []),
            ", ".join(f"{k}={v}" for k, v in n.node_labels.items()),
        )
    console.print(nodes)
    if plan.apps:
        apps = Table(title="apps")
        for column in ("app", "namespace", "image", "URL", "can run on"):
            apps.add_column(column)
        for a in plan.apps:
            apps.add_row(a.name, a.namespace, a.image, f"https://{a.host}" if a.host else "-", a.placement_reason)
        console.print(apps)
    for line in network_lines(plan):
        console.print(line, highlight=False)
    for w in plan.warnings:
        console.print(f"[yellow]warning{'[' + w.code + ']' if w.code else ''}[/yellow] {w.location()}: {w.message}" + (f"\n  hint: {w.hint}" if w.hint else ""), highlight=False)
    if not plan.warnings:
        console.print("no warnings")
