"""Read the inventory YAML, check it against the schema, build the model."""

from __future__ import annotations

import difflib
import ipaddress
import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ..errors import InventoryError, Problem
from ..resources import package_file
from .checks import check_inventory
from .locations import SourceMap, format_path
from .model import (
    App,
    AppPort,
    AppVolume,
    Components,
    Device,
    Disk,
    ExternalService,
    Gpu,
    Inventory,
    Network,
    Node,
    Profile,
    Rfc2136Server,
    Taint,
    quantity_to_mib,
)


@cache
def inventory_schema() -> dict[str, Any]:
    return json.loads(package_file("schemas", "inventory.schema.json").read_text())


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(inventory_schema(), format_checker=FormatChecker())


def load_inventory(path: Path) -> tuple[Inventory, list[Problem]]:
    """Load and check an inventory file; returns it with its warnings."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryError.single(
            f"inventory file not found: {path}",
            hint="create one with 'clustergen init' or pass the right path",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError.single(f"cannot read {path}: {exc}", file=str(path)) from None
    return load_inventory_text(text, str(path))


def load_inventory_text(text: str, filename: str) -> tuple[Inventory, list[Problem]]:
    tree = _parse_yaml(text, filename)
    source = SourceMap(filename, tree)
    data = _plain(tree)
    schema_problems = _schema_problems(data, source)
    if schema_problems:
        raise InventoryError(schema_problems)
    inventory = _build(data, filename, source)
    problems = check_inventory(inventory)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InventoryError(errors)
    return inventory, problems


def _parse_yaml(text: str, filename: str) -> Any:
    yaml = YAML(typ="rt")
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise InventoryError(
            [
                Problem(
                    f"the file is not valid YAML: {problem}",
                    file=filename,
                    line=mark.line + 1 if mark else None,
                    column=mark.column + 1 if mark else None,
                    hint="check indentation, a missing ':' or an unclosed quote or bracket near here",
                )
            ]
        ) from None
    except YAMLError as exc:
        raise InventoryError([Problem(f"the file is not valid YAML: {exc}", file=filename)]) from None
    if not isinstance(tree, dict):
        raise InventoryError(
            [
                Problem(
                    "the inventory must be a YAML mapping with apiVersion, kind, cluster, network, nodes, ...",
                    file=filename,
                    line=1,
                    hint="start from 'clustergen init' for a commented example",
                )
            ]
        )
    return tree


def _plain(node: Any) -> Any:
    """ruamel's commented containers → plain dicts and lists (keys stay str)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if hasattr(node, "value") and type(node).__name__.startswith("Scalar"):
        return node.value
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def _schema_problems(data: Any, source: SourceMap) -> list[Problem]:
    problems = []
    for error in sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        error = _most_specific(error)
        path = list(error.absolute_path)
        message, hint, path = _explain(error, path)
        line, column = source.locate(path)
        problems.append(
            Problem(message, file=source.filename, line=line, column=column, field=format_path(path), hint=hint)
        )
    return problems


