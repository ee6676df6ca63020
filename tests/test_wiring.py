"""Credentials between apps (plan/wiring.py): the MQTT broker takes only the logins clustergen
generated for the apps wired to it, each app's pod reads its own, and the passwords live only
SOPS-encrypted and survive regeneration. Checked on the generated repository, with the real
Helm rendering charts/app and (where installed) a real Mosquitto checking the password file."""

from __future__ import annotations

import base64
import hashlib
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from generator.cli import main
from generator.render.secrets import mosquitto_password_line
from generator.write.sops import Decryption

from .conftest import EXAMPLES

CLUSTER = "shelf"
CLIENTS = {"zigbee2mqtt": "zigbee2mqtt", "home-assistant": "home-automation", "node-red": "node-red"}


def generate(tmp_path: Path, inventory: Path | None = None, name: str = "repo") -> Path:
    repo = tmp_path / name
    again = repo.exists()
    assert main(["generate", str(inventory or EXAMPLES / "mixed-shelf.yaml"), "-o", str(repo), *(["--allow-dirty"] if again else [])]) == 0
    return repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("wiring"))


def store(repo: Path) -> dict[str, Any]:
    return Decryption(repo / ".clustergen" / "secrets.sops.yaml", repo / ".clustergen" / "age.key").result()


