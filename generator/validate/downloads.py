"""Schemas a fresh install fetches once, at pinned versions, into the schema cache.

Without `--schema-location`, a generated repository still has kinds whose schemas
no chart ships: Flux's own (installed by `flux bootstrap`), cloud-init's and
Talos's. Their upstream projects publish them per release; clustergen pins the
release (catalog `validation_downloads`) and keeps each file in the schema cache
under the layout a schemas root has, so later runs, and `--offline`, need no
network. Explicit schema locations always win.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import catalog
from ..shared.cache import write_atomically
from .charts import Network, Unavailable
from .documents import load_all
from .schemas import CLOUD_INIT_RELEASE, TALOS_RELEASE

FLUX_GROUPS = ("source.toolkit.fluxcd.io/", "kustomize.toolkit.fluxcd.io/", "helm.toolkit.fluxcd.io/",
               "notification.toolkit.fluxcd.io/", "image.toolkit.fluxcd.io/")
CLOUD_INIT_FILES = ("schema-cloud-config-v1.json", "schema-network-config-v2.json")


@dataclass
class Downloaded:
    schemas_root: Path  # cloud-init/<release>/ and talos/<minor>/ beneath, when fetched
    flux_crds: list[dict] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def urls(templates: dict | None = None) -> dict[str, str]:
    """Each file's URL, keyed by its place in the schemas root ("flux/install.yaml" for Flux)."""
    t = templates or catalog.components_file()["validation_downloads"]
    pins = {"flux": catalog.flux_version(), "talos": catalog.talos_version(), "cloud_init": t["cloud_init_version"]}
    found = {"flux/install.yaml": t["flux_crds"].format(**pins),
             f"talos/{TALOS_RELEASE}/config.schema.json": t["talos_schema"].format(**pins)}
    for name in CLOUD_INIT_FILES:
        found[f"cloud-init/{CLOUD_INIT_RELEASE}/{name}"] = t["cloud_init_schema"].format(file=name, **pins)
    return found


def fetch_defaults(cache_dir: Path, network: Network, wanted: Iterable[str],
                   templates: dict | None = None) -> Downloaded:
    """Fetch (or take from the cache) the files in ``wanted`` (keys of ``urls``)."""
    root = cache_dir / "pinned"
    result = Downloaded(root)
    table = urls(templates)
    for key in wanted:
        target = root / key
        if not target.is_file():
            try:
                body = network.get(table[key])
            except Unavailable as exc:
                result.skipped.append(("schema", f"{key.split('/')[0]} schemas not fetched: {exc}"))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(target, body)  # a reader never sees half a file
        if key.startswith("flux/"):
            result.flux_crds = _crds(target)
    return result


def _crds(path: Path) -> list[dict]:
    try:
        docs, _ = load_all(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    return [d for d in docs if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]
