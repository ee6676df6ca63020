"""A generated cluster keeps its data: k8up backups (components.backup) and monitoring
that survives a restart (volumes, a stable Grafana login) and sees the components."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.cli import main
from generator.pipeline import build_plan
from generator.write.sops import Decryption

from .conftest import EXAMPLES, seed_secrets

BACKUP_BLOCK = re.compile(r"  backup:\n(    .*\n)+")
BACKUP = '  backup:\n    s3: {endpoint: "https://minio.home.arpa:9000", bucket: trio-backups}\n    keep: {daily: 3}\n'
# A custom app with a volume that opts out, in a namespace of its own.
SCRATCH_APP = """  - name: scratch
    image: docker.io/library/busybox:1.37.0
    namespace: scratch
    ports: [{name: http, port: 8080}]
    backup: false
    persistence:
      - {name: cache, mountPath: /cache, size: 1Gi}
"""


def inventory(tmp_path: Path, backup: str | None = BACKUP, *, engine: str = "flux", distribution: str = "k3s", monitoring: bool = True) -> Path:
    text = BACKUP_BLOCK.sub("", (EXAMPLES / "three-mini-pcs.yaml").read_text(encoding="utf-8"))
    text = text.replace("  monitoring: true\n", ("  monitoring: true\n" if monitoring else "") + (backup or ""))
    text = text.replace("apps:\n", "apps:\n" + SCRATCH_APP, 1)
    text = text.replace("  engine: flux\n", f"  engine: {engine}\n")
    if distribution == "talos":
        text = text.replace("gitops:\n", "distribution:\n  name: talos\ngitops:\n", 1)
    path = tmp_path / f"inventory-{engine}-{distribution}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def generate(tmp_path: Path, name: str = "repo", seeded: bool = True, **kwargs: Any) -> Path:
    repo = tmp_path / name
    if seeded:
        seed_secrets(repo, kwargs.get("distribution", "k3s"))
    assert main(["generate", str(inventory(tmp_path, **kwargs)), "-o", str(repo)]) == 0
    return repo


def documents(repo: Path) -> list[dict[str, Any]]:
    docs = []
    for path in sorted(repo.rglob("*.yaml")):
        if ".clustergen" in path.parts or "charts" in path.parts:
            continue
        docs.extend(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict))
    return docs


def release_values(repo: Path, name: str) -> dict[str, Any]:
    """A release's values, base and cluster patch merged, whichever engine carries them."""
    from generator.shared.merge import deep_merge

    merged: dict[str, Any] = {}
    for d in documents(repo):
        if d.get("metadata", {}).get("name") != name:
            continue
        if d.get("kind") == "HelmRelease":
            merged = deep_merge(merged, d["spec"].get("values") or {})
        elif d.get("kind") == "Application":
            merged = deep_merge(merged, ((d["spec"].get("source") or {}).get("helm") or {}).get("valuesObject") or {})
    return merged


# ---- A. backups ----------------------------------------------------------------------------


def test_backup_off_renders_no_k8up_objects(tmp_path: Path) -> None:
    repo = generate(tmp_path, backup=None)
    kinds = {(d.get("apiVersion", ""), d.get("kind")) for d in documents(repo)}
    assert not any(api.startswith("k8up.io/") for api, _ in kinds)
    assert not (repo / "bases" / "k8up").exists()
    assert not (repo / "overlays" / "trio" / "apps" / "backup").exists()
    # (apps/credentials holds the logins between apps: no backup keys there.)
    assert [p.name for p in repo.rglob("*.sops.yaml") if ".clustergen" not in p.parts and "credentials" not in p.parts
            and p.name != ".sops.yaml"] == ["grafana-admin.sops.yaml"]
    facts = yaml.safe_load((repo / ".clustergen" / "facts.yaml").read_text())
    assert not facts.get("backups")


def test_backup_on_one_schedule_per_data_namespace(tmp_path: Path) -> None:
    repo = generate(tmp_path)
    docs = documents(repo)
    schedules = {d["metadata"]["namespace"]: d for d in docs if d.get("kind") == "Schedule" and d["apiVersion"] == "k8up.io/v1"}
    # home-automation (home-assistant, mosquitto) and scratch hold volumes, monitoring holds
    # Grafana's; whoami and external hold none.
    assert sorted(schedules) == ["home-automation", "monitoring", "scratch"]
    for ns, s in schedules.items():
        spec = s["spec"]
        s3 = spec["backend"]["s3"]
        assert s3["endpoint"] == "https://minio.home.arpa:9000"
        assert s3["bucket"] == f"trio-backups/trio/{ns}"  # one restic repository per namespace
        assert s3["accessKeyIDSecretRef"]["name"] == s3["secretAccessKeySecretRef"]["name"] == "k8up-backup"
        assert spec["backend"]["repoPasswordSecretRef"] == {"name": "k8up-backup", "key": "repo-password"}
        assert spec["prune"]["retention"] == {"keepLast": 5, "keepDaily": 3, "keepWeekly": 4, "keepMonthly": 6}
        assert spec["backup"]["schedule"] and spec["check"]["schedule"]
        assert (repo / "overlays" / "trio" / "apps" / "backup" / f"{ns}.sops.yaml").is_file()
    k8up = release_values(repo, "k8up")
    assert k8up["k8up"]["skipWithoutAnnotation"] is True and k8up["k8up"]["envVars"] == []
    assert yaml.safe_load((repo / ".clustergen" / "facts.yaml").read_text())["backups"] is True


