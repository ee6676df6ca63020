"""Read the inventory YAML, check it against the schema, build the model."""

from __future__ import annotations

import ipaddress
import json
import math
import re
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InventoryError, Problem, closest_match
from ..resources import package_file
from ..shared.collector import collector_paused
from ..shared.engines import DEFAULT_ENGINE, engine_schema
from ..shared.inventory_file import MAX_INVENTORY_BYTES, read_inventory_file
from .checks import check_inventory
from .locations import SourceMap, format_path
from .schema_code import schema_verdict
if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError
    from ruamel.yaml.error import MarkedYAMLError
from .model import (
    DEFAULT_KEEP,
    App,
    Backup,
    AppContainer,
    AppMount,
    AppPort,
    AppRoute,
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
    Bgp,
    BgpPeer,
    LanDns,
    PiholeServer,
    PrivateRegistry,
    Rfc2136Server,
    SharedVolume,
    Taint,
    quantity_to_mib,
)


_SCHEMA_FILE = ("schemas", "inventory.schema.json")


@cache
def inventory_schema() -> dict[str, Any]:
    schema = json.loads(package_file(*_SCHEMA_FILE).read_text())
    # The engines are a registry, not a list kept by hand here (the file's $comment says so).
    schema["properties"]["gitops"]["properties"]["engine"] = engine_schema()
    return schema


@cache
def _validator() -> Draft202012Validator:
    """The pure-Python validator: it words the errors. Imported only when there are some
    (the import alone costs more than a whole fast-path check)."""
    from jsonschema import Draft202012Validator, FormatChecker

    return Draft202012Validator(inventory_schema(), format_checker=FormatChecker())


@cache
def _schema_verdict() -> Callable[[Any], bool]:
    """The schema as Python (schema_code.py): jsonschema's yes or no, without importing it."""
    made_from = package_file(*_SCHEMA_FILE).read_bytes() + json.dumps(engine_schema(), sort_keys=True).encode()
    return schema_verdict(made_from, inventory_schema)


_JSON_SCALARS = (str, int, float, bool, type(None))


