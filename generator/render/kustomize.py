"""bases/ (one generic base per component and app) and overlays/<cluster>/ (what this cluster adds).

The layout is shared by every GitOps engine; a ReleaseStyle (gitops.py) names the
few things that differ: which object carries a Helm release (Flux HelmRelease,
Argo CD Application), where its values live, and how a namespace is kept from pruning.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..plan.model import ClusterPlan, ComponentPlan
from ..shared import layout
from .files import RenderedFile
from .gitops import ReleaseStyle
from .network_policies import network_policy_files
from .secrets import backup_folder, credentials_folder, pull_secret_namespaces, registry_folder, secret_file_names
from .templates import render_template
from .yamltext import to_yaml

APP_BASES = "bases/apps"


def render_component_base(component: ComponentPlan, style: ReleaseStyle) -> list[RenderedFile]:
    folder = f"bases/{component.key}"
    files = []
    resources = []
    if component.owns_namespace:
        text = render_template(
            "bases/component/namespace.yaml.j2",
            namespace=component.namespace,
            pod_security=component.pod_security,
            keeps_data=component.keeps_data,
            engine_title=style.title,
            keep_annotation=style.keep_annotation,
        )
        files.append(RenderedFile.text(f"{folder}/namespace.yaml", text))
        resources.append("namespace.yaml")
    for name, text in style.component_release(component):
        files.append(RenderedFile.text(f"{folder}/{name}", text))
        resources.append(name)
    files.append(RenderedFile.text(f"{folder}/kustomization.yaml", render_template("bases/component/kustomization.yaml.j2", resources=resources)))
    return files


def render_app_bases(plan: ClusterPlan, style: ReleaseStyle) -> list[RenderedFile]:
    files = []
    for app in plan.apps:
        folder = f"{APP_BASES}/{app.name}"
        resources = []
        for name, text in style.app_release(app, plan):
            files.append(RenderedFile.text(f"{folder}/{name}", text))
            resources.append(name)
        files.append(RenderedFile.text(f"{folder}/kustomization.yaml", render_template("bases/component/kustomization.yaml.j2", resources=resources)))
    return files


def _release_patch(style: ReleaseStyle, name: str, namespace: str, values: dict, labels: dict[str, str] | None = None) -> str:
    """A values patch over a base's release object, merged by kustomize like the base's own values."""
    return render_template(
        "overlays/cluster/release-patch.yaml.j2",
        name=name,
        namespace=style.namespace_of(namespace),
        values=values,
        labels=labels or {},
        api_version=style.release_api_version,
        kind=style.release_kind,
        values_keys=style.values_path.strip("/").split("/"),
    )


def overlay_root(plan: ClusterPlan) -> str:
    return layout.overlay_root(plan.settings.cluster_name)


def render_overlays(plan: ClusterPlan, style: ReleaseStyle) -> tuple[list[RenderedFile], dict[str, str]]:
    """The cluster overlay; returns the files and the layer name → path map for the GitOps engine."""
    root = overlay_root(plan)
    files: list[RenderedFile] = []
    layers: dict[str, str] = {}
    for layer in ("controllers", "storage"):
        folder = f"{root}/infrastructure/{layer}"
        layer_output = _infrastructure_layer(plan, style, layer, folder)
        if layer_output:
            files.extend(layer_output)
            layers[f"infra-{layer}"] = folder
    configs = f"{root}/infrastructure/configs"
    config_files = _configs_layer(plan, configs)
    if config_files:
        files.extend(config_files)
        layers["infra-configs"] = configs
    if plan.apps or plan.external_services:
        apps_dir = f"{root}/apps"
        files.extend(_apps_layer(plan, style, apps_dir))
        layers["apps"] = apps_dir
    return files, layers


def _kustomization(folder: str, resources: list[str], patches: list[str], **context: Any) -> RenderedFile:
    return RenderedFile.text(
        f"{folder}/kustomization.yaml",
        render_template("overlays/cluster/kustomization.yaml.j2", resources=resources, patches=patches, **context),
    )


def _infrastructure_layer(plan: ClusterPlan, style: ReleaseStyle, layer: str, folder: str) -> list[RenderedFile]:
    """infrastructure/controllers or storage: the components' bases, their values patches, the
    objects clustergen adds to the layer and its encrypted Secrets; nothing when the layer is empty."""
    members = [c for c in plan.components if c.layer == layer]
    extra = storage_classes(plan) if layer == "storage" else controller_objects(plan)
    if not members and not extra:
        return []
    files = []
    patches = []
    for component in members:
        if component.cluster_values:
            name = f"{component.key}-values.yaml"
            patches.append(name)
            files.append(RenderedFile.text(f"{folder}/{name}", _release_patch(style, component.release_name, component.namespace, component.cluster_values)))
    for name, text in extra:
        files.append(RenderedFile.text(f"{folder}/{name}", text))
    resources = [f"../../../../bases/{c.key}" for c in members] + [name for name, _ in extra]
    return files + _with_secrets(plan, style, folder, resources, patches)


def _configs_layer(plan: ClusterPlan, folder: str) -> list[RenderedFile]:
    """infrastructure/configs: objects that need the controllers' CRDs; nothing when there are none."""
    config_files = _config_files(plan)
    if not config_files:
        return []
    files = [RenderedFile.text(f"{folder}/{name}", text) for name, text in config_files]
    files.append(_kustomization(folder, [n for n, _ in config_files], []))
    return files


