"""The Pod Security Standards, evaluated on a pod spec.

One evaluator serves the plan (which level an app's namespace needs) and
`clustergen validate` (would the API server admit this pod at its namespace's
level). The controls and their allowed values follow the published standards
for Kubernetes 1.36: every baseline control, then every restricted one.
Pod-level settings are inherited by containers that do not set their own, as
the kubelet does; a container's own value wins.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

LEVELS = ("restricted", "baseline", "privileged")
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")

BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
})
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
RESTRICTED_VOLUMES = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
    "secret", "image",
})
_VOLUME_META = frozenset({"name"})
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


@dataclass(frozen=True)
class Violation:
    """One Pod Security Standards control a pod spec breaks, and at which level."""

    level: str  # the lowest level that forbids it: baseline or restricted
    control: str  # the standard's control name
    path: tuple[str | int, ...]  # inside the pod spec
    message: str


def _map(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def containers(spec: dict) -> Iterator[tuple[tuple[str | int, ...], dict]]:
    for field in CONTAINER_FIELDS:
        for i, c in enumerate(spec.get(field) or []):
            if isinstance(c, dict):
                yield (field, i), c


def evaluate(spec: dict, annotations: dict | None = None) -> list[Violation]:
    """Every control the pod spec breaks, baseline ones first."""
    spec = _map(spec)
    found = list(_baseline(spec, _map(annotations)))
    found.extend(_restricted(spec))
    return found


def required_level(spec: dict, annotations: dict | None = None) -> str:
    """The least permissive level that admits the pod."""
    levels = {v.level for v in evaluate(spec, annotations)}
    if "baseline" in levels:
        return "privileged"
    if "restricted" in levels:
        return "baseline"
    return "restricted"


def admitted(level: str, violations: list[Violation]) -> list[Violation]:
    """The violations that stop a pod at an ``enforce`` level."""
    if level == "privileged":
        return []
    if level == "baseline":
        return [v for v in violations if v.level == "baseline"]
    return violations


# -- baseline ---------------------------------------------------------------------------------

def _baseline(spec: dict, annotations: dict) -> Iterator[Violation]:
    pod_sc = _map(spec.get("securityContext"))
    yield from _host_namespaces(spec)
    yield from _host_process(spec, pod_sc)
    for path, c in containers(spec):
        sc = _map(c.get("securityContext"))
        here = (*path, "securityContext")
        if sc.get("privileged") is True:
            yield Violation("baseline", "Privileged Containers", (*here, "privileged"),
                            f"container {c.get('name')!r} is privileged")
        added = [str(a) for a in _map(sc.get("capabilities")).get("add") or []]
        extra = sorted(set(added) - BASELINE_CAPABILITIES)
        if extra:
            yield Violation("baseline", "Capabilities", (*here, "capabilities", "add"),
                            f"container {c.get('name')!r} adds capabilities {', '.join(extra)}")
        for j, port in enumerate(c.get("ports") or []):
            if isinstance(port, dict) and port.get("hostPort") not in (None, 0):
                yield Violation("baseline", "Host Ports", (*path, "ports", j, "hostPort"),
                                f"container {c.get('name')!r} uses hostPort {port.get('hostPort')}")
        if sc.get("procMount") not in (None, "Default"):
            yield Violation("baseline", "/proc Mount Type", (*here, "procMount"),
                            f"container {c.get('name')!r} sets procMount {sc.get('procMount')}")
        yield from _selinux(_map(sc.get("seLinuxOptions")), (*here, "seLinuxOptions"))
        yield from _seccomp_not_unconfined(_map(sc.get("seccompProfile")), (*here, "seccompProfile"))
        yield from _apparmor(_map(sc.get("appArmorProfile")), (*here, "appArmorProfile"))
    for i, vol in enumerate(spec.get("volumes") or []):
        if isinstance(vol, dict) and "hostPath" in vol:
            yield Violation("baseline", "HostPath Volumes", ("volumes", i, "hostPath"),
                            f"volume {vol.get('name')!r} is a hostPath ({_map(vol['hostPath']).get('path')})")
    yield from _selinux(_map(pod_sc.get("seLinuxOptions")), ("securityContext", "seLinuxOptions"))
    yield from _seccomp_not_unconfined(_map(pod_sc.get("seccompProfile")), ("securityContext", "seccompProfile"))
    yield from _apparmor(_map(pod_sc.get("appArmorProfile")), ("securityContext", "appArmorProfile"))
    for i, sysctl in enumerate(pod_sc.get("sysctls") or []):
        name = _map(sysctl).get("name")
        if name not in SAFE_SYSCTLS:
            yield Violation("baseline", "Sysctls", ("securityContext", "sysctls", i, "name"),
                            f"sysctl {name} is not in the safe set")
    for key, value in annotations.items():
        if str(key).startswith(_APPARMOR_ANNOTATION) and not (
                value == "runtime/default" or str(value).startswith("localhost/")):
            yield Violation("baseline", "AppArmor", (), f"annotation {key}: {value} is not runtime/default or localhost/*")


def _host_namespaces(spec: dict) -> Iterator[Violation]:
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field) is True:
            yield Violation("baseline", "Host Namespaces", (field,), f"{field} is true")


def _host_process(spec: dict, pod_sc: dict) -> Iterator[Violation]:
    if _map(pod_sc.get("windowsOptions")).get("hostProcess") is True:
        yield Violation("baseline", "HostProcess", ("securityContext", "windowsOptions", "hostProcess"),
                        "the pod is a Windows HostProcess pod")
    for path, c in containers(spec):
        if _map(_map(c.get("securityContext")).get("windowsOptions")).get("hostProcess") is True:
            yield Violation("baseline", "HostProcess", (*path, "securityContext", "windowsOptions", "hostProcess"),
                            f"container {c.get('name')!r} is a Windows HostProcess container")


def _selinux(options: dict, path: tuple) -> Iterator[Violation]:
    if str(options.get("type") or "") not in SELINUX_TYPES:
        yield Violation("baseline", "SELinux", (*path, "type"), f"SELinux type {options.get('type')} is not allowed")
    for key in ("user", "role"):
        if options.get(key):
            yield Violation("baseline", "SELinux", (*path, key), f"SELinux {key} may not be set")


def _seccomp_not_unconfined(profile: dict, path: tuple) -> Iterator[Violation]:
    if profile.get("type") == "Unconfined":
        yield Violation("baseline", "Seccomp", (*path, "type"), "seccomp profile is Unconfined")


def _apparmor(profile: dict, path: tuple) -> Iterator[Violation]:
    if profile.get("type") not in (None, "RuntimeDefault", "Localhost"):
        yield Violation("baseline", "AppArmor", (*path, "type"), f"AppArmor profile {profile.get('type')} is not allowed")


# -- restricted -------------------------------------------------------------------------------

def _restricted(spec: dict) -> Iterator[Violation]:
    pod_sc = _map(spec.get("securityContext"))
    for i, vol in enumerate(spec.get("volumes") or []):
        if not isinstance(vol, dict):
            continue
        kinds = sorted(set(vol) - _VOLUME_META - RESTRICTED_VOLUMES)
        if kinds and "hostPath" not in kinds:  # hostPath is already a baseline violation
            yield Violation("restricted", "Volume Types", ("volumes", i),
                            f"volume {vol.get('name')!r} is of type {', '.join(kinds)}")
    if pod_sc.get("runAsNonRoot") is False:
        yield Violation("restricted", "Running as Non-root", ("securityContext", "runAsNonRoot"),
                        "runAsNonRoot is false")
    if pod_sc.get("runAsUser") == 0:
        yield Violation("restricted", "Running as Non-root user", ("securityContext", "runAsUser"), "runAsUser is 0")
    pod_seccomp = _map(pod_sc.get("seccompProfile")).get("type")
    for path, c in containers(spec):
        yield from _restricted_container(path, c, pod_sc, pod_seccomp)


def _restricted_container(path: tuple, c: dict, pod_sc: dict, pod_seccomp: Any) -> Iterator[Violation]:
    sc = _map(c.get("securityContext"))
    here = (*path, "securityContext")
    name = c.get("name")
    if sc.get("allowPrivilegeEscalation") is not False:
        yield Violation("restricted", "Privilege Escalation", (*here, "allowPrivilegeEscalation"),
                        f"container {name!r} must set allowPrivilegeEscalation: false")
    own = sc.get("runAsNonRoot")
    # A pod-level false is reported once, at the pod; an unset one leaves it to the container.
    if own is False or (own is None and pod_sc.get("runAsNonRoot") is None):
        yield Violation("restricted", "Running as Non-root", (*here, "runAsNonRoot"),
                        f"container {name!r} must run with runAsNonRoot: true (pod or container)")
    if sc.get("runAsUser") == 0:
        yield Violation("restricted", "Running as Non-root user", (*here, "runAsUser"),
                        f"container {name!r} sets runAsUser 0")
    seccomp = _map(sc.get("seccompProfile")).get("type", pod_seccomp)
    if seccomp not in ("RuntimeDefault", "Localhost") and seccomp != "Unconfined":
        yield Violation("restricted", "Seccomp", (*here, "seccompProfile", "type"),
                        f"container {name!r} needs seccompProfile RuntimeDefault or Localhost (pod or container)")
    caps = _map(sc.get("capabilities"))
    dropped = {str(x) for x in caps.get("drop") or []}
    if "ALL" not in dropped:
        yield Violation("restricted", "Capabilities", (*here, "capabilities", "drop"),
                        f"container {name!r} must drop ALL capabilities")
    added = sorted({str(x) for x in caps.get("add") or []} - {"NET_BIND_SERVICE"})
    if added and not set(added) - BASELINE_CAPABILITIES:  # beyond baseline is reported there
        yield Violation("restricted", "Capabilities", (*here, "capabilities", "add"),
                        f"container {name!r} may add only NET_BIND_SERVICE, not {', '.join(added)}")