def _surely_valid(data: Any) -> bool:
    """True when the compiled schema finds no error. False sends the document to jsonschema,
    which decides and words the errors. A value JSON has no word for (a date, bytes, a key that
    is no string, NaN) goes to jsonschema unjudged: its rules for those are its own."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    return False
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
        elif not isinstance(node, _JSON_SCALARS) or isinstance(node, float) and not math.isfinite(node):
            return False
    verdict = _schema_verdict()
    try:
        return verdict(data)
    except Exception:  # noqa: BLE001 - whatever the compiled code cannot take, jsonschema judges
        return False


# An inventory is a few kilobytes; these bounds keep a hostile file from taking the
# machine (billion laughs, a 1,000-deep nesting; a 100 MB file: MAX_INVENTORY_BYTES).
MAX_DEPTH = 64
MAX_NODES = 100_000  # YAML nodes once every alias is expanded


def load_inventory(path: Path) -> tuple[Inventory, list[Problem]]:
    """Load and check an inventory file; returns it with its warnings."""
    return load_inventory_text(read_inventory_file(path), str(path))


@collector_paused
def load_inventory_text(text: str, filename: str) -> tuple[Inventory, list[Problem]]:
    if len(text) > MAX_INVENTORY_BYTES:
        raise InventoryError.single(
            f"the inventory is larger than {MAX_INVENTORY_BYTES >> 20} MiB ({len(text)} characters)", file=filename,
            hint="an inventory lists machines and apps in a few kilobytes; check you passed the right file",
        )
    _preflight(text, filename)
    tree = _parse_yaml(text, filename)
    source = SourceMap(filename, tree)
    data = _plain(tree)
    problems = _text_problems(data, source)
    if problems:
        raise InventoryError(problems)
    schema_problems = _schema_problems(data, source)
    if schema_problems:
        raise InventoryError(schema_problems)
    value_problems = _value_problems(data, source)
    if value_problems:
        raise InventoryError(value_problems)
    inventory = _build(data, filename, source)
    problems = check_inventory(inventory)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InventoryError(errors)
    return inventory, problems


_YAML_DIRECTIVE = re.compile(r"^%YAML[ \t]+(\S+)")
_ALLOWED_TAGS = {"tag:yaml.org,2002:str"}  # `!!str 1.10` keeps a version a string; nothing else is needed


def _preflight(text: str, filename: str) -> None:
    """What the YAML library would choke on or take forever over, found from the event
    stream (no document is built): a YAML version other than 1.1 or 1.2, explicit tags,
    nesting deeper than MAX_DEPTH, and aliases expanding past MAX_NODES."""
    for number, line in enumerate(text.splitlines()[:50], 1):
        m = _YAML_DIRECTIVE.match(line)
        if m and m.group(1) not in ("1.1", "1.2"):
            raise InventoryError.single(
                f"the file declares YAML {m.group(1)}; only YAML 1.1 and 1.2 exist", file=filename, line=number,
                hint="remove the %YAML line (an inventory needs none)",
            )
    import yaml as pyyaml

    try:
        # libyaml's event parser is ten times faster than ruamel's; where it refuses the text
        # (a YAML 1.2 detail), ruamel's own parser walks it.
        _walk_events(pyyaml.parse(text, Loader=getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)), pyyaml.events, filename)
        return
    except InventoryError:
        raise
    except (pyyaml.YAMLError, ValueError, RecursionError):
        pass
    from ruamel.yaml import YAML
    from ruamel.yaml import events as ruamel_events
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        _walk_events(YAML(typ="rt").parse(text), ruamel_events, filename)
    except InventoryError:
        raise
    except MarkedYAMLError:
        return  # _parse_yaml reports it with its location
    except (YAMLError, ValueError, AssertionError, RecursionError, TypeError) as exc:
        raise InventoryError.single(f"the file is not valid YAML: {exc}", file=filename,
                                    hint="check the YAML syntax near the top of the file") from None


def _walk_events(stream: Any, events: Any, filename: str) -> None:
    AliasEvent, CollectionEndEvent = events.AliasEvent, events.CollectionEndEvent
    CollectionStartEvent, NodeEvent = events.CollectionStartEvent, events.NodeEvent
    sizes: dict[Any, int] = {}  # anchor -> nodes it stands for, expanded
    stack: list[list[Any]] = []  # [anchor, expanded node count] of each open collection
    expanded = 0  # nodes of the whole document, every alias expanded

    def fail(event: Any, message: str, hint: str) -> None:
        mark = getattr(event, "start_mark", None)
        raise InventoryError.single(
            message, file=filename, line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None, hint=hint
        )

    for event in stream:
        if not isinstance(event, NodeEvent) and not isinstance(event, CollectionEndEvent):
            continue
        if isinstance(event, NodeEvent) and not isinstance(event, AliasEvent):
            tag = getattr(event, "tag", None)
            tag = getattr(tag, "value", tag)
            if tag is not None and str(tag) not in _ALLOWED_TAGS and str(tag) != "!":
                shown = str(tag).replace("tag:yaml.org,2002:", "!!")
                fail(event, f"the explicit YAML tag {shown} is not allowed in an inventory",
                     f"remove '{shown}' and write the plain value (quote it to make it a string)")
        if isinstance(event, CollectionEndEvent):
            anchor, count = stack.pop()
            if anchor is not None:
                sizes[anchor] = count
            if stack:
                stack[-1][1] += count
            continue
        count = sizes.get(event.anchor, 1) if isinstance(event, AliasEvent) else 1
        expanded += count
        if expanded > MAX_NODES:
            fail(event, f"the YAML expands to more than {MAX_NODES} values (aliases such as *name repeat what they point to)",
                 "an inventory needs no chains of anchors and aliases; write the values out")
        if isinstance(event, CollectionStartEvent):
            stack.append([event.anchor, 1])
            if len(stack) > MAX_DEPTH:
                fail(event, f"the YAML nests deeper than {MAX_DEPTH} levels", "an inventory is a few levels deep; check the brackets here")
        else:
            if not isinstance(event, AliasEvent) and event.anchor is not None:
                sizes[event.anchor] = 1
            if stack:
                stack[-1][1] += count


def _yaml_error(exc: MarkedYAMLError, filename: str, text: str) -> Problem:
    """A parse error where the user will look for it, with a hint about that very mistake."""
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    mark = exc.problem_mark or exc.context_mark
    hint = "check indentation, a missing ':' or an unclosed quote or bracket near here"
    message = f"the file is not valid YAML: {problem}"
    if type(exc).__name__ == "DuplicateKeyError":
        key = re.search(r'duplicate key "([^"]*)"', problem)
        name = key.group(1) if key else "?"
        first = _key_line(text, name, exc.context_mark.line if exc.context_mark else 0, mark.line if mark else 0)
        message = f"the file is not valid YAML: the key '{name}' appears twice in the same mapping"
        hint = "remove one of them, or rename it" + (f" (the first is on line {first})" if first else "") + \
            "; YAML keeps one value per key"
    elif "could not find expected ':'" in problem and exc.context_mark is not None:
        # The scanner notices on the next line; the key without its ':' is where it started.
        mark = exc.context_mark
        message = "the file is not valid YAML: a key here has no ':' after it"
        hint = "write 'key: value' (with a space after the ':'); a line without ':' inside a mapping is not allowed"
    return Problem(message, file=filename, line=mark.line + 1 if mark else None,
                   column=mark.column + 1 if mark else None, hint=hint)


def _too_long_number(text: str, filename: str) -> Problem | None:
    """Python reads no integer of more than sys.get_int_max_str_digits() digits, and the YAML
    library's ValueError has no mark: the first such run of digits is found in the text."""
    limit = sys.get_int_max_str_digits()
    if not limit:
        return None
    found = re.search(rf"(?<![\w.])[-+]?[0-9_]{{{limit + 1},}}", text)
    if found is None:
        return None
    line = text.count("\n", 0, found.start()) + 1
    column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    return Problem(f"the file is not valid YAML: a number of more than {limit:,} digits", file=filename, line=line,
                   column=column, hint="quote it if it is text; no inventory field takes a number that long")