def _apps_layer(plan: ClusterPlan, style: ReleaseStyle, apps_dir: str) -> list[RenderedFile]:
    """apps/: the app namespaces, the releases, backups, network policies and external services,
    with the hardware-profile Components on top."""
    files = [_namespaces_file(plan, style, apps_dir)]
    resources = ["namespaces.yaml"]
    if plan.apps:
        files.extend(_app_releases(plan, style, f"{apps_dir}/releases"))
        resources.append("releases")
    if plan.backup is not None and plan.backup.k8up:
        files.extend(_backup_files(plan, style))
        resources.append("backup")
    if plan.generated_secrets or plan.databases:
        files.extend(_credentials_files(plan, style))
        resources.append("credentials")
    for name, text in network_policy_files(plan):
        files.append(RenderedFile.text(f"{apps_dir}/{name}", text))
        resources.append(name)
    if pull_secret_namespaces(plan):
        files.extend(_registry_files(plan, style))
        resources.append("registry")
    if plan.shared_volumes:
        resources.append("shared-volumes.yaml")
        files.append(RenderedFile.text(f"{apps_dir}/shared-volumes.yaml", _shared_volumes(plan, style)))
    if plan.external_services:
        resources.append("external-services.yaml")
        files.append(RenderedFile.text(f"{apps_dir}/external-services.yaml", _external_services(plan)))
    components = [f"../../profiles/{p}" for p in sorted({n.profile for n in plan.nodes})]
    files.append(_kustomization(apps_dir, resources, [], components=components))
    return files


def _namespaces_file(plan: ClusterPlan, style: ReleaseStyle, apps_dir: str) -> RenderedFile:
    keeps_data = {a.namespace for a in plan.apps if a.has_data} | {v.namespace for v in plan.shared_volumes} | {d.namespace for d in plan.databases}
    namespaces = [{"name": ns, "level": level, "keeps_data": ns in keeps_data} for ns, level in plan.namespaces.items()]
    return RenderedFile.text(
        f"{apps_dir}/namespaces.yaml",
        render_template("overlays/cluster/namespaces.yaml.j2", namespaces=namespaces, engine_title=style.title, keep_annotation=style.keep_annotation),
    )


