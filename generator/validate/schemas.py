"""Finding, fetching and compiling JSON Schemas (kubeconform-compatible).

Schemas compile with ``jsonschema_rs`` (measured 25-200x faster than the
pure-Python ``jsonschema`` on Kubernetes objects, the gap growing with
object size; see bench/validate.py);
``jsonschema`` remains a fallback so a missing wheel degrades speed, not
function.  Each schema is compiled once per process.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ValidateUsageError
from ..shared.cache import store_entry
from .documents import PathPart

try:
    import jsonschema_rs
except ImportError:  # pragma: no cover - exercised only without the wheel
    jsonschema_rs = None  # type: ignore[assignment]

BACKENDS = ("jsonschema-rs", "jsonschema")
DEFAULT_BACKEND = "jsonschema-rs" if jsonschema_rs is not None else "jsonschema"

CATALOG_LAYOUT = "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
_TEMPLATE_VAR = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")
_TEMPLATE_VARS = {"Group", "ResourceKind", "ResourceAPIVersion", "KindSuffix",
                  "NormalizedKubernetesVersion", "StrictSuffix"}

CLOUD_INIT_RELEASE = "upstream-26.2"
TALOS_RELEASE = "v1.13"
ENV_SCHEMAS_ROOT = "CLUSTERGEN_SCHEMAS"


class SchemaError(Exception):
    """A schema exists but could not be read, fetched or compiled."""


@dataclass(frozen=True)
class Issue:
    path: tuple[PathPart, ...]
    message: str
    instance: Any = None


class Compiled:
    """A compiled schema; ``issues`` lists every violation of an instance."""

    def __init__(self, schema: dict, resources: tuple[tuple[str, dict], ...] = (),
                 backend: str = DEFAULT_BACKEND, draft: str | None = None):
        self.backend = backend
        if backend == "jsonschema-rs":
            kwargs: dict[str, Any] = {}
            if resources:
                kwargs["registry"] = _rs_registry(resources)
            cls = getattr(jsonschema_rs, f"{draft}Validator") if draft else None
            self._v = cls(schema, **kwargs) if cls else jsonschema_rs.validator_for(schema, **kwargs)
        else:
            import jsonschema
            from referencing import Registry, Resource
            from referencing.jsonschema import DRAFT202012

            registry = Registry().with_resources(
                (uri, Resource.from_contents(doc, default_specification=DRAFT202012))
                for uri, doc in resources
            )
            cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
            if draft:
                cls = getattr(jsonschema, f"{draft}Validator")
            self._v = cls(schema, registry=registry)

    def issues(self, instance: Any) -> list[Issue]:
        if self.backend == "jsonschema-rs":
            return [i for e in self._v.iter_errors(instance) for i in _rs_issues(e)]
        return [i for e in self._v.iter_errors(instance) for i in _py_issues(e)]


_RS_REGISTRIES: dict[tuple[str, ...], Any] = {}


def _rs_registry(resources: tuple[tuple[str, dict], ...]) -> Any:
    key = tuple(uri for uri, _ in resources)
    if key not in _RS_REGISTRIES:
        _RS_REGISTRIES[key] = jsonschema_rs.Registry(list(resources))
    return _RS_REGISTRIES[key]


def _rs_issues(e: Any) -> list[Issue]:
    path = tuple(e.instance_path)
    unexpected = getattr(e.kind, "unexpected", None)
    # One issue per unknown field, pointing at the field itself: that is the
    # line a user has to fix.
    if unexpected and type(e.kind).__name__ == "AdditionalProperties":
        return [Issue(path + (k,), f"additional property {k!r} is not allowed") for k in unexpected]
    return [Issue(path, e.message, e.instance)]


def _py_issues(e: Any) -> list[Issue]:
    path = tuple(e.absolute_path)
    if e.validator == "additionalProperties" and isinstance(e.instance, dict):
        allowed = set(e.schema.get("properties", {}))
        extra = [k for k in e.instance if k not in allowed]
        if extra:
            return [Issue(path + (k,), f"additional property {k!r} is not allowed") for k in extra]
    return [Issue(path, e.message, e.instance)]


# ---- locations -------------------------------------------------------------------------


def expand_location(location: str) -> str:
    """A template for ``location`` (see ValidateOptions for the rules)."""
    template = location if location == "default" or location.endswith(".json") else location.rstrip("/") + "/" + CATALOG_LAYOUT
    for name in _TEMPLATE_VAR.findall(template):
        if name not in _TEMPLATE_VARS:
            raise ValidateUsageError.because(f"schema location {location!r} uses unknown template variable {{{{.{name}}}}}")
    return template


def template_values(api_version: str, kind: str, k8s_version: str, strict: bool = True) -> dict[str, str]:
    group, _, version = api_version.rpartition("/")
    kind_suffix = "-" + (group.split(".")[0] if group else version).lower()
    if group:
        kind_suffix += "-" + version.lower()
    return {
        "Group": group,
        "ResourceKind": kind.lower(),
        "ResourceAPIVersion": version,
        "KindSuffix": kind_suffix,
        "NormalizedKubernetesVersion": "v" + k8s_version.removeprefix("v"),
        "StrictSuffix": "-strict" if strict else "",
    }


def fill(template: str, values: dict[str, str]) -> str:
    return _TEMPLATE_VAR.sub(lambda m: values[m.group(1)], template)


def fetch(url: str, cache_dir: Path) -> dict | None:
    """Download ``url`` once; None when the server says it does not exist."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:32]
    cached = cache_dir / f"{digest}.json"
    missing = cache_dir / f"{digest}.missing"
    if cached.is_file():
        return _read_json(cached)
    if missing.is_file():
        return None
    from urllib.error import HTTPError, URLError  # only a run that fetches a schema pays for these
    from urllib.request import urlopen

    try:
        with urlopen(url, timeout=30) as resp:  # noqa: S310 - user-given schema URL
            body = resp.read()
    except HTTPError as exc:
        if exc.code == 404:
            store_entry(missing, b"")  # whole or not at all: worker processes may fetch it at once
            return None
        raise SchemaError(f"cannot fetch {url}: HTTP {exc.code}") from exc
    except (URLError, OSError) as exc:
        raise SchemaError(f"cannot fetch {url}: {getattr(exc, 'reason', exc)}") from exc
    try:
        schema = json.loads(body)
    except ValueError as exc:
        raise SchemaError(f"{url} is not JSON: {exc}") from exc
    store_entry(cached, body)  # unwritable: only a download again next time
    return schema


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaError(f"cannot read schema {path}: {exc}") from exc