def test_backup_true_without_a_target_is_an_error_with_its_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = inventory(tmp_path, "  backup: true\n")
    assert main(["generate", str(path), "-o", str(tmp_path / "repo")]) != 0
    err = capsys.readouterr().err
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text == "  backup: true")
    assert f"{path}:{line}" in err and "s3" in err and "endpoint" in err


def test_apps_choose_whether_their_volumes_are_backed_up(tmp_path: Path) -> None:
    import helm_python as helm

    repo = generate(tmp_path)
    chart = helm.Chart.load(str(repo / "charts" / "app"))
    annotations = {}
    for app in ("scratch", "home-assistant"):
        rendered = chart.render(release_values(repo, app), name=app, namespace=app)
        for text in (t for name, t in rendered.items() if name.endswith(".yaml")):
            for d in yaml.safe_load_all(text):
                if isinstance(d, dict) and d.get("kind") == "PersistentVolumeClaim":
                    annotations[d["metadata"]["name"]] = d["metadata"].get("annotations", {})
                if isinstance(d, dict) and d.get("kind") == "StatefulSet":
                    for t in d["spec"].get("volumeClaimTemplates", []):
                        annotations[t["metadata"]["name"]] = t["metadata"].get("annotations", {})
    assert annotations["scratch-cache"]["k8up.io/backup"] == "false"
    assert [a["k8up.io/backup"] for name, a in annotations.items() if not name.startswith("scratch")] == ["true"] * (len(annotations) - 1)


def test_chart_leaves_claims_unannotated_unless_told(tmp_path: Path) -> None:
    import helm_python as helm

    chart = helm.Chart.load(str(Path(__file__).resolve().parents[1] / "charts" / "app"))
    base = {"image": {"repository": "docker.io/library/busybox", "tag": "1.37.0"}, "service": {"ports": [{"name": "http", "port": 8080}]}}

    def claim(entry: dict[str, Any], kind: str = "Deployment") -> dict[str, str]:
        values = {**base, "controller": {"type": kind}, "persistence": {"data": {"mountPath": "/data", **entry}}}
        for name, text in chart.render(values, name="demo", namespace="demo").items():
            if not name.endswith(".yaml"):
                continue
            for d in yaml.safe_load_all(text):
                if isinstance(d, dict) and d.get("kind") == "PersistentVolumeClaim":
                    return d["metadata"].get("annotations", {})
                if isinstance(d, dict) and d.get("kind") == "StatefulSet":
                    return d["spec"]["volumeClaimTemplates"][0]["metadata"].get("annotations", {})
        raise AssertionError("no claim rendered")

    assert "k8up.io/backup" not in claim({})
    assert claim({"backup": True})["k8up.io/backup"] == "true"
    assert claim({"backup": False, "retain": False}) == {"k8up.io/backup": "false"}
    assert claim({"backup": True}, "StatefulSet")["k8up.io/backup"] == "true"


def test_backup_pods_are_admitted_at_their_namespace_level(tmp_path: Path) -> None:
    from generator import podsecurity
    from generator.plan.backup import backup_pod_spec

    plan = build_plan(inventory(tmp_path))
    levels = {ns.name: ns.pod_security for ns in plan.backup.namespaces}
    assert levels["home-automation"] == "restricted" and levels["monitoring"] == "privileged"
    order = ("restricted", "baseline", "privileged")
    for ns in plan.backup.namespaces:
        spec = backup_pod_spec(ns)
        assert podsecurity.admitted(ns.pod_security, podsecurity.evaluate(spec)) == [], ns.name
        assert order.index(podsecurity.required_level(spec)) <= order.index(ns.pod_security)
    # k8up's default job pod (uid 65532, no securityContext) would be rejected by restricted:
    assert podsecurity.admitted("restricted", podsecurity.evaluate({"containers": [{"name": "k8up"}]}))
    restricted = next(ns for ns in plan.backup.namespaces if ns.name == "home-automation")
    assert restricted.container_security_context and 1883 in restricted.pod_security_context["supplementalGroups"]