def _app_releases(plan: ClusterPlan, style: ReleaseStyle, releases_dir: str) -> list[RenderedFile]:
    """apps/releases/: each app's base and its values patch. A level of its own: the level above
    adds the hardware-profile Components, which must see the patched releases (labels included)."""
    profile_of = {n.name: n.profile for n in plan.nodes}
    files = []
    resources, patches = [], []
    for app in plan.apps:
        resources.append(f"../../../../{APP_BASES}/{app.name}")
        name = f"{app.name}-values.yaml"
        patches.append(name)
        profiles = {profile_of[n] for n in app.eligible_nodes}
        # An app confined to one hardware profile takes that profile's adjustments.
        labels = {"clustergen.dev/profile": profiles.pop()} if len(profiles) == 1 else {}
        files.append(RenderedFile.text(f"{releases_dir}/{name}", _release_patch(style, app.name, app.namespace, app.cluster_values, labels)))
    files.append(_kustomization(releases_dir, resources, patches))
    return files


def encrypted_secrets(style: ReleaseStyle, folder: str, names: list[str]) -> tuple[list[str], list[str], list[RenderedFile]]:
    """How a kustomization takes SOPS-encrypted Secrets, in the engine's way (Flux decrypts
    resources itself; Argo CD needs a KSOPS generator). Returns (resources, generators, generator files)."""
    if not names:
        return [], [], []
    return style.encrypted_secrets(folder, names)


def _backup_files(plan: ClusterPlan, style: ReleaseStyle) -> list[RenderedFile]:
    """apps/backup/: a k8up Schedule (and PodConfig where needed) per namespace with data, and
    its SOPS-encrypted credentials. In the apps layer: k8up's CRDs come with the controllers."""
    backup = plan.backup
    folder = backup_folder(plan)
    schedules = render_template(
        "overlays/cluster/backup/schedules.yaml.j2",
        namespaces=backup.namespaces,
        endpoint=backup.s3_endpoint,
        bucket=backup.s3_bucket,
        bucket_for=backup.bucket_for,
        schedule=backup.schedule,
        keep=backup.keep,
        secret=backup.secret,
        podconfig=backup.podconfig,
        k8up_uid=backup.k8up_uid,
    )
    return [RenderedFile.text(f"{folder}/schedules.yaml", schedules), *_with_secrets(plan, style, folder, ["schedules.yaml"])]


def _credentials_files(plan: ClusterPlan, style: ReleaseStyle) -> list[RenderedFile]:
    """apps/credentials/: the logins between apps (SOPS-encrypted Secrets) and the CloudNativePG
    Clusters that use them. In the apps layer: CNPG's CRDs come with the controllers."""
    folder = credentials_folder(plan)
    files, resources = [], []
    if plan.databases:
        text = render_template("overlays/cluster/credentials/databases.yaml.j2", databases=plan.databases,
                               engine_title=style.title, keep_annotation=style.keep_annotation)
        files.append(RenderedFile.text(f"{folder}/databases.yaml", text))
        resources.append("databases.yaml")
    return [*files, *_with_secrets(plan, style, folder, resources)]


def _registry_files(plan: ClusterPlan, style: ReleaseStyle) -> list[RenderedFile]:
    """apps/registry/: the SOPS-encrypted pull credentials, one Secret per namespace that needs them."""
    return _with_secrets(plan, style, registry_folder(plan), [])


def _with_secrets(plan: ClusterPlan, style: ReleaseStyle, folder: str, resources: list[str],
                  patches: list[str] | None = None) -> list[RenderedFile]:
    """A folder's SOPS-encrypted Secrets as the engine applies them, and its kustomization
    listing ``resources`` and them."""
    secret_resources, generators, generator_files = encrypted_secrets(style, folder, secret_file_names(plan, folder))
    return [*generator_files, _kustomization(folder, [*resources, *secret_resources], patches or [], generators=generators)]


