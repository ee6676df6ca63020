"""Custom-app shapes from the inventory to chart values: kinds, containers, per-replica files,
volumes (hostPath, NFS, emptyDir, ConfigMap/Secret, shared claims), routes, private images and
pull secrets. Each rule has rows at and around its boundary."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from generator.errors import ClustergenError
from generator.plan.app_shapes import image_values, main_image_values
from generator.render import ClusterSecrets, secret_manifests

from .helpers import files_of, inventory, load_problems, node, plan_of

IMAGE = "kube-registry:5000/cameranator/segment-generator:2022.10.1"


def app(**fields: Any) -> dict[str, Any]:
    return {"name": "cam", "image": IMAGE, **fields}


def two_nodes(**extra: Any) -> dict[str, Any]:
    return inventory([node("a", 11), node("b", 12)], **extra)


def plan_error(data: dict[str, Any]) -> list[tuple[str | None, str]]:
    with pytest.raises(ClustergenError) as caught:
        plan_of(data)
    return [(p.field, p.message) for p in caught.value.problems]


def values_of(plan: Any, name: str = "cam") -> dict[str, Any]:
    from generator.plan.merge import deep_merge

    found = next(a for a in plan.apps if a.name == name)
    return deep_merge(found.base_values, found.cluster_values)


# -- images ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "image, parts",
    [
        ("kube-registry:5000/nginx-router:2024.1", ("kube-registry:5000/nginx-router", "2024.1", "")),
        ("localhost:5000/a/b:1", ("localhost:5000/a/b", "1", "")),
        ("docker.io/library/busybox:1.37.0", ("docker.io/library/busybox", "1.37.0", "")),
        ("kube-registry:5000/app@sha256:" + "a" * 64, ("kube-registry:5000/app", "", "sha256:" + "a" * 64)),
        ("ghcr.io/x/y:2@sha256:" + "b" * 64, ("ghcr.io/x/y", "2", "sha256:" + "b" * 64)),
    ],
)
def test_image_parts_keep_the_registry_port(image: str, parts: tuple[str, str, str]) -> None:
    assert tuple(image_values(image).values()) == parts


def test_digest_only_main_image_takes_a_label_tag() -> None:
    assert main_image_values("kube-registry:5000/app@sha256:" + "c" * 64)["tag"] == "c" * 12


@pytest.mark.parametrize(
    "image, accepted",
    [
        ("kube-registry:5000/nginx-router:2024.1", True),  # refused before: host:port
        ("192.168.1.5:5000/app:1.0", True),
        ("registry.lan/app@sha256:" + "d" * 64, True),
        ("kube-registry:5000/app", True),  # loads; the pinning check refuses it
        ("kube-registry:5000/app:1:2", False),
        ("kube registry/app:1", False),
        ("app:", False),
    ],
)
def test_schema_takes_private_registry_images(image: str, accepted: bool) -> None:
    problems, _ = load_problems(two_nodes(apps=[app(image=image)]))
    schema_problems = [p for p in problems if p.field == "apps[0].image" and "not pinned" not in p.message]
    assert (schema_problems == []) is accepted, problems


def test_private_image_without_tag_is_not_pinned() -> None:
    problems, _ = load_problems(two_nodes(apps=[app(image="kube-registry:5000/app")]))
    assert [p.message for p in problems] == ["image kube-registry:5000/app is not pinned"]


def test_pull_secret_comes_from_the_store_into_each_namespace() -> None:
    data = two_nodes(apps=[app(pullSecret=True, namespace="cctv"), app(name="cam2", pullSecret=True, namespace="cctv"), app(name="other")])
    plan = plan_of(data)
    assert values_of(plan)["imagePullSecrets"] == ["registry-credentials"]
    assert "imagePullSecrets" not in values_of(plan, "other")
    auths = '{"auths": {"kube-registry:5000": {"auth": "dTpw"}}}'
    manifests = dict(secret_manifests(plan, ClusterSecrets("t", registry_auths=auths)))
    secret = manifests["overlays/lab/apps/registry/cctv.sops.yaml"]
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert secret["metadata"] == {"name": "registry-credentials", "namespace": "cctv"}
    assert secret["stringData"] == {".dockerconfigjson": auths}
    assert [p for p in manifests if "/registry/" in p] == ["overlays/lab/apps/registry/cctv.sops.yaml"]
    # Without the user's credentials: an empty config, never made up.
    empty = dict(secret_manifests(plan, ClusterSecrets("t")))["overlays/lab/apps/registry/cctv.sops.yaml"]
    assert empty["stringData"] == {".dockerconfigjson": '{"auths": {}}'}
    files = files_of(data)
    assert yaml.safe_load(files["overlays/lab/apps/registry/kustomization.yaml"])["resources"] == ["cctv.sops.yaml"]
    assert "registry" in yaml.safe_load(files["overlays/lab/apps/kustomization.yaml"])["resources"]


# -- kinds ----------------------------------------------------------------------------------

def test_cronjob_takes_the_cluster_time_zone_and_no_service() -> None:
    data = two_nodes(apps=[app(kind="CronJob", cronJob={"schedule": "0 3 * * *", "successfulJobsHistoryLimit": 1}, ports=[{"name": "http", "port": 80}])])
    data["cluster"]["timezone"] = "Europe/Berlin"
    values = values_of(plan_of(data))
    assert values["controller"]["type"] == "CronJob"
    assert values["cronJob"] == {"timeZone": "Europe/Berlin", "schedule": "0 3 * * *", "successfulJobsHistoryLimit": 1}
    assert values["service"]["enabled"] is False
    assert "ingress" not in values  # nothing to route to, though it has a port


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"kind": "CronJob"}, "apps[0].kind", "app 'cam' is a CronJob without a schedule"),
        ({"kind": "Job", "cronJob": {"schedule": "@daily"}}, "apps[0].cronJob", "app 'cam' has cronJob but kind Job"),
        ({"replicaConfig": {"mountPath": "/c", "replicas": [{"a": "1"}]}}, "apps[0].replicaConfig", "app 'cam' has replicaConfig but kind Deployment: only a StatefulSet's replicas have ordinals"),
        ({"kind": "DaemonSet", "persistence": [{"name": "data", "mountPath": "/d"}]}, "apps[0].persistence[0].name", "app 'cam' is a DaemonSet with the ReadWriteOnce claim 'data': its pods on other nodes could not mount it"),
        ({"kind": "StatefulSet", "replicas": 3, "replicaConfig": {"mountPath": "/c", "replicas": [{"a": "1"}, {"a": "2"}]}}, "apps[0].replicas", "app 'cam' has 3 replicas but 2 replica configurations"),
    ],
)
def test_kind_fields_that_do_not_fit(fields: dict[str, Any], field: str, message: str) -> None:
    assert plan_error(two_nodes(apps=[app(**fields)])) == [(field, message)]


def test_daemonset_may_share_a_claim_it_does_not_create() -> None:
    for volume in ({"name": "data", "mountPath": "/d", "existingClaim": "old"}, {"name": "data", "mountPath": "/d", "accessMode": "ReadWriteMany", "storageClass": "x"}):
        assert values_of(plan_of(two_nodes(apps=[app(kind="DaemonSet", persistence=[volume])])))["controller"]["type"] == "DaemonSet"


@pytest.mark.parametrize("replicas", [None, 2])
def test_replica_files_by_ordinal(replicas: int | None) -> None:
    fields: dict[str, Any] = {"kind": "StatefulSet", "replicaConfig": {"mountPath": "/etc/camera", "replicas": [{"camera.env": "A\n"}, {"camera.env": "B\n"}]}}
    if replicas is not None:
        fields["replicas"] = replicas
    values = values_of(plan_of(two_nodes(apps=[app(**fields)])))
    assert values["controller"] == {"type": "StatefulSet", "replicas": 2}
    assert values["replicaConfig"] == {"mountPath": "/etc/camera", "replicas": {"0": {"camera.env": "A\n"}, "1": {"camera.env": "B\n"}}}


@pytest.mark.parametrize("field", ["kind", "containers", "replicaConfig", "command"])
def test_workload_fields_are_for_custom_apps(field: str) -> None:
    raw = {"kind": "StatefulSet", "containers": [{"name": "x", "image": IMAGE}], "replicaConfig": {"mountPath": "/c", "replicas": [{"a": "1"}]}, "command": ["x"]}
    errors = plan_error(two_nodes(apps=[{"name": "mosquitto", field: raw[field]}]))
    assert errors == [(f"apps[0].{field}", f"app 'mosquitto' is the catalog app 'mosquitto'; {field} only apply to custom apps")]


# -- containers -----------------------------------------------------------------------------

def test_containers_and_init_containers_become_chart_values() -> None:
    data = two_nodes(apps=[app(
        persistence=[{"name": "data", "mountPath": "/data"}],
        containers=[{"name": "processor", "image": "kube-registry:5000/p@sha256:" + "e" * 64, "env": {"N": 1},
                     "ports": [{"name": "metrics", "port": 9100}], "probes": {"liveness": {"type": "http", "port": "metrics", "path": "/healthz"}},
                     "securityContext": {"readOnlyRootFilesystem": False},
                     "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "tmp", "mountPath": "/tmp"}]}],
        initContainers=[{"name": "wait", "image": "docker.io/library/busybox:1.37.0", "command": ["sh", "-c", "true"]},
                        {"name": "vpn", "image": "docker.io/library/busybox:1.37.0", "sidecar": True}],
    )])
    values = values_of(plan_of(data))
    processor = values["containers"][0]
    assert processor["image"] == {"repository": "kube-registry:5000/p", "tag": "", "digest": "sha256:" + "e" * 64}
    assert processor["env"] == {"N": "1"}
    assert processor["ports"] == [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]
    assert processor["probes"] == {"liveness": {"type": "http", "port": "metrics", "path": "/healthz"}}
    assert processor["volumeMounts"] == [{"name": "data", "mountPath": "/data"}, {"name": "empty-tmp", "mountPath": "/tmp"}]
    assert processor["resources"]["requests"] == {"cpu": "50m", "memory": "128Mi"}  # requests always set
    assert [c["name"] for c in values["initContainers"]] == ["wait", "vpn"]
    assert "restartPolicy" not in values["initContainers"][0]
    assert values["initContainers"][1]["restartPolicy"] == "Always"


def test_a_mount_of_a_volume_the_app_lacks_names_the_field() -> None:
    data = two_nodes(apps=[app(containers=[{"name": "p", "image": IMAGE, "volumeMounts": [{"name": "tmp", "mountPath": "/t"}, {"name": "footage", "mountPath": "/f"}]}])])
    [(field, message)] = plan_error(data)
    assert field == "apps[0].containers[0].volumeMounts[1].name"
    assert message == "container 'p' of app 'cam' mounts 'footage', which the app does not have"


def test_two_containers_of_one_name() -> None:
    data = two_nodes(apps=[app(containers=[{"name": "p", "image": IMAGE}], initContainers=[{"name": "p", "image": IMAGE}])])
    assert plan_error(data) == [("apps[0].containers", "app 'cam' has two containers named p")]


@pytest.mark.parametrize("where", ["app", "container", "init"])
def test_a_gpu_anywhere_in_the_pod_needs_a_gpu_node(where: str) -> None:
    nodes = [node("a", 11), node("g", 12, gpus=[{"vendor": "nvidia"}])]
    fields: dict[str, Any] = {"app": {"gpu": 1}, "container": {"containers": [{"name": "p", "image": IMAGE, "gpu": 1}]},
                              "init": {"initContainers": [{"name": "p", "image": IMAGE, "gpu": 1, "sidecar": True}]}}[where]
    plan = plan_of(inventory(nodes, apps=[app(**fields)]))
    assert plan.apps[0].eligible_nodes == ("g",)
    values = values_of(plan)
    assert values["runtimeClassName"] == "nvidia"
    assert values["nodeSelector"]["clustergen.dev/gpu"] == "nvidia"
    assert ("gpu" in values and values["gpu"]["enabled"]) is (where == "app")


def test_no_gpu_no_gpu_node_needed() -> None:
    plan = plan_of(inventory([node("a", 11), node("g", 12, gpus=[{"vendor": "nvidia"}])], apps=[app(containers=[{"name": "p", "image": IMAGE}])]))
    assert plan.apps[0].eligible_nodes == ("a", "g")
    assert "runtimeClassName" not in values_of(plan)


# -- host paths -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "path, refused",
    [
        ("/", True), ("/etc", True), ("/etc/ssl", True), ("/etcd-backup", False),
        ("/var", True), ("/var/lib", True), ("/var/lib/media", False), ("/var/lib/rancher", True), ("/var/lib/rancher/k3s/storage", True),
        ("/var/lib/kubelet/pods", True), ("/proc", True), ("/sys/class", True), ("/boot/firmware", True), ("/usr/share", True),
        ("/srv/media", False), ("/srv/../etc", True), ("/mnt/usb/media", False), ("/home/user/books", False), ("/var/mnt/disk1/media", False),
        ("/run/containerd", True), ("/var/lib/containerd", True), ("/root", True),
    ],
)
def test_system_directories_are_refused(path: str, refused: bool) -> None:
    data = inventory([node("a", 11)], apps=[app(volumes=[{"name": "media", "hostPath": path, "mountPath": "/media"}])])
    if refused:
        [(field, message)] = plan_error(data)
        assert field == "apps[0].volumes[0].hostPath"
        assert message.startswith("app 'cam' mounts the host's ")
    else:
        plan = plan_of(data)
        assert values_of(plan)["volumes"]["media"]["hostPath"]["path"] == path


def test_dev_paths_point_to_devices() -> None:
    with pytest.raises(ClustergenError) as caught:
        plan_of(inventory([node("a", 11)], apps=[app(volumes=[{"name": "tty", "hostPath": "/dev/ttyUSB0"}])]))
    assert "devices:" in (caught.value.problems[0].hint or "")


@pytest.mark.parametrize(
    "nodes, mount_node, pinned, error",
    [
        (["a"], None, "a", None),
        (["a", "b"], "b", "b", None),
        (["a", "b"], None, None, "app 'cam' mounts /srv/media from a node, but could run on 2 nodes"),
        (["a", "b"], "c", None, "app 'cam' keeps its host directory on c, where it cannot run"),
    ],
)
def test_host_path_pins_the_app_and_warns(nodes: list[str], mount_node: str | None, pinned: str | None, error: str | None) -> None:
    mount: dict[str, Any] = {"name": "media", "hostPath": "/srv/media", "mountPath": "/media"}
    if mount_node:
        mount["node"] = mount_node
    data = inventory([node(n, 11 + i) for i, n in enumerate(nodes)], apps=[app(volumes=[mount])])
    if error:
        assert [m for _, m in plan_error(data)] == [error]
        return
    plan = plan_of(data)
    assert plan.apps[0].eligible_nodes == (pinned,)
    assert values_of(plan)["nodeSelector"]["kubernetes.io/hostname"] == pinned
    [warning] = [w for w in plan.warnings if w.code == "host-path-pins-app"]
    assert warning.field == "apps[0].volumes[0].hostPath" and pinned in warning.message
    assert plan.apps[0].pod_security == "privileged"


def test_other_volume_sources() -> None:
    plan = plan_of(two_nodes(apps=[app(volumes=[
        {"name": "books", "nfs": {"server": "10.1.0.9", "path": "/export/books"}, "mountPath": "/books", "readOnly": True},
        {"name": "shm", "emptyDir": {"memory": True, "sizeLimit": "256Mi"}, "mountPath": "/dev/shm"},
        {"name": "scratch", "emptyDir": {}, "mountPath": "/scratch"},
        {"name": "settings", "configMap": "cam-settings", "mountPath": "/settings"},
        {"name": "creds", "secret": "cam-creds", "mountPath": "/creds", "subPath": "token"},
    ])]))
    volumes = values_of(plan)["volumes"]
    assert volumes["books"] == {"nfs": {"server": "10.1.0.9", "path": "/export/books"}, "mountPath": "/books", "readOnly": True}
    assert volumes["shm"] == {"emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}, "mountPath": "/dev/shm"}
    assert volumes["scratch"] == {"emptyDir": {}, "mountPath": "/scratch"}
    assert volumes["settings"] == {"configMap": {"name": "cam-settings"}, "mountPath": "/settings"}
    assert volumes["creds"] == {"secret": {"secretName": "cam-creds"}, "mountPath": "/creds", "subPath": "token"}
    assert plan.apps[0].pod_security == "baseline"  # NFS: restricted allows no nfs volume


def test_a_volume_with_two_sources_is_refused_by_the_schema() -> None:
    problems, _ = load_problems(two_nodes(apps=[app(volumes=[{"name": "v", "hostPath": "/srv/a", "configMap": "x"}])]))
    assert [p.field for p in problems] == ["apps[0].volumes[0]"]


# -- shared claims and ReadWriteMany ---------------------------------------------------------

def shared_apps(ns_b: str = "media") -> list[dict[str, Any]]:
    return [
        app(name="rec", namespace="media", volumes=[{"name": "footage", "shared": "footage", "mountPath": "/srv"}]),
        app(name="api", namespace=ns_b, volumes=[{"name": "footage", "shared": "footage", "mountPath": "/srv", "readOnly": True}]),
    ]


def test_shared_claim_is_declared_once_and_mounted_by_both() -> None:
    data = two_nodes(apps=shared_apps(), volumes=[{"name": "footage", "size": "200Gi", "storageClass": "ceph-filesystem"}])
    plan = plan_of(data)
    [volume] = plan.shared_volumes
    assert (volume.name, volume.namespace, volume.access_mode, volume.storage_class, volume.apps) == ("footage", "media", "ReadWriteMany", "ceph-filesystem", ("rec", "api"))
    for name in ("rec", "api"):
        assert values_of(plan, name)["volumes"]["footage"]["persistentVolumeClaim"] == {"claimName": "footage"}
    files = files_of(data)
    [pvc] = yaml.safe_load_all(files["overlays/lab/apps/shared-volumes.yaml"])
    assert pvc["metadata"]["namespace"] == "media"
    assert pvc["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep", "kustomize.toolkit.fluxcd.io/prune": "disabled"}
    assert pvc["spec"] == {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "200Gi"}}, "storageClassName": "ceph-filesystem"}
    assert "shared-volumes.yaml" in yaml.safe_load(files["overlays/lab/apps/kustomization.yaml"])["resources"]


def test_shared_claim_across_namespaces_is_refused() -> None:
    data = two_nodes(apps=shared_apps(ns_b="other"), volumes=[{"name": "footage", "size": "1Gi", "storageClass": "ceph-filesystem"}])
    [(field, message)] = plan_error(data)
    assert field == "apps[1].volumes[0].shared"
    assert message == "shared volume 'footage' is mounted from namespaces media, other; a claim lives in one namespace"


@pytest.mark.parametrize(
    "volume, ok",
    [({"accessMode": "ReadWriteMany"}, False), ({}, False), ({"storageClass": "nfs-client"}, True), ({"accessMode": "ReadWriteOnce"}, True)],
)
def test_rwx_claim_needs_a_class_that_serves_it(volume: dict[str, Any], ok: bool) -> None:
    data = two_nodes(apps=shared_apps(), volumes=[{"name": "footage", "size": "1Gi", **volume}])
    if ok:
        assert plan_of(data).shared_volumes[0].storage_class == volume.get("storageClass")
        return
    with pytest.raises(ClustergenError) as caught:
        plan_of(data)
    [problem] = caught.value.problems
    assert (problem.code, problem.field) == ("rwx-without-class", "volumes[0].name")
    assert "storageClass:" in (problem.hint or "")


def test_unknown_and_unused_shared_volumes() -> None:
    errors = plan_error(two_nodes(apps=shared_apps(), volumes=[{"name": "other", "size": "1Gi", "accessMode": "ReadWriteOnce"}]))
    assert errors == [("apps[0].volumes[0].shared", "app 'rec' mounts the shared volume 'footage', which volumes: does not declare")]
    plan = plan_of(two_nodes(apps=[app()], volumes=[{"name": "spare", "size": "1Gi", "storageClass": "x"}]))
    assert plan.shared_volumes == ()
    assert [w.message for w in plan.warnings if "spare" in w.message] == ["shared volume 'spare' is mounted by no app, so no claim is made"]


@pytest.mark.parametrize("mode, storage_class, ok", [("ReadWriteMany", None, False), ("ReadWriteMany", "ceph-filesystem", True), ("ReadWriteOnce", None, True)])
def test_rwx_persistence_needs_a_class(mode: str, storage_class: str | None, ok: bool) -> None:
    volume: dict[str, Any] = {"name": "data", "mountPath": "/data", "accessMode": mode}
    if storage_class:
        volume["storageClass"] = storage_class
    data = two_nodes(apps=[app(persistence=[volume])])
    if not ok:
        [(field, _)] = plan_error(data)
        assert field == "apps[0].persistence[0].accessMode"
        return
    entry = values_of(plan_of(data))["persistence"]["data"]
    assert entry.get("accessMode", "ReadWriteOnce") == mode and entry.get("storageClass") == storage_class


# -- routes ---------------------------------------------------------------------------------

def test_routes_reach_the_chart_with_hosts_under_the_domain() -> None:
    plan = plan_of(two_nodes(apps=[app(ports=[{"name": "http", "port": 8080}], ingress=False, routes=[
        {"name": "api", "path": "/api", "stripPrefix": True, "middlewares": ["auth"]},
        {"name": "files", "host": "files.lab.example.com", "path": "/files"},
    ])]))
    ingress = values_of(plan)["ingress"]
    assert "host" not in ingress and plan.apps[0].host is None
    assert ingress["routes"] == [
        {"name": "api", "host": "cam.lab.example.com", "path": "/api", "servicePort": "http", "stripPrefix": True, "middlewares": ["auth"]},
        {"name": "files", "host": "files.lab.example.com", "path": "/files", "servicePort": "http"},
    ]


def test_route_host_outside_the_domain() -> None:
    data = two_nodes(apps=[app(ports=[{"name": "http", "port": 8080}], routes=[{"name": "api", "host": "api.example.org", "path": "/api"}])])
    assert plan_error(data) == [("apps[0].routes[0].host", "host api.example.org is not under the cluster domain lab.example.com")]


def test_traefik_middlewares_on_nginx_are_refused() -> None:
    data = two_nodes(apps=[app(ports=[{"name": "http", "port": 8080}], routes=[{"name": "api", "path": "/api", "middlewares": ["auth"]}])],
                     components={"ingress": "ingress-nginx"})
    [(field, message)] = plan_error(data)
    assert field == "apps[0].routes[0].middlewares" and "Traefik middlewares" in message


def test_routes_without_a_port() -> None:
    assert plan_error(two_nodes(apps=[app(routes=[{"name": "api", "path": "/api"}])])) == [("apps[0].routes", "app 'cam' has routes but no port to route to")]


@pytest.mark.parametrize("ingress, routes, reached", [(False, True, True), (True, False, True), (False, False, False)])
def test_the_ingress_controller_may_reach_a_routed_app(ingress: bool, routes: bool, reached: bool) -> None:
    fields: dict[str, Any] = {"ports": [{"name": "http", "port": 8080}], "ingress": ingress}
    if routes:
        fields["routes"] = [{"name": "api", "path": "/api", "stripPrefix": True}]
    plan = plan_of(two_nodes(apps=[app(**fields)]))
    [policy] = [p for p in plan.network_policies if p.namespace == "cam"]
    assert any(peer.namespace == "traefik" and (8080, "TCP") in peer.ports for peer in policy.ingress_from) is reached
    assert plan.apps[0].route_hosts == (("cam.lab.example.com",) if routes else ())


@pytest.mark.parametrize(
    "field, image, pinned",
    [("containers", "kube-registry:5000/p:1.0", True), ("containers", "kube-registry:5000/p", False), ("initContainers", "docker.io/library/busybox:latest", False),
     ("initContainers", "docker.io/library/busybox@sha256:" + "f" * 64, True)],
)
def test_every_container_image_is_pinned(field: str, image: str, pinned: bool) -> None:
    problems, _ = load_problems(two_nodes(apps=[app(**{field: [{"name": "p", "image": image}]})]))
    assert [(p.field, p.message) for p in problems] == ([] if pinned else [(f"apps[0].{field}[0].image", f"image {image} is not pinned")])


@pytest.mark.parametrize("mode, explicit, plan_class, expected", [
    ("ReadWriteMany", None, "ceph-filesystem", "ceph-filesystem"),
    ("ReadWriteMany", "nfs-client", "ceph-filesystem", "nfs-client"),
    ("ReadWriteOnce", None, "ceph-filesystem", None),  # RWO takes the cluster's default class
])
def test_shared_claim_takes_the_plan_rwx_class(mode: str, explicit: str | None, plan_class: str, expected: str | None) -> None:
    from generator.inventory import load_inventory_text
    from generator.plan.app_shapes import plan_shared_volumes

    volume: dict[str, Any] = {"name": "footage", "size": "1Gi", "accessMode": mode}
    if explicit:
        volume["storageClass"] = explicit
    inv, _ = load_inventory_text(yaml.safe_dump(two_nodes(apps=shared_apps(), volumes=[volume])), "inventory.yaml")
    [plan], warnings = plan_shared_volumes(inv, {"rec": "media", "api": "media"}, plan_class)
    assert plan.storage_class == expected and warnings == []


# -- the bundled example --------------------------------------------------------------------

def test_mixed_shelf_runs_the_seed_cctv_shapes() -> None:
    """The example keeps every shape issue 12 asks of it, down to the rendered pods."""
    import helm_python as helm

    from generator.plan.merge import deep_merge

    from ..conftest import EXAMPLES
    from ..test_chart_app import CHART

    data = yaml.safe_load((EXAMPLES / "mixed-shelf.yaml").read_text())
    plan = plan_of(data)
    by_name = {a.name: a for a in plan.apps}
    [footage] = plan.shared_volumes
    assert (footage.access_mode, footage.namespace, set(footage.apps)) == ("ReadWriteMany", "cctv", {"cctv", "cctv-api", "cctv-prune"})
    with helm.Chart.load(CHART) as chart:
        def pods(name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            app_plan = by_name[name]
            rendered = chart.render(deep_merge(app_plan.base_values, app_plan.cluster_values), name=name, namespace=app_plan.namespace)
            docs = [d for path in sorted(rendered) if not path.endswith("NOTES.txt") for d in yaml.safe_load_all(rendered[path]) if d]
            workload = next(d for d in docs if d["kind"] in ("StatefulSet", "Deployment", "CronJob"))
            return workload, docs

        cctv, _ = pods("cctv")
        assert cctv["kind"] == "StatefulSet" and cctv["spec"]["replicas"] == 2
        spec = cctv["spec"]["template"]["spec"]
        assert [c["name"] for c in spec["initContainers"]] == ["replica-config"]
        assert [c["name"] for c in spec["containers"]] == ["app", "processor"]
        assert spec["containers"][0]["image"].startswith("kube-registry:5000/")
        assert spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert spec["runtimeClassName"] == "nvidia"
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"] if "persistentVolumeClaim" in v}
        assert claims == {"footage": "cctv-footage"}
        prune, _ = pods("cctv-prune")
        assert prune["kind"] == "CronJob" and prune["spec"]["timeZone"] == "Europe/Amsterdam"
        _, api_docs = pods("cctv-api")
        [middleware] = [d for d in api_docs if d["kind"] == "Middleware"]
        assert middleware["spec"] == {"stripPrefix": {"prefixes": ["/api"]}}
        [ingress] = [d for d in api_docs if d["kind"] == "Ingress"]
        assert ingress["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"] == "cctv-cctv-api-api-strip@kubernetescrd"


def rendered(plan: Any, name: str) -> list[dict[str, Any]]:
    import helm_python as helm

    from generator.plan.merge import deep_merge

    from ..test_chart_app import CHART

    app_plan = next(a for a in plan.apps if a.name == name)
    with helm.Chart.load(CHART) as chart:
        out = chart.render(deep_merge(app_plan.base_values, app_plan.cluster_values), name=name, namespace=app_plan.namespace)
    return [d for path in sorted(out) if not path.endswith("NOTES.txt") for d in yaml.safe_load_all(out[path]) if d]


def test_seed_003_shapes_from_an_inventory_to_the_pods() -> None:
    """Seed 003: media on a host directory (pinned to its node), an NFS library, existing
    claims, a polling script as a CronJob, and a node agent as a DaemonSet, on ingress-nginx."""
    data = inventory([node("a", 11), node("b", 12)], components={"ingress": "ingress-nginx"}, apps=[
        app(name="calibre", image="docker.io/linuxserver/calibre:7.26.0", namespace="books", ports=[{"name": "http", "port": 8080}],
            volumes=[{"name": "incoming", "hostPath": "/srv/books/incoming", "node": "b", "mountPath": "/incoming"},
                     {"name": "library", "nfs": {"server": "10.1.0.50", "path": "/export/books"}, "mountPath": "/library"},
                     {"name": "shm", "emptyDir": {"memory": True, "sizeLimit": "128Mi"}, "mountPath": "/dev/shm"}],
            persistence=[{"name": "config", "mountPath": "/config", "existingClaim": "calibre-config"}],
            routes=[{"name": "api", "path": "/api", "stripPrefix": True}]),
        app(name="weather", image="ghcr.io/example/weather-poller:1.4.2", kind="CronJob", cronJob={"schedule": "*/10 * * * *"},
            command=["python", "/app/poll.py"], volumes=[{"name": "script", "configMap": "weather-script", "mountPath": "/app"}]),
        app(name="agent", image="ghcr.io/example/agent:2.0.0", kind="DaemonSet",
            initContainers=[{"name": "wait", "image": "docker.io/library/busybox:1.37.0", "command": ["sh", "-c", "true"]}],
            containers=[{"name": "shipper", "image": "docker.io/library/busybox:1.37.0", "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]}]),
    ])
    plan = plan_of(data)
    calibre = next(d for d in rendered(plan, "calibre") if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert calibre["nodeSelector"]["kubernetes.io/hostname"] == "b"
    volumes = {v["name"]: v for v in calibre["volumes"]}
    assert volumes["incoming"]["hostPath"] == {"path": "/srv/books/incoming", "type": "Directory"}
    assert volumes["library"]["nfs"] == {"server": "10.1.0.50", "path": "/export/books"}
    assert volumes["shm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "128Mi"}
    assert volumes["config"]["persistentVolumeClaim"] == {"claimName": "calibre-config"}
    api = next(d for d in rendered(plan, "calibre") if d["kind"] == "Ingress" and d["metadata"]["name"] == "calibre-api")
    assert api["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/api(/|$)(.*)"
    assert api["metadata"]["annotations"]["nginx.ingress.kubernetes.io/rewrite-target"] == "/$2"
    assert {a.name: a.pod_security for a in plan.apps} == {"calibre": "privileged", "weather": "restricted", "agent": "restricted"}
    cron = next(d for d in rendered(plan, "weather") if d["kind"] == "CronJob")
    job_pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert job_pod["containers"][0]["command"] == ["python", "/app/poll.py"]
    assert {"name": "script", "configMap": {"name": "weather-script"}} in job_pod["volumes"]
    daemon = next(d for d in rendered(plan, "agent") if d["kind"] == "DaemonSet")["spec"]["template"]["spec"]
    assert [c["name"] for c in daemon["initContainers"]] == ["wait"]
    assert [c["name"] for c in daemon["containers"]] == ["app", "shipper"]
    assert daemon["containers"][1]["volumeMounts"] == [{"name": "empty-tmp", "mountPath": "/tmp"}]


def test_pull_credentials_go_from_the_store_to_the_encrypted_secret(tmp_path) -> None:
    """The user's registryAuths, set with the real sops as the repository README says, reach
    the namespace's dockerconfigjson Secret encrypted, and never in plaintext."""
    import os
    import subprocess

    from generator.cli import main
    from generator.write.sops import sops_binary

    inventory_file = tmp_path / "inventory.yaml"
    inventory_file.write_text(yaml.safe_dump(two_nodes(apps=[app(pullSecret=True, namespace="cctv")]), sort_keys=False))
    repo = tmp_path / "repo"
    assert main(["generate", str(inventory_file), "-o", str(repo)]) == 0
    auths = '{"auths": {"kube-registry:5000": {"auth": "dXNlcjpwYXNzd29yZA=="}}}'
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(repo / ".clustergen/age.key")}
    sops = [sops_binary(), "--disable-version-check"]
    subprocess.run([*sops, "set", ".clustergen/secrets.sops.yaml", '["registryAuths"]', __import__("json").dumps(auths)], cwd=repo, env=env, check=True)
    assert main(["generate", str(inventory_file), "-o", str(repo)]) == 0
    encrypted = (repo / "overlays/lab/apps/registry/cctv.sops.yaml").read_text()
    assert "dXNlcjpwYXNzd29yZA" not in encrypted and "ENC[" in encrypted
    secret = yaml.safe_load(subprocess.run([*sops, "decrypt", "overlays/lab/apps/registry/cctv.sops.yaml"], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout)
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert secret["stringData"][".dockerconfigjson"] == auths


@pytest.mark.parametrize("kind, warned", [("Job", True), ("CronJob", False), ("Deployment", False)])
def test_a_job_warns_that_it_cannot_change(kind: str, warned: bool) -> None:
    fields: dict[str, Any] = {"kind": kind}
    if kind == "CronJob":
        fields["cronJob"] = {"schedule": "@daily"}
    plan = plan_of(two_nodes(apps=[app(**fields)]))
    assert ("job-is-immutable" in [w.code for w in plan.warnings]) is warned


def test_a_daemonset_host_path_pins_nothing() -> None:
    plan = plan_of(two_nodes(apps=[app(kind="DaemonSet", volumes=[{"name": "logs", "hostPath": "/var/log/app", "mountPath": "/logs", "readOnly": True}])]))
    assert plan.apps[0].eligible_nodes == ("a", "b")
    assert "nodeSelector" not in values_of(plan)
    assert "host-path-pins-app" not in [w.code for w in plan.warnings]