def load_location(template: str, values: dict[str, str], cache_dir: Path) -> tuple[str, dict | None]:
    where = fill(template, values)
    if where.startswith(("http://", "https://")):
        return where, fetch(where, cache_dir)
    path = Path(where.removeprefix("file://")).expanduser()
    return where, _read_json(path) if path.is_file() else None


# ---- Kubernetes schemas -----------------------------------------------------------------

def _package_folder(name: str) -> Path:
    # Found, not imported: importing kubernetes_validate loads jsonschema, and only its
    # bundled schema files are wanted.
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


_BUNDLED_ROOT = _package_folder("kubernetes_validate") / "kubernetes-json-schema"


def bundled_dir(k8s_version: str) -> Path:
    """The bundled strict schema set nearest to (not newer than) the version asked for."""
    wanted = _minor(k8s_version)
    available = sorted(
        (_minor(p.name[1:].split("-")[0]), p)
        for p in _BUNDLED_ROOT.glob("v*-local-strict")
    )
    if not available:
        raise SchemaError(f"no bundled Kubernetes schemas in {_BUNDLED_ROOT}")
    chosen = available[0][1]
    for minor, path in available:
        if minor <= wanted:
            chosen = path
    return chosen


def _minor(version: str) -> tuple[int, int]:
    parts = version.removeprefix("v").split(".")
    return int(parts[0]), int(parts[1])


class SchemaStore:
    """Compiled schemas for Kubernetes kinds, looked up like kubeconform does:
    bundled core schemas first, then each schema location in order."""

    def __init__(self, k8s_version: str, locations: tuple[str, ...], cache_dir: Path,
                 backend: str = DEFAULT_BACKEND):
        self.k8s_version = k8s_version.removeprefix("v")
        self.templates = [expand_location(loc) for loc in locations if loc != "default"]
        self.cache_dir = cache_dir
        self.backend = backend
        self._bundled = bundled_dir(self.k8s_version)
        self._definitions: tuple[tuple[str, dict], ...] | None = None
        self._compiled: dict[tuple[str, str], Compiled | None] = {}
        self._crds: dict[tuple[str, str], dict] = {}

    def add_crds(self, crds: Iterable[dict]) -> None:
        """Schemas from the CustomResourceDefinitions the repository applies (charts' crds/
        and templates). They describe the pinned versions exactly, so they come before
        any schema location, whose copy may be of another release."""
        for crd in crds:
            for api_version, kind, schema in crd_schemas(crd):
                if (api_version, kind) not in self._crds:
                    self._crds[(api_version, kind)] = schema
                    self._compiled.pop((api_version, kind), None)  # a lookup made before it knew

    def describe_locations(self) -> str:
        return ", ".join(["bundled Kubernetes " + self._bundled.name, *self.templates])

    def validator(self, api_version: str, kind: str) -> Compiled | None:
        """None means no location has a schema; ``SchemaError`` means one is broken."""
        key = (api_version, kind)
        if key not in self._compiled:
            self._compiled[key] = self._compile(api_version, kind)
        return self._compiled[key]

    def _compile(self, api_version: str, kind: str) -> Compiled | None:
        bundled = self._bundled_schema(api_version, kind)
        if bundled is not None:
            return Compiled(bundled, self._bundled_definitions(), self.backend)
        if (api_version, kind) in self._crds:
            try:
                return Compiled(self._crds[(api_version, kind)], backend=self.backend)
            except Exception as exc:  # the compilers raise their own types
                raise SchemaError(f"the CRD schema of {api_version} {kind} does not compile: {exc}") from exc
        values = template_values(api_version, kind, self.k8s_version)
        for template in self.templates:
            where, schema = load_location(template, values, self.cache_dir)
            if schema is not None:
                try:
                    return Compiled(schema, backend=self.backend)
                except Exception as exc:  # the compilers raise their own types
                    raise SchemaError(f"schema {where} does not compile: {exc}") from exc
        return None

    def _bundled_schema(self, api_version: str, kind: str) -> dict | None:
        group, _, version = api_version.rpartition("/")
        prefix = group.split(".")[0] + "-" if group else ""
        path = self._bundled / f"{kind.lower()}-{prefix}{version}.json"
        if not path.is_file():
            return None
        schema = _read_json(path)
        # File names drop the group's domain, so a CRD in "apps.example.com"
        # would hit apps' schema; the embedded GVK settles it.
        gvks = schema.get("x-kubernetes-group-version-kind") or []
        if not any(g.get("group", "") == group and g.get("version") == version
                   and g.get("kind") == kind for g in gvks):
            return None
        return schema

    def _bundled_definitions(self) -> tuple[tuple[str, dict], ...]:
        if self._definitions is None:
            defs = _read_json(self._bundled / "_definitions.json")
            self._definitions = ((defs.get("$id", "https://kubernetes.io/api/_definitions.json"), defs),)
        return self._definitions


