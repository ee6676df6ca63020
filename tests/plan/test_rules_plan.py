"""Table tests for every other rule in generator/plan/: swap, small-memory nodes and heavy apps,
architecture affinity, eligibility, storage choice, Raspberry Pis, GPUs, load balancers, the ACME
solver, backups, monitoring sizing and Talos disks. Rows sit at and next to each boundary."""

from __future__ import annotations

from typing import Any

import pytest

from generator.errors import ClustergenError, PlanError
from generator.plan.components import gpu_config_name, nvidia_values, time_slicing_config
from generator.plan.hardware import allocatable
from generator.plan.monitoring import prometheus_volume_gib

from .helpers import disk, inventory, load_problems, node, plan_of, warning_codes, warnings_with


def custom_app(**facts: Any) -> dict[str, Any]:
    return {"name": "x", "image": "docker.io/example/x:1.0", "ports": [{"name": "http", "port": 8080}], **facts}


def match_expressions(app: Any) -> list[dict[str, Any]]:
    affinity = app.cluster_values.get("affinity")
    if not affinity:
        return []
    return affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"]


# -- swap ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "memory, swap, swap_mib",
    [
        ("512Mi", "auto", 1024), ("1Gi", "auto", 1024), ("1536Mi", "auto", 1536), ("2Gi", "auto", 2048),
        ("2049Mi", "auto", 0), ("4Gi", "auto", 0),
        ("1Gi", "off", 0), ("2Gi", "off", 0),
        ("4Gi", "on", 2048), ("16Gi", "on", 2048), ("1Gi", "on", 1024),
    ],
)
def test_swap_for_nodes_with_2_gib_or_less(memory: str, swap: str, swap_mib: int) -> None:
    plan = plan_of(inventory([node("a", 11), node("b", 12, memory=memory, swap=swap, role="worker")]))
    assert plan.nodes[1].swap_mib == swap_mib


# -- small-memory nodes and heavy apps -------------------------------------------------

@pytest.mark.parametrize("memory, small", [("512Mi", True), ("1Gi", True), ("1025Mi", False), ("2Gi", False)])
def test_small_memory_label(memory: str, small: bool) -> None:
    plan = plan_of(inventory([node("a", 11), node("b", 12, memory=memory, role="worker")]))
    assert ("clustergen.dev/small-memory" in plan.nodes[1].node_labels) is small


@pytest.mark.parametrize(
    "memory, weight, eligible, avoids_small",
    [
        ("1Gi", "heavy", ("a",), True), ("1025Mi", "heavy", ("a", "b"), False), ("512Mi", "heavy", ("a",), True),
        ("1Gi", "medium", ("a", "b"), False), ("1Gi", "light", ("a", "b"), False),
    ],
)
def test_heavy_apps_stay_off_1_gib_nodes(memory: str, weight: str, eligible: tuple[str, ...], avoids_small: bool) -> None:
    data = inventory([node("a", 11), node("b", 12, memory=memory, role="worker")], apps=[custom_app(weight=weight)])
    app = plan_of(data).apps[0]
    assert app.eligible_nodes == eligible
    small = {"key": "clustergen.dev/small-memory", "operator": "DoesNotExist"}
    assert (small in match_expressions(app)) is avoids_small


def test_heavy_app_with_only_small_nodes_fits_nowhere() -> None:
    with pytest.raises(PlanError) as err:
        plan_of(inventory([node("a", 11, memory="1Gi")], apps=[custom_app(weight="heavy")]))
    assert "can run on no node (a: too little memory for a heavy app)" in err.value.problems[0].message
    assert err.value.problems[0].field == "apps[0].name"


# -- architecture and eligibility ------------------------------------------------------

