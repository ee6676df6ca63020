"""Stage 3: ClusterPlan → files (pure: paths and bytes, no disk writes)."""

from __future__ import annotations

from dataclasses import dataclass

from ..plan.model import ClusterPlan
from .files import RenderedFile
from .k3s import render_cloud_init
from .argocd import render_argocd
from .flux import render_flux
from .kustomize import release_style, render_app_bases, render_component_base, render_overlays, render_profile_components
from .secrets import secret_manifests, wanted_secret_fields
from .repo import render_app_chart, render_ci_files, render_probe, render_topology, render_facts, render_gitignore, render_inventory_copy, render_readme

__all__ = ["ClusterSecrets", "RenderedFile", "render_repository", "secret_manifests", "wanted_secret_fields"]


@dataclass(frozen=True)
class ClusterSecrets:
    """Generated once per cluster, stored SOPS-encrypted; a distribution uses its own fields."""

    k3s_token: str | None = None
    talos_secrets: str | None = None  # talosctl's secrets bundle (secrets.yaml), as YAML text
    talos_admin_client: str | None = None  # the talosconfig's os:admin client certificate and key
    grafana_admin_password: str | None = None  # monitoring: Grafana's admin login
    restic_password: str | None = None  # backups: every namespace's restic repository (losing it loses the backups)
    # Backups: the S3 keys. The user puts them into the store (README); clustergen never makes them up.
    backup_s3_access_key_id: str | None = None
    backup_s3_secret_access_key: str | None = None
    # DNS: the provider's credentials (plan.dns store_field: Secret key token → dns_token), put
    # into the store by the user when clustergen commits the external-dns Secret.
    dns_api_token: str | None = None
    dns_token: str | None = None
    dns_access_key_id: str | None = None
    dns_secret_access_key: str | None = None
    dns_tsig_secret: str | None = None
    dns_password: str | None = None
    dns_application_key: str | None = None
    dns_application_secret: str | None = None
    dns_consumer_key: str | None = None


def render_repository(plan: ClusterPlan, secrets: ClusterSecrets, inventory_text: str) -> list[RenderedFile]:
    files: list[RenderedFile] = []
    style = release_style(plan)
    for component in plan.components:
        files.extend(render_component_base(component, style))
    files.extend(render_app_bases(plan))
    overlay_files, layers = render_overlays(plan)
    files.extend(overlay_files)
    files.extend(render_profile_components(plan))
    files.extend(render_argocd(plan, layers) if plan.inventory.engine == "argocd" else render_flux(plan, layers))
    if plan.inventory.distribution == "talos":
        assert secrets.talos_secrets and secrets.talos_admin_client, "the write stage makes Talos secrets for a Talos cluster"
        # Imported here: the Talos renderer pulls in cryptography, which k3s clusters never need.
        from .talos import render_talos

        files.extend(render_talos(plan, secrets.talos_secrets, secrets.talos_admin_client))
    else:
        assert secrets.k3s_token, "the write stage makes a k3s token for a k3s cluster"
        files.extend(render_cloud_init(plan, secrets.k3s_token))
    files.extend(render_app_chart())
    files.append(render_facts(plan))
    files.append(render_gitignore())
    files.append(render_inventory_copy(inventory_text))
    files.append(render_readme(plan, layers))
    files.extend(render_ci_files(plan, layers))
    files.append(render_topology(plan))
    files.append(render_probe())
    files.sort(key=lambda f: f.path)
    seen: set[str] = set()
    for f in files:
        if f.path in seen:
            # Only gitops.path, set to a folder clustergen generates, can make two renderers meet.
            from ..errors import InventoryError

            raise InventoryError.single(
                f"clustergen would write {f.path} twice: gitops.path {plan.inventory.sync_path!r} is a folder clustergen "
                "generates for something else",
                hint="pick a folder of its own, such as clusters/<cluster name> (the default)",
                **plan.inventory.where("gitops", "path"),
            )
        seen.add(f.path)
    return files
