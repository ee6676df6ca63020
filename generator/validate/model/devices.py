"""Rule `devices`: a container that mounts a host device can open it, and a device
plugin's configuration is one it accepts.

The container runtime's device cgroup denies open() on a device node it did not
grant: only a privileged container, or one given the device by a device plugin
(an extended resource it requests), may use a hostPath character device.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..documents import Document, mapping
from .finding import Finding
from .workloads import PodTemplate, embedded_yaml

RULE = "devices"
_NODE_RESOURCES = ("cpu", "memory", "ephemeral-storage", "hugepages-")



def _device_volumes(spec: dict) -> dict[str, str]:
    out = {}
    for vol in spec.get("volumes") or []:
        vol = mapping(vol)
        host = mapping(vol.get("hostPath"))
        path = str(host.get("path") or "")
        if host.get("type") in ("CharDevice", "BlockDevice") or (path.startswith("/dev/") and path != "/dev/shm"):
            out[str(vol.get("name"))] = path
    return out


def _extended_resources(container: dict) -> list[str]:
    resources = mapping(container.get("resources"))
    names = set(mapping(resources.get("limits"))) | set(mapping(resources.get("requests")))
    return sorted(n for n in names if not str(n).startswith(_NODE_RESOURCES))


def check_devices(templates: list[PodTemplate], docs: list[Document]) -> list[Finding]:
    findings = []
    for t in templates:
        devices = _device_volumes(t.spec)
        if not devices:
            continue
        for field in ("initContainers", "containers"):
            for i, c in enumerate(t.spec.get(field) or []):
                c = mapping(c)
                used = [devices[m["name"]] for m in c.get("volumeMounts") or []
                        if isinstance(m, dict) and m.get("name") in devices]
                privileged = mapping(c.get("securityContext")).get("privileged") is True
                if used and not privileged and not _extended_resources(c):
                    findings.append(Finding(t.doc, (*t.base, field, i, "securityContext"),
                                            f"container {c.get('name')!r} mounts {', '.join(used)} but is neither privileged "
                                            "nor given the device by a device plugin: the device cgroup denies open()"))
    findings.extend(_time_slicing(docs))
    return findings


def _time_slicing(docs: list[Document]) -> Iterator[Finding]:
    """The NVIDIA device plugin refuses a time-slicing block with fewer than 2 replicas."""
    for d in docs:
        for key, inner in embedded_yaml(d, "timeSlicing"):
            config = mapping(inner[0] if inner else None)
            for r in mapping(mapping(config.get("sharing")).get("timeSlicing")).get("resources") or []:
                replicas = mapping(r).get("replicas")
                if isinstance(replicas, int) and replicas < 2:
                    yield Finding(d, ("data", key),
                                  f"time-slicing {mapping(r).get('name')} has replicas {replicas}: the device plugin "
                                  "refuses fewer than 2 (leave sharing out for an exclusive GPU)")