def _key_line(text: str, key: str, start: int, end: int) -> int | None:
    lines = text.splitlines()
    pattern = re.compile(rf"^\s*(?:-\s+)?['\"]?{re.escape(key)}['\"]?\s*:")
    for i in range(start, min(end, len(lines))):
        if pattern.match(lines[i]):
            return i + 1
    return None


def _parse_yaml(text: str, filename: str) -> Any:
    from .fastyaml import compose

    tree = compose(text)
    if tree is not None:
        return tree
    # Everything libyaml cannot read as YAML 1.2 for sure, and every error, is ruamel's.
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as exc:
        raise InventoryError([_yaml_error(exc, filename, text)]) from None
    except YAMLError as exc:
        raise InventoryError([Problem(f"the file is not valid YAML: {exc}", file=filename, hint="check the YAML syntax")]) from None
    except (ValueError, AssertionError, RecursionError, TypeError, OverflowError) as exc:
        # The YAML library's own checks that raise plain exceptions (a bad value for a tag, ...).
        raise InventoryError([_too_long_number(text, filename) or Problem(
            f"the file is not valid YAML: {exc}", file=filename, hint="check the YAML syntax")]) from None
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


def _text_problems(data: Any, source: SourceMap) -> list[Problem]:
    """Strings no file can hold: a lone surrogate (\\uD800) cannot be written as UTF-8."""
    problems: list[Problem] = []

    def walk(node: Any, path: list[Any]) -> None:
        if len(problems) >= 20:
            return
        if isinstance(node, dict):
            for key, value in node.items():
                if not _encodable(key):
                    problems.append(_surrogate(source, path, key))
                walk(value, path + [key])
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, path + [i])
        elif isinstance(node, str) and not _encodable(node):
            problems.append(_surrogate(source, path, None))

    walk(data, [])
    return problems


