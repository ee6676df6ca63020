"""Credentials between apps: who logs in to the MQTT broker, and which apps get a database.

The catalog says it: an entry that talks to ``mosquitto`` is a broker client (its ``mqtt:``
names the environment variables it reads its login from and the topics it may use), and an entry with ``database:`` gets a
CloudNativePG Cluster in its namespace. An entry with ``workload: false`` (``postgres``) is
only its database: it gets no release of charts/app. Each login is a password generated once into the
secrets store (key ``mqtt/<app>`` or ``postgres/<app>``), never rotated; the plan names the
Secrets and what they hold, render fills them from the store, and the apps' values point at
them. Decisions here; templates render.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from .. import catalog
from ..errors import PlanError, Problem
from ..inventory.model import Inventory
from .merge import deep_merge
from .model import AppPlan, DatabasePlan, GeneratedSecret

BROKER = "mosquitto"
# The broker's Secret: its password file, read from the environment by the pod's command.
BROKER_USERS_SECRET = "mosquitto-users"
BROKER_PASSWORD_FILE_KEY = "MOSQUITTO_PASSWORD_FILE"
# The CNPG operator's component key and namespace (the catalog's).
CNPG = "cloudnative-pg"
DEFAULT_DATABASE_SIZE = "5Gi"
DEFAULT_DATABASE_RESOURCES = {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
# The in-namespace cache an entry with ``redis:`` needs (a catalog app of its own).
REDIS = "valkey"
REDIS_PORT = 6379


def mqtt_store_key(app: str) -> str:
    return f"mqtt/{app}"


def postgres_store_key(app: str) -> str:
    return f"postgres/{app}"


def generated_store_key(app: str, env: str) -> str:
    return f"app/{app}/{env}"


def _entry(app: AppPlan) -> dict[str, Any]:
    return catalog.apps()[app.catalog] if app.catalog else {}


def wants_database(inv: Inventory) -> bool:
    """Whether any app gets a CloudNativePG database (the operator is then installed)."""
    return any(app.catalog and catalog.apps().get(app.catalog, {}).get("database") for app in inv.apps)


def plan_wiring(inv: Inventory, apps: list[AppPlan], storage_class: str) -> tuple[list[AppPlan], tuple[GeneratedSecret, ...], tuple[DatabasePlan, ...]]:
    """The apps with their credentials wired in, the Secrets that hold them, and the databases."""
    secrets: list[GeneratedSecret] = []
    patches: dict[str, dict[str, Any]] = {}
    _wire_broker(apps, secrets, patches)
    for app in apps:
        _wire_app_env(inv, app, apps, secrets, patches)
    databases = [_wire_database(app, spec, storage_class, secrets, patches)
                 for app in apps if (spec := _entry(app).get("database"))]
    wired = [dataclasses.replace(a, cluster_values=deep_merge(a.cluster_values, patches[a.name])) if a.name in patches else a
             for a in apps if _entry(a).get("workload", True)]
    return wired, tuple(secrets), tuple(databases)


def _wire_broker(apps: list[AppPlan], secrets: list[GeneratedSecret], patches: dict[str, dict[str, Any]]) -> None:
    broker = next((a for a in apps if a.catalog == BROKER), None)
    if broker is None:
        return
    # Every app that talks to the broker logs in. Its entry's ``mqtt:`` says which variables
    # it reads the login from and which topics it may use; without one, the login is only in
    # its Secret (username, password) for the user to enter, and it may use every topic.
    clients = [a for a in apps if a is not broker and BROKER in (_entry(a).get("talks_to") or ())]
    users = tuple((a.name, mqtt_store_key(a.name)) for a in clients)
    secrets.append(GeneratedSecret(BROKER_USERS_SECRET, broker.namespace, "Opaque",
                                   ((BROKER_PASSWORD_FILE_KEY, ("mosquitto-passwd", users)),)))
    patches[broker.name] = {
        "configFiles": {"files": {"acl": broker_acl(clients)}},
        # A new client's login is in the password file only after the broker restarts.
        "podAnnotations": {"clustergen.dev/mqtt-users": hashlib.sha256(",".join(u for u, _ in users).encode()).hexdigest()[:16]},
    }
    for client in clients:
        env = (_entry(client).get("mqtt") or {}).get("env") or {}
        name = f"{client.name}-mqtt"
        data = ((env.get("user", "username"), ("literal", client.name)),
                (env.get("password", "password"), ("password", mqtt_store_key(client.name))))
        secrets.append(GeneratedSecret(name, client.namespace, "Opaque", data))
        if env:
            _add_env_from(patches, client, name)


def _wire_app_env(inv: Inventory, app: AppPlan, apps: list[AppPlan], secrets: list[GeneratedSecret],
                  patches: dict[str, dict[str, Any]]) -> None:
    """Generated values, the app's own URL and its cache's address, as the app's env."""
    entry = _entry(app)
    env: dict[str, Any] = {}
    generated = entry.get("generated_env") or ()
    if generated:
        # Values the app needs and nobody types in (a signing key, the first admin's password).
        secrets.append(GeneratedSecret(f"{app.name}-generated", app.namespace, "Opaque", tuple(
            (n, ("password", generated_store_key(app.name, n))) for n in generated)))
        _add_env_from(patches, app, f"{app.name}-generated")
    if entry.get("host_env") and app.host:
        env[entry["host_env"]] = app.host
    if entry.get("url_env") and app.host:
        tls = ((app.cluster_values.get("ingress") or {}).get("tls") or {}).get("enabled")
        env[entry["url_env"]] = f"{'https' if tls else 'http'}://{app.host}"
    if entry.get("redis"):
        env.update(_cache_env(inv, app, apps, entry["redis"]))
    if env:
        patches.setdefault(app.name, {}).setdefault("env", {}).update(env)


