"""Rules a JSON Schema cannot express: uniqueness, address arithmetic, references.

Each check returns Problems located at the offending field so the user sees
file:line:column, the field path and a hint.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Iterator
from functools import cache, lru_cache

from .. import catalog
from ..errors import Problem, closest_match
from .model import Inventory


def check_inventory(inv: Inventory) -> list[Problem]:
    problems: list[Problem] = []
    for check in (
        _timezone_exists,
        _unique_nodes,
        _addresses_in_node_cidr,
        _cidrs_do_not_overlap,
        _vip_and_pool_free,
        _profiles_known,
        _distribution_fields,
        _control_plane_count,
        _tls_settings,
        _backup_target,
        _load_balancer_pool_present,
        _service_lb_nodes,
        _apps_known_and_unique,
        _app_devices_exist,
        _external_services,
    ):
        problems.extend(check(inv))
    return problems


@cache
def _timezones() -> frozenset[str]:
    try:
        import zoneinfo

        return frozenset(zoneinfo.available_timezones())
    except Exception:  # no time zone database at all: nothing to check against
        return frozenset()


# CPython's default for zoneinfo.TZPATH (its --with-tzpath build setting).
_DEFAULT_TZPATH = ("/usr/share/zoneinfo", "/usr/lib/zoneinfo", "/usr/share/lib/zoneinfo", "/etc/zoneinfo")


def _zone_roots() -> tuple[str, ...]:
    """zoneinfo.TZPATH, without importing zoneinfo where it would be the default: the import
    (it asks sysconfig for the build setting) cost more than the look at the file. A
    PYTHONTZPATH, or a zoneinfo already imported (reset_tzpath may have changed it), is used."""
    module = sys.modules.get("zoneinfo")
    if module is None and "PYTHONTZPATH" not in os.environ:
        return _DEFAULT_TZPATH
    import zoneinfo

    return zoneinfo.TZPATH


def _zone_file(name: str) -> bool:
    """True when `name` is one of zoneinfo.available_timezones() by a direct look at its file
    (listing them all walks the whole database: most of a fast run's checks). False is no
    verdict: the full list then decides."""
    parts = name.split("/")
    # available_timezones() leaves out posixrules and the right/ and posix/ copies.
    if not name or name == "posixrules" or parts[0] in ("right", "posix") or any(p in ("", ".", "..") for p in parts):
        return False
    for root in _zone_roots():
        candidate = os.path.join(root, name)
        try:
            # os.walk, which the list is made with, does not enter linked folders.
            if os.path.realpath(os.path.dirname(candidate)) != os.path.join(os.path.realpath(root), *parts[:-1]):
                continue
            with open(candidate, "rb") as fh:
                if fh.read(4) == b"TZif":
                    return True
        except (OSError, ValueError):
            continue
    return False


def _timezone_exists(inv: Inventory) -> Iterator[Problem]:
    if _zone_file(inv.timezone):
        return
    known = _timezones()
    if known and inv.timezone not in known:
        close = closest_match(inv.timezone, known)
        yield Problem(
            f"'{inv.timezone}' is not a time zone",
            hint=(f"did you mean '{close}'? " if close else "") + "write an IANA time zone such as Europe/Amsterdam or Etc/UTC",
            **inv.where("cluster", "timezone"),
        )


def _unique_nodes(inv: Inventory) -> Iterator[Problem]:
    seen: dict[str, dict[object, str]] = {"name": {}, "address": {}, "mac": {}}
    for node in inv.nodes:
        for field, values in (("name", [node.name]), ("address", list(node.addresses)), ("mac", [node.mac] if node.mac else [])):
            for value in values:
                first = seen[field].get(value)
                if first is not None:
                    yield Problem(
                        f"{field} {value} is used by node '{first}' already",
                        hint=f"every node needs its own {field}",
                        **inv.where("nodes", node.index, field),
                    )
                else:
                    seen[field][value] = node.name


def _addresses_in_node_cidr(inv: Inventory) -> Iterator[Problem]:
    cidrs = inv.network.node_cidrs
    cidr_text = ", ".join(map(str, cidrs))
    for node in inv.nodes:
        for address in node.addresses:
            if not any(address in net for net in cidrs if net.version == address.version):
                yield Problem(
                    f"address {address} is outside the node network {cidr_text}",
                    hint="fix the address, or widen network.nodeCidr",
                    **inv.where("nodes", node.index, "address"),
                )
    for gateway in inv.network.gateways:
        if not any(gateway in net for net in cidrs if net.version == gateway.version):
            yield Problem(
                f"gateway {gateway} is outside the node network {cidr_text}",
                hint="the gateway must be on the same LAN as the nodes",
                **inv.where("network", "gateway"),
            )


def _cidrs_do_not_overlap(inv: Inventory) -> Iterator[Problem]:
    named = [("nodeCidr", n) for n in inv.network.node_cidrs]
    named += [("podCidr", n) for n in inv.network.pod_cidrs]
    named += [("serviceCidr", n) for n in inv.network.service_cidrs]
    for i, (field_a, a) in enumerate(named):
        for field_b, b in named[i + 1 :]:
            if a.version == b.version and a.overlaps(b):
                yield Problem(
                    f"{field_b} {b} overlaps {field_a} {a}",
                    hint="pick ranges that do not overlap; the k3s defaults are 10.42.0.0/16 for pods and 10.43.0.0/16 for services",
                    **inv.where("network", field_b),
                )


@lru_cache(maxsize=256)
def pool_addresses(pool: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
    """First and last address of a CIDR or start-end range. Remembered: the pool is checked
    against every node's address (immutable values, so the answer can be shared)."""
    if "/" in pool:
        net = ipaddress.ip_network(pool, strict=False)
        return net[0], net[-1]
    start, end = pool.split("-", 1)
    return ipaddress.ip_address(start.strip()), ipaddress.ip_address(end.strip())


def _in_pool(address: object, pool: str) -> bool:
    try:
        first, last = pool_addresses(pool)
    except ValueError:
        return False  # reported by _vip_and_pool_free
    return getattr(address, "version", None) == first.version and first <= address <= last  # type: ignore[operator]


def _vip_and_pool_free(inv: Inventory) -> Iterator[Problem]:
    net = inv.network
    node_by_address = {a: n for n in inv.nodes for a in n.addresses}
    vip = net.control_plane_endpoint
    if vip is not None:
        if vip in node_by_address:
            yield Problem(
                f"the control-plane VIP {vip} is node '{node_by_address[vip].name}''s own address",
                hint="a VIP must be a free address that floats between the control planes",
                **inv.where("network", "controlPlaneEndpoint"),
            )
        if not any(vip in c for c in net.node_cidrs if c.version == vip.version):
            yield Problem(
                f"the control-plane VIP {vip} is outside the node network",
                hint="an L2 VIP must be in network.nodeCidr",
                **inv.where("network", "controlPlaneEndpoint"),
            )
    for i, pool in enumerate(net.load_balancer_pools):
        path = ("network", "loadBalancerPool", i) if isinstance(inv.raw["network"].get("loadBalancerPool"), list) else ("network", "loadBalancerPool")
        try:
            first, last = pool_addresses(pool)
        except ValueError as exc:
            yield Problem(f"{pool!r} is not a valid pool: {exc}", hint="write 192.168.1.240/28 or 192.168.1.240-192.168.1.250", **inv.where(*path))
            continue
        if first.version != last.version or first > last:  # type: ignore[operator]  # the versions are compared first
            yield Problem(f"pool {pool} runs backwards or mixes IPv4 and IPv6", hint="write start-end with start <= end", **inv.where(*path))
            continue
        for address, node in node_by_address.items():
            if _in_pool(address, pool):
                yield Problem(
                    f"load-balancer pool {pool} contains node '{node.name}''s address {address}",
                    hint="shrink the pool or move it to addresses your DHCP server does not hand out",
                    **inv.where(*path),
                )
        if vip is not None and _in_pool(vip, pool):
            yield Problem(f"load-balancer pool {pool} contains the control-plane VIP {vip}", hint="keep the VIP out of the pool", **inv.where(*path))
    if net.ingress_address is not None and net.load_balancer_pools \
            and not any(_in_pool(net.ingress_address, p) for p in net.load_balancer_pools):
        yield Problem(
            f"ingressAddress {net.ingress_address} is not in the load-balancer pool",
            hint="pick an address inside network.loadBalancerPool",
            **inv.where("network", "ingressAddress"),
        )


def _profiles_known(inv: Inventory) -> Iterator[Problem]:
    known = set(catalog.profiles()) | set(inv.profiles)
    for node in inv.nodes:
        if node.profile not in known:
            close = closest_match(node.profile, known)
            hint = f"did you mean '{close}'? " if close else ""
            yield Problem(
                f"unknown hardware profile '{node.profile}'",
                hint=hint + "known profiles: " + ", ".join(sorted(known)) + "; or define it under profiles:",
                **inv.where("nodes", node.index, "profile"),
            )


def _distribution_fields(inv: Inventory) -> Iterator[Problem]:
    """Fields that belong to one distribution only, and versions that name the other."""
    version = inv.distribution_version
    if inv.distribution == "k3s":
        if version and "+k3s" not in version:
            yield Problem(
                f"'{version}' is not a k3s release: k3s versions end in +k3sN",
                hint="write e.g. v1.36.1+k3s1, or leave version out for the tested default",
                **inv.where("distribution", "version"),
            )
        for key, what in (("kubernetesVersion", "the k3s version already pins Kubernetes"), ("extensions", "system extensions are Talos's")):
            if key in inv.raw.get("distribution", {}):
                yield Problem(
                    f"distribution.{key} applies to Talos only; {what}",
                    hint=f"remove {key}, or set distribution.name: talos",
                    **inv.where("distribution", key),
                )
        return
    if version and "+k3s" in version:
        yield Problem(
            f"'{version}' is a k3s release, but the distribution is talos",
            hint="write a Talos release such as v1.13.9, or leave version out for the tested default",
            **inv.where("distribution", "version"),
        )
    elif version and not version.startswith(f"v{catalog.talos_minor()}."):
        yield Problem(
            f"Talos {version} is not the {catalog.talos_minor()} line clustergen's machine configs follow and are validated against",
            hint=f"use a v{catalog.talos_minor()}.x release, or check the generated configs against that version's schema",
            severity="warning",
            **inv.where("distribution", "version"),
        )
    if inv.components.load_balancer == "kube-vip":
        yield Problem(
            "loadBalancer: kube-vip is wired through k3s's manifests folder, which Talos does not have",
            hint="use loadBalancer: metallb on Talos (Talos holds the API VIP itself, without kube-vip)",
            **inv.where("components", "loadBalancer"),
        )
    if inv.components.load_balancer == "servicelb":
        yield Problem(
            "loadBalancer: servicelb is k3s's built-in klipper-lb, which Talos does not have",
            hint="use loadBalancer: metallb with a network.loadBalancerPool on Talos",
            **inv.where("components", "loadBalancer"),
        )
    for node in inv.nodes:
        if node.os is not None:
            yield Problem(
                f"node '{node.name}' sets os: {node.os}, but Talos nodes run Talos Linux",
                hint="remove os: from the node (it applies to k3s's cloud-init only)",
                **inv.where("nodes", node.index, "os"),
            )


def _control_plane_count(inv: Inventory) -> Iterator[Problem]:
    explicit = [n for n in inv.nodes if n.role == "controlplane"]
    if explicit and len(explicit) % 2 == 0:
        yield Problem(
            f"{len(explicit)} control planes: an even count adds no fault tolerance (etcd needs a majority, so 2 survive no more failures than 1)",
            hint="use 1, 3 or 5 control planes, or role: auto",
            severity="warning",
            code="even-control-planes",
            **inv.where("nodes", explicit[-1].index, "role"),
        )
    if len(explicit) > 1 and inv.network.control_plane_endpoint is None:
        yield Problem(
            f"{len(explicit)} control planes but no control-plane endpoint: nodes would join one server's address, which is a single point of failure",
            hint="set network.controlPlaneEndpoint to a free address for the API VIP",
            **inv.where("network"),
        )


def _tls_settings(inv: Inventory) -> Iterator[Problem]:
    if inv.components.tls_issuer == "letsencrypt" and not inv.components.tls_email:
        yield Problem(
            "Let's Encrypt needs an ACME account email",
            hint="set components.tls.email: you@example.com",
            **inv.where("components", "tls"),
        )


# Load balancers that hand out addresses from network.loadBalancerPool
# (servicelb uses the node addresses, none gives no addresses).
POOL_LOAD_BALANCERS = frozenset({"metallb", "kube-vip"})


def _backup_target(inv: Inventory) -> Iterator[Problem]:
    if inv.raw.get("components", {}).get("backup") is True:
        yield Problem(
            "components.backup: true says nothing about where the backups go",
            hint="give the S3 target: backup: {s3: {endpoint: https://minio.home.arpa:9000, bucket: backups}} (or false)",
            **inv.where("components", "backup"),
        )


def _load_balancer_pool_present(inv: Inventory) -> Iterator[Problem]:
    comps = inv.components
    if comps.load_balancer in POOL_LOAD_BALANCERS and not inv.network.load_balancer_pools:
        yield Problem(
            f"components.loadBalancer is {comps.load_balancer} but network.loadBalancerPool is empty",
            hint="give a range of free LAN addresses, e.g. 192.168.1.240-192.168.1.250, or set loadBalancer: servicelb (k3s) to use the node addresses",
            **inv.where("network"),
        )


def _service_lb_nodes(inv: Inventory) -> Iterator[Problem]:
    """serviceLB: on a node means something only with servicelb, and someone must serve."""
    flagged = [n for n in inv.nodes if n.service_lb is not None]
    if inv.components.load_balancer != "servicelb":
        for node in flagged:
            yield Problem(
                f"node '{node.name}' sets serviceLB, but components.loadBalancer is {inv.components.load_balancer}",
                hint="serviceLB applies to loadBalancer: servicelb only; remove it, or set loadBalancer: servicelb",
                **inv.where("nodes", node.index, "serviceLB"),
            )
        return
    if inv.nodes and all(n.service_lb is False for n in inv.nodes):
        yield Problem(
            "every node sets serviceLB: false, so no node would answer for LoadBalancer Services",
            hint="leave serviceLB out (or true) on at least one node",
            **inv.where("nodes", flagged[-1].index, "serviceLB"),
        )


def _apps_known_and_unique(inv: Inventory) -> Iterator[Problem]:
    known = catalog.apps()
    names: set[str] = set()
    for app in inv.apps:
        if app.name in names:
            yield Problem(f"app '{app.name}' is listed twice", hint="give the second one another name", **inv.where("apps", app.index, "name"))
        names.add(app.name)
        if app.is_custom:
            images = [(app.image, ("image",))] + [
                (c.image, (field, c.index, "image"))
                for field, containers in (("containers", app.containers), ("initContainers", app.init_containers))
                for c in containers
            ]
            for image, path in images:
                tag = image.rsplit("/", 1)[-1]  # type: ignore[union-attr]
                if "@" not in tag and (":" not in tag or tag.endswith(":latest")):
                    yield Problem(
                        f"image {image} is not pinned",
                        hint="add an explicit version tag (repository:1.2.3) or a digest; 'latest' changes under you",
                        **inv.where("apps", app.index, *path),
                    )
            if app.ingress and not app.ports:
                yield Problem("ingress is on but the app has no ports", hint="add ports: [{name: http, port: 8080}]", **inv.where("apps", app.index, "ingress"))
        elif app.catalog not in known:
            close = closest_match(app.catalog or "", known)
            field = "catalog" if "catalog" in inv.raw["apps"][app.index] else "name"
            hint = f"did you mean '{close}'? " if close else ""
            yield Problem(
                f"'{app.catalog}' is not a catalog app",
                hint=hint + "catalog apps: " + ", ".join(sorted(known)) + "; or give an image: for a custom app",
                **inv.where("apps", app.index, field),
            )


def _app_devices_exist(inv: Inventory) -> Iterator[Problem]:
    available = {d.name for n in inv.nodes for d in n.devices} | {d.type for n in inv.nodes for d in n.devices}
    known = catalog.apps()
    for app in inv.apps:
        wanted = list(app.devices)
        if not wanted and app.catalog in known:
            wanted = list(known[app.catalog].get("devices", []))
        for j, device in enumerate(wanted):
            if device not in available:
                where = inv.where("apps", app.index, "devices", j) if app.devices else inv.where("apps", app.index, "name")
                yield Problem(
                    f"app '{app.name}' needs a '{device}' device but no node has one",
                    hint=f"add it to the node it is plugged into: devices: [{{name: {device}, type: {device if device in ('zigbee', 'zwave', 'serial', 'coral', 'video', 'usb') else 'serial'}, path: /dev/serial/by-id/...}}]",
                    **where,
                )
        if app.gpu and not any(n.gpus for n in inv.nodes):
            yield Problem(f"app '{app.name}' needs a GPU but no node has one", hint="list the GPU under the node's gpus:, or drop gpu:", **inv.where("apps", app.index, "gpu"))


def _external_services(inv: Inventory) -> Iterator[Problem]:
    app_names = {(a.namespace, a.name) for a in inv.apps}
    seen: set[tuple[str, str]] = set()
    for svc in inv.external_services:
        key = (svc.namespace, svc.name)
        if key in seen or key in app_names:
            yield Problem(f"service name '{svc.name}' is used twice in namespace {svc.namespace}", hint="rename one of them", **inv.where("externalServices", svc.index, "name"))
        seen.add(key)
        if svc.host and not (svc.host == inv.domain or svc.host.endswith("." + inv.domain)):
            yield Problem(f"host {svc.host} is not under the cluster domain {inv.domain}", hint=f"use a name like {svc.name}.{inv.domain}", **inv.where("externalServices", svc.index, "host"))