def credentials(repo: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(namespace, name) → decrypted Secret, for every Secret in apps/credentials."""
    folder = repo / "overlays" / CLUSTER / "apps" / "credentials"
    listed = yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]
    found = {}
    for name in listed:
        if name.endswith(".sops.yaml"):
            secret = Decryption(folder / name, repo / ".clustergen" / "age.key").result()
            found[(secret["metadata"]["namespace"], secret["metadata"]["name"])] = secret
    return found


def release_values(repo: Path, app: str) -> dict[str, Any]:
    from generator.plan.merge import deep_merge

    base = yaml.safe_load((repo / "bases" / "apps" / app / "helmrelease.yaml").read_text())
    patch = yaml.safe_load((repo / "overlays" / CLUSTER / "apps" / "releases" / f"{app}-values.yaml").read_text())
    return deep_merge(base["spec"]["values"], patch["spec"]["values"])


def rendered(repo: Path, app: str, namespace: str) -> list[dict[str, Any]]:
    with helm.Chart.load(repo / "charts" / "app") as chart:
        out = chart.render(release_values(repo, app), name=app, namespace=namespace)
    return [d for path, text in sorted(out.items()) if not path.endswith("NOTES.txt") for d in yaml.safe_load_all(text) if d]


def pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (workload,) = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    return workload["spec"]["template"]["spec"]


def test_broker_config_refuses_anonymous_clients(repo: Path) -> None:
    docs = rendered(repo, "mosquitto", "home-automation")
    (config,) = [d for d in docs if d["kind"] == "ConfigMap"]
    lines = [line.strip() for line in config["data"]["mosquitto.conf"].splitlines() if line.strip() and not line.startswith("#")]
    assert "allow_anonymous false" in lines and "allow_anonymous true" not in lines
    assert "password_file /tmp/passwd" in lines and "acl_file /tmp/acl" in lines
    spec = pod(docs)
    (broker,) = spec["containers"]
    # The command writes the password file from the Secret's variable into /tmp, an emptyDir.
    assert broker["envFrom"] == [{"secretRef": {"name": "mosquitto-users"}},
                                 {"secretRef": {"name": "mosquitto-extra-users", "optional": True}}]
    assert "$MOSQUITTO_PASSWORD_FILE" in broker["command"][-1] and "> /tmp/passwd" in broker["command"][-1]
    assert broker["command"][-1].startswith("umask 077")
    assert {m["mountPath"] for m in broker["volumeMounts"]} >= {"/tmp", "/mosquitto/config", "/mosquitto/data"}
    # The ACL: one user per wired app, Zigbee2MQTT held to its own topics.
    acl = config["data"]["acl"]
    assert "user zigbee2mqtt\ntopic readwrite zigbee2mqtt/#\ntopic readwrite homeassistant/#\n" in acl
    assert [line.split()[1] for line in acl.splitlines() if line.startswith("user ")] == list(CLIENTS)


def test_broker_password_file_holds_a_hash_of_each_clients_password(repo: Path) -> None:
    passwords = store(repo)["appPasswords"]
    secret = credentials(repo)[("home-automation", "mosquitto-users")]
    lines = secret["stringData"]["MOSQUITTO_PASSWORD_FILE"].splitlines()
    assert [line.split(":", 1)[0] for line in lines] == list(CLIENTS)
    for line in lines:
        user, rest = line.split(":", 1)
        _, kind, iterations, salt, digest = rest.split("$")
        assert (kind, iterations) == ("7", "101") and len(base64.b64decode(salt)) == 12
        expected = hashlib.pbkdf2_hmac("sha512", passwords[f"mqtt/{user}"].encode(), base64.b64decode(salt), 101, 64)
        assert base64.b64decode(digest) == expected
        assert passwords[f"mqtt/{user}"] not in secret["stringData"]["MOSQUITTO_PASSWORD_FILE"]


@pytest.mark.parametrize(("app", "namespace", "user_key", "password_key"), [
    ("zigbee2mqtt", "zigbee2mqtt", "ZIGBEE2MQTT_CONFIG_MQTT_USER", "ZIGBEE2MQTT_CONFIG_MQTT_PASSWORD"),
    ("node-red", "node-red", "MQTT_USER", "MQTT_PASSWORD"),
])
def test_each_client_pod_reads_its_login_from_a_secret_that_holds_it(repo: Path, app: str, namespace: str, user_key: str, password_key: str) -> None:
    (container,) = pod(rendered(repo, app, namespace))["containers"]
    refs = [e["secretRef"]["name"] for e in container.get("envFrom") or [] if "secretRef" in e]
    assert refs == [f"{app}-mqtt"]
    secret = credentials(repo)[(namespace, f"{app}-mqtt")]
    assert secret["stringData"] == {user_key: app, password_key: store(repo)["appPasswords"][f"mqtt/{app}"]}
    assert not any(e["name"] in (user_key, password_key) for e in container.get("env") or [])


def test_home_assistant_gets_a_login_to_read_but_no_faked_integration(repo: Path) -> None:
    (container,) = pod(rendered(repo, "home-assistant", "home-automation"))["containers"]
    assert not container.get("envFrom")
    secret = credentials(repo)[("home-automation", "home-assistant-mqtt")]
    assert secret["stringData"] == {"username": "home-assistant", "password": store(repo)["appPasswords"]["mqtt/home-assistant"]}


def test_logins_are_only_encrypted_in_git(repo: Path) -> None:
    passwords = store(repo)["appPasswords"]
    assert set(passwords) == {f"mqtt/{app}" for app in CLIENTS}
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    for value in passwords.values():
        assert len(value) >= 32
        found = subprocess.run(["git", "-C", str(repo), "grep", "--cached", "-F", "-e", value], capture_output=True, text=True)
        assert found.returncode == 1, found.stdout
    raw = yaml.safe_load((repo / "overlays" / CLUSTER / "apps" / "credentials" / "zigbee2mqtt-zigbee2mqtt-mqtt.sops.yaml").read_text())
    assert all(v.startswith("ENC[") for v in raw["stringData"].values())


def test_regeneration_keeps_every_password_and_an_app_removed_keeps_its_own(tmp_path: Path) -> None:
    repo = generate(tmp_path)
    files = sorted((repo / "overlays" / CLUSTER / "apps" / "credentials").glob("*.sops.yaml")) + [repo / ".clustergen" / "secrets.sops.yaml"]
    before = {p: p.read_bytes() for p in files}
    passwords = store(repo)["appPasswords"]
    generate(tmp_path)
    assert {p: p.read_bytes() for p in files} == before
    # Without node-red the broker forgets its user, but the store keeps its password for its return.
    text = (EXAMPLES / "mixed-shelf.yaml").read_text().replace("  - name: node-red\n    devices: [arduino]\n", "")
    smaller = tmp_path / "without-node-red.yaml"
    smaller.write_text(text)
    generate(tmp_path, smaller)
    assert store(repo)["appPasswords"] == passwords
    users = credentials(repo)[("home-automation", "mosquitto-users")]["stringData"]["MOSQUITTO_PASSWORD_FILE"]
    assert [line.split(":")[0] for line in users.splitlines()] == ["zigbee2mqtt", "home-assistant"]
    assert not (repo / "overlays" / CLUSTER / "apps" / "credentials" / "node-red-node-red-mqtt.sops.yaml").exists()
    generate(tmp_path)
    assert credentials(repo)[("node-red", "node-red-mqtt")]["stringData"]["MQTT_PASSWORD"] == passwords["mqtt/node-red"]


@pytest.mark.parametrize(("user", "password", "other_user", "other_password"), [
    ("zigbee2mqtt", "a" * 32, "zigbee2mqtt", "a" * 31 + "b"),  # one character apart
    ("zigbee2mqtt", "a" * 32, "node-red", "a" * 32),  # same password, another user
])
def test_password_lines_are_stable_and_differ_per_login(user: str, password: str, other_user: str, other_password: str) -> None:
    line = mosquitto_password_line(user, password)
    assert line == mosquitto_password_line(user, password)
    assert line.startswith(f"{user}:$7$101$")
    other = mosquitto_password_line(other_user, other_password)
    assert other.split("$")[3] != line.split("$")[3] and other.split("$")[4] != line.split("$")[4]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not (shutil.which("mosquitto") and shutil.which("mosquitto_pub")), reason="mosquitto and mosquitto_pub are not installed")
def test_a_real_mosquitto_takes_the_generated_logins_and_refuses_others(repo: Path, tmp_path: Path) -> None:
    """The generated password file and ACL, read by the real broker (a 2.0 release: the $7$
    format is the same in 2.0.11 and the pinned 2.0.22, src/password_mosq.c)."""
    import os

    passwords = store(repo)["appPasswords"]
    # The broker's own start command writes the files, from the Secrets' variables (the
    # generated users, and one user of the operator's own in mosquitto-extra-users).
    acl = yaml.safe_load((repo / "overlays" / CLUSTER / "apps" / "releases" / "mosquitto-values.yaml").read_text())["spec"]["values"]["configFiles"]["files"]["acl"]
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "acl").write_text(acl)
    (container,) = pod(rendered(repo, "mosquitto", "home-automation"))["containers"]
    command = container["command"][-1].replace("/tmp/", f"{tmp_path}/").replace("/mosquitto/config/acl", f"{tmp_path}/config/acl")
    command = command.split(" && exec ")[0]
    extra = mosquitto_password_line("tasmota", "a-lan-device-password-0123456789") + "\n"
    env = {"PATH": "/usr/bin:/bin", "MOSQUITTO_PASSWORD_FILE": credentials(repo)[("home-automation", "mosquitto-users")]["stringData"]["MOSQUITTO_PASSWORD_FILE"],
           "MOSQUITTO_EXTRA_PASSWORDS": extra, "MOSQUITTO_EXTRA_ACL": "user tasmota\ntopic readwrite tasmota/#\n"}
    subprocess.run(["/bin/sh", "-c", command], env=env, check=True)
    assert (tmp_path / "passwd").stat().st_mode & 0o077 == 0  # only the broker's user reads it
    port = _free_port()
    (tmp_path / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {tmp_path}/passwd\nacl_file {tmp_path}/acl\nuser {os.getenv('USER') or 'root'}\n")
    (tmp_path / "m.conf").chmod(0o600)
    broker = subprocess.Popen(["mosquitto", "-c", str(tmp_path / "m.conf")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)

        def publish(*login: str, topic: str = "zigbee2mqtt/bridge/state") -> int:
            args = ["-u", login[0], "-P", login[1]] if login else []
            return subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), *args, "-t", topic, "-m", "x"],
                                  capture_output=True, timeout=10).returncode

        assert publish("zigbee2mqtt", passwords["mqtt/zigbee2mqtt"]) == 0
        assert publish("node-red", passwords["mqtt/node-red"], topic="anything/else") == 0
        assert publish("zigbee2mqtt", passwords["mqtt/node-red"]) != 0  # another app's password
        assert publish("zigbee2mqtt", passwords["mqtt/zigbee2mqtt"][:-1]) != 0
        assert publish() != 0  # anonymous
        assert publish("tasmota", "a-lan-device-password-0123456789", topic="tasmota/plug") == 0
    finally:
        broker.terminate()
        broker.wait(timeout=10)


# ---- databases through CloudNativePG ------------------------------------------------------

SHARED_CNPG_SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "crds" / "postgresql.cnpg.io" / "cluster_v1.json"


def with_apps(tmp_path: Path, *names: str, example: str = "single-mini-pc", engine: str = "flux") -> Path:
    text = (EXAMPLES / f"{example}.yaml").read_text()
    text = text.replace("apps:\n", "apps:\n" + "".join(f"  - {n}\n" if n.startswith("{") else f"  - name: {n}\n" for n in names), 1)
    text = text.replace("  engine: flux\n", f"  engine: {engine}\n")
    path = tmp_path / f"{example}-{engine}-{len(names)}-{names[0] if names else 'none'}.yaml"
    path.write_text(text)
    return path


def docs_in(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_a_database_app_gets_a_cnpg_cluster_with_its_owner_secret_and_no_workload(tmp_path: Path) -> None:
    repo = generate(tmp_path, with_apps(tmp_path, "postgres"))
    folder = repo / "overlays" / "tiny" / "apps" / "credentials"
    (cluster,) = docs_in(folder / "databases.yaml")
    assert (cluster["apiVersion"], cluster["kind"]) == ("postgresql.cnpg.io/v1", "Cluster")
    assert cluster["metadata"]["namespace"] == "postgres" and cluster["metadata"]["name"] == "postgres-db"
    assert cluster["metadata"]["annotations"] == {"kustomize.toolkit.fluxcd.io/prune": "disabled"}
    spec = cluster["spec"]
    assert spec["instances"] == 1 and spec["storage"] == {"storageClass": "local-path", "size": "10Gi"}
    assert spec["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}
    initdb = spec["bootstrap"]["initdb"]
    assert (initdb["database"], initdb["owner"]) == ("app", "app")
    # CNPG reads the owner's login from a kubernetes.io/basic-auth Secret, username and password keys.
    secret = Decryption(folder / f"postgres-{initdb['secret']['name']}.sops.yaml", repo / ".clustergen" / "age.key").result()
    assert secret["type"] == "kubernetes.io/basic-auth"
    assert secret["stringData"] == {"username": "app", "password": store(repo)["appPasswords"]["postgres/postgres"]}
    assert not (repo / "bases" / "apps" / "postgres").exists()
    namespaces = docs_in(repo / "overlays" / "tiny" / "apps" / "namespaces.yaml")
    (ns,) = [n for n in namespaces if n["metadata"]["name"] == "postgres"]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    if SHARED_CNPG_SCHEMA.is_file():
        import jsonschema

        jsonschema.validate(cluster, yaml.safe_load(SHARED_CNPG_SCHEMA.read_text()))


@pytest.mark.parametrize(("apps", "operator"), [((), False), (("home-assistant",), False), (("postgres",), True)])
def test_the_operator_comes_with_the_first_database_in_the_controllers_layer(tmp_path: Path, apps: tuple[str, ...], operator: bool) -> None:
    repo = generate(tmp_path, with_apps(tmp_path, *apps))
    controllers = yaml.safe_load((repo / "overlays" / "tiny" / "infrastructure" / "controllers" / "kustomization.yaml").read_text())
    assert ("../../../../bases/cloudnative-pg" in controllers["resources"]) is operator
    assert (repo / "overlays" / "tiny" / "apps" / "credentials" / "databases.yaml").exists() is operator
    if operator:
        (release,) = [d for d in docs_in(repo / "bases" / "cloudnative-pg" / "helmrelease.yaml") if d["kind"] == "HelmRelease"]
        assert release["metadata"]["namespace"] == "cnpg-system"
        assert release["spec"]["chart"]["spec"]["version"] == "0.29.0"
        assert release["spec"]["values"]["crds"] == {"create": True}


def test_database_namespace_lets_the_operator_reach_the_status_port_and_the_instances_reach_the_api(tmp_path: Path) -> None:
    repo = generate(tmp_path, with_apps(tmp_path, "postgres"))
    policies = {(d["metadata"]["namespace"], d["metadata"]["name"]): d["spec"] for d in docs_in(repo / "overlays" / "tiny" / "apps" / "network-policies.yaml")}
    operator = policies[("postgres", "allow-from-cnpg-system")]
    # Only the instances: an app in the namespace listening on 8000 is not opened to the operator.
    assert operator["podSelector"] == {"matchExpressions": [{"key": "cnpg.io/cluster", "operator": "Exists"}]}
    assert operator["ingress"] == [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "cnpg-system"}}}],
                                    "ports": [{"port": 8000, "protocol": "TCP"}]}]
    api = policies[("postgres", "allow-to-api-server")]
    assert api["podSelector"] == {"matchExpressions": [{"key": "cnpg.io/cluster", "operator": "Exists"}]}
    assert api["egress"] == [{"to": [{"ipBlock": {"cidr": "192.168.1.10/32"}}], "ports": [{"port": 6443, "protocol": "TCP"}]}]
    assert ("postgres", "allow-outside-cluster") not in policies
    # Apps in the namespace reach their database like any neighbour.
    assert policies[("postgres", "allow-same-namespace")]["egress"] == [{"to": [{"podSelector": {}}]}]
    # Namespaces without a database get neither.
    assert not [k for k in policies if k[0] != "postgres" and k[1] in ("allow-from-cnpg-system", "allow-to-api-server")]


# ---- apps on their databases ----------------------------------------------------------------

DB_APPS = ("nextcloud", "paperless-ngx", "{name: paperless-ngx-valkey, catalog: valkey, namespace: paperless-ngx}",
           "immich", "{name: immich-valkey, catalog: valkey, namespace: immich}")


@pytest.fixture(scope="module")
def db_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("db-apps")
    return generate(tmp, with_apps(tmp, *DB_APPS), name="repo")


def tiny_release(repo: Path, app: str, namespace: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from generator.plan.merge import deep_merge

    base = yaml.safe_load((repo / "bases" / "apps" / app / "helmrelease.yaml").read_text())
    patch = yaml.safe_load((repo / "overlays" / "tiny" / "apps" / "releases" / f"{app}-values.yaml").read_text())
    values = deep_merge(base["spec"]["values"], patch["spec"]["values"])
    with helm.Chart.load(repo / "charts" / "app") as chart:
        out = chart.render(values, name=app, namespace=namespace)
    return values, [d for path, text in sorted(out.items()) if not path.endswith("NOTES.txt") for d in yaml.safe_load_all(text) if d]


def tiny_credentials(repo: Path) -> dict[tuple[str, str], dict[str, Any]]:
    folder = repo / "overlays" / "tiny" / "apps" / "credentials"
    return {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in
            (Decryption(p, repo / ".clustergen" / "age.key").result() for p in sorted(folder.glob("*.sops.yaml")))}


@pytest.mark.parametrize(("app", "env"), [
    ("nextcloud", {"host": "POSTGRES_HOST", "database": "POSTGRES_DB", "user": "POSTGRES_USER", "password": "POSTGRES_PASSWORD"}),
    ("paperless-ngx", {"host": "PAPERLESS_DBHOST", "database": "PAPERLESS_DBNAME", "user": "PAPERLESS_DBUSER", "password": "PAPERLESS_DBPASS"}),
    ("immich", {"host": "DB_HOSTNAME", "database": "DB_DATABASE_NAME", "user": "DB_USERNAME", "password": "DB_PASSWORD"}),
])
def test_app_reads_host_user_and_the_owner_password_cnpg_was_given(db_repo: Path, app: str, env: dict[str, str]) -> None:
    _, docs = tiny_release(db_repo, app, app)
    (container,) = pod(docs)["containers"]
    plain = {e["name"]: e.get("value") for e in container["env"]}
    (cluster,) = [c for c in docs_in(db_repo / "overlays" / "tiny" / "apps" / "credentials" / "databases.yaml") if c["metadata"]["namespace"] == app]
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    # The host is the Cluster's read-write Service; the user and database are the ones initdb makes.
    assert plain[env["host"]] == f"{cluster['metadata']['name']}-rw.{app}.svc"
    assert (plain[env["user"]], plain[env["database"]]) == (initdb["owner"], initdb["database"])
    assert env["password"] not in plain
    found = tiny_credentials(db_repo)
    owner = found[(app, initdb["secret"]["name"])]
    refs = [e["secretRef"]["name"] for e in container["envFrom"]]
    holding = [found[(app, r)] for r in refs if env["password"] in found[(app, r)]["stringData"]]
    assert len(holding) == 1 and holding[0]["stringData"][env["password"]] == owner["stringData"]["password"]
    assert owner["stringData"]["password"] == store(db_repo)["appPasswords"][f"postgres/{app}"]


def test_generated_app_values_are_in_the_store_and_reach_the_pod(db_repo: Path) -> None:
    _, docs = tiny_release(db_repo, "paperless-ngx", "paperless-ngx")
    (container,) = pod(docs)["containers"]
    assert {"secretRef": {"name": "paperless-ngx-generated"}} in container["envFrom"]
    generated = tiny_credentials(db_repo)[("paperless-ngx", "paperless-ngx-generated")]["stringData"]
    passwords = store(db_repo)["appPasswords"]
    assert generated == {name: passwords[f"app/paperless-ngx/{name}"] for name in ("PAPERLESS_SECRET_KEY", "PAPERLESS_ADMIN_PASSWORD")}
    plain = {e["name"]: e.get("value") for e in container["env"]}
    assert plain["PAPERLESS_URL"] == "https://paperless-ngx.home.example.com" and plain["PAPERLESS_ADMIN_USER"] == "admin"


def test_paperless_finds_the_valkey_service_in_its_namespace(db_repo: Path) -> None:
    _, docs = tiny_release(db_repo, "paperless-ngx", "paperless-ngx")
    plain = {e["name"]: e.get("value") for e in pod(docs)["containers"][0]["env"]}
    _, cache = tiny_release(db_repo, "paperless-ngx-valkey", "paperless-ngx")
    (service,) = [d for d in cache if d["kind"] == "Service"]
    ports = [p["port"] for p in service["spec"]["ports"]]
    assert plain["PAPERLESS_REDIS"] == f"redis://{service['metadata']['name']}.paperless-ngx.svc:{ports[0]}"


def test_an_app_whose_cache_is_missing_is_an_inventory_error_at_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inventory = with_apps(tmp_path, "paperless-ngx")
    repo = tmp_path / "repo"
    assert main(["generate", str(inventory), "-o", str(repo)]) == 2
    err = capsys.readouterr().err
    line = inventory.read_text().splitlines().index("  - name: paperless-ngx") + 1
    assert f"{inventory}:{line}:" in err and "needs a valkey in its namespace paperless-ngx" in err
    assert "catalog: valkey, namespace: paperless-ngx" in err
    assert not repo.exists() or not any(repo.iterdir())


@pytest.mark.parametrize("app", ["nextcloud", "paperless-ngx", "paperless-ngx-valkey", "immich", "immich-valkey"])
def test_database_apps_pass_pod_security_at_their_namespace_level(db_repo: Path, app: str) -> None:
    from generator import podsecurity

    namespace = app.removesuffix("-valkey")
    _, docs = tiny_release(db_repo, app, namespace)
    levels = {n["metadata"]["name"]: n["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
              for n in docs_in(db_repo / "overlays" / "tiny" / "apps" / "namespaces.yaml")}
    assert levels[namespace] == "restricted"
    assert podsecurity.required_level(pod(docs)) == "restricted"
    (container,) = pod(docs)["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"livenessProbe", "readinessProbe"} <= set(container)


def test_a_restored_store_without_the_logins_is_adopted_and_keeps_its_token(tmp_path: Path) -> None:
    """A user restores age.key and secrets.sops.yaml (made before apps had logins) into a new
    folder: generating keeps every stored value and adds the logins, instead of refusing the
    folder as foreign."""
    from generator.write.secrets import recipient_of, sops_config
    from generator.write.sops import encrypt

    from .conftest import seed_secrets

    repo = tmp_path / "restored"
    seed_secrets(repo)
    store_file, key = repo / ".clustergen" / "secrets.sops.yaml", repo / ".clustergen" / "age.key"
    restored = {k: v for k, v in Decryption(store_file, key).result().items() if k not in ("sops", "appPasswords")}
    store_file.write_bytes(encrypt(restored, sops_config(str(recipient_of(key.read_bytes()))), ".clustergen/secrets.sops.yaml"))
    assert main(["generate", str(EXAMPLES / "mixed-shelf.yaml"), "-o", str(repo)]) == 0
    now = store(repo)
    assert now["k3sToken"] == restored["k3sToken"]
    assert set(now["appPasswords"]) == {f"mqtt/{app}" for app in CLIENTS}


def test_immich_gets_vectorchord_preloaded_and_its_extensions_made_by_the_superuser(db_repo: Path) -> None:
    clusters = {c["metadata"]["namespace"]: c for c in docs_in(db_repo / "overlays" / "tiny" / "apps" / "credentials" / "databases.yaml")}
    immich = clusters["immich"]["spec"]
    assert immich["imageName"] == "ghcr.io/tensorchord/cloudnative-vectorchord:17.5-0.4.3"
    assert immich["postgresql"] == {"shared_preload_libraries": ["vchord.so"]}
    # postInitApplicationSQL runs as the superuser in the application database (CNPG's CRD).
    assert immich["bootstrap"]["initdb"]["postInitApplicationSQL"] == [
        "CREATE EXTENSION IF NOT EXISTS vchord CASCADE", "CREATE EXTENSION IF NOT EXISTS earthdistance CASCADE"]
    # The others keep the operator's default image, pinned in the component catalog, and no preload.
    for ns in ("nextcloud", "paperless-ngx"):
        assert clusters[ns]["spec"]["imageName"] == "ghcr.io/cloudnative-pg/postgresql:18.4-system-trixie"
        assert "postgresql" not in clusters[ns]["spec"] and "postInitApplicationSQL" not in clusters[ns]["spec"]["bootstrap"]["initdb"]
    if SHARED_CNPG_SCHEMA.is_file():
        import jsonschema

        for cluster in clusters.values():
            jsonschema.validate(cluster, yaml.safe_load(SHARED_CNPG_SCHEMA.read_text()))
    _, docs = tiny_release(db_repo, "immich", "immich")
    plain = {e["name"]: e.get("value") for e in pod(docs)["containers"][0]["env"]}
    assert (plain["REDIS_HOSTNAME"], plain["REDIS_PORT"]) == ("immich-valkey.immich.svc", "6379")


def test_renovate_sees_every_database_image(db_repo: Path) -> None:
    import json
    import re

    config = json.loads((db_repo / "renovate.json").read_text())
    patterns = [re.compile(m.replace("(?<", "(?P<")) for manager in config["customManagers"] for m in manager["matchStrings"]]
    text = (db_repo / "overlays" / "tiny" / "apps" / "credentials" / "databases.yaml").read_text()
    seen = {(m.group("depName"), m.group("currentValue")) for p in patterns for m in p.finditer(text)}
    images = {tuple(c["spec"]["imageName"].rsplit(":", 1)) for c in docs_in(db_repo / "overlays" / "tiny" / "apps" / "credentials" / "databases.yaml")}
    assert images == seen and len(images) == 2