@pytest.mark.parametrize(("distribution", "engine"), [("k3s", "flux"), ("k3s", "argocd"), ("talos", "flux"), ("talos", "argocd")])
def test_every_engine_and_distribution_takes_the_secrets(tmp_path: Path, distribution: str, engine: str) -> None:
    repo = generate(tmp_path, distribution=distribution, engine=engine)
    backup = repo / "overlays" / "trio" / "apps" / "backup"
    controllers = repo / "overlays" / "trio" / "infrastructure" / "controllers"
    for folder, names in ((backup, {"home-automation.sops.yaml", "monitoring.sops.yaml", "scratch.sops.yaml"}), (controllers, {"grafana-admin.sops.yaml"})):
        kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
        if engine == "flux":
            assert names <= set(kustomization["resources"])
        else:
            assert kustomization["generators"] == ["secret-generator.yaml"]
            generator = yaml.safe_load((folder / "secret-generator.yaml").read_text())
            assert generator["kind"] == "ksops" and {f.removeprefix("./") for f in generator["files"]} >= names
    assert "apps/backup" not in str(yaml.safe_load((repo / "overlays" / "trio" / "apps" / "kustomization.yaml").read_text()).get("generators"))


def test_the_generated_repo_validates_with_backups_on_argocd(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = generate(tmp_path, engine="argocd")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    capsys.readouterr()
    main(["validate", str(repo)])
    out = capsys.readouterr().out
    assert "kustomize build" not in out and "ksops" not in out, out


# ---- B. monitoring ------------------------------------------------------------------------


def test_monitoring_keeps_its_data_on_the_default_class(tmp_path: Path) -> None:
    repo = generate(tmp_path)
    plan = build_plan(inventory(tmp_path))
    values = release_values(repo, "kube-prometheus-stack")
    prometheus = values["prometheus"]["prometheusSpec"]
    spec = prometheus["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert spec["storageClassName"] == plan.storage_class == "local-path"
    size = int(spec["resources"]["requests"]["storage"].removesuffix("Gi"))
    assert 0.8 * size <= int(prometheus["retentionSize"].removesuffix("GiB")) <= 0.9 * size
    alertmanager = values["alertmanager"]["alertmanagerSpec"]["storage"]["volumeClaimTemplate"]["spec"]
    assert alertmanager["storageClassName"] == plan.storage_class
    grafana = values["grafana"]
    assert grafana["persistence"]["enabled"] is True and grafana["persistence"]["storageClassName"] == plan.storage_class
    assert grafana["deploymentStrategy"] == {"type": "Recreate"}
    assert grafana["admin"] == {"existingSecret": "grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"}


def test_prometheus_volume_fits_small_disks() -> None:
    from generator.inventory.model import Disk
    from generator.plan.monitoring import prometheus_volume_gib

    class Node:
        def __init__(self, gib: int) -> None:
            self.disks = (Disk("/dev/sda", gib * 1024, "ssd", "system"),)
            self.data_disk = None
            self.storage_disks = ()

    assert prometheus_volume_gib([Node(1000)], "local-path") == 20
    assert prometheus_volume_gib([Node(120), Node(1000)], "local-path") == 12
    assert prometheus_volume_gib([Node(32)], "local-path") == 5
    assert prometheus_volume_gib([], "local-path") == 20


def test_components_ship_service_monitors_after_the_crds(tmp_path: Path) -> None:
    repo = generate(tmp_path)
    assert release_values(repo, "cert-manager")["prometheus"] == {"enabled": True, "servicemonitor": {"enabled": True}}
    assert release_values(repo, "ingress-nginx")["controller"]["metrics"] == {"enabled": True, "serviceMonitor": {"enabled": True}}
    metallb = release_values(repo, "metallb")["prometheus"]
    assert metallb["serviceMonitor"]["enabled"] and metallb["namespace"] == "monitoring" and metallb["serviceAccount"] == "kube-prometheus-stack-prometheus"
    for name in ("cert-manager", "ingress-nginx", "metallb", "k8up"):
        release = next(d for d in documents(repo) if d.get("kind") == "HelmRelease" and d["metadata"]["name"] == name)
        assert {"name": "kube-prometheus-stack-crds", "namespace": "monitoring"} in release["spec"]["dependsOn"], name
    argocd = generate(tmp_path, "argocd", engine="argocd")
    def wave(key: str) -> str:
        application = yaml.safe_load((argocd / "bases" / key / "application.yaml").read_text())
        return application["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0")

    apps = {key: wave(key) for key in ("kube-prometheus-stack-crds", "metallb", "cert-manager", "k8up")}
    assert apps["kube-prometheus-stack-crds"] == "0" and apps["metallb"] == apps["cert-manager"] == apps["k8up"] == "1", apps
    # The stack itself installs with the storage, after the provisioner its volumes need.
    assert (wave("local-path-provisioner"), wave("kube-prometheus-stack")) == ("0", "1")


def test_traefik_service_monitor_values(tmp_path: Path) -> None:
    path = inventory(tmp_path)
    path.write_text(path.read_text().replace("ingress: ingress-nginx", "ingress: traefik"))
    repo = tmp_path / "traefik"
    seed_secrets(repo)
    assert main(["generate", str(path), "-o", str(repo)]) == 0
    # disableAPICheck: the chart fails a render that cannot see the ServiceMonitor API
    # (found rendering the pinned chart); dependsOn makes the API exist in the cluster.
    assert release_values(repo, "traefik")["metrics"] == {"prometheus": {
        "service": {"enabled": True}, "serviceMonitor": {"enabled": True}, "disableAPICheck": True}}
    assert {"namespace": "monitoring", "name": "kube-prometheus-stack-crds"} in \
        yaml.safe_load((repo / "bases" / "traefik" / "helmrelease.yaml").read_text())["spec"]["dependsOn"]


def test_grafana_login_is_encrypted_stable_and_never_plaintext_in_git(tmp_path: Path) -> None:
    repo = generate(tmp_path, seeded=False)  # fresh secrets
    key = repo / ".clustergen" / "age.key"
    store = Decryption(repo / ".clustergen" / "secrets.sops.yaml", key).result()
    password = store["grafanaAdminPassword"]
    assert len(password) >= 24 and store["resticPassword"]
    secret_file = repo / "overlays" / "trio" / "infrastructure" / "controllers" / "grafana-admin.sops.yaml"
    secret = Decryption(secret_file, key).result()
    assert secret["kind"] == "Secret" and secret["metadata"] == {"name": "grafana-admin", "namespace": "monitoring"}
    assert secret["stringData"] == {"admin-user": "admin", "admin-password": password}
    backup_secret = Decryption(repo / "overlays" / "trio" / "apps" / "backup" / "scratch.sops.yaml", key).result()
    assert backup_secret["stringData"]["repo-password"] == store["resticPassword"]
    raw = yaml.safe_load(secret_file.read_text())
    assert raw["metadata"]["name"] == "grafana-admin" and raw["stringData"]["admin-password"].startswith("ENC[")

    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    for value in (password, store["resticPassword"]):
        found = subprocess.run(["git", "-C", str(repo), "grep", "--cached", "-F", "-e", value], capture_output=True, text=True)
        assert found.returncode == 1 and not found.stdout, found.stdout

    before = {p: p.read_bytes() for p in (repo / ".clustergen" / "secrets.sops.yaml", secret_file)}
    assert main(["generate", str(tmp_path / "inventory-flux-k3s.yaml"), "-o", str(repo), "--allow-dirty"]) == 0
    assert {p: p.read_bytes() for p in before} == before
    assert Decryption(secret_file, key).result()["stringData"]["admin-password"] == password


def test_user_supplied_s3_keys_reach_the_secrets_and_survive_regeneration(tmp_path: Path) -> None:
    from generator.write.sops import encrypt
    from generator.write.secrets import sops_config, read_age_key

    repo = generate(tmp_path)
    key = repo / ".clustergen" / "age.key"
    store_file = repo / ".clustergen" / "secrets.sops.yaml"
    first = Decryption(repo / "overlays" / "trio" / "apps" / "backup" / "scratch.sops.yaml", key).result()
    assert first["stringData"]["access-key-id"].startswith("unset")
    store = {k: v for k, v in Decryption(store_file, key).result().items() if k != "sops"}
    store.update(backupS3AccessKeyId="AKIDEXAMPLE", backupS3SecretAccessKey="s3cr3t-example")
    _, identity = read_age_key(key)
    store_file.write_bytes(encrypt(store, sops_config(str(identity.to_public())), ".clustergen/secrets.sops.yaml"))
    for _ in range(2):
        assert main(["generate", str(tmp_path / "inventory-flux-k3s.yaml"), "-o", str(repo), "--allow-dirty"]) == 0
        data = Decryption(repo / "overlays" / "trio" / "apps" / "backup" / "scratch.sops.yaml", key).result()["stringData"]
        assert data["access-key-id"] == "AKIDEXAMPLE" and data["secret-access-key"] == "s3cr3t-example"
    assert Decryption(store_file, key).result()["backupS3AccessKeyId"] == "AKIDEXAMPLE"


def test_missing_s3_keys_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate(tmp_path)
    assert "backupS3AccessKeyId" in capsys.readouterr().out