def _encodable(text: object) -> bool:
    if not isinstance(text, str):
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _surrogate(source: SourceMap, path: list[Any], key: Any) -> Problem:
    line, column = source.locate(path)
    return Problem(
        "a lone surrogate (an escape such as \\uD800 without its pair) cannot be written to any file"
        + (" (in a key)" if key is not None else ""),
        file=source.filename, line=line, column=column, field=format_path(path) if path else None,
        hint="remove the \\uD8xx/\\uDCxx escape, or write the character itself",
    )


# Bounds for quantities: below 1 MiB rounds to nothing, above an exbibyte is a typo.
MAX_QUANTITY_MIB = 1 << 40
_QUANTITY_FIELDS = (
    ("nodes", "*", "memory"),
    ("nodes", "*", "disks", "*", "size"),
    ("nodes", "*", "gpus", "*", "memory"),
    ("profiles", "*", "memory"),
    ("nodes", "*", "osdMemoryTarget"),
    ("components", "ceph", "osdMemoryTarget"),
)


def _value_problems(data: dict[str, Any], source: SourceMap) -> list[Problem]:
    """Values the schema's patterns let through that are still wrong: quantities that round
    to nothing or overflow, CIDRs that are no network, a time zone that does not exist."""
    problems: list[Problem] = []
    for pattern in _QUANTITY_FIELDS:
        for path, value in _matching(data, list(pattern)):
            problem = _quantity_problem(value)
            if problem:
                line, column = source.locate(path)
                problems.append(Problem(problem, file=source.filename, line=line, column=column, field=format_path(path),
                                        hint="write a size such as 512Mi, 8Gi or 2Ti"))
    net = data.get("network", {})
    for name in ("nodeCidr", "podCidr", "serviceCidr"):
        value = net.get(name)
        entries = [(["network", name, i], v) for i, v in enumerate(value)] if isinstance(value, list) else [(["network", name], value)]
        for path, text in entries:
            if text is None:
                continue
            cidr_problem = _cidr_problem(str(text))
            if cidr_problem:
                message, hint = cidr_problem
                line, column = source.locate(path)
                problems.append(Problem(message, file=source.filename, line=line, column=column, field=format_path(path), hint=hint))
    return problems


def _matching(node: Any, pattern: list[str], path: list[Any] | None = None) -> list[tuple[list[Any], Any]]:
    path = path or []
    if not pattern:
        return [(path, node)]
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        items = list(enumerate(node)) if isinstance(node, list) else list(node.items()) if isinstance(node, dict) else []
        return [m for key, value in items for m in _matching(value, rest, path + [key])]
    if isinstance(node, dict) and head in node:
        return _matching(node[head], rest, path + [head])
    return []


def _quantity_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        mib = quantity_to_mib(value)
    except (ValueError, ArithmeticError, KeyError):
        return f"{value!r} is not a size"
    if mib < 1:
        return f"{value} is less than 1 MiB, which rounds to nothing"
    if mib > MAX_QUANTITY_MIB:
        return f"{value[:40]}{'…' if len(value) > 40 else ''} is more than an exbibyte: no machine has that"
    return None


def _cidr_problem(text: str) -> tuple[str, str] | None:
    try:
        ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return f"{text!r} is not a valid network: {exc}", "write a CIDR such as 192.168.1.0/24 (IPv4 prefixes go to /32, IPv6 to /128; no leading zeros)"
        return (f"{text} has host bits set: the network is {network}",
                f"write {network} (the network's first address), or the prefix you meant")
    return None


