"""bases/ (one generic base per component and app) and overlays/<cluster>/ (what this cluster adds)."""

from __future__ import annotations

import ipaddress

from ..plan.model import ClusterPlan, ComponentPlan
from .files import RenderedFile
from .templates import render_template

APP_BASES = "bases/apps"


def source_name(component: ComponentPlan) -> str:
    return component.key


def render_component_base(component: ComponentPlan) -> list[RenderedFile]:
    folder = f"bases/{component.key}"
    context = {
        "namespace": component.namespace,
        "pod_security": component.pod_security,
        "keeps_data": component.keeps_data,
        "chart": component.chart,
        "source_name": source_name(component),
        "release_name": component.release_name,
        "values": component.values,
        "depends_on": list(component.depends_on),
    }
    files = []
    resources = []
    if component.owns_namespace:
        files.append(RenderedFile.text(f"{folder}/namespace.yaml", render_template("bases/component/namespace.yaml.j2", **context)))
        resources.append("namespace.yaml")
    files.append(RenderedFile.text(f"{folder}/source.yaml", render_template("bases/component/source.yaml.j2", **context)))
    files.append(RenderedFile.text(f"{folder}/helmrelease.yaml", render_template("bases/component/helmrelease.yaml.j2", **context)))
    resources += ["source.yaml", "helmrelease.yaml"]
    files.append(RenderedFile.text(f"{folder}/kustomization.yaml", render_template("bases/component/kustomization.yaml.j2", resources=resources)))
    return files


def render_app_bases(plan: ClusterPlan) -> list[RenderedFile]:
    files = []
    for app in plan.apps:
        folder = f"{APP_BASES}/{app.name}"
        files.append(
            RenderedFile.text(
                f"{folder}/helmrelease.yaml",
                render_template("bases/app/helmrelease.yaml.j2", name=app.name, namespace=app.namespace, values=app.base_values),
            )
        )
        files.append(RenderedFile.text(f"{folder}/kustomization.yaml", render_template("bases/component/kustomization.yaml.j2", resources=["helmrelease.yaml"])))
    return files


def overlay_root(plan: ClusterPlan) -> str:
    return f"overlays/{plan.inventory.cluster_name}"


def render_overlays(plan: ClusterPlan) -> tuple[list[RenderedFile], dict[str, str]]:
    """The cluster overlay; returns the files and the layer name → path map for the GitOps engine."""
    root = overlay_root(plan)
    files: list[RenderedFile] = []
    layers: dict[str, str] = {}

    for layer in ("controllers", "storage"):
        folder = f"{root}/infrastructure/{layer}"
        members = [c for c in plan.components if c.layer == layer]
        extra = storage_classes(plan) if layer == "storage" else []
        if not members and not extra:
            continue
        patches = []
        for component in members:
            if component.cluster_values:
                name = f"{component.key}-values.yaml"
                patches.append(name)
                files.append(
                    RenderedFile.text(
                        f"{folder}/{name}",
                        render_template("overlays/cluster/release-patch.yaml.j2", name=component.release_name, namespace=component.namespace, values=component.cluster_values),
                    )
                )
        for name, text in extra:
            files.append(RenderedFile.text(f"{folder}/{name}", text))
        resources = [f"../../../../bases/{c.key}" for c in members] + [name for name, _ in extra]
        files.append(RenderedFile.text(f"{folder}/kustomization.yaml", render_template("overlays/cluster/kustomization.yaml.j2", resources=resources, patches=patches)))
        layers[f"infra-{layer}"] = folder

    config_files = _config_files(plan)
    if config_files:
        configs = f"{root}/infrastructure/configs"
        for name, text in config_files:
            files.append(RenderedFile.text(f"{configs}/{name}", text))
        files.append(RenderedFile.text(f"{configs}/kustomization.yaml", render_template("overlays/cluster/kustomization.yaml.j2", resources=[n for n, _ in config_files], patches=[])))
        layers["infra-configs"] = configs

    if plan.apps or plan.external_services:
        apps_dir = f"{root}/apps"
        # Two levels: releases/ patches each app's values; the level above adds the
        # hardware-profile Components, which must see the patched releases (labels included).
        releases_dir = f"{apps_dir}/releases"
        resources = ["namespaces.yaml"]
        keeps_data = {a.namespace for a in plan.apps if a.has_data}
        namespaces = [{"name": ns, "level": level, "keeps_data": ns in keeps_data} for ns, level in plan.namespaces.items()]
        files.append(RenderedFile.text(f"{apps_dir}/namespaces.yaml", render_template("overlays/cluster/namespaces.yaml.j2", namespaces=namespaces)))
        if plan.apps:
            profile_of = {n.name: n.profile for n in plan.nodes}
            release_resources, app_patches = [], []
            for app in plan.apps:
                release_resources.append(f"../../../../{APP_BASES}/{app.name}")
                name = f"{app.name}-values.yaml"
                app_patches.append(name)
                profiles = {profile_of[n] for n in app.eligible_nodes}
                # An app confined to one hardware profile takes that profile's adjustments.
                labels = {"clustergen.dev/profile": profiles.pop()} if len(profiles) == 1 else {}
                files.append(
                    RenderedFile.text(
                        f"{releases_dir}/{name}",
                        render_template("overlays/cluster/release-patch.yaml.j2", name=app.name, namespace=app.namespace, values=app.cluster_values, labels=labels),
                    )
                )
            files.append(RenderedFile.text(f"{releases_dir}/kustomization.yaml", render_template("overlays/cluster/kustomization.yaml.j2", resources=release_resources, patches=app_patches)))
            resources.append("releases")
        if plan.external_services:
            resources.append("external-services.yaml")
            files.append(RenderedFile.text(f"{apps_dir}/external-services.yaml", _external_services(plan)))
        components = [f"../../profiles/{p}" for p in sorted({n.profile for n in plan.nodes})]
        files.append(
            RenderedFile.text(
                f"{apps_dir}/kustomization.yaml",
                render_template("overlays/cluster/kustomization.yaml.j2", resources=resources, patches=[], components=components),
            )
        )
        layers["apps"] = apps_dir
    return files, layers


