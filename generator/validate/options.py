"""Settings for one validation run.

Schema locations follow kubeconform's ``-schema-location`` flag with one
deliberate difference for bare locations:

* ``default`` – the Kubernetes schemas bundled with ``kubernetes_validate``
  (always consulted first for built-in kinds, so listing it is optional).
* a value ending in ``.json`` – a template; ``{{.Group}}``,
  ``{{.ResourceKind}}`` (lower-case kind), ``{{.ResourceAPIVersion}}``,
  ``{{.KindSuffix}}``, ``{{.NormalizedKubernetesVersion}}`` and
  ``{{.StrictSuffix}}`` are substituted, e.g.
  ``/schemas/crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json``.
* anything else (a directory or an ``http(s)://`` base) – the CRDs-catalog
  layout ``{loc}/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json``.
  (kubeconform would assume the kubernetesjsonschema.dev layout here; CRD
  schemas are what a GitOps repo needs from a location, so we assume that.)

HTTP(S) schemas are downloaded once and kept under ``cache_dir``
(default ``~/.cache/clustergen/schemas``).

Helm releases whose chart lives outside the repository (an HTTP or OCI Helm
repository, an upstream project's git) are rendered too when ``charts`` is
``remote`` (the default): each pinned chart is fetched once into
``chart_cache_dir`` (default ``$XDG_CACHE_HOME/clustergen/charts``, i.e.
``~/.cache/clustergen/charts``) and reused by later runs.  ``offline`` uses
that cache alone; ``charts="local"`` renders in-repo charts only and touches
no network (what tests of the bundled examples use: CI has no internet).
``fetch_timeout`` bounds each network request and ``fetch_budget`` all of a
run's fetching together.

cloud-init and Talos schemas are found by ``schemas.bootstrap_schema_paths``:
the explicit ``cloud_init_schema_dir`` / ``talos_schema`` fields win;
otherwise a *schemas root* is searched, taken from the environment variable
``CLUSTERGEN_SCHEMAS`` or derived from each local schema location (the
location itself and its parent, so ``…/schemas/crds`` yields ``…/schemas``).
Inside a root the files are ``cloud-init/upstream-26.2/schema-cloud-config-v1.json``,
``cloud-init/upstream-26.2/schema-network-config-v2.json`` and
``talos/v1.13/config.schema.json``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ValidateUsageError

ENGINES = ("builtin", "kubeconform")
CHARTS = ("remote", "local")


@dataclass(frozen=True)
class ValidateOptions:
    strict: bool = False
    kubernetes_version: str = "1.34.0"
    schema_locations: tuple[str, ...] = ()
    engine: str = "builtin"
    cache_dir: Path | None = None
    progress: bool = False
    jobs: int | None = None
    # Explicit bootstrap schemas; None means "derive from the schemas root".
    cloud_init_schema_dir: Path | None = None
    talos_schema: Path | None = None
    # Charts outside the repository: "remote" fetches them, "local" renders in-repo charts only.
    charts: str = "remote"
    chart_cache_dir: Path | None = None
    offline: bool = False
    fetch_timeout: float = 10.0  # seconds per connect or read
    fetch_budget: float = 120.0  # seconds of fetching per run, all sources together
    # URL templates for the pinned schema downloads; None: the catalog's (tests serve their own).
    download_templates: dict | None = None
    # Each Helm lint or render runs in a worker process with these limits (helm_worker.py).
    helm_timeout: float = 60.0  # seconds per render
    helm_memory_mib: int = 2048  # memory a render may use on top of the loaded Helm library

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValidateUsageError.because(
                f"unknown validation engine {self.engine!r}: choose one of {', '.join(ENGINES)}"
            )
        if self.charts not in CHARTS:
            raise ValidateUsageError.because(f"unknown charts mode {self.charts!r}: choose one of {', '.join(CHARTS)}")
        if self.helm_timeout <= 0 or self.helm_memory_mib <= 0:
            raise ValidateUsageError.because("helm_timeout and helm_memory_mib must be positive")
        if self.jobs is not None and self.jobs < 1:
            raise ValidateUsageError.because(f"jobs must be at least 1, not {self.jobs}")
        version = self.kubernetes_version.removeprefix("v")
        parts = version.split(".")
        if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
            raise ValidateUsageError.because(
                f"kubernetes version {self.kubernetes_version!r} is not of the form 1.34 or 1.34.0"
            )
        # Tuples keep the dataclass hashable and picklable for worker processes.
        object.__setattr__(self, "schema_locations", tuple(self.schema_locations))

    @property
    def schema_cache_dir(self) -> Path:
        if self.cache_dir is not None:
            return Path(self.cache_dir)
        return Path.home() / ".cache" / "clustergen" / "schemas"

    @property
    def chart_cache(self) -> Path:
        if self.chart_cache_dir is not None:
            return Path(self.chart_cache_dir)
        xdg = os.environ.get("XDG_CACHE_HOME")
        # The XDG spec says a relative value is invalid and to be ignored.
        base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
        return base / "clustergen" / "charts"