@pytest.mark.parametrize(
    "node_arches, app_arches, eligible, affinity",
    [
        (["amd64", "amd64"], ["amd64"], ("a", "b"), None),
        (["amd64", "arm64"], ["amd64"], ("a",), ["amd64"]),
        (["amd64", "arm64"], ["arm64"], ("b",), ["arm64"]),
        (["amd64", "arm64"], ["amd64", "arm64"], ("a", "b"), None),
        (["amd64", "arm64"], None, ("a", "b"), None),  # the default: both
        (["arm64", "arm64"], ["arm64", "amd64"], ("a", "b"), None),
    ],
)
def test_arch_affinity_only_when_some_node_cannot_run_the_image(node_arches: list[str], app_arches: list[str] | None, eligible: tuple[str, ...], affinity: list[str] | None) -> None:
    nodes = [node(name, 11 + i, arch=arch) for i, (name, arch) in enumerate(zip("ab", node_arches, strict=True))]
    app = plan_of(inventory(nodes, apps=[custom_app(**({"arches": app_arches} if app_arches else {}))])).apps[0]
    assert app.eligible_nodes == eligible
    arch_terms = [e["values"] for e in match_expressions(app) if e["key"] == "kubernetes.io/arch"]
    assert arch_terms == ([affinity] if affinity else [])
    assert app.placement_reason.startswith("any node" if len(eligible) == 2 else "only ")


@pytest.mark.parametrize(
    "app, reason",
    [
        (custom_app(arches=["arm64"]), "a: no amd64 image"),
        (custom_app(gpu=1), "a: no GPU"),
    ],
)
def test_no_eligible_node_is_an_error_naming_each_reason(app: dict[str, Any], reason: str) -> None:
    nodes = [node("a", 11), node("g", 12, arch="arm64", taints=[{"key": "k", "effect": "NoSchedule"}],
                                 gpus=[{"vendor": "nvidia"}])]
    with pytest.raises(PlanError) as err:
        plan_of(inventory(nodes, apps=[app]))
    assert f"can run on no node ({reason}; g: " in err.value.problems[0].message


@pytest.mark.parametrize("effect, eligible", [("NoSchedule", ("a",)), ("NoExecute", ("a",)), ("PreferNoSchedule", ("a", "b"))])
def test_tainted_nodes_take_no_apps(effect: str, eligible: tuple[str, ...]) -> None:
    data = inventory([node("a", 11), node("b", 12, role="worker", taints=[{"key": "dedicated", "effect": effect}])], apps=[custom_app()])
    assert plan_of(data).apps[0].eligible_nodes == eligible


@pytest.mark.parametrize("host, ok", [(None, True), ("x.lab.example.com", True), ("lab.example.com", True), ("x.example.com", False), ("xlab.example.com", False)])
def test_app_host_must_be_under_the_domain(host: str | None, ok: bool) -> None:
    data = inventory([node("a", 11)], apps=[custom_app(**({"host": host} if host else {}))])
    if ok:
        assert plan_of(data).apps[0].host == (host or "x.lab.example.com")
    else:
        with pytest.raises(PlanError) as err:
            plan_of(data)
        assert err.value.problems[0].field == "apps[0].host"


# -- storage ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "disk_nodes, small_disk_nodes, requested, backend, warned",
    [
        (0, 0, "auto", "local-path", False), (1, 0, "auto", "local-path", False), (2, 0, "auto", "longhorn", False),
        (3, 0, "auto", "rook-ceph", False), (2, 1, "auto", "longhorn", False),  # three with disks, two with memory
        (1, 1, "auto", "longhorn", False), (4, 0, "auto", "rook-ceph", False),
        (1, 0, "longhorn", "longhorn", True), (2, 0, "longhorn", "longhorn", False), (0, 0, "longhorn", "longhorn", True),
        (3, 0, "local-path", "local-path", False), (3, 0, "longhorn", "longhorn", False),
    ],
)
def test_storage_backend_choice(disk_nodes: int, small_disk_nodes: int, requested: str, backend: str, warned: bool) -> None:
    nodes = [node(f"d{i}", 11 + i, disks=[disk(i)]) for i in range(disk_nodes)]
    nodes += [node(f"s{i}", 31 + i, memory="4Gi", disks=[disk(20 + i)]) for i in range(small_disk_nodes)]
    nodes += [node("plain", 50)]
    plan = plan_of(inventory(nodes, components={"storage": requested}))
    assert plan.storage_backend == backend
    assert bool(warnings_with(plan, "cannot replicate volumes across nodes")) is warned
    assert plan.storage_class == {"local-path": "local-path", "longhorn": "longhorn-2-replicas", "rook-ceph": "ceph-block"}[backend]