def _schema_problems(data: Any, source: SourceMap) -> list[Problem]:
    if _surely_valid(data):
        return []
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
    """For oneOf/anyOf, report the alternative that got furthest, or, at equal depth, the one
    alternative whose type matched (an object with an unknown field is no boolean either)."""
    while error.context:
        deepest = max(error.context, key=lambda e: (len(e.absolute_path), e.validator != "type"))
        if len(deepest.absolute_path) <= len(error.absolute_path) and error.validator in ("oneOf", "anyOf"):
            typed = {e.relative_schema_path[0] for e in error.context if e.validator != "type"}
            if len(typed) != 1 or deepest.validator == "type":
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
        close = closest_match(field, allowed)
        hint = f"did you mean '{close}'?" if close else None
        allowed_text = ", ".join(allowed) if allowed else "no fields"
        hint = (hint + " " if hint else "") + f"allowed here: {allowed_text}"
        return f"unknown field '{field}'", hint, path + [field]
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        prop = schema.get("properties", {}).get(missing, {})
        if "const" in prop:
            where = "as the first line of the file" if not path else "here"
            hint = f"add '{missing}: {prop['const']}' {where}"
        else:
            hint = f"add '{missing}:' here" + (f": {prop['description']}" if prop.get("description") else "")
        return f"missing required field '{missing}'", hint, path
    if kind == "minItems":
        count: Any = error.validator_value
        what = "at least one entry" if count == 1 else f"at least {count} entries"
        return f"needs {what}, found {len(error.instance) if isinstance(error.instance, list) else 0}", \
            description or "see docs/inventory.md for this field", path
    if kind == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)  # type: ignore[union-attr]
        return f"{error.instance!r} is not allowed", f"use one of: {choices}", path
    if kind == "const":
        return f"expected {error.validator_value!r}, got {error.instance!r}", f"set it to {error.validator_value}", path
    if kind == "type":
        wanted: Any = error.validator_value
        expected = " or ".join(wanted) if isinstance(wanted, list) else str(wanted)
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
        registries=tuple(
            PrivateRegistry(i, r["name"], ipaddress.ip_address(r["address"]), r.get("tls", "none")) for i, r in enumerate(net.get("registries", []))
        ),
        bgp=Bgp(net["bgp"]["localAsn"], tuple(BgpPeer(ipaddress.ip_address(p["address"]), p["asn"], p.get("port", 179)) for p in net["bgp"]["peers"]))
        if "bgp" in net else None,
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
        engine=gitops.get("engine", DEFAULT_ENGINE),
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
            external_dns_pihole=PiholeServer(edns["pihole"]["server"], str(edns["pihole"].get("apiVersion", "6"))) if "pihole" in edns else None,
            external_dns_ovh_endpoint=edns.get("ovh", {}).get("endpoint", "ovh-eu"),
            lan_dns=_lan_dns(comps.get("lanDns", False)),
            load_balancer=comps.get("loadBalancer", "metallb"),
            storage=comps.get("storage", "auto"),
            monitoring=comps.get("monitoring", False),
            network_policies=comps.get("networkPolicies", True),
            backup=_backup(comps.get("backup")),
            osd_memory_target_mib=quantity_to_mib(comps["ceph"]["osdMemoryTarget"]) if "osdMemoryTarget" in comps.get("ceph", {}) else None,
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
        volumes=tuple(
            SharedVolume(i, v["name"], v["size"], v.get("accessMode", "ReadWriteMany"), v.get("storageClass"))
            for i, v in enumerate(data.get("volumes", []))
        ),
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


def _lan_dns(data: bool | dict[str, Any]) -> LanDns | None:
    if data is False:
        return None
    address = data.get("address") if isinstance(data, dict) else None
    return LanDns(ipaddress.ip_address(address) if address else None)


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
            Gpu(g["vendor"], g.get("model"), quantity_to_mib(g["memory"]) if "memory" in g else None, g.get("sharing", 1), g.get("driver"))
            for g in n.get("gpus", [])
        ),
        devices=tuple(Device(d["name"], d["type"], d["path"]) for d in n.get("devices", [])),
        labels=dict(n.get("labels", {})),
        taints=tuple(Taint(t["key"], t.get("value"), t["effect"]) for t in n.get("taints", [])),
        swap=n.get("swap", "auto"),
        kernel_modules=tuple(n.get("kernelModules", [])),
        service_lb=n.get("serviceLB"),
        zone=n.get("location", {}).get("zone"),
        host=n.get("location", {}).get("host"),
        os_release=n.get("osRelease"),
        osd_memory_target_mib=quantity_to_mib(n["osdMemoryTarget"]) if "osdMemoryTarget" in n else None,
    )