def _config_files(plan: ClusterPlan) -> list[tuple[str, str]]:
    settings = plan.settings
    result = []
    if plan.cluster_issuer:
        result.append(
            (
                "cluster-issuers.yaml",
                render_template(
                    "overlays/cluster/configs/cluster-issuers.yaml.j2",
                    issuer=plan.cluster_issuer,
                    cluster_name=settings.cluster_name,
                    email=settings.tls_email,
                    acme_server=settings.acme_server,
                    solver=plan.acme_solver,
                ),
            )
        )
    if plan.gateway is not None:
        from .gateway import gateway_objects

        result.append(("gateway.yaml", "\n---\n".join(to_yaml(o).rstrip("\n") for o in gateway_objects(plan.gateway)) + "\n"))
    longhorn = plan.backup.longhorn if plan.backup is not None else None
    if longhorn is not None:
        result.append(("longhorn-backup.yaml", render_template("overlays/cluster/configs/longhorn-backup.yaml.j2", backup=longhorn)))
    if settings.load_balancer == "metallb":
        result.append(("metallb-pool.yaml", render_template("overlays/cluster/configs/metallb-pool.yaml.j2", pools=list(settings.network.load_balancer_pools), bgp=plan.bgp)))
    return result


def _shared_volumes(plan: ClusterPlan, style: ReleaseStyle) -> str:
    """The claims several apps mount (inventory volumes:), each once, in its apps' namespace.
    Never pruned and never deleted with an app: the data outlives every app that uses it."""
    from .yamltext import dump_documents

    documents = []
    for volume in plan.shared_volumes:
        spec: dict = {"accessModes": [volume.access_mode], "resources": {"requests": {"storage": volume.size}}}
        if volume.storage_class:
            spec["storageClassName"] = volume.storage_class
        documents.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {
                    "name": volume.name,
                    "namespace": volume.namespace,
                    "labels": {"app.kubernetes.io/managed-by": "clustergen", "clustergen.dev/shared-by": "_".join(volume.apps)[:63].rstrip("_-.")},
                    "annotations": {"helm.sh/resource-policy": "keep", style.keep_annotation[0]: style.keep_annotation[1]},
                },
                "spec": spec,
            }
        )
    return dump_documents(documents)


def _external_services(plan: ClusterPlan) -> str:
    services = [
        {
            "name": s.name,
            "namespace": s.namespace,
            "address": str(s.address),
            "address_type": "IPv4" if isinstance(s.address, ipaddress.IPv4Address) else "IPv6",
            "port": s.port,
            "port_name": s.protocol.lower() if s.protocol != "TCP" else "tcp",
            "protocol": s.protocol,
            "host": s.host if plan.settings.ingress_class or plan.gateway is not None else None,
            "gateway": plan.gateway.parent_ref() if plan.gateway is not None else None,
            "ingress_class": plan.settings.ingress_class,
            "issuer": plan.cluster_issuer,
        }
        for s in plan.external_services
    ]
    return render_template("overlays/cluster/external-services.yaml.j2", services=services)


def controller_objects(plan: ClusterPlan) -> list[tuple[str, str]]:
    """Objects the controllers themselves need. The device plugin runs with runtimeClassName
    nvidia and its layer waits for it, so the RuntimeClass is applied with it, never later
    (k3s ships one; Talos does not)."""
    if not plan.has_nvidia_gpus:
        return []
    return [("runtimeclass-nvidia.yaml", render_template("overlays/cluster/configs/runtimeclass-nvidia.yaml.j2"))]


def storage_classes(plan: ClusterPlan) -> list[tuple[str, str]]:
    """StorageClasses clustergen owns (the backend's catalog entry; others come from its charts)."""
    classes = plan.storage.storage_classes
    if not classes:
        return []
    return [("storageclasses.yaml", render_template("overlays/cluster/storage/storageclasses.yaml.j2", classes=classes))]


def render_profile_components(plan: ClusterPlan, style: ReleaseStyle) -> list[RenderedFile]:
    """overlays/profiles/<profile>/: one Kustomize Component per hardware profile in use."""
    files = []
    for profile, data in plan.profiles.items():
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
                    release_kind=style.release_kind,
                    values_path=style.values_path,
                ),
            )
        )
    return files
