"""What the app catalog offers, for people: `clustergen catalog [NAME]` and the catalog section
of docs/inventory.md. One reading of the catalog data serves both, so the two never disagree."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import catalog
from .errors import ClustergenError, Problem, closest_match
from .shared.merge import deep_merge

_SIZE = re.compile(r"^(\d+)(Mi|Gi|Ti)$")
_MIB = {"Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}


@dataclass(frozen=True)
class Volume:
    name: str
    mount_path: str
    size: str
    retained: bool


@dataclass(frozen=True)
class AppSummary:
    name: str
    description: str
    namespace: str
    arches: tuple[str, ...]
    weight: str
    devices: tuple[str, ...]
    gpu: str  # "", "optional" or "recommended": only ever asked for with `gpu:` in the inventory
    volumes: tuple[Volume, ...]
    ports: tuple[str, ...]  # name port/protocol
    web_port: str | None
    pod_security: str
    image: str
    env: tuple[tuple[str, str], ...]
    talks_to: tuple[str, ...]
    internet: bool
    notes: str
    database: str = ""  # the size of its CloudNativePG database ("" when it has none)
    cache: bool = False  # it needs a valkey in its namespace

    @property
    def storage(self) -> str:
        """Total size of the app's volumes, in the largest whole unit."""
        mib = 0
        for volume in self.volumes:
            match = _SIZE.match(volume.size)
            if match:
                mib += int(match.group(1)) * _MIB[match.group(2)]
        if not mib:
            return ""
        if mib < _MIB["Gi"]:
            return f"{mib}Mi"
        tenths = -(-mib * 10 // _MIB["Gi"])  # rounded up: the space to have free
        return f"{tenths // 10}Gi" if tenths % 10 == 0 else f"{tenths / 10:.1f}Gi"

    @property
    def needs(self) -> str:
        parts = [f"device: {', '.join(self.devices)}"] if self.devices else []
        if self.gpu:
            parts.append(f"GPU {self.gpu}")
        if self.storage:
            parts.append(f"storage {self.storage}")
        if self.database:
            parts.append(f"PostgreSQL {self.database} (CloudNativePG)")
        if self.cache:
            parts.append("a valkey beside it")
        return "; ".join(parts) or "-"


def summary(name: str) -> AppSummary:
    """One catalog app as the catalog command and the docs show it. Unknown names are the
    user's mistake (exit 2), with the closest name as a hint."""
    apps = catalog.apps()
    if name not in apps:
        close = closest_match(name, apps)
        hint = (f"did you mean '{close}'? " if close else "") + "`clustergen catalog` lists the apps"
        raise ClustergenError([Problem(f"'{name}' is not a catalog app", file="clustergen catalog", hint=hint)])
    from .plan.apps import pod_security_level

    entry = apps[name]
    values = deep_merge(entry.get("values") or {}, {"image": dict(entry["image"])})
    service = values.get("service") or {}
    ports = tuple(f"{p['name']} {p['port']}/{p.get('protocol', 'TCP')}" for p in service.get("ports") or [])
    volumes = tuple(
        Volume(key, str(v.get("mountPath", "")), str(v.get("size", "1Gi")), bool(v.get("retain", True)))
        for key, v in (values.get("persistence") or {}).items()
    )
    return AppSummary(
        name=name,
        description=entry["description"],
        namespace=entry["namespace"],
        arches=tuple(entry["arches"]),
        weight=entry.get("weight", "medium"),
        devices=tuple(entry.get("devices") or ()),
        gpu=str(entry.get("gpu") or ""),
        volumes=volumes,
        ports=ports,
        web_port=(entry.get("web") or {}).get("port"),
        pod_security=pod_security_level(values),
        image=f"{entry['image']['repository']}:{entry['image']['tag']}",
        env=tuple((k, str(v)) for k, v in sorted((values.get("env") or {}).items())),
        talks_to=tuple(entry.get("talks_to") or ()),
        internet=bool(entry.get("internet", True)),
        notes=(entry.get("notes") or "").strip(),
        database=str((entry.get("database") or {}).get("size") or "5Gi") if entry.get("database") else "",
        cache=bool(entry.get("redis")),
    )


def summaries() -> list[AppSummary]:
    return [summary(name) for name in sorted(catalog.apps())]


def list_text() -> str:
    """`clustergen catalog`: one line per app."""
    rows = [("NAME", "ARCHES", "NEEDS", "DESCRIPTION")]
    rows += [(s.name, ",".join(s.arches), s.needs, s.description) for s in summaries()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3] for row in rows]
    lines.append("")
    lines.append("`clustergen catalog NAME` shows an app's options; add it to the inventory with `apps: [{name: NAME}]`.")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def describe_text(name: str) -> str:
    """`clustergen catalog NAME`: what the app sets and needs, and its notes."""
    s = summary(name)
    reaches = ", ".join(s.talks_to) or "no other catalog app"
    lines = [
        f"{s.name}: {s.description}",
        "",
        f"image:         {s.image}",
        f"arches:        {', '.join(s.arches)}",
        f"namespace:     {s.namespace} (Pod Security {s.pod_security})",
        f"weight:        {s.weight}" + ("  (kept off nodes with 1 GiB or less)" if s.weight == "heavy" else ""),
        f"needs:         {s.needs}",
        f"ports:         {', '.join(s.ports) or '-'}",
        f"web UI:        {'ingress to port ' + s.web_port if s.web_port else 'none (no ingress)'}",
        f"network:       reaches {reaches}; " + ("may leave the cluster" if s.internet else "stays inside the cluster"),
    ]
    if s.volumes:
        lines.append("volumes:")
        lines += [f"  {v.name:<12} {v.mount_path}  {v.size}" + ("  retained" if v.retained else "") for v in s.volumes]
    if s.env:
        lines.append("environment:")
        lines += [f"  {key}={value}" for key, value in s.env]
    lines += ["", "Set in the inventory: replicas, env, persistence (size, existingClaim), host, ingress,",
              "devices, gpu, arches, weight, namespace, backup, and any charts/app value under `values`.",
              "", s.notes]
    return "\n".join(lines) + "\n"


