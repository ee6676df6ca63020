"""Stage 3: ClusterPlan → files (pure: paths and bytes, no disk writes)."""

from __future__ import annotations

from ..plan.model import ClusterPlan
from ..shared import ClusterSecrets, RenderedFile
from .k3s import render_cloud_init
from .engines import engine_of
from .kustomize import render_app_bases, render_component_base, render_overlays, render_profile_components
from .secrets import secret_manifests, wanted_secret_fields
from .repo import render_app_chart, render_ci_files, render_probe, render_topology, render_facts, render_gitignore, render_inventory_copy, render_readme

__all__ = ["render_repository", "secret_manifests", "wanted_secret_fields"]


def render_repository(plan: ClusterPlan, secrets: ClusterSecrets, inventory_text: str) -> list[RenderedFile]:
    files: list[RenderedFile] = []
    engine = engine_of(plan)
    style = engine.style
    for component in plan.components:
        files.extend(render_component_base(component, style))
    files.extend(render_app_bases(plan, style))
    overlay_files, layers = render_overlays(plan, style)
    files.extend(overlay_files)
    files.extend(render_profile_components(plan, style))
    files.extend(engine.render_sync(plan, layers))
    if plan.settings.distribution == "talos":
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
    files.append(render_readme(plan, layers, engine))
    files.extend(render_ci_files(plan, layers, engine))
    files.append(render_topology(plan))
    files.append(render_probe())
    files.sort(key=lambda f: f.path)
    seen: set[str] = set()
    for f in files:
        if f.path in seen:
            # Only gitops.path, set to a folder clustergen generates, can make two renderers meet.
            from ..errors import InventoryError

            raise InventoryError.single(
                f"clustergen would write {f.path} twice: gitops.path {plan.settings.sync_path!r} is a folder clustergen "
                "generates for something else",
                hint="pick a folder of its own, such as clusters/<cluster name> (the default)",
                **plan.settings.sync_path_where,
            )
        seen.add(f.path)
    return files
