"""Longhorn's own backups to S3 (components.backup.engine: longhorn): the backup target in the
pinned chart's values, the credentials Secret committed SOPS-encrypted from the secrets store,
and the RecurringJob, instead of k8up."""

from __future__ import annotations

import copy
import io
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from jsonschema import Draft202012Validator

from generator import catalog
from generator.cli import main
from generator.inventory import load_inventory_text
from generator.plan import plan_cluster
from generator.plan.backup import longhorn_cron
from generator.plan.merge import deep_merge
from generator.render import ClusterSecrets, render_repository, secret_manifests
from generator.render.secrets import S3_PLACEHOLDER

from .conftest import EXAMPLES, TEST_TOKEN

THREE = yaml.safe_load((EXAMPLES / "three-mini-pcs.yaml").read_text())
MIRROR = Path("/work/.mirror/longhorn+longhorn/repo")
ROOT = "overlays/trio"


def inventory(engine: str | None = "longhorn", storage: str = "longhorn", **backup: Any) -> dict[str, Any]:
    data = copy.deepcopy(THREE)
    data["components"]["storage"] = storage
    if engine is not None:
        data["components"]["backup"]["engine"] = engine
    data["components"]["backup"].update(backup)
    for node in data["nodes"]:
        node.setdefault("disks", []).append({"path": "/dev/sdb", "size": "500Gi", "type": "ssd", "use": "storage"})
    return data


def generated(data: dict[str, Any], secrets: ClusterSecrets | None = None) -> tuple[Any, dict[str, str]]:
    text = yaml.safe_dump(data, sort_keys=False)
    inv, warnings = load_inventory_text(text, "inventory.yaml")
    plan = plan_cluster(inv, warnings)
    return plan, {f.path: f.content.decode() for f in render_repository(plan, secrets or ClusterSecrets(TEST_TOKEN), text)}


@pytest.fixture(scope="module")
def longhorn_chart(tmp_path_factory: pytest.TempPathFactory):
    if not MIRROR.is_dir():
        pytest.skip("the Longhorn sources are not on this machine")
    tag = "v" + catalog.component("longhorn")["chart"]["version"]
    archive = subprocess.run(["git", f"--git-dir={MIRROR}", "archive", tag, "chart"], check=True, capture_output=True).stdout
    root = tmp_path_factory.mktemp("longhorn")
    with tarfile.open(fileobj=io.BytesIO(archive)) as t:
        t.extractall(root, filter="data")
    with helm.Chart.load(root / "chart") as loaded:
        yield loaded