def markdown() -> str:
    """The catalog section of docs/inventory.md."""
    lines = [
        "## The app catalog",
        "",
        "Apps named in `apps:` without an `image:` come from this catalog (`clustergen catalog` lists it,",
        "`clustergen catalog NAME` shows one app). Images are pinned and annotated for Renovate.",
        "Pod Security is the level the app's pods need; its namespace is labelled with the strictest",
        "level that admits every app in it.",
        "",
        "| app | arches | needs | namespace (Pod Security) | description |",
        "|---|---|---|---|---|",
    ]
    all_apps = summaries()
    for s in all_apps:
        lines.append(f"| [`{s.name}`](#app-{s.name}) | {', '.join(s.arches)} | {s.needs} | `{s.namespace}` ({s.pod_security}) | {s.description} |")
    for s in all_apps:
        lines += ["", f"### <a id=\"app-{s.name}\"></a>{s.name}", "", s.description + ".", "",
                  f"- image: `{s.image}`",
                  f"- ports: {', '.join(f'`{p}`' for p in s.ports) or 'none'}" + (f"; web UI through the ingress to `{s.web_port}`" if s.web_port else ""),
                  "- volumes: " + (", ".join(f"`{v.name}` at `{v.mount_path}` ({v.size}{', retained' if v.retained else ''})" for v in s.volumes) or "none"),
                  f"- reaches: {', '.join(f'`{t}`' for t in s.talks_to) or 'no other catalog app'}; " + ("may leave the cluster" if s.internet else "stays inside the cluster"),
                  "", s.notes]
    return "\n".join(lines) + "\n"