def _most_specific(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf, report the alternative that got furthest."""
    while error.context:
        deepest = max(error.context, key=lambda e: (len(e.absolute_path), e.validator != "type"))
        if len(deepest.absolute_path) <= len(error.absolute_path) and error.validator in ("oneOf", "anyOf"):
            break
        error = deepest
    return error


def _explain(error: ValidationError, path: list[Any]) -> tuple[str, str | None, list[Any]]:
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    description = schema.get("description")
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extras = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        field = extras[0] if extras else "?"
        close = difflib.get_close_matches(field, allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else None
        allowed_text = ", ".join(allowed) if allowed else "no fields"
        hint = (hint + " " if hint else "") + f"allowed here: {allowed_text}"
        return f"unknown field '{field}'", hint, path + [field]
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        prop = schema.get("properties", {}).get(missing, {})
        hint = prop.get("description") or f"add '{missing}:' here"
        return f"missing required field '{missing}'", hint, path
    if kind == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)
        return f"{error.instance!r} is not allowed", f"use one of: {choices}", path
    if kind == "const":
        return f"expected {error.validator_value!r}, got {error.instance!r}", f"set it to {error.validator_value}", path
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        example = {"integer": "4", "string": '"text"', "boolean": "true or false", "object": "a mapping (key: value lines)", "array": "a list ([a, b] or '- item' lines)"}
        hint = description or f"write {_article(expected)} here, e.g. {example.get(expected, expected)}"
        return f"expected {_article(expected)}, got {_describe(error.instance)}", hint, path
    if kind in ("pattern", "format", "anyOf", "oneOf"):
        return f"{error.instance!r} is not a valid value here", description or _format_hint(path), path
    hint = description or "see docs/inventory.md for this field"
    if kind in ("minimum", "maximum"):
        return f"{error.instance!r} is out of range ({kind} {error.validator_value})", hint, path
    return error.message, hint, path


def _format_hint(path: list[Any]) -> str | None:
    name = str(path[-1]) if path else ""
    if "address" in name.lower() or name in ("gateway", "controlPlaneEndpoint"):
        return "write an IPv4 or IPv6 address, e.g. 192.168.1.10"
    if "cidr" in name.lower():
        return "write a CIDR such as 192.168.1.0/24"
    return None


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _describe(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer", float: "a number"}
    if value is None:
        return "nothing (null)"
    return f"{names.get(type(value), type(value).__name__)} ({value!r})" if not isinstance(value, (dict, list)) else names[type(value)]


# -- building the typed model ------------------------------------------------

def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _ips(value: Any) -> tuple[Any, ...]:
    return tuple(ipaddress.ip_address(v) for v in _as_list(value))


def _nets(value: Any) -> tuple[Any, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in _as_list(value))


def _build(data: dict[str, Any], filename: str, source: SourceMap) -> Inventory:
    cluster = data["cluster"]
    distribution = data.get("distribution", {})
    gitops = data["gitops"]
    net = data["network"]
    comps = data.get("components", {})
    tls = comps.get("tls", {})
    edns = comps.get("externalDns", {})
    gateways = _ips(net["gateway"])
    network = Network(
        node_cidrs=_nets(net["nodeCidr"]),
        gateways=gateways,
        dns_servers=_ips(net.get("dnsServers")) or gateways,
        control_plane_endpoint=_ips(net.get("controlPlaneEndpoint"))[0] if net.get("controlPlaneEndpoint") else None,
        load_balancer_pools=tuple(_as_list(net.get("loadBalancerPool"))),
        ingress_address=_ips(net.get("ingressAddress"))[0] if net.get("ingressAddress") else None,
        pod_cidrs=_nets(net.get("podCidr", "10.42.0.0/16")),
        service_cidrs=_nets(net.get("serviceCidr", "10.43.0.0/16")),
    )
    profiles = {
        name: Profile(
            name=name,
            description=p.get("description", ""),
            arch=p.get("arch"),
            boot_medium=p.get("bootMedium"),
            memory_mib=quantity_to_mib(p["memory"]) if "memory" in p else None,
            cpu=p.get("cpu"),
            os=p.get("os"),
            notes=p.get("notes", ""),
        )
        for name, p in data.get("profiles", {}).items()
    }
    return Inventory(
        source=filename,
        cluster_name=cluster["name"],
        domain=cluster["domain"],
        timezone=cluster.get("timezone", "Etc/UTC"),
        distribution=distribution.get("name", "k3s"),
        distribution_version=distribution.get("version"),
        engine=gitops.get("engine", "flux"),
        repository=gitops["repository"],
        branch=gitops.get("branch", "main"),
        sync_path=_sync_path(gitops.get("path", f"clusters/{cluster['name']}")),
        network=network,
        profiles=profiles,
        nodes=tuple(_node(i, n) for i, n in enumerate(data["nodes"])),
        components=Components(
            ingress=comps.get("ingress", "traefik"),
            tls_issuer=tls.get("issuer", "selfsigned"),
            tls_email=tls.get("email"),
            tls_staging=tls.get("staging", False),
            tls_solver=tls.get("solver"),
            external_dns_provider=edns.get("provider", "none"),
            external_dns_secret=edns.get("credentialsSecret"),
            external_dns_rfc2136=_rfc2136(edns.get("rfc2136")),
            load_balancer=comps.get("loadBalancer", "metallb"),
            storage=comps.get("storage", "auto"),
            monitoring=comps.get("monitoring", False),
            backup=comps.get("backup", False),
        ),
        apps=tuple(_app(i, a) for i, a in enumerate(data.get("apps", []))),
        external_services=tuple(
            ExternalService(
                index=i,
                name=s["name"],
                namespace=s.get("namespace", "external"),
                address=ipaddress.ip_address(s["address"]),
                port=s["port"],
                protocol=s.get("protocol", "TCP"),
                host=s.get("host"),
            )
            for i, s in enumerate(data.get("externalServices", []))
        ),
        kubernetes_version=distribution.get("kubernetesVersion"),
        registry_mirrors={k: tuple(v) for k, v in sorted(distribution.get("registryMirrors", {}).items())},
        extensions=tuple(distribution.get("extensions", [])),
        raw=data,
        source_map=source,
    )


def _sync_path(raw: str) -> str:
    """gitops.path as the render writes it: no leading './', no trailing '/' (the schema refused
    '..', absolute paths and .git)."""
    path = raw.rstrip("/")
    while path.startswith("./"):
        path = path[2:]
    return path or "."


def _rfc2136(data: dict[str, Any] | None) -> Rfc2136Server | None:
    if data is None:
        return None
    return Rfc2136Server(data["server"], data.get("port", 53), data["tsigKeyName"], data.get("tsigAlgorithm", "hmac-sha256"))


def _node(index: int, n: dict[str, Any]) -> Node:
    return Node(
        index=index,
        name=n["name"],
        addresses=_ips(n["address"]),
        mac=n["mac"].lower() if n.get("mac") else None,
        profile=n.get("profile", "generic"),
        arch=n.get("arch"),
        os=n.get("os"),
        role=n.get("role", "auto"),
        cpu=n.get("cpu"),
        memory_mib=quantity_to_mib(n["memory"]) if "memory" in n else None,
        boot_medium=n.get("bootMedium"),
        disks=tuple(
            Disk(d["path"], quantity_to_mib(d["size"]), d["type"], d.get("use", "system"), d.get("serial"), d.get("model"))
            for d in n.get("disks", [])
        ),
        gpus=tuple(
            Gpu(g["vendor"], g.get("model"), quantity_to_mib(g["memory"]) if "memory" in g else None, g.get("sharing", 1))
            for g in n.get("gpus", [])
        ),
        devices=tuple(Device(d["name"], d["type"], d["path"]) for d in n.get("devices", [])),
        labels=dict(n.get("labels", {})),
        taints=tuple(Taint(t["key"], t.get("value"), t["effect"]) for t in n.get("taints", [])),
        swap=n.get("swap", "auto"),
        kernel_modules=tuple(n.get("kernelModules", [])),
        service_lb=n.get("serviceLB"),
    )


def _app(index: int, a: dict[str, Any]) -> App:
    image = a.get("image")
    return App(
        index=index,
        name=a["name"],
        catalog=None if image else a.get("catalog", a["name"]),
        image=image,
        namespace=a.get("namespace"),
        replicas=a.get("replicas"),
        ports=tuple(AppPort(p["name"], p["port"], p.get("protocol", "TCP")) for p in a.get("ports", [])),
        env={k: _env_text(v) for k, v in a.get("env", {}).items()},
        persistence=tuple(
            AppVolume(v["name"], v["mountPath"], v.get("size", "1Gi"), v.get("existingClaim"))
            for v in a.get("persistence", [])
        ),
        host=a.get("host"),
        ingress=a.get("ingress"),
        devices=tuple(a.get("devices", [])),
        gpu=a.get("gpu", 0),
        arches=tuple(a["arches"]) if "arches" in a else None,
        weight=a.get("weight"),
        values=a.get("values", {}),
    )


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
