"""Decisions render used to take from the inventory or from plan-module constants, now plan
fields (plan.settings, plan.monitoring, plan.profiles, plan.storage_host_path, NodePlan.allocatable):
each row checks the plan's decision and the object render writes from it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from generator.inventory import load_inventory_text
from generator.plan import ClusterPlan, plan_cluster
from generator.render import render_repository, secret_manifests, wanted_secret_fields
from generator.render.talos import cluster_patch
from generator.shared import ClusterSecrets

from .conftest import EXAMPLES, TEST_TOKEN


def example(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())


def plan_of(data: dict[str, Any]) -> ClusterPlan:
    inv, warnings = load_inventory_text(yaml.safe_dump(data, sort_keys=False), "inventory.yaml")
    return plan_cluster(inv, warnings)


def k3s_files(data: dict[str, Any]) -> tuple[ClusterPlan, dict[str, str]]:
    plan = plan_of(data)
    text = yaml.safe_dump(data, sort_keys=False)
    return plan, {f.path: f.content.decode() for f in render_repository(plan, ClusterSecrets(TEST_TOKEN), text)}


def with_components(name: str, **components: Any) -> dict[str, Any]:
    data = copy.deepcopy(example(name))
    data["components"].update(components)
    return data


# (example, components.storage, the host folder a Talos kubelet binds, or None)
STORAGE_ROWS = [
    ("talos-rack", "longhorn", "/var/lib/longhorn"),
    ("talos-rack", "local-path", "/var/local-path-provisioner"),
    ("talos-rack", "rook-ceph", None),  # Ceph's volumes are block devices, no host folder
    ("single-mini-pc", "longhorn", None),  # k3s: the kubelet runs on the host and sees its folders
    ("single-mini-pc", "local-path", None),
]


@pytest.mark.parametrize(("name", "storage", "expected"), STORAGE_ROWS)
def test_storage_host_path(name: str, storage: str, expected: str | None) -> None:
    plan = plan_of(with_components(name, storage=storage))
    assert plan.storage_backend == storage
    assert plan.storage_host_path == expected
    if plan.settings.distribution != "talos":
        return
    kubelet = cluster_patch(plan)[0]["machine"]["kubelet"]
    if expected is None:
        assert "extraMounts" not in kubelet
    else:
        assert kubelet["extraMounts"] == [{"destination": expected, "type": "bind", "source": expected, "options": ["bind", "rshared", "rw"]}]


# (components.ingress, IngressClass, whether the external service gets an Ingress host)
INGRESS_ROWS = [("traefik", "traefik", True), ("ingress-nginx", "nginx", True), ("none", "", False)]


@pytest.mark.parametrize(("ingress", "ingress_class", "has_host"), INGRESS_ROWS)
def test_ingress_class_of_the_external_services(ingress: str, ingress_class: str, has_host: bool) -> None:
    data = with_components("three-mini-pcs", ingress=ingress)
    for app in data.get("apps", []):
        app.pop("ingress", None)  # apps with ingress: true need a controller; the services are what is tested
        app.pop("host", None)
    plan, files = k3s_files(data)
    assert plan.settings.ingress_class == ingress_class
    docs = [d for d in yaml.safe_load_all(files["overlays/trio/apps/external-services.yaml"]) if d]
    ingresses = [d for d in docs if d["kind"] == "Ingress"]
    if has_host:
        assert [i["spec"]["ingressClassName"] for i in ingresses] == [ingress_class]
        assert ingresses[0]["spec"]["rules"][0]["host"] == "nas.lab.example.org"
    else:
        assert ingresses == []


@pytest.mark.parametrize(
    ("staging", "server"),
    [(True, "https://acme-staging-v02.api.letsencrypt.org/directory"), (False, "https://acme-v02.api.letsencrypt.org/directory")],
)
def test_acme_server_follows_staging(staging: bool, server: str) -> None:
    data = with_components("single-mini-pc", tls={"issuer": "letsencrypt", "email": "admin@example.org", "staging": staging, "solver": "http01"})
    plan, files = k3s_files(data)
    assert plan.settings.acme_server == server
    issuer = yaml.safe_load(files["overlays/tiny/infrastructure/configs/cluster-issuers.yaml"])
    assert issuer["spec"]["acme"]["server"] == server
    assert issuer["spec"]["acme"]["email"] == "admin@example.org"


@pytest.mark.parametrize("monitoring", [True, False])
def test_monitoring_plan_names_the_grafana_secret_and_the_scraped_components(monitoring: bool) -> None:
    plan = plan_of(with_components("single-mini-pc", monitoring=monitoring))
    # (apps/credentials holds the apps' logins, made whatever monitoring is.)
    paths = [path for path, _ in secret_manifests(plan, None) if "/apps/credentials/" not in path]
    if not monitoring:
        assert plan.monitoring is None
        assert "grafana_admin_password" not in wanted_secret_fields(plan)
        assert paths == []
        return
    assert plan.monitoring is not None
    keys = [c.key for c in plan.components]
    # traefik and cert-manager have ServiceMonitor values; kube-prometheus-stack itself is not in the list
    assert plan.monitoring.scraped == tuple(k for k in keys if k in ("traefik", "cert-manager"))
    assert "grafana_admin_password" in wanted_secret_fields(plan)
    [(path, secret)] = [m for m in secret_manifests(plan, ClusterSecrets(TEST_TOKEN, grafana_admin_password="pw"))
                        if "/apps/credentials/" not in m[0]]
    assert path == "overlays/tiny/infrastructure/controllers/grafana-admin.sops.yaml"
    assert (secret["metadata"], secret["stringData"]["admin-password"]) == ({"name": "grafana-admin", "namespace": "monitoring"}, "pw")
    # kube-prometheus-stack reads its login from the Secret the plan names
    kps = next(c for c in plan.components if c.key == "kube-prometheus-stack")
    assert kps.cluster_values["grafana"]["admin"]["existingSecret"] == plan.monitoring.grafana_secret


# (distribution, cpu, memory) → allocatable (millicores, MiB): 5% firmware, 100Mi eviction, Talos reserves 50m and 192Mi
ALLOCATABLE_ROWS = [
    ("single-mini-pc", 4, "16Gi", (4000, 15464)),
    ("single-mini-pc", 2, "4Gi", (2000, 3791)),
    ("talos-argocd", 4, "16Gi", (3950, 15272)),
    ("talos-argocd", 2, "4Gi", (1950, 3599)),
]


@pytest.mark.parametrize(("name", "cpu", "memory", "expected"), ALLOCATABLE_ROWS)
def test_allocatable_per_node_reaches_the_facts(name: str, cpu: int, memory: str, expected: tuple[int, int]) -> None:
    from generator.render.repo import render_facts

    data = copy.deepcopy(example(name))
    data["nodes"][0].update(cpu=cpu, memory=memory)
    plan = plan_of(data)
    first = plan.nodes[0]
    assert first.allocatable == expected
    facts = yaml.safe_load(render_facts(plan).content)
    assert facts["nodes"][0]["allocatable"] == {"memory": f"{expected[1]}Mi", "cpu": f"{expected[0]}m"}


def test_allocatable_cpu_unknown_is_left_out() -> None:
    from generator.render.repo import render_facts

    data = copy.deepcopy(example("single-mini-pc"))
    del data["nodes"][0]["cpu"]
    data["nodes"][0]["profile"] = "bare"
    data["profiles"] = {"bare": {"description": "no CPU count", "arch": "amd64"}}
    plan = plan_of(data)
    assert plan.nodes[0].cpu is None
    assert plan.nodes[0].allocatable == (None, 15464)
    assert yaml.safe_load(render_facts(plan).content)["nodes"][0]["allocatable"] == {"memory": "15464Mi"}


def test_inventory_profile_overrides_the_catalog_profile() -> None:
    data = copy.deepcopy(example("single-mini-pc"))
    data["profiles"] = {"mini-pc": {"description": "Our NUC"}}
    plan, files = k3s_files(data)
    assert list(plan.profiles) == ["mini-pc"]
    assert plan.profiles["mini-pc"]["description"] == "Our NUC"
    assert plan.profiles["mini-pc"]["arch"] == "amd64"  # the catalog's fields stay under the inventory's
    assert "Our NUC" in files["overlays/profiles/mini-pc/kustomization.yaml"]


def test_settings_carry_the_inventory_cluster_fields() -> None:
    plan = plan_of(example("three-mini-pcs"))
    inv, s = plan.inventory, plan.settings
    assert (s.cluster_name, s.domain, s.distribution, s.engine, s.repository, s.branch, s.sync_path, s.network) == (
        inv.cluster_name, inv.domain, inv.distribution, inv.engine, inv.repository, inv.branch, inv.sync_path, inv.network)
    assert s.sync_path_where["field"] == "gitops.path" and s.apps_where["field"] == "apps"
    assert isinstance(s.apps_where["line"], int)