def _config_files(plan: ClusterPlan) -> list[tuple[str, str]]:
    inv = plan.inventory
    comps = inv.components
    result = []
    if plan.cluster_issuer:
        acme = "https://acme-staging-v02.api.letsencrypt.org/directory" if comps.tls_staging else "https://acme-v02.api.letsencrypt.org/directory"
        dns01 = comps.external_dns_secret if comps.external_dns_provider == "cloudflare" else None
        from ..plan.apps import INGRESS_CLASS

        result.append(
            (
                "cluster-issuers.yaml",
                render_template(
                    "overlays/cluster/configs/cluster-issuers.yaml.j2",
                    issuer=plan.cluster_issuer,
                    cluster_name=inv.cluster_name,
                    email=comps.tls_email or "",
                    acme_server=acme,
                    dns01_secret=dns01,
                    ingress_class=INGRESS_CLASS.get(comps.ingress, "traefik"),
                ),
            )
        )
    if plan.has_nvidia_gpus:
        result.append(("runtimeclass-nvidia.yaml", render_template("overlays/cluster/configs/runtimeclass-nvidia.yaml.j2")))
    if comps.load_balancer == "metallb":
        result.append(("metallb-pool.yaml", render_template("overlays/cluster/configs/metallb-pool.yaml.j2", pools=list(inv.network.load_balancer_pools))))
    return result


def _external_services(plan: ClusterPlan) -> str:
    from ..plan.apps import INGRESS_CLASS

    services = [
        {
            "name": s.name,
            "namespace": s.namespace,
            "address": str(s.address),
            "address_type": "IPv4" if isinstance(s.address, ipaddress.IPv4Address) else "IPv6",
            "port": s.port,
            "port_name": s.protocol.lower() if s.protocol != "TCP" else "tcp",
            "protocol": s.protocol,
            "host": s.host if INGRESS_CLASS.get(plan.inventory.components.ingress) else None,
            "ingress_class": INGRESS_CLASS.get(plan.inventory.components.ingress, ""),
            "issuer": plan.cluster_issuer,
        }
        for s in plan.external_services
    ]
    return render_template("overlays/cluster/external-services.yaml.j2", services=services)


def storage_classes(plan: ClusterPlan) -> list[tuple[str, str]]:
    """StorageClasses clustergen owns (Longhorn's; Rook's and local-path's come from their charts)."""
    if plan.storage_backend != "longhorn":
        return []
    classes = [
        {"name": "longhorn-2-replicas", "replicas": 2, "default": True},
        {"name": "longhorn-1-replica", "replicas": 1, "default": False},
    ]
    return [("storageclasses.yaml", render_template("overlays/cluster/storage/longhorn-storageclasses.yaml.j2", classes=classes))]


def render_profile_components(plan: ClusterPlan) -> list[RenderedFile]:
    """overlays/profiles/<profile>/: one Kustomize Component per hardware profile in use."""
    from .. import catalog

    custom = plan.inventory.raw.get("profiles", {})
    files = []
    for profile in sorted({n.profile for n in plan.nodes}):
        data = {**catalog.profiles().get(profile, {}), **custom.get(profile, {})}
        overlay = data.get("overlay", {})
        files.append(
            RenderedFile.text(
                f"overlays/profiles/{profile}/kustomization.yaml",
                render_template(
                    "overlays/profile/kustomization.yaml.j2",
                    profile=profile,
                    description=data.get("description", "defined in the inventory"),
                    requests=overlay.get("requests"),
                    memory_limit=overlay.get("memoryLimit"),
                ),
            )
        )
    return files