def _cache_env(inv: Inventory, app: AppPlan, apps: list[AppPlan], redis: dict[str, Any]) -> dict[str, str]:
    cache = next((a for a in apps if a.catalog == REDIS and a.namespace == app.namespace), None)
    if cache is None:
        raise PlanError([Problem(
            f"app '{app.name}' needs a {REDIS} in its namespace {app.namespace}, and the inventory has none",
            hint=f"add - {{name: {app.name}-{REDIS}, catalog: {REDIS}, namespace: {app.namespace}}} to apps",
            **inv.where("apps", app.index, "name"))])
    env: dict[str, str] = {}
    if redis.get("env"):
        env[redis["env"]] = f"redis://{cache.name}.{cache.namespace}.svc:{REDIS_PORT}"
    if redis.get("host_env"):
        env[redis["host_env"]] = f"{cache.name}.{cache.namespace}.svc"
    if redis.get("port_env"):
        env[redis["port_env"]] = str(REDIS_PORT)
    return env


def _wire_database(app: AppPlan, spec: dict[str, Any], storage_class: str, secrets: list[GeneratedSecret],
                   patches: dict[str, dict[str, Any]]) -> DatabasePlan:
    db = _database(app, spec, storage_class)
    secrets.append(GeneratedSecret(db.secret, db.namespace, "kubernetes.io/basic-auth",
                                   (("username", ("literal", db.owner)), ("password", ("password", postgres_store_key(app.name))))))
    env = spec.get("env") or {}
    if env.get("password"):
        env_secret = f"{db.name}-env"
        secrets.append(GeneratedSecret(env_secret, db.namespace, "Opaque",
                                       ((env["password"], ("password", postgres_store_key(app.name))),)))
        _add_env_from(patches, app, env_secret)
    plain = {env[k]: v for k, v in (("host", db.host), ("port", "5432"), ("database", db.database), ("user", db.owner)) if env.get(k)}
    if plain:
        patches.setdefault(app.name, {}).setdefault("env", {}).update(plain)
    return db


def _add_env_from(patches: dict[str, dict[str, Any]], app: AppPlan, secret: str) -> None:
    """The app's envFrom list (the user's entries and earlier wiring kept) with the Secret added once."""
    merged = deep_merge(deep_merge(app.base_values, app.cluster_values), patches.get(app.name, {}))
    current = list(merged.get("envFrom") or [])
    ref = {"secretRef": {"name": secret}}
    patches.setdefault(app.name, {})["envFrom"] = current if ref in current else [*current, ref]


def broker_acl(clients: list[AppPlan]) -> str:
    """Mosquitto's acl_file: each client its own topics; no user, no topic."""
    lines = ["# Generated by clustergen: each MQTT client's topics (a client without an entry may use none)."]
    for client in clients:
        lines.append(f"user {client.name}")
        lines.extend(f"topic readwrite {topic}" for topic in (_entry(client).get("mqtt") or {}).get("topics") or ["#"])
    return "\n".join(lines) + "\n"


def _postgres_image(app: AppPlan, spec: dict[str, Any]) -> str:
    """The database's own image, else (an entry that is only a database) the app's image, else CNPG's default."""
    if spec.get("image"):
        return f"{spec['image']['repository']}:{spec['image']['tag']}"
    if not _entry(app).get("workload", True):
        return app.image
    return catalog.component(CNPG)["postgres_image"]


def _database(app: AppPlan, spec: dict[str, Any], storage_class: str) -> DatabasePlan:
    name = spec.get("name") or app.name.replace("-", "_")
    return DatabasePlan(
        app=app.name,
        name=f"{app.name}-db",
        namespace=app.namespace,
        database=name,
        owner=spec.get("owner") or name,
        secret=f"{app.name}-db-owner",
        image=_postgres_image(app, spec),
        instances=int(spec.get("instances") or 1),
        storage_class=storage_class,
        size=str(spec.get("size") or DEFAULT_DATABASE_SIZE),
        resources=deep_merge(DEFAULT_DATABASE_RESOURCES, spec.get("resources") or {}),
        postgresql=dict(spec.get("postgresql") or {}),
        post_init_sql=tuple(spec.get("post_init_sql") or ()),
    )
