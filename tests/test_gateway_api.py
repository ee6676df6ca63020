"""Gateway API through Envoy Gateway: the CRDs with the chart (controllers layer), one Gateway
with the wildcard certificate (configs layer), an HTTPRoute per app from the app chart, and
network policies that let the Gateway's proxies reach the apps. Objects are checked against
the CRDs of the pinned chart."""

from __future__ import annotations

import copy
import subprocess
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
from generator.plan.merge import deep_merge
from generator.podsecurity import admitted, evaluate
from generator.render import ClusterSecrets, render_repository

from .conftest import EXAMPLES, TEST_TOKEN

THREE = yaml.safe_load((EXAMPLES / "three-mini-pcs.yaml").read_text())
MIRROR = Path("/work/.mirror/envoyproxy+gateway/repo")
CHART_APP = Path(__file__).resolve().parents[1] / "charts" / "app"
TAG = catalog.component("envoy-gateway")["chart"]["version"]
CONFIGS = "overlays/trio/infrastructure/configs"
CONTROLLERS = "overlays/trio/infrastructure/controllers"


def inventory(**components: Any) -> dict[str, Any]:
    data = copy.deepcopy(THREE)
    data["components"]["ingress"] = "envoy-gateway"
    data["components"].update(components)
    return data


def generated(data: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    text = yaml.safe_dump(data, sort_keys=False)
    inv, warnings = load_inventory_text(text, "inventory.yaml")
    plan = plan_cluster(inv, warnings)
    return plan, {f.path: f.content.decode() for f in render_repository(plan, ClusterSecrets(TEST_TOKEN), text)}


def docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def _git_show(path: str) -> str:
    return subprocess.run(["git", f"--git-dir={MIRROR}", "show", f"{TAG}:{path}"], check=True, capture_output=True, text=True).stdout


def _strict(schema: Any) -> Any:
    """The CRD schema as kubeconform --strict reads it: unknown fields are errors."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@pytest.fixture(scope="module")
def crd_schemas() -> dict[str, Any]:
    if not MIRROR.is_dir():
        pytest.skip("the Envoy Gateway sources are not on this machine")
    base = "charts/gateway-helm/charts/crds/crds/"
    texts = [_git_show(base + "gatewayapi-crds.yaml"), _git_show(base + "generated/gateway.envoyproxy.io_envoyproxies.yaml")]
    schemas = {}
    for crd in (d for t in texts for d in docs(t) if d.get("kind") == "CustomResourceDefinition"):
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schemas[(f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])] = _strict(version["schema"]["openAPIV3Schema"])
    return schemas


def assert_valid(obj: dict[str, Any], crd_schemas: dict[str, Any]) -> None:
    schema = crd_schemas[(obj["apiVersion"], obj["kind"])]
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in Draft202012Validator(schema).iter_errors(obj)]
    assert not errors, (obj["kind"], errors)


# (id, tls settings, app listener, Certificate issuer or None)
TLS_ROWS = [
    ("letsencrypt dns01", {"issuer": "letsencrypt", "email": "admin@example.org"}, "https", "letsencrypt-production"),
    ("homelab CA", {"issuer": "selfsigned"}, "https", "homelab-ca"),
    ("no TLS", {"issuer": "none"}, "http", None),
]


@pytest.mark.parametrize(("tls", "listener", "issuer"), [r[1:] for r in TLS_ROWS], ids=[r[0] for r in TLS_ROWS])
def test_one_gateway_per_cluster_in_the_configs_layer(crd_schemas: dict, tls: dict, listener: str, issuer: str | None) -> None:
    plan, files = generated(inventory(tls=tls))
    # The chart (and with it the Gateway API CRDs) is a controllers-layer release; the objects
    # that need those CRDs are configs-layer files, applied after it.
    assert "envoy-gateway" in {c.key for c in plan.components if c.layer == "controllers"}
    assert "gateway.yaml" in yaml.safe_load(files[f"{CONFIGS}/kustomization.yaml"])["resources"]
    objects = {o["kind"]: o for o in docs(files[f"{CONFIGS}/gateway.yaml"])}
    for obj in objects.values():
        if obj["kind"] != "Certificate":
            assert_valid(obj, crd_schemas)
    gateway = objects["Gateway"]
    assert gateway["spec"]["gatewayClassName"] == objects["GatewayClass"]["metadata"]["name"]
    assert objects["GatewayClass"]["spec"]["controllerName"] == "gateway.envoyproxy.io/gatewayclass-controller"
    listeners = {li["name"]: li for li in gateway["spec"]["listeners"]}
    assert listeners[listener]["allowedRoutes"] == {"namespaces": {"from": "All"}}
    # The proxies' Service gets the ingress address from MetalLB, keeping client addresses.
    service = objects["EnvoyProxy"]["spec"]["provider"]["kubernetes"]["envoyService"]
    assert service == {"externalTrafficPolicy": "Local", "annotations": {"metallb.io/loadBalancerIPs": "10.0.10.200"}}
    if issuer is None:
        assert set(listeners) == {"http"} and "Certificate" not in objects and "HTTPRoute" not in objects
        return
    https = listeners["https"]
    certificate = objects["Certificate"]
    assert https["tls"]["certificateRefs"] == [{"kind": "Secret", "name": certificate["spec"]["secretName"]}]
    assert certificate["metadata"]["namespace"] == gateway["metadata"]["namespace"]
    assert certificate["spec"]["dnsNames"] == ["*.lab.example.org", "lab.example.org"]
    assert certificate["spec"]["issuerRef"]["name"] == issuer
    # Plain HTTP only redirects: routes from other namespaces cannot attach to it.
    assert listeners["http"]["allowedRoutes"] == {"namespaces": {"from": "Same"}}
    redirect = objects["HTTPRoute"]
    assert redirect["spec"]["parentRefs"] == [{"name": "homelab", "sectionName": "http"}]
    assert redirect["spec"]["rules"][0]["filters"][0]["requestRedirect"]["scheme"] == "https"


def app_release(files: dict[str, str], name: str, namespace: str) -> dict[str, Any]:
    base = yaml.safe_load(files[f"bases/apps/{name}/helmrelease.yaml"]) if f"bases/apps/{name}/helmrelease.yaml" in files else None
    overlay = yaml.safe_load(files[f"overlays/trio/apps/releases/{name}-values.yaml"])
    values = deep_merge((base or {}).get("spec", {}).get("values", {}), overlay["spec"]["values"])
    with helm.Chart.load(CHART_APP) as chart:
        rendered = chart.render(values, name=name, namespace=namespace)
    return {d["kind"]: d for path, text in rendered.items() if path.endswith(".yaml") for d in docs(text)}


def test_apps_get_an_httproute_instead_of_an_ingress(crd_schemas: dict) -> None:
    _, files = generated(inventory())
    assert "bases/apps/whoami/helmrelease.yaml" in files
    objects = app_release(files, "whoami", "whoami")
    assert "Ingress" not in objects
    route = objects["HTTPRoute"]
    assert_valid(route, crd_schemas)
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "homelab",
                                            "namespace": "envoy-gateway-system", "sectionName": "https"}]
    assert route["spec"]["hostnames"] == ["whoami.lab.example.org"]
    # servicePort "http" is resolved to the Service's port number (backendRefs take numbers only).
    service_port = objects["Service"]["spec"]["ports"][0]
    assert service_port["name"] == "http"
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": objects["Service"]["metadata"]["name"], "port": service_port["port"]}]
    # The same cluster with an Ingress controller: an Ingress and no HTTPRoute (the contract is one or the other).
    _, files = generated(copy.deepcopy(THREE))
    objects = app_release(files, "whoami", "whoami")
    assert "HTTPRoute" not in objects and objects["Ingress"]["spec"]["rules"][0]["host"] == "whoami.lab.example.org"


@pytest.mark.parametrize(("service_port", "expected"), [("", 8080), ("http", 8080), ("metrics", 9090), (9090, 9090)])
def test_httproute_port_follows_the_ingress_service_port(service_port: Any, expected: int) -> None:
    values = {
        "image": {"repository": "docker.io/library/busybox", "tag": "1.37.0"},
        "service": {"ports": [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}]},
        "ingress": {"host": "demo.lab.example.org", "servicePort": service_port, "gateway": {"name": "gw", "namespace": "gw-ns", "sectionName": "https"}},
    }
    with helm.Chart.load(CHART_APP) as chart:
        rendered = chart.render(values, name="demo", namespace="demo")
    route = next(d for path, t in rendered.items() if path.endswith("httproute.yaml") for d in docs(t))
    assert route["spec"]["rules"][0]["backendRefs"][0]["port"] == expected


def test_httproute_refuses_a_port_the_service_does_not_have() -> None:
    values = {
        "image": {"repository": "docker.io/library/busybox", "tag": "1.37.0"},
        "service": {"ports": [{"name": "http", "port": 8080}]},
        "ingress": {"host": "demo.lab.example.org", "servicePort": "web", "gateway": {"name": "gw"}},
    }
    with helm.Chart.load(CHART_APP) as chart, pytest.raises(helm.HelmError, match="ingress.servicePort web is not a service port"):
        chart.render(values, name="demo", namespace="demo")


def test_external_services_and_network_policies_follow_the_gateway() -> None:
    _, files = generated(inventory())
    external = {(d["kind"], d["metadata"]["name"]) for d in docs(files["overlays/trio/apps/external-services.yaml"])}
    assert ("HTTPRoute", "nas") in external and ("Ingress", "nas") not in external
    policies = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs(files["overlays/trio/apps/network-policies.yaml"])}
    allow = policies[("whoami", "allow-from-envoy-gateway-system")]
    assert allow["spec"]["ingress"][0]["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "envoy-gateway-system"}}}]
    # external-dns publishes the routes' hosts; k8s_gateway would answer them too.
    values = yaml.safe_load(files[f"{CONTROLLERS}/external-dns-values.yaml"])["spec"]["values"]
    assert values["sources"] == ["service", "gateway-httproute"]


def test_validate_sees_the_gateway_reach_the_apps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """validate's network model: the HTTPRoute's traffic comes from the Gateway's namespace.
    Without the allow policy it is a finding, with it the rule passes (it could not decide before)."""
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory(), sort_keys=False))
    out = tmp_path / "out"
    assert main(["generate", str(path), "-o", str(out)]) == 0
    args = ["validate", "--offline", "--schema-location", str(Path(__file__).resolve().parents[2] / "shared" / "schemas" / "crds"), str(out)]
    capsys.readouterr()
    main(args)
    report = capsys.readouterr().out
    assert "network ok" in report and "HTTPRoute/whoami/whoami" not in report
    policies = out / "overlays/trio/apps/network-policies.yaml"
    kept = [d for d in docs(policies.read_text()) if not (d["metadata"]["namespace"] == "whoami" and d["metadata"]["name"] == "allow-from-envoy-gateway-system")]
    policies.write_text("---\n".join(yaml.safe_dump(d) for d in kept))
    main(args)
    report = capsys.readouterr().out
    assert "HTTPRoute/whoami/whoami" in report and "let no" in report


@pytest.mark.parametrize(("components", "message", "field"), [
    ({"loadBalancer": "none"}, "components.loadBalancer is none", "components.ingress"),
    ({"tls": {"issuer": "letsencrypt", "email": "a@example.org", "solver": "http01"}}, "issues wildcards only through DNS-01", "components.tls.solver"),
], ids=["no-load-balancer", "http01"])
def test_what_a_gateway_cannot_do_is_an_error(components: dict, message: str, field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory(**components), sort_keys=False))
    assert main(["generate", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and field in err
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def envoy_chart(tmp_path_factory: pytest.TempPathFactory):
    """The chart as the release packages it: values.yaml from values.tmpl.yaml with the image
    the release passes (tools/make/helm.mk), the crds subchart in place."""
    if not MIRROR.is_dir():
        pytest.skip("the Envoy Gateway sources are not on this machine")
    root = tmp_path_factory.mktemp("envoy")
    archive = subprocess.run(["git", f"--git-dir={MIRROR}", "archive", TAG, "charts/gateway-helm"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    chart = root / "charts" / "gateway-helm"
    template = (chart / "values.tmpl.yaml").read_text()
    (chart / "values.yaml").write_text(template.replace("${GatewayImage}", f"docker.io/envoyproxy/gateway:{TAG}").replace("${GatewayImagePullPolicy}", "IfNotPresent"))
    with helm.Chart.load(chart) as loaded:
        yield loaded


def test_the_pinned_chart_runs_the_controller(envoy_chart: Any) -> None:
    plan, _ = generated(inventory())
    component = next(c for c in plan.components if c.key == "envoy-gateway")
    rendered = envoy_chart.render(deep_merge(component.values, component.cluster_values), name="envoy-gateway", namespace=component.namespace)
    objects = [d for path, t in rendered.items() if path.endswith(".yaml") for d in docs(t)]
    deployment = next(d for d in objects if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "docker.io/envoyproxy/gateway:v1.9.0"
    # Every pod of the chart (controller, certgen Job), and the proxies the controller creates
    # (Envoy Gateway's own expected default Deployment), is admitted at the namespace's level.
    assert component.pod_security == "restricted"
    pods = [d["spec"]["template"]["spec"] for d in objects if d["kind"] in ("Deployment", "Job", "DaemonSet", "StatefulSet")]
    assert len(pods) >= 2
    proxy = yaml.safe_load(_git_show("internal/infrastructure/kubernetes/proxy/testdata/deployments/default.yaml"))
    for spec in pods + [proxy["spec"]["template"]["spec"]]:
        assert admitted(component.pod_security, evaluate(spec)) == []
    config = yaml.safe_load(next(d for d in objects if d["kind"] == "ConfigMap" and "envoy-gateway.yaml" in d.get("data", {}))["data"]["envoy-gateway.yaml"])
    assert config["gateway"]["controllerName"] == catalog.component("envoy-gateway")["gateway"]["controller_name"]


def test_plan_and_readme_explain_the_gateway(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory(), sort_keys=False))
    assert main(["plan", str(path)]) == 0
    assert ("ingress: Gateway API, Gateway envoy-gateway-system/homelab at 10.0.10.200, wildcard certificate *.lab.example.org "
            "from letsencrypt-production; an HTTPRoute per app") in capsys.readouterr().out
    _, files = generated(inventory())
    readme = files["README.md"]
    section = readme[readme.index("## Gateway API"):]
    assert "`envoy-gateway-system/homelab`" in section and "Secret\n`homelab-wildcard-tls`" in section


def _with_routes(routes: list[dict[str, Any]]) -> dict[str, Any]:
    data = inventory()
    whoami = next(a for a in data["apps"] if a["name"] == "whoami")
    whoami["routes"] = routes
    return data


def test_app_routes_become_httproutes_with_prefix_stripping(crd_schemas: dict) -> None:
    """apps[].routes under a Gateway: one more HTTPRoute per route, and stripPrefix as the standard
    URLRewrite filter (it used to be refused: routes rendered only as Ingresses)."""
    _, files = generated(_with_routes([{"name": "api", "path": "/api", "stripPrefix": True},
                                       {"name": "docs", "host": "docs.lab.example.org", "path": "/"}]))
    values = yaml.safe_load(files["overlays/trio/apps/releases/whoami-values.yaml"])["spec"]["values"]["ingress"]
    assert values["enabled"] is False and values["gateway"]["name"] == "homelab"
    with helm.Chart.load(CHART_APP) as chart:
        base = yaml.safe_load(files["bases/apps/whoami/helmrelease.yaml"])["spec"]["values"]
        rendered = chart.render(deep_merge(base, {"ingress": values}), name="whoami", namespace="whoami")
    routes = {d["metadata"]["name"]: d for path, t in rendered.items() if path.endswith("httproute.yaml") for d in docs(t)}
    assert sorted(routes) == ["whoami", "whoami-api", "whoami-docs"]
    for route in routes.values():
        assert_valid(route, crd_schemas)
    api = routes["whoami-api"]["spec"]
    assert api["hostnames"] == ["whoami.lab.example.org"]
    assert api["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/api"}}]
    assert api["rules"][0]["filters"] == [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}]
    assert "filters" not in routes["whoami-docs"]["spec"]["rules"][0]
    assert routes["whoami-docs"]["spec"]["hostnames"] == ["docs.lab.example.org"]
    assert not any(path.endswith("ingress.yaml") and docs(t) for path, t in rendered.items())


@pytest.mark.parametrize("extra, field", [({"middlewares": ["auth"]}, "middlewares"),
                                          ({"annotations": {"x": "y"}}, "annotations")])
def test_ingress_controller_settings_on_a_gateway_route_are_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                     extra: dict, field: str) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(_with_routes([{"name": "api", "path": "/api", **extra}]), sort_keys=False))
    assert main(["generate", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f".routes[0].{field}" in err and "Gateway API" in err
    assert not (tmp_path / "out").exists()


def test_the_chart_refuses_controller_settings_under_a_gateway() -> None:
    values = {
        "image": {"repository": "docker.io/library/busybox", "tag": "1.37.0"},
        "service": {"ports": [{"name": "http", "port": 8080}]},
        "ingress": {"gateway": {"name": "gw"}, "routes": [{"name": "api", "host": "a.example.org", "path": "/api", "middlewares": ["m"]}]},
    }
    with helm.Chart.load(CHART_APP) as chart, pytest.raises(helm.HelmError, match="a Gateway API route takes stripPrefix only"):
        chart.render(values, name="demo", namespace="demo")
