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

from dataclasses import dataclass
from pathlib import Path

ENGINES = ("builtin", "kubeconform")


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

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(
                f"unknown validation engine {self.engine!r}: choose one of {', '.join(ENGINES)}"
            )
        if self.jobs is not None and self.jobs < 1:
            raise ValueError(f"jobs must be at least 1, not {self.jobs}")
        version = self.kubernetes_version.removeprefix("v")
        parts = version.split(".")
        if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
            raise ValueError(
                f"kubernetes version {self.kubernetes_version!r} is not of the form 1.34 or 1.34.0"
            )
        # Tuples keep the dataclass hashable and picklable for worker processes.
        object.__setattr__(self, "schema_locations", tuple(self.schema_locations))

    @property
    def schema_cache_dir(self) -> Path:
        if self.cache_dir is not None:
            return Path(self.cache_dir)
        return Path.home() / ".cache" / "clustergen" / "schemas"