@pytest.mark.parametrize("ready", [0, 1, 2])
def test_forced_ceph_needs_three_ready_nodes(ready: int) -> None:
    nodes = [node(f"d{i}", 11 + i, disks=[disk(i)]) for i in range(ready)] + [node("plain", 50)]
    with pytest.raises(PlanError) as err:
        plan_of(inventory(nodes, components={"storage": "rook-ceph"}))
    assert f"; {ready} qualify (" in err.value.problems[0].message


# -- Raspberry Pis ---------------------------------------------------------------------

@pytest.mark.parametrize(
    "facts, pi, error_field",
    [
        ({"profile": "rpi3"}, True, None), ({"profile": "rpi4"}, True, None), ({"profile": "rpi5"}, True, None),
        ({"profile": "rpi3", "arch": "arm"}, True, "nodes[1].arch"), ({"profile": "rpi4", "arch": "arm"}, True, "nodes[1].arch"),
        ({"profile": "mini-pc", "arch": "arm"}, False, None), ({"profile": "mini-pc"}, False, None),
        ({"profile": "mypi"}, True, "nodes[1].profile"),  # a custom Pi profile with a 32-bit arch
    ],
)
def test_raspberry_pi_must_be_64_bit(facts: dict[str, Any], pi: bool, error_field: str | None) -> None:
    profiles = {"mypi": {"family": "raspberry-pi", "arch": "arm", "bootMedium": "sd", "memory": "2Gi"}}
    facts = {"memory": "4Gi", "role": "worker", **facts}
    data = inventory([node("a", 11), {"name": "pi", "address": "10.1.0.12", **facts}], profiles=profiles)
    if error_field:
        with pytest.raises(PlanError) as err:
            plan_of(data)
        assert err.value.problems[0].field == error_field and "64-bit" in err.value.problems[0].message
    else:
        assert plan_of(data).nodes[1].raspberry_pi is pi


# -- GPUs ------------------------------------------------------------------------------

@pytest.mark.parametrize("sharing, name, replicas", [(1, "exclusive", None), (2, "time-slicing-2", 2), (3, "time-slicing-3", 3), (16, "time-slicing-16", 16)])
def test_gpu_sharing_configs(sharing: int, name: str, replicas: int | None) -> None:
    import yaml

    assert gpu_config_name(sharing) == name
    config = yaml.safe_load(time_slicing_config(sharing))
    if replicas is None:
        assert "sharing" not in config
    else:
        assert config["sharing"]["timeSlicing"]["resources"] == [{"name": "nvidia.com/gpu", "replicas": replicas}]
    plan = plan_of(inventory([node("a", 11), node("g", 12, gpus=[{"vendor": "nvidia", "sharing": sharing}])]))
    assert plan.nodes[1].node_labels["nvidia.com/device-plugin.config"] == name
    assert "nvidia-device-plugin" in [c.key for c in plan.components]


@pytest.mark.parametrize(
    "sharings, default, names",
    [([1], "exclusive", ["exclusive"]), ([3, 1], "exclusive", ["exclusive", "time-slicing-3"]), ([4, 2, 2], "time-slicing-2", ["time-slicing-2", "time-slicing-4"])],
)
def test_device_plugin_has_one_config_per_sharing(sharings: list[int], default: str, names: list[str]) -> None:
    nodes = [node("a", 11)] + [node(f"g{i}", 20 + i, gpus=[{"vendor": "nvidia", "sharing": s}]) for i, s in enumerate(sharings)]
    config = nvidia_values(list(plan_of(inventory(nodes)).nodes))["config"]
    assert config["default"] == default and sorted(config["map"]) == names


@pytest.mark.parametrize("vendor, plugin", [("nvidia", True), ("intel", False), ("amd", False)])
def test_device_plugin_only_for_nvidia(vendor: str, plugin: bool) -> None:
    plan = plan_of(inventory([node("a", 11), node("g", 12, gpus=[{"vendor": vendor}])]))
    assert ("nvidia-device-plugin" in [c.key for c in plan.components]) is plugin
    assert plan.nodes[1].node_labels["clustergen.dev/gpu"] == vendor


