"""NetworkPolicies per app namespace: deny by default, allow what the plan knows."""

from __future__ import annotations

import pytest
import yaml

from generator.plan.network_policy import Peer

from .test_hardware_plan import files_of, inventory, node, plan_of


def _inv(**components):
    data = inventory([node("a", 11), node("b", 12)], apps=[
        {"name": "mosquitto"}, {"name": "home-assistant"},
        {"name": "web", "image": "docker.io/example/web:1.0", "namespace": "web", "ingress": True,
         "ports": [{"name": "http", "port": 8080}]},
    ])
    data.setdefault("components", {}).update(components)
    return data


def policies(data) -> dict:
    return {p.namespace: p for p in plan_of(data).network_policies}


def test_each_app_namespace_gets_what_its_apps_need():
    got = policies(_inv())
    ha = got["home-automation"]
    # Home Assistant has a host: the ingress controller reaches its port, nothing else from outside.
    assert Peer("traefik", ((8123, "TCP"),)) in ha.ingress_from
    assert ha.leaves_cluster  # Home Assistant needs the internet and the LAN
    web = got["web"]
    assert web.ingress_from == (Peer("traefik", ((8080, "TCP"),)),)
    assert web.egress_to == () and web.leaves_cluster  # a custom app: nothing says it stays inside


def test_apps_in_other_namespaces_reach_the_broker_on_its_port_only():
    data = _inv()
    data["apps"].append({"name": "zigbee2mqtt"})
    data["nodes"][0]["devices"] = [{"name": "zigbee", "type": "zigbee", "path": "/dev/serial/by-id/usb-x"}]
    got = policies(data)
    assert got["zigbee2mqtt"].egress_to == (Peer("home-automation", ((1883, "TCP"),)),)
    assert Peer("zigbee2mqtt", ((1883, "TCP"),)) in got["home-automation"].ingress_from
    assert not got["zigbee2mqtt"].leaves_cluster  # its catalog entry needs nothing outside


@pytest.mark.parametrize("monitoring, scraped", [(False, False), (True, True)])
def test_monitoring_scrapes_only_when_on(monitoring, scraped):
    got = policies(_inv(monitoring=monitoring))
    assert (Peer("monitoring", ()) in got["web"].ingress_from) is scraped


def test_off_means_none_rendered():
    assert policies(_inv(networkPolicies=False)) == {}
    files = files_of(_inv(networkPolicies=False))
    assert not [f for f in files if f.endswith("network-policies.yaml")]


def test_rendered_policies_deny_by_default_and_exclude_the_cluster_from_outside():
    files = files_of(_inv())
    [name] = [f for f in files if f.endswith("apps/network-policies.yaml")]
    docs = [d for d in yaml.safe_load_all(files[name]) if d]
    web = {d["metadata"]["name"]: d for d in docs if d["metadata"]["namespace"] == "web"}
    assert web["default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert web["allow-dns"]["spec"]["egress"][0]["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert web["allow-from-traefik"]["spec"]["ingress"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]
    block = web["allow-outside-cluster"]["spec"]["egress"][0]["to"][0]["ipBlock"]
    assert block["cidr"] == "0.0.0.0/0" and "10.42.0.0/16" in block["except"] and "10.43.0.0/16" in block["except"]
    kustomization = yaml.safe_load(files[name.replace("network-policies.yaml", "kustomization.yaml")])
    assert "network-policies.yaml" in kustomization["resources"]


@pytest.mark.parametrize("example, warned", [("talos-argocd", True), ("talos-rack", True), ("mixed-shelf", False)])
def test_talos_warns_that_flannel_does_not_enforce_them(example, warned):
    from generator.inventory.load import load_inventory
    from generator.plan import plan_cluster

    from .conftest import EXAMPLES

    inv, warnings = load_inventory(EXAMPLES / f"{example}.yaml")
    plan = plan_cluster(inv, warnings)
    assert ("network-policies-not-enforced" in {w.code for w in plan.warnings}) is warned
    assert plan.network_policies  # written either way


@pytest.mark.parametrize("solver, opened", [("http01", True), (None, False)])
def test_http01_solver_pods_are_reachable_from_the_ingress_controller(solver, opened):
    tls = {"issuer": "letsencrypt", "email": "a@example.org"}
    extra = {"externalDns": {"provider": "cloudflare", "credentialsSecret": "cf"}}
    if solver:
        tls["solver"] = solver
        extra = {}
    got = policies(_inv(tls=tls, **extra))
    traefik = next(p for p in got["web"].ingress_from if p.namespace == "traefik")
    assert ((8089, "TCP") in traefik.ports) is opened


def test_an_http01_cluster_validates_its_issuer_as_public(tmp_path):
    """The facts carry the inventory's word that the ingress is public, so the model's
    HTTP-01 check passes where the user chose HTTP-01, and only there."""
    tls = {"issuer": "letsencrypt", "email": "a@example.org", "solver": "http01"}
    files = files_of(_inv(tls=tls))
    assert yaml.safe_load(files[".clustergen/facts.yaml"])["ingressPublic"] is True
    assert yaml.safe_load(files_of(_inv())[".clustergen/facts.yaml"])["ingressPublic"] is False