def crd_schemas(crd: dict) -> Iterable[tuple[str, str, dict]]:
    """(apiVersion, kind, strict JSON Schema) for each served version of a CRD."""
    spec = crd.get("spec") if isinstance(crd, dict) else None
    if not isinstance(spec, dict):
        return
    group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
    if not isinstance(group, str) or not isinstance(kind, str):
        return
    for version in spec.get("versions") or []:
        openapi = ((version or {}).get("schema") or {}).get("openAPIV3Schema") if isinstance(version, dict) else None
        if isinstance(openapi, dict) and isinstance(version.get("name"), str):
            yield f"{group}/{version['name']}", kind, strict_schema(openapi)


def strict_schema(node: Any) -> Any:
    """An OpenAPI v3 structural schema as JSON Schema, strict as kubeconform's CRD catalog
    makes it: objects with declared properties take no others (unless the schema keeps
    unknown fields), int-or-string and nullable become JSON Schema types."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: strict_schema(v) for k, v in out["properties"].items()}
        if "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields") \
                and not out.get("x-kubernetes-embedded-resource"):
            out["additionalProperties"] = False
    for key in ("items", "additionalProperties", "not"):
        if isinstance(out.get(key), dict):
            out[key] = strict_schema(out[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(out.get(key), list):
            out[key] = [strict_schema(v) for v in out[key]]
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


# ---- cloud-init and Talos ----------------------------------------------------------------


def _roots(schema_locations: tuple[str, ...]) -> list[Path]:
    roots: list[Path] = []
    env = os.environ.get(ENV_SCHEMAS_ROOT)
    if env:
        roots.append(Path(env).expanduser())
    for loc in schema_locations:
        if loc == "default" or loc.startswith(("http://", "https://")):
            continue
        static = loc.split("{{", 1)[0]
        base = Path(static.removeprefix("file://")).expanduser()
        if not base.is_dir():
            base = base.parent
        roots.extend([base, base.parent])
    return roots


def bootstrap_schema_paths(schema_locations: tuple[str, ...], cloud_init_dir: Path | None,
                           talos_schema: Path | None,
                           extra_roots: tuple[Path, ...] = ()) -> tuple[Path | None, Path | None]:
    """(cloud-init schema directory, Talos config schema file), each None when not found.
    ``extra_roots`` are searched last (the pinned downloads in the schema cache)."""
    roots = _roots(schema_locations) + list(extra_roots)
    if cloud_init_dir is None:
        for root in roots:
            candidate = root / "cloud-init" / CLOUD_INIT_RELEASE
            if (candidate / "schema-cloud-config-v1.json").is_file():
                cloud_init_dir = candidate
                break
    if talos_schema is None:
        for root in roots:
            candidate = root / "talos" / TALOS_RELEASE / "config.schema.json"
            if candidate.is_file():
                talos_schema = candidate
                break
    return cloud_init_dir, talos_schema


_FILE_SCHEMAS: dict[tuple[Path, str, str], Compiled] = {}


def compile_file(path: Path, ref: str = "", draft: str | None = None,
                 backend: str = DEFAULT_BACKEND) -> Compiled:
    """Compile a schema file, optionally entering it at ``#/$defs/<ref>``."""
    key = (path, ref, backend)
    if key not in _FILE_SCHEMAS:
        schema = _read_json(path)
        if ref:
            schema = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf", "allOf")}
            schema["$ref"] = f"#/$defs/{ref}"
        _FILE_SCHEMAS[key] = Compiled(schema, backend=backend, draft=draft)
    return _FILE_SCHEMAS[key]