@pytest.mark.parametrize("runtime, error", [(None, False), ("nvidia", False), ("runc", True)])
def test_gpu_app_must_use_the_nvidia_runtime(runtime: str | None, error: bool) -> None:
    app = custom_app(gpu=1, **({"values": {"runtimeClassName": runtime}} if runtime else {}))
    data = inventory([node("a", 11), node("g", 12, gpus=[{"vendor": "nvidia"}])], apps=[app])
    if error:
        with pytest.raises(ClustergenError) as err:
            plan_of(data)
        assert err.value.problems[0].code == "gpu-without-runtime-class" and err.value.problems[0].field == "apps[0].values"
    else:
        assert plan_of(data).apps[0].eligible_nodes == ("g",)


# -- load balancers --------------------------------------------------------------------

@pytest.mark.parametrize(
    "lb, component, disabled, annotation, node_ports",
    [
        ("metallb", "metallb", ("traefik", "servicelb", "local-storage"), "metallb.io/loadBalancerIPs", False),
        ("kube-vip", "kube-vip-cloud-provider", ("traefik", "servicelb", "local-storage"), "kube-vip.io/loadbalancerIPs", False),
        ("servicelb", None, ("traefik", "local-storage"), None, False),
        ("none", None, ("traefik", "servicelb", "local-storage"), None, True),
    ],
)
def test_load_balancer_choice(lb: str, component: str | None, disabled: tuple[str, ...], annotation: str | None, node_ports: bool) -> None:
    plan = plan_of(inventory([node("a", 11), node("b", 12)], components={"loadBalancer": lb}))
    keys = [c.key for c in plan.components]
    for other in ("metallb", "kube-vip-cloud-provider"):
        assert (other in keys) is (other == component)
    assert plan.k3s_disable == disabled
    traefik = next(c for c in plan.components if c.key == "traefik")
    annotations = traefik.cluster_values.get("service", {}).get("annotations", {})
    assert annotations == ({annotation: "10.1.0.200"} if annotation else {})
    assert ("ingress-on-node-ports" in warning_codes(plan)) is node_ports
    assert all(("svccontroller.k3s.cattle.io/enablelb" in n.node_labels) is (lb == "servicelb") for n in plan.nodes)


@pytest.mark.parametrize("flags, serving", [([None, None], [True, True]), ([False, None], [False, True]), ([True, False], [True, False])])
def test_servicelb_nodes_opt_out(flags: list[bool | None], serving: list[bool]) -> None:
    nodes = [node(name, 11 + i, **({"serviceLB": f} if f is not None else {})) for i, (name, f) in enumerate(zip("ab", flags, strict=True))]
    plan = plan_of(inventory(nodes, components={"loadBalancer": "servicelb"}))
    assert [("svccontroller.k3s.cattle.io/enablelb" in n.node_labels) for n in plan.nodes] == serving


@pytest.mark.parametrize("lb, error", [("metallb", True), ("kube-vip", True), ("servicelb", False), ("none", False)])
def test_pool_needed_only_by_pool_load_balancers(lb: str, error: bool) -> None:
    data = inventory([node("a", 11)], components={"loadBalancer": lb})
    del data["network"]["loadBalancerPool"]
    problems, _ = load_problems(data)
    assert [p.field for p in problems] == (["network"] if error else [])


@pytest.mark.parametrize("pools, data", [
    ("10.1.0.200-10.1.0.210", {"range-global": "10.1.0.200-10.1.0.210"}),
    ("10.1.0.192/28", {"cidr-global": "10.1.0.192/28"}),
    (["10.1.0.192/28", "10.1.0.220-10.1.0.230"], {"cidr-global": "10.1.0.192/28", "range-global": "10.1.0.220-10.1.0.230"}),
])
def test_kube_vip_pools(pools: Any, data: dict[str, str]) -> None:
    inv = inventory([node("a", 11)], components={"loadBalancer": "kube-vip"})
    inv["network"]["loadBalancerPool"] = pools
    plan = plan_of(inv)
    assert next(c for c in plan.components if c.key == "kube-vip-cloud-provider").cluster_values == {"cm": {"data": data}}


# -- TLS and the ACME solver -----------------------------------------------------------

