"""charts/app workload shapes: several containers, init containers and sidecars, every workload
kind, per-replica configuration, volume sources, routes with prefix stripping, private images
and per-container GPUs. Real Helm (helm_python) and the strict Kubernetes 1.34 schemas; the
assertions are on the rendered pods."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest

from generator import podsecurity
from generator.plan.apps import app_pod_spec
from generator.plan.merge import deep_merge
from tests.test_chart_app import CHART, KUBE_VERSION, MINIMAL, NAMESPACE, RELEASE, by_kind, one, parse

SAFE = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "privileged": False, "capabilities": {"drop": ["ALL"]}}
SIDECAR_IMAGE = {"repository": "kube-registry:5000/tools/ffmpeg", "tag": "7.1"}
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture(scope="module")
def chart():
    with helm.Chart.load(CHART) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def render(chart):
    def _render(extra: dict[str, Any]) -> list[dict[str, Any]]:
        docs = parse(chart.render(deep_merge(MINIMAL, extra), name=RELEASE, namespace=NAMESPACE))
        for doc in docs:
            if not doc["apiVersion"].startswith("traefik.io/"):
                kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        return docs

    return _render


def workload(docs: list[dict[str, Any]]) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")]
    assert len(found) == 1
    return found[0]


def pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    w = workload(docs)
    if w["kind"] == "CronJob":
        return w["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return w["spec"]["template"]["spec"]


def named(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [i for i in items if i["name"] == name]
    assert len(found) == 1, f"{name} not in {[i['name'] for i in items]}"
    return found[0]


def render_error(chart, extra: dict[str, Any]) -> str:
    with pytest.raises((helm.HelmRenderError, helm.HelmValuesError)) as caught:
        chart.render(deep_merge(MINIMAL, extra), name=RELEASE, namespace=NAMESPACE)
    return str(caught.value)


# --------------------------------------------------------------------------- containers

SIDECARS = {
    "initContainers": [
        {"name": "migrate", "image": {"repository": "docker.io/library/busybox", "tag": "1.37.0"}, "command": ["sh", "-c", "true"]},
        {"name": "log-shipper", "image": {"repository": "docker.io/library/busybox", "digest": DIGEST}, "restartPolicy": "Always",
         "args": ["tail", "-F", "/logs/app.log"], "volumeMounts": [{"name": "logs", "mountPath": "/logs", "readOnly": True}]},
    ],
    "containers": [
        {"name": "exporter", "image": SIDECAR_IMAGE, "env": {"B": 2, "A": "one"},
         "ports": [{"name": "metrics", "containerPort": 9100}],
         "probes": {"liveness": {"type": "http", "path": "/healthz"}},
         "resources": {"requests": {"cpu": "5m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
         "securityContext": {"readOnlyRootFilesystem": False},
         "volumeMounts": [{"name": "logs", "mountPath": "/var/log/app"}, {"name": "empty-tmp", "mountPath": "/tmp"}]},
    ],
    "emptyDirs": {"tmp": "/tmp"},
    "volumes": {"logs": {"emptyDir": {}, "mountPath": "/logs"}},
}


def test_extra_containers_keep_their_fields_and_the_safety_defaults(render):
    spec = pod(render(SIDECARS))
    assert [c["name"] for c in spec["containers"]] == ["app", "exporter"]
    assert [c["name"] for c in spec["initContainers"]] == ["migrate", "log-shipper"]
    exporter = named(spec["containers"], "exporter")
    assert exporter["image"] == "kube-registry:5000/tools/ffmpeg:7.1"
    assert exporter["env"] == [{"name": "A", "value": "one"}, {"name": "B", "value": "2"}]
    assert exporter["ports"] == [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]
    probe = exporter["livenessProbe"]
    assert probe["httpGet"] == {"path": "/healthz", "port": "metrics", "scheme": "HTTP"}
    assert probe["periodSeconds"] == 30 and probe["failureThreshold"] == 5  # timings from probes.liveness
    assert "readinessProbe" not in exporter  # only the probes given run
    assert exporter["resources"] == {"requests": {"cpu": "5m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}}
    # Its own readOnlyRootFilesystem: false wins; the rest of the defaults stay.
    assert exporter["securityContext"] == {**SAFE, "readOnlyRootFilesystem": False}
    assert exporter["volumeMounts"] == [{"name": "logs", "mountPath": "/var/log/app"}, {"name": "empty-tmp", "mountPath": "/tmp"}]
    shipper = named(spec["initContainers"], "log-shipper")
    assert shipper["restartPolicy"] == "Always"  # a native sidecar
    assert shipper["image"] == f"docker.io/library/busybox@{DIGEST}"
    migrate = named(spec["initContainers"], "migrate")
    assert "restartPolicy" not in migrate
    for c in spec["containers"] + spec["initContainers"]:
        assert c["resources"]["requests"], c["name"]
        if c["name"] != "exporter":
            assert c["securityContext"] == SAFE, c["name"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # The app container still mounts what it mounted, plus the volume with a mountPath.
    app = named(spec["containers"], "app")
    assert {"name": "logs", "mountPath": "/logs"} in app["volumeMounts"]


def test_single_image_form_is_unchanged(render):
    spec = pod(render({}))
    assert [c["name"] for c in spec["containers"]] == ["app"]
    assert "initContainers" not in spec
    assert spec["containers"][0]["image"] == "docker.io/library/busybox:1.37.0"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"containers": [{"name": "x", "image": SIDECAR_IMAGE, "volumeMounts": [{"name": "nope", "mountPath": "/n"}]}]}, 'mounts volume "nope"'),
        ({"containers": [{"name": "app", "image": SIDECAR_IMAGE}]}, "/containers/0/name"),
        ({"containers": [{"name": "x", "image": {"repository": "docker.io/library/busybox"}}]}, "/containers/0/image"),
        ({"containers": [{"name": "x", "image": SIDECAR_IMAGE, "restartPolicy": "Always"}]}, "restartPolicy"),
        ({"containers": [{"name": "x", "image": SIDECAR_IMAGE, "probes": {"liveness": {"type": "tcp"}}}]}, "containers[0].probes.liveness needs a port"),
        ({"containers": [{"name": "x", "image": SIDECAR_IMAGE, "securityContext": {"privileged": True}}]}, "containers[0]: securityContext.privileged=true requires"),
    ],
    ids=["unknown-volume", "name-app", "no-tag-no-digest", "restart-on-plain-container", "probe-without-port", "privileged-without-escalation"],
)
def test_container_mistakes_fail_with_the_field(chart, extra, message):
    assert message in render_error(chart, extra)


# --------------------------------------------------------------------------- kinds


def test_daemonset_has_no_replicas_and_rolls_one_node_at_a_time(render):
    w = workload(render({"controller": {"type": "DaemonSet", "replicas": 3}}))
    assert w["kind"] == "DaemonSet"
    assert "replicas" not in w["spec"]
    assert w["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}
    assert w["spec"]["selector"]["matchLabels"].items() <= w["spec"]["template"]["metadata"]["labels"].items()


def test_cronjob_schedule_policy_history_and_no_probes(render):
    docs = render({"controller": {"type": "CronJob"}, "service": {"enabled": False, "ports": []},
                   "cronJob": {"schedule": "*/15 * * * *", "timeZone": "Europe/Amsterdam", "concurrencyPolicy": "Replace",
                               "successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 2},
                   "job": {"backoffLimit": 0, "restartPolicy": "Never"}})
    cron = one(docs, "CronJob")
    assert cron["spec"]["schedule"] == "*/15 * * * *"
    assert cron["spec"]["timeZone"] == "Europe/Amsterdam"
    assert cron["spec"]["concurrencyPolicy"] == "Replace"
    assert (cron["spec"]["successfulJobsHistoryLimit"], cron["spec"]["failedJobsHistoryLimit"]) == (1, 2)
    assert cron["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
    spec = pod(docs)
    assert spec["restartPolicy"] == "Never"
    app = spec["containers"][0]
    assert not {"livenessProbe", "readinessProbe", "startupProbe"} & app.keys()
    assert by_kind(docs, "Service") == []


def test_cronjob_needs_a_schedule(chart):
    assert "cronJob.schedule is required" in render_error(chart, {"controller": {"type": "CronJob"}})


@pytest.mark.parametrize("schedule", ["@daily", "0 3 * * 1-5"])
def test_cronjob_schedule_forms_accepted(render, schedule):
    assert one(render({"controller": {"type": "CronJob"}, "cronJob": {"schedule": schedule}}), "CronJob")["spec"]["schedule"] == schedule


@pytest.mark.parametrize("schedule", ["0 3 * *", "daily"])
def test_cronjob_schedule_forms_refused(chart, schedule):
    assert "/cronJob/schedule" in render_error(chart, {"controller": {"type": "CronJob"}, "cronJob": {"schedule": schedule}})


def test_job_runs_once_with_restart_policy(render):
    docs = render({"controller": {"type": "Job"}, "job": {"activeDeadlineSeconds": 600}})
    job = one(docs, "Job")
    assert job["spec"]["backoffLimit"] == 3 and job["spec"]["activeDeadlineSeconds"] == 600
    assert pod(docs)["restartPolicy"] == "OnFailure"


# --------------------------------------------------------------------------- per-replica configuration

REPLICAS = {
    "controller": {"type": "StatefulSet", "replicas": 2},
    "replicaConfig": {"mountPath": "/etc/camera", "replicas": {"0": {"camera.yaml": "url: rtsp://10.0.0.31\n"},
                                                               "1": {"camera.yaml": "url: rtsp://10.0.0.32\n", "mask.png": "x"}}},
}


def test_each_replica_copies_only_its_own_files(render):
    docs = render(REPLICAS)
    cm = next(d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == f"{RELEASE}-replicas")
    assert cm["data"] == {"0.camera.yaml": "url: rtsp://10.0.0.31\n", "1.camera.yaml": "url: rtsp://10.0.0.32\n", "1.mask.png": "x"}
    spec = pod(docs)
    all_configs = named(spec["volumes"], "replica-configs")["configMap"]
    assert all_configs["items"] == [{"key": "0.camera.yaml", "path": "0/camera.yaml"}, {"key": "1.camera.yaml", "path": "1/camera.yaml"},
                                    {"key": "1.mask.png", "path": "1/mask.png"}]
    assert named(spec["volumes"], "replica-config") == {"name": "replica-config", "emptyDir": {}}
    copier = spec["initContainers"][0]
    assert copier["name"] == "replica-config"
    assert copier["env"] == [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    assert copier["securityContext"] == SAFE and copier["resources"]["requests"]
    app = named(spec["containers"], "app")
    mounts = {m["name"]: m for m in app["volumeMounts"]}
    # The app sees its own copy only: never the ConfigMap with every replica's files.
    assert mounts["replica-config"] == {"name": "replica-config", "mountPath": "/etc/camera", "readOnly": True}
    assert "replica-configs" not in mounts
    annotations = workload(docs)["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/replica-config" in annotations


def test_replica_copy_script_picks_the_pod_ordinal(render, tmp_path):
    """Run the init container's script with a real shell over the directory the ConfigMap
    volume would hold, for pod names of one and two digits."""
    import subprocess

    script = pod(render(REPLICAS))["initContainers"][0]["command"][2]
    for ordinal, pod_name in (("1", "cam-1"), ("12", "my-cam-12")):
        src = tmp_path / "replica-configs" / ordinal
        src.mkdir(parents=True)
        (src / "camera.yaml").write_text(f"replica {ordinal}\n")
        (tmp_path / "replica-configs" / "0").mkdir(exist_ok=True)
        (tmp_path / "replica-configs" / "0" / "other.yaml").write_text("not mine\n")
        dest = tmp_path / "replica-config"
        dest.mkdir()
        local = script.replace("/replica-configs", str(tmp_path / "replica-configs")).replace(" /replica-config/", f" {dest}/").replace("ls -l /replica-config", f"ls -l {dest}")
        subprocess.run(["sh", "-c", local], env={"POD_NAME": pod_name, "PATH": "/usr/bin:/bin"}, check=True, capture_output=True)
        assert sorted(p.name for p in dest.iterdir()) == ["camera.yaml"]
        assert (dest / "camera.yaml").read_text() == f"replica {ordinal}\n"
        import shutil

        shutil.rmtree(tmp_path / "replica-configs")
        shutil.rmtree(dest)
    dest = tmp_path / "replica-config"
    dest.mkdir()
    (tmp_path / "replica-configs").mkdir()
    local = script.replace("/replica-configs", str(tmp_path / "replica-configs")).replace(" /replica-config/", f" {dest}/")
    missing = subprocess.run(["sh", "-c", local], env={"POD_NAME": "cam-3", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert missing.returncode == 1 and "no configuration for replica 3" in missing.stderr


def test_replica_config_needs_a_statefulset(chart):
    assert "needs controller.type StatefulSet" in render_error(chart, {"replicaConfig": REPLICAS["replicaConfig"]})


@pytest.mark.parametrize("ordinal", ["01", "-1", "a", "1000"])
def test_replica_ordinals_are_plain_numbers(chart, ordinal):
    bad = deep_merge(REPLICAS, {"replicaConfig": {"replicas": {ordinal: {"a.conf": "x"}}}})
    message = render_error(chart, bad)
    assert f"invalid propertyName '{ordinal}'" in message and "does not match pattern" in message


# --------------------------------------------------------------------------- volumes

VOLUMES = {
    "volumes": {
        "media": {"hostPath": {"path": "/srv/media", "type": "Directory"}, "mountPath": "/media", "readOnly": True},
        "books": {"nfs": {"server": "192.168.1.5", "path": "/export/books"}, "mountPath": "/books"},
        "cache": {"emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}, "mountPath": "/cache"},
        "settings": {"configMap": {"name": "shared-settings"}, "mountPath": "/settings", "readOnly": True},
        "creds": {"secret": {"secretName": "app-creds", "defaultMode": 256}, "mountPath": "/creds", "readOnly": True},
        "shared": {"persistentVolumeClaim": {"claimName": "shared-media"}, "mountPath": "/shared", "subPath": "app"},
        "spare": {"emptyDir": {}},
    },
    "persistence": {"data": {"mountPath": "/data", "accessMode": "ReadWriteMany", "storageClass": "rook-cephfs", "size": "5Gi"},
                    "old": {"mountPath": "/old", "existingClaim": "old-data"}},
}


def test_every_volume_source_reaches_the_pod(render):
    docs = render(VOLUMES)
    spec = pod(docs)
    vols = {v["name"]: v for v in spec["volumes"]}
    assert vols["media"]["hostPath"] == {"path": "/srv/media", "type": "Directory"}
    assert vols["books"]["nfs"] == {"server": "192.168.1.5", "path": "/export/books"}
    assert vols["cache"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Mi"}
    assert vols["settings"]["configMap"] == {"name": "shared-settings"}
    assert vols["creds"]["secret"] == {"secretName": "app-creds", "defaultMode": 256}
    assert vols["shared"]["persistentVolumeClaim"] == {"claimName": "shared-media"}
    assert vols["old"]["persistentVolumeClaim"] == {"claimName": "old-data"}
    assert vols["spare"]["emptyDir"] == {}
    mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
    assert mounts["media"] == {"name": "media", "mountPath": "/media", "readOnly": True}
    assert mounts["shared"] == {"name": "shared", "mountPath": "/shared", "subPath": "app"}
    assert "spare" not in mounts  # no mountPath: only for containers that name it
    pvc = one(docs, "PersistentVolumeClaim")  # old-data is not ours to create
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"] and pvc["spec"]["storageClassName"] == "rook-cephfs"
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


@pytest.mark.parametrize(
    "volume",
    [{"mountPath": "/x"}, {"hostPath": {"path": "/a"}, "nfs": {"server": "s", "path": "/b"}}, {"hostPath": {"path": "relative"}},
     {"emptyDir": {"medium": "HugePages"}}],
    ids=["no-source", "two-sources", "relative-host-path", "bad-medium"],
)
def test_volume_shape_refused(chart, volume):
    assert "/volumes/v" in render_error(chart, {"volumes": {"v": volume}})


def test_host_path_volume_needs_privileged_pod_security():
    values = deep_merge(MINIMAL, {"volumes": {"media": {"hostPath": {"path": "/srv/media"}, "mountPath": "/media"}}})
    assert podsecurity.required_level(app_pod_spec(values)) == "privileged"
    nfs = deep_merge(MINIMAL, {"volumes": {"b": {"nfs": {"server": "s", "path": "/b"}, "mountPath": "/b"}}})
    assert podsecurity.required_level(app_pod_spec(nfs)) == "baseline"  # restricted allows no nfs volume


def test_pod_security_sees_every_container():
    """A sidecar that adds a capability lowers the pod to baseline or privileged; the old
    app_pod_spec looked at the app container only."""
    defaults = {"securityContext": SAFE, "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}}
    values = deep_merge(deep_merge(MINIMAL, defaults), {"containers": [{"name": "vpn", "image": SIDECAR_IMAGE, "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}]})
    assert podsecurity.required_level(app_pod_spec(values)) == "privileged"
    init = deep_merge(deep_merge(MINIMAL, defaults), {"initContainers": [{"name": "chown", "image": SIDECAR_IMAGE, "securityContext": {"runAsNonRoot": False, "runAsUser": 0}}]})
    assert podsecurity.required_level(app_pod_spec(init)) == "baseline"
    assert podsecurity.required_level(app_pod_spec(deep_merge(MINIMAL, defaults))) == "restricted"


# --------------------------------------------------------------------------- routes

ROUTES = {
    "ingress": {"enabled": True, "className": "traefik", "host": "cam.home.example.com",
                "tls": {"clusterIssuer": "letsencrypt-prod"},
                "routes": [{"name": "api", "host": "cam.home.example.com", "path": "/api", "stripPrefix": True, "middlewares": ["auth", "security/headers"]},
                           {"name": "files", "host": "files.home.example.com", "path": "/files"}]},
}


def test_traefik_routes_strip_prefix_through_a_middleware(render):
    docs = render(ROUTES)
    ingresses = {i["metadata"]["name"]: i for i in by_kind(docs, "Ingress")}
    assert sorted(ingresses) == [RELEASE, f"{RELEASE}-api", f"{RELEASE}-files"]
    api = ingresses[f"{RELEASE}-api"]
    assert api["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"] == \
        f"{NAMESPACE}-{RELEASE}-api-strip@kubernetescrd,{NAMESPACE}-auth@kubernetescrd,security-headers@kubernetescrd"
    rule = api["spec"]["rules"][0]
    assert rule["host"] == "cam.home.example.com"
    assert rule["http"]["paths"][0]["path"] == "/api" and rule["http"]["paths"][0]["pathType"] == "Prefix"
    assert api["spec"]["tls"] == [{"hosts": ["cam.home.example.com"], "secretName": f"{RELEASE}-api-tls"}]
    files = ingresses[f"{RELEASE}-files"]
    assert "traefik.ingress.kubernetes.io/router.middlewares" not in files["metadata"]["annotations"]
    assert files["spec"]["rules"][0]["host"] == "files.home.example.com"
    middleware = one(docs, "Middleware")
    assert middleware["apiVersion"] == "traefik.io/v1alpha1"
    assert middleware["metadata"]["name"] == f"{RELEASE}-api-strip"
    assert middleware["spec"] == {"stripPrefix": {"prefixes": ["/api"]}}


def test_nginx_routes_strip_prefix_with_a_capture_group(render):
    docs = render(deep_merge(ROUTES, {"ingress": {"className": "nginx", "routes": [
        {"name": "api", "host": "cam.home.example.com", "path": "/api/", "stripPrefix": True,
         "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "64m"}}]}}))
    api = next(i for i in by_kind(docs, "Ingress") if i["metadata"]["name"] == f"{RELEASE}-api")
    path = api["spec"]["rules"][0]["http"]["paths"][0]
    assert path["path"] == "/api(/|$)(.*)" and path["pathType"] == "ImplementationSpecific"
    assert api["metadata"]["annotations"] == {
        "cert-manager.io/cluster-issuer": "letsencrypt-prod",
        "nginx.ingress.kubernetes.io/proxy-body-size": "64m",
        "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
        "nginx.ingress.kubernetes.io/use-regex": "true",
    }
    assert by_kind(docs, "Middleware") == []


def test_nginx_refuses_traefik_middlewares(chart):
    bad = deep_merge(ROUTES, {"ingress": {"className": "nginx"}})
    assert "middlewares are Traefik Middleware objects" in render_error(chart, bad)


def test_strip_prefix_needs_a_prefix(chart):
    bad = deep_merge(ROUTES, {"ingress": {"routes": [{"name": "root", "host": "a.example.com", "path": "/", "stripPrefix": True}]}})
    assert "stripPrefix needs a path other than /" in render_error(chart, bad)


def test_routes_without_main_host(render):
    docs = render({"ingress": {"enabled": True, "className": "traefik", "routes": [{"name": "a", "host": "a.example.com"}]}})
    assert [i["metadata"]["name"] for i in by_kind(docs, "Ingress")] == [f"{RELEASE}-a"]


# --------------------------------------------------------------------------- images and GPUs


def test_private_registry_image_and_pull_secret(render):
    spec = pod(render({"image": {"repository": "kube-registry:5000/nginx-router", "tag": "2024.1", "digest": DIGEST},
                       "imagePullSecrets": ["registry-credentials"]}))
    assert spec["containers"][0]["image"] == f"kube-registry:5000/nginx-router:2024.1@{DIGEST}"
    assert spec["imagePullSecrets"] == [{"name": "registry-credentials"}]


def test_gpu_per_container_and_the_nvidia_environment(render):
    spec = pod(render({
        "controller": {"type": "StatefulSet", "replicas": 3},
        "containers": [{"name": "generator", "image": SIDECAR_IMAGE, "gpu": {"count": 1}},
                       {"name": "processor", "image": SIDECAR_IMAGE, "gpu": {"count": 1, "driverCapabilities": "all"}},
                       {"name": "uploader", "image": SIDECAR_IMAGE}],
    }))
    assert spec["runtimeClassName"] == "nvidia"
    by_name = {c["name"]: c for c in spec["containers"]}
    assert by_name["generator"]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert by_name["generator"]["env"] == [{"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "compute,utility,video"}]
    assert by_name["processor"]["env"] == [{"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "all"}]
    for plain in ("app", "uploader"):
        assert "nvidia.com/gpu" not in by_name[plain]["resources"].get("limits", {})
        assert {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"} in by_name[plain]["env"]
    # The device plugin, not the chart, names the GPU a GPU container gets.
    assert all(e["name"] != "NVIDIA_VISIBLE_DEVICES" for e in by_name["generator"]["env"])


def test_no_gpu_no_runtime_class_no_nvidia_env(render):
    spec = pod(render(SIDECARS))
    assert "runtimeClassName" not in spec
    assert all(not e["name"].startswith("NVIDIA_") for c in spec["containers"] for e in c.get("env", []))


@pytest.mark.parametrize(
    "extra",
    [SIDECARS, REPLICAS, VOLUMES, ROUTES, {"controller": {"type": "CronJob"}, "cronJob": {"schedule": "@hourly"}},
     {"controller": {"type": "DaemonSet"}}, {"controller": {"type": "Job"}}],
    ids=["sidecars", "replicas", "volumes", "routes", "cronjob", "daemonset", "job"],
)
def test_lint_strict_shapes(extra):
    from tests.test_chart_app import lint_problems

    assert lint_problems(deep_merge(MINIMAL, extra)) == []


def test_readme_examples_render_valid_objects(chart):
    import re

    import yaml

    text = (CHART / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text[text.index("## Example"):], re.S)
    assert len(blocks) >= 2
    for block in blocks:
        docs = parse(chart.render(yaml.safe_load(block), name=RELEASE, namespace=NAMESPACE))
        assert workload(docs)
        for doc in docs:
            if not doc["apiVersion"].startswith("traefik.io/"):
                kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_a_privileged_app_container_leaves_its_sidecars_safe(render):
    """Device access makes the app container privileged; the sidecars keep the safe defaults."""
    spec = pod(render({"securityContext": {"privileged": True, "allowPrivilegeEscalation": True},
                       "containers": [{"name": "exporter", "image": SIDECAR_IMAGE}],
                       "initContainers": [{"name": "wait", "image": SIDECAR_IMAGE}]}))
    assert spec["containers"][0]["securityContext"]["privileged"] is True
    assert named(spec["containers"], "exporter")["securityContext"] == SAFE
    assert named(spec["initContainers"], "wait")["securityContext"] == SAFE
    spec_model = app_pod_spec(deep_merge(MINIMAL, {"securityContext": {"privileged": True}, "containers": [{"name": "exporter", "image": SIDECAR_IMAGE}]}))
    assert spec_model["containers"][1]["securityContext"] == SAFE