def _app(index: int, a: dict[str, Any]) -> App:
    image = a.get("image")
    replica_config = a.get("replicaConfig") or {}
    return App(
        index=index,
        name=a["name"],
        catalog=None if image else a.get("catalog", a["name"]),
        image=image,
        namespace=a.get("namespace"),
        replicas=a.get("replicas"),
        ports=_ports(a.get("ports", [])),
        env={k: _env_text(v) for k, v in a.get("env", {}).items()},
        persistence=tuple(
            AppVolume(v["name"], v["mountPath"], v.get("size", "1Gi"), v.get("existingClaim"), v.get("accessMode", "ReadWriteOnce"), v.get("storageClass"))
            for v in a.get("persistence", [])
        ),
        host=a.get("host"),
        ingress=a.get("ingress"),
        devices=tuple(a.get("devices", [])),
        gpu=a.get("gpu", 0),
        arches=tuple(a["arches"]) if "arches" in a else None,
        weight=a.get("weight"),
        values=a.get("values", {}),
        backup=a.get("backup", True),
        kind=a.get("kind", "Deployment"),
        command=tuple(a.get("command", [])),
        args=tuple(a.get("args", [])),
        cron_job=a.get("cronJob"),
        containers=tuple(_container(i, c) for i, c in enumerate(a.get("containers", []))),
        init_containers=tuple(_container(i, c) for i, c in enumerate(a.get("initContainers", []))),
        replica_mount_path=replica_config.get("mountPath"),
        replica_files=tuple(dict(files) for files in replica_config.get("replicas", [])),
        volumes=tuple(_mount(i, v) for i, v in enumerate(a.get("volumes", []))),
        routes=tuple(
            AppRoute(i, r["name"], r["path"], r.get("host"), r.get("stripPrefix", False), r.get("port"), tuple(r.get("middlewares", [])), dict(r.get("annotations", {})))
            for i, r in enumerate(a.get("routes", []))
        ),
        pull_secret=a.get("pullSecret", False),
    )


def _ports(raw: list[dict[str, Any]]) -> tuple[AppPort, ...]:
    return tuple(AppPort(p["name"], p["port"], p.get("protocol", "TCP")) for p in raw)


MOUNT_SOURCES = ("hostPath", "nfs", "emptyDir", "configMap", "secret", "shared")


def _mount(index: int, v: dict[str, Any]) -> AppMount:
    source = next(k for k in MOUNT_SOURCES if k in v)  # the schema allows exactly one
    return AppMount(index, v["name"], source, v[source], v.get("mountPath"), v.get("subPath"), v.get("readOnly", False), v.get("node"))


def _container(index: int, c: dict[str, Any]) -> AppContainer:
    return AppContainer(
        index=index,
        name=c["name"],
        image=c["image"],
        command=tuple(c.get("command", [])),
        args=tuple(c.get("args", [])),
        env={k: _env_text(v) for k, v in c.get("env", {}).items()},
        ports=_ports(c.get("ports", [])),
        probes=dict(c.get("probes", {})),
        resources=dict(c.get("resources", {})),
        security_context=dict(c.get("securityContext", {})),
        volume_mounts=tuple(dict(m) for m in c.get("volumeMounts", [])),
        gpu=c.get("gpu", 0),
        sidecar=c.get("sidecar", False),
    )


def _backup(raw: Any) -> Backup | None:
    """components.backup: false/absent is off; an object names the S3 target (true alone is
    refused by inventory.checks, with its location)."""
    if not isinstance(raw, dict):
        return None
    keep = {**dict(DEFAULT_KEEP), **raw.get("keep", {})}
    return Backup(
        s3_endpoint=raw["s3"]["endpoint"].rstrip("/"),
        s3_bucket=raw["s3"]["bucket"],
        schedule=raw.get("schedule", "@daily-random"),
        engine=raw.get("engine", "k8up"),
        s3_region=raw["s3"].get("region", "us-east-1"),
        keep=tuple((k, keep[k]) for k in ("last", "daily", "weekly", "monthly", "yearly") if k in keep),
    )


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