@pytest.mark.parametrize(
    "tls, dns, kind, issuer",
    [
        ({"issuer": "selfsigned"}, {}, None, "homelab-ca"),
        ({"issuer": "none"}, {}, None, None),
        ({"issuer": "letsencrypt"}, {"provider": "cloudflare", "credentialsSecret": "cf"}, "dns01", "letsencrypt-production"),
        ({"issuer": "letsencrypt", "staging": True}, {"provider": "route53", "credentialsSecret": "aws"}, "dns01", "letsencrypt-staging"),
        ({"issuer": "letsencrypt", "solver": "http01"}, {}, "http01", "letsencrypt-production"),
        ({"issuer": "letsencrypt", "solver": "http01"}, {"provider": "cloudflare", "credentialsSecret": "cf"}, "http01", "letsencrypt-production"),
    ],
)
def test_acme_solver_choice(tls: dict[str, Any], dns: dict[str, Any], kind: str | None, issuer: str | None) -> None:
    comps = {"tls": {**tls, **({"email": "me@example.org"} if tls["issuer"] == "letsencrypt" else {})}, **({"externalDns": dns} if dns else {})}
    plan = plan_of(inventory([node("a", 11)], components=comps))
    assert (plan.acme_solver.kind if plan.acme_solver else None) == kind
    assert plan.cluster_issuer == issuer


@pytest.mark.parametrize(
    "tls, dns, field, text",
    [
        ({"issuer": "letsencrypt"}, {}, "components.tls.issuer", "cannot check a domain on a home LAN"),
        ({"issuer": "letsencrypt", "solver": "dns01"}, {}, "components.tls.solver", "needs a DNS provider"),
        ({"issuer": "letsencrypt"}, {"provider": "pihole", "credentialsSecret": "ph", "pihole": {"server": "http://10.0.0.3"}},
         "components.externalDns.provider", "through pihole"),
        # Without credentialsSecret clustergen commits the Secret (tests/test_dns_providers.py): no error.
        ({"issuer": "letsencrypt"}, {"provider": "rfc2136", "credentialsSecret": "t"}, "components.externalDns", "TSIG key name"),
        ({"issuer": "selfsigned", "solver": "dns01"}, {}, "components.tls.solver", "applies to issuer: letsencrypt only"),
    ],
)
def test_acme_solver_errors(tls: dict[str, Any], dns: dict[str, Any], field: str, text: str) -> None:
    comps = {"tls": {**tls, "email": "me@example.org"}, **({"externalDns": dns} if dns else {})}
    with pytest.raises(PlanError) as err:
        plan_of(inventory([node("a", 11)], components=comps))
    assert [(p.field, text in p.message) for p in err.value.problems] == [(field, True)]


def test_http01_needs_an_ingress() -> None:
    comps = {"ingress": "none", "tls": {"issuer": "letsencrypt", "email": "me@example.org", "solver": "http01"}}
    with pytest.raises(PlanError) as err:
        plan_of(inventory([node("a", 11)], components=comps))
    assert "components.ingress is none" in err.value.problems[0].message


# Every offered provider is deployed now (DigitalOcean and Hetzner through the webhook sidecar).
@pytest.mark.parametrize("provider, deployed, warned", [("cloudflare", True, False), ("route53", True, False), ("pihole", True, False),
                                                      ("digitalocean", True, False), ("hetzner", True, False), ("none", False, False)])
def test_external_dns_only_for_in_tree_providers(provider: str, deployed: bool, warned: bool) -> None:
    dns = {"provider": provider, **({"credentialsSecret": "s"} if provider != "none" else {})}
    if provider == "pihole":
        dns["pihole"] = {"server": "http://10.0.0.3"}
    plan = plan_of(inventory([node("a", 11)], components={"externalDns": dns}))
    assert ("external-dns" in [c.key for c in plan.components]) is deployed
    assert ("dns-records-not-managed" in warning_codes(plan)) is warned


# -- backups and monitoring ------------------------------------------------------------

S3 = {"endpoint": "https://minio.home.arpa:9000/", "bucket": "backups"}


def data_app(name: str, **facts: Any) -> dict[str, Any]:
    return custom_app(name=name, persistence=[{"name": "data", "mountPath": "/data"}], **facts)