def test_longhorn_backs_up_to_the_s3_target(longhorn_chart: Any) -> None:
    chart = longhorn_chart
    secrets = ClusterSecrets(TEST_TOKEN, backup_s3_access_key_id="AK", backup_s3_secret_access_key="SK")
    plan, files = generated(inventory(), secrets)
    keys = {c.key for c in plan.components}
    assert "longhorn" in keys and "k8up" not in keys, "one backup engine: no k8up beside Longhorn's own"
    assert not any(p.startswith(f"{ROOT}/apps/backup/") for p in files)
    # The chart turns defaultBackupStore into the ConfigMap the manager reads the default BackupTarget from.
    component = next(c for c in plan.components if c.key == "longhorn")
    rendered = chart.render(deep_merge(component.values, component.cluster_values), name="longhorn", namespace="longhorn-system")
    docs = [d for path, t in rendered.items() if path.endswith(".yaml") for d in yaml.safe_load_all(t) if d]
    default_resource = yaml.safe_load(next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "longhorn-default-resource")["data"]["default-resource.yaml"])
    assert default_resource == {"backup-target": "s3://trio-backups@us-east-1/trio/", "backup-target-credential-secret": "longhorn-backup"}
    # The credential Secret, in Longhorn's namespace, applied with the storage layer.
    secret = dict(secret_manifests(plan, secrets))[f"{ROOT}/infrastructure/storage/longhorn-backup.sops.yaml"]
    assert secret["metadata"] == {"name": "longhorn-backup", "namespace": "longhorn-system"}
    assert secret["stringData"] == {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_ENDPOINTS": "https://minio.home.arpa:9000"}
    assert "longhorn-backup.sops.yaml" in yaml.safe_load(files[f"{ROOT}/infrastructure/storage/kustomization.yaml"])["resources"]
    # The RecurringJob needs Longhorn's CRDs: configs layer, checked against the chart's CRD.
    job = yaml.safe_load(files[f"{ROOT}/infrastructure/configs/longhorn-backup.yaml"])
    assert "longhorn-backup.yaml" in yaml.safe_load(files[f"{ROOT}/infrastructure/configs/kustomization.yaml"])["resources"]
    crd = next(d for d in docs if d["kind"] == "CustomResourceDefinition" and d["metadata"]["name"] == "recurringjobs.longhorn.io")
    schema = next(v["schema"]["openAPIV3Schema"] for v in crd["spec"]["versions"] if v["name"] == job["apiVersion"].split("/")[1])
    assert not [e.message for e in Draft202012Validator(schema).iter_errors(job)]
    assert set(job["spec"]) <= set(schema["properties"]["spec"]["properties"])
    assert job["spec"] == {"task": "backup", "cron": "0 3 * * *", "retain": 7, "concurrency": 2, "groups": ["default"],
                                "labels": {"clustergen.dev/backup": "recurring"}}


def test_placeholder_until_the_keys_are_stored() -> None:
    plan, _ = generated(inventory())
    secret = dict(secret_manifests(plan, ClusterSecrets(TEST_TOKEN)))[f"{ROOT}/infrastructure/storage/longhorn-backup.sops.yaml"]
    assert secret["stringData"]["AWS_ACCESS_KEY_ID"] == S3_PLACEHOLDER
    # No restic repository: the restic password is a k8up field only.
    from generator.render import wanted_secret_fields

    assert "restic_password" not in wanted_secret_fields(plan)


def test_k8up_stays_the_default_engine() -> None:
    plan, files = generated(inventory(engine=None))
    assert "k8up" in {c.key for c in plan.components}
    assert f"{ROOT}/infrastructure/configs/longhorn-backup.yaml" not in files
    assert not any(p.endswith("longhorn-backup.sops.yaml") for p in files)
    values = yaml.safe_load(files[f"{ROOT}/infrastructure/storage/longhorn-values.yaml"])["spec"]["values"]
    assert "defaultBackupStore" not in values


def test_longhorn_engine_needs_longhorn_storage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory(storage="local-path"), sort_keys=False))
    assert main(["generate", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "backup engine longhorn backs up Longhorn volumes, but the storage is local-path" in err and "components.backup.engine" in err


CRON = re.compile(r"^(\d{1,2}|\*) (\d{1,2}|\*) (\d{1,2}|\*) (\d{1,2}|\*) (\d|\*)$")


@pytest.mark.parametrize(("schedule", "fields"), [
    ("0 3 * * *", "0 3 * * *"),
    ("@daily", "@daily"),
    ("@hourly-random", "m * * * *"),
    ("@daily-random", "m h * * *"),
    ("@weekly-random", "m h * * w"),
    ("@monthly-random", "m h d * *"),
])
def test_k8up_random_schedules_become_a_fixed_cron(schedule: str, fields: str) -> None:
    cron = longhorn_cron(schedule, "trio")
    assert cron == longhorn_cron(schedule, "trio"), "the same every run"
    if not schedule.endswith("-random"):
        assert cron == fields
        return
    assert CRON.match(cron), cron
    minute, hour, day, month, weekday = cron.split()
    for value, kind in zip((minute, hour, day, month, weekday), fields.split(), strict=False):
        if kind == "*":
            assert value == "*"
        else:
            bounds = {"m": (0, 59), "h": (1, 5), "d": (1, 28), "w": (0, 6)}[kind]
            assert bounds[0] <= int(value) <= bounds[1]


@pytest.mark.parametrize(("keep", "retain"), [({"daily": 7}, 7), ({"daily": 1}, 1), ({"daily": 0, "last": 5}, 5)])
def test_retain_follows_keep(keep: dict, retain: int) -> None:
    plan, _ = generated(inventory(keep=keep))
    assert plan.backup.longhorn.retain == retain


def test_an_app_left_out_of_backups_is_warned_about() -> None:
    data = inventory()
    data["apps"][0]["backup"] = False
    plan, _ = generated(data)
    warning = next(w for w in plan.warnings if w.code == "longhorn-backs-up-every-volume")
    assert warning.field == "apps[0].backup"
    plan, _ = generated(inventory(engine="k8up"))
    assert not [w for w in plan.warnings if w.code == "longhorn-backs-up-every-volume"]


def test_readme_and_plan_say_which_engine_backs_up() -> None:
    _, files = generated(inventory())
    readme = files["README.md"]
    section = readme[readme.index("## Backups"):]
    assert "Longhorn backs up the volumes itself (no k8up)" in section and "`s3://trio-backups@us-east-1/trio/`" in section
    assert "k8up (restic) backs up" not in readme
    _, files = generated(inventory(engine="k8up"))
    assert "k8up (restic) backs up" in files["README.md"]