@pytest.mark.parametrize(
    "apps, monitoring, namespaces",
    [
        ([custom_app()], False, []),
        ([data_app("one")], False, ["one"]),
        ([data_app("one"), custom_app(name="two")], True, ["monitoring", "one"]),
        ([data_app("one", namespace="shared"), data_app("two", namespace="shared")], False, ["shared"]),
    ],
)
def test_backup_schedules_follow_the_data(apps: list[dict[str, Any]], monitoring: bool, namespaces: list[str]) -> None:
    plan = plan_of(inventory([node("a", 11)], apps=apps, components={"backup": {"s3": S3}, "monitoring": monitoring}))
    assert plan.backup is not None
    assert [ns.name for ns in plan.backup.namespaces] == namespaces
    assert plan.backup.s3_endpoint == "https://minio.home.arpa:9000" and plan.backup.s3_bucket == "backups/lab"
    assert plan.backup.bucket_for("one") == "backups/lab/one"
    assert "k8up" in [c.key for c in plan.components]


@pytest.mark.parametrize("level, root, podconfig", [("restricted", False, True), ("baseline", True, False), ("privileged", True, False)])
def test_backup_pods_fit_the_namespace_level(level: str, root: bool, podconfig: bool) -> None:
    from generator.plan.backup import backup_namespace

    ns = backup_namespace("one", level, [1000, 1000, 568])
    assert (ns.pod_security_context.get("runAsUser") == 0) is root
    assert (ns.container_security_context is not None) is podconfig
    if podconfig:
        assert ns.pod_security_context["supplementalGroups"] == [568, 1000]


def test_no_backup_without_a_target() -> None:
    plan = plan_of(inventory([node("a", 11)], apps=[data_app("one")]))
    assert plan.backup is None and "k8up" not in [c.key for c in plan.components]


@pytest.mark.parametrize(
    "sizes, backend, gib",
    [
        ([], "local-path", 20), (["300Gi"], "longhorn", 20), (["200Gi"], "longhorn", 20), (["199Gi"], "longhorn", 19),
        (["100Gi"], "longhorn", 10), (["59Gi"], "longhorn", 5), (["40Gi"], "longhorn", 5),
        (["500Gi", "80Gi"], "longhorn", 8), (["100Gi"], "local-path", 10),
    ],
)
def test_prometheus_volume_is_a_tenth_of_the_smallest_disk(sizes: list[str], backend: str, gib: int) -> None:
    nodes = [node(f"n{i}", 11 + i, disks=[disk(i, size=s)]) for i, s in enumerate(sizes)] or [node("a", 11)]
    if backend == "longhorn" and len(nodes) < 2:
        nodes.append(node("b", 40, disks=[disk(9, size="1Ti")]))
    plan = plan_of(inventory(nodes, components={"storage": backend, "monitoring": True}))
    assert plan.storage_backend == backend
    assert prometheus_volume_gib(list(plan.nodes), backend) == gib
    stack = next(c for c in plan.components if c.key == "kube-prometheus-stack")
    spec = stack.cluster_values["prometheus"]["prometheusSpec"]
    assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == f"{gib}Gi"
    assert spec["retentionSize"] == f"{gib * 85 // 100}GiB"


@pytest.mark.parametrize("namespace, warned", [("default", True), ("test", True), ("media", False)])
def test_data_in_a_throwaway_namespace_warns(namespace: str, warned: bool) -> None:
    plan = plan_of(inventory([node("a", 11)], apps=[data_app("one", namespace=namespace)]))
    assert ("data-in-throwaway-namespace" in warning_codes(plan)) is warned


# -- resources the kubelet offers ------------------------------------------------------

@pytest.mark.parametrize(
    "cpu, memory, distribution, expected",
    [(4, 16384, "k3s", (4000, 15464)), (4, 16384, "talos", (3950, 15272)), (None, 1024, "k3s", (None, 872)), (1, 100, "talos", (950, 0))],
)
def test_allocatable(cpu: int | None, memory: int, distribution: str, expected: tuple[int | None, int]) -> None:
    assert allocatable(cpu, memory, distribution) == expected


def test_missing_memory_fact_assumes_the_profile() -> None:
    plan = plan_of(inventory([{"name": "a", "address": "10.1.0.11", "profile": "rpi4"}]))
    assert plan.nodes[0].memory_mib == 4096
    assert [w.field for w in warnings_with(plan, "no memory fact")] == ["nodes[0].name"]
