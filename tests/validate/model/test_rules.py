"""Rules ordering, storage, pod-security, devices, services and backup: a fault case
taken from what clustergen generated before the fixes, and the clean case after."""

from __future__ import annotations

import pytest

from generator import podsecurity

from .conftest import messages

LAYERS = """
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: infra-controllers, namespace: flux-system}
spec: {path: ./c}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: infra-storage, namespace: flux-system}
spec: {path: ./s, dependsOn: [{name: infra-controllers}]}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: infra-configs, namespace: flux-system}
spec: {path: ./g, dependsOn: [{name: infra-storage}]}
"""
CONTROLLERS, STORAGE, CONFIGS = (f"Kustomization/flux-system/{n}" for n in ("infra-controllers", "infra-storage", "infra-configs"))
PLUGIN = """
apiVersion: v1
kind: Namespace
metadata: {name: nvidia-device-plugin}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: nvidia-device-plugin, namespace: nvidia-device-plugin}
spec:
  selector: {matchLabels: {app: p}}
  template:
    metadata: {labels: {app: p}}
    spec:
      runtimeClassName: nvidia
      containers: [{name: c, image: x:1}]
"""
RUNTIME_CLASS = "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: nvidia}\nhandler: nvidia\n"


def test_runtime_class_in_a_later_layer_deadlocks_on_talos(model):
    """Pre-fix: the plugin (controllers, wait) needs the RuntimeClass only configs creates."""
    result = model({CONTROLLERS: PLUGIN, STORAGE: "", CONFIGS: RUNTIME_CLASS}, engine=LAYERS, distribution="talos")
    [msg] = messages(result, "ordering")
    assert "RuntimeClass nvidia" in msg and "infra-configs" in msg


def test_runtime_class_with_the_plugin_is_in_time(model):
    result = model({CONTROLLERS: PLUGIN + "---\n" + RUNTIME_CLASS, STORAGE: "", CONFIGS: ""}, engine=LAYERS,
                   distribution="talos")
    assert messages(result, "ordering") == []


def test_k3s_ships_the_nvidia_runtime_class_and_talos_does_not(model):
    assert messages(model({CONTROLLERS: PLUGIN}, engine=LAYERS, distribution="k3s"), "ordering") == []
    [msg] = messages(model({CONTROLLERS: PLUGIN}, engine=LAYERS, distribution="talos"), "ordering")
    assert "nothing in the repository or the talos distribution creates" in msg


def test_a_custom_resource_before_its_crd(model):
    crd = ("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: pools.metallb.io}\n"
           "spec: {group: metallb.io, scope: Namespaced, names: {kind: IPAddressPool}}\n")
    pool = "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: kube-system}\n"
    late = model({CONTROLLERS: pool, STORAGE: "", CONFIGS: crd}, engine=LAYERS)
    assert len(messages(late, "ordering")) == 1
    assert messages(model({CONTROLLERS: crd, STORAGE: "", CONFIGS: pool}, engine=LAYERS), "ordering") == []
    # Not rendered: undecided, never a fault.
    unknown = model({CONFIGS: pool}, engine=LAYERS, complete=False)
    assert messages(unknown, "ordering") == [] and unknown.undecided


def test_a_missing_namespace_and_a_created_one(model):
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ghost}\n"
    assert "Namespace ghost" in messages(model({"x": cm}), "ordering")[0]
    release = ("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: r, namespace: flux-system}\n"
               "spec: {targetNamespace: ghost, install: {createNamespace: true}}\n")
    assert messages(model({"x": cm + "---\n" + release}), "ordering") == []


CEPH_CLASS = """
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: ceph-block}
provisioner: rook-ceph.rbd.csi.ceph.com
reclaimPolicy: Retain
"""
CEPH_DRIVER = "apiVersion: csi.ceph.io/v1\nkind: Driver\nmetadata: {name: rook-ceph.rbd.csi.ceph.com, namespace: rook-ceph}\n"


def test_ceph_class_without_the_csi_drivers_never_provisions(model):
    """Pre-fix Rook 1.20: no ceph-csi-drivers release, so no Driver for the class's provisioner."""
    [msg] = messages(model({"s": CEPH_CLASS}), "storage")
    assert "rook-ceph.rbd.csi.ceph.com" in msg and "never provision" in msg
    assert messages(model({"s": CEPH_CLASS + "---\n" + CEPH_DRIVER}), "storage") == []
    assert messages(model({"s": CEPH_CLASS}, complete=False), "storage") == []


def test_longhorns_own_class_from_its_configmap_deletes_data(model):
    """Pre-fix Longhorn: the chart's ConfigMap makes the manager create a Delete class."""
    cm = """
apiVersion: v1
kind: ConfigMap
metadata: {name: longhorn-storageclass, namespace: longhorn-system}
data:
  storageclass.yaml: |
    kind: StorageClass
    apiVersion: storage.k8s.io/v1
    metadata: {name: longhorn}
    provisioner: driver.longhorn.io
    reclaimPolicy: Delete
"""
    deployer = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: longhorn-driver-deployer, namespace: longhorn-system}\n"
                "spec: {template: {spec: {containers: [{name: c, image: x:1}]}}}\n")
    found = messages(model({"s": cm + "---\n" + deployer}), "storage")
    assert len(found) == 1 and "reclaimPolicy Delete" in found[0]


@pytest.mark.parametrize("policy, faults", [("Retain", 0), ("Delete", 1), (None, 1)])
def test_reclaim_policy(model, policy, faults):
    text = CEPH_CLASS.replace("reclaimPolicy: Retain\n", f"reclaimPolicy: {policy}\n" if policy else "")
    assert len(messages(model({"s": text + "---\n" + CEPH_DRIVER}), "storage")) == faults


def test_prometheus_without_storage_loses_its_data(model):
    prom = "apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata: {name: p, namespace: monitoring}\nspec: {}\n"
    assert "emptyDir" in messages(model({"m": prom}), "storage")[0]
    kept = prom.replace("spec: {}", "spec: {storage: {volumeClaimTemplate: {spec: {}}}}")
    assert messages(model({"m": kept}), "storage") == []


def test_an_existing_claim_not_made_here_is_a_warning(model):
    pod = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: media}\nspec: {containers: [{name: c, image: x:1}], "
           "volumes: [{name: v, persistentVolumeClaim: {claimName: library}}]}\n")
    result = model({"a": pod})
    assert [w.message for w in result.warnings if w.check == "storage"][0].startswith("claim library is not created")
    made = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: library, namespace: media}\nspec: {}\n"
    assert model({"a": pod + "---\n" + made}).warnings == []


def app_pod(namespace_level: str, container_sc: str, pod_sc: str = "{runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}",
            extra: str = "") -> str:
    return f"""
apiVersion: v1
kind: Namespace
metadata: {{name: apps, labels: {{pod-security.kubernetes.io/enforce: {namespace_level}}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: p, namespace: apps}}
spec:
  securityContext: {pod_sc}
  containers: [{{name: c, image: x:1, securityContext: {container_sc}}}]
{extra}
"""


RESTRICTED_SC = "{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}"


@pytest.mark.parametrize("container_sc, pod_sc, control", [
    ("{allowPrivilegeEscalation: false, capabilities: {drop: [ALL], add: [CHOWN]}}", None, "Capabilities"),
    ("{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, runAsUser: 0}", None, "Running as Non-root user"),
    (RESTRICTED_SC, "{runAsNonRoot: false, seccompProfile: {type: RuntimeDefault}}", "Running as Non-root"),
    (RESTRICTED_SC, "{runAsNonRoot: true}", "Seccomp"),
    ("{capabilities: {drop: [ALL]}}", None, "Privilege Escalation"),
    ("{allowPrivilegeEscalation: false}", None, "Capabilities"),
])
def test_restricted_controls_the_old_partial_check_missed(model, container_sc, pod_sc, control):
    text = app_pod("restricted", container_sc, pod_sc) if pod_sc else app_pod("restricted", container_sc)
    found = messages(model({"a": text}), "pod-security")
    assert found and any(f"({control})" in m for m in found), found
    baseline = app_pod("baseline", container_sc, pod_sc) if pod_sc else app_pod("baseline", container_sc)
    assert messages(model({"a": baseline}), "pod-security") == []


@pytest.mark.parametrize("container_sc, pod_sc, control", [
    ("{privileged: true}", "{}", "Privileged Containers"),
    ("{capabilities: {add: [SYS_ADMIN]}}", "{}", "Capabilities"),
    ("{seccompProfile: {type: Unconfined}}", "{}", "Seccomp"),
    ("{procMount: Unmasked}", "{}", "/proc Mount Type"),
    ("{}", "{sysctls: [{name: kernel.msgmax, value: '1'}]}", "Sysctls"),
    ("{}", "{seLinuxOptions: {type: spc_t}}", "SELinux"),
])
def test_baseline_controls(model, container_sc, pod_sc, control):
    found = messages(model({"a": app_pod("baseline", container_sc, pod_sc)}), "pod-security")
    assert any(f"({control})" in m for m in found), found
    assert messages(model({"a": app_pod("privileged", container_sc, pod_sc)}), "pod-security") == []


def test_safe_sysctl_and_a_clean_restricted_pod(model):
    clean = app_pod("restricted", RESTRICTED_SC, "{runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}, "
                                                  "sysctls: [{name: net.ipv4.ping_group_range, value: '0 1'}]}")
    assert messages(model({"a": clean}), "pod-security") == []


def test_talos_enforces_baseline_where_a_namespace_says_nothing(model):
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: kube-public}\nspec: {hostNetwork: true, containers: [{name: c, image: x:1}]}\n"
    assert messages(model({"a": pod}, distribution="talos"), "pod-security")
    assert messages(model({"a": pod}, distribution="k3s"), "pod-security") == []


@pytest.mark.parametrize("sc, resources, opens", [
    ("{privileged: false}", "{}", False),  # pre-fix custom device apps
    ("{privileged: true, allowPrivilegeEscalation: true}", "{}", True),
    ("{privileged: false}", "{limits: {squat.ai/serial: 1}}", True),
    ("{privileged: false}", "{limits: {memory: 1Gi}}", False),
])
def test_a_device_opens_only_when_privileged_or_granted(model, sc, resources, opens):
    pod = f"""
apiVersion: v1
kind: Pod
metadata: {{name: p, namespace: d}}
spec:
  containers: [{{name: c, image: x:1, securityContext: {sc}, resources: {resources}, volumeMounts: [{{name: dev, mountPath: /dev/ttyUSB0}}]}}]
  volumes: [{{name: dev, hostPath: {{path: /dev/serial/by-id/usb-x, type: CharDevice}}}}]
"""
    assert (messages(model({"a": pod}), "devices") == []) is opens


@pytest.mark.parametrize("replicas, faults", [(1, 1), (2, 0), (3, 0)])
def test_time_slicing_needs_at_least_two_replicas(model, replicas, faults):
    cm = f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: nvidia-device-plugin-configs, namespace: n}}
data:
  exclusive: |
    version: v1
    sharing:
      timeSlicing:
        resources: [{{name: nvidia.com/gpu, replicas: {replicas}}}]
"""
    assert len(messages(model({"a": cm}), "devices")) == faults


LB = "apiVersion: v1\nkind: Service\nmetadata: {name: traefik, namespace: traefik}\nspec: {type: LoadBalancer, ports: [{port: 80}]}\n"


@pytest.mark.parametrize("facts, extra, served", [
    ({}, "", False),  # pre-fix loadBalancer: none with servicelb disabled
    ({"packaged": ["servicelb"]}, "", True),
    ({"loadBalancers": ["kube-vip"]}, "", True),
    ({}, "---\napiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: m}\n", True),
])
def test_a_load_balancer_service_needs_something_to_serve_it(model, facts, extra, served):
    result = model({"a": LB + extra}, **facts)
    assert (not any("stays pending" in m for m in messages(result, "services"))) is served


def test_ingress_backends_and_selectors(model):
    text = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i, namespace: a}
spec:
  rules: [{host: x, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {name: http}}}}]}}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: a}
spec: {selector: {app: web}, ports: [{name: http, port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec: {template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: x:1}]}}}
"""
    assert messages(model({"a": text}), "services") == []
    assert "has no port https" in messages(model({"a": text.replace("{name: http}}", "{name: https}}")}), "services")[0]
    assert "matches no pod" in messages(model({"a": text.replace("labels: {app: web}", "labels: {app: other}")}), "services")[0]
    assert "does not exist" in messages(model({"a": text.replace("service: {name: web", "service: {name: gone")}), "services")[0]


def test_http01_only_when_the_ingress_is_public(model):
    issuer = ("apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: le}\n"
              "spec: {acme: {solvers: [{http01: {ingress: {ingressClassName: traefik}}}]}}\n")
    assert messages(model({"a": issuer}), "services")
    assert messages(model({"a": issuer}, ingressPublic=True), "services") == []
    assert messages(model({"a": issuer.replace("http01: {ingress: {ingressClassName: traefik}}", "dns01: {}")}), "services") == []


def test_backups_on_need_a_schedule_per_data_namespace(model):
    pvc = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: ha}\nspec: {}\n"
    schedule = "apiVersion: k8up.io/v1\nkind: Schedule\nmetadata: {name: s, namespace: ha}\nspec: {}\n"
    assert messages(model({"a": pvc}, backups=True), "backup")
    assert messages(model({"a": pvc + "---\n" + schedule}, backups=True), "backup") == []
    assert messages(model({"a": pvc}, backups=False), "backup") == []


def test_plan_and_validate_share_one_evaluator():
    """The plan's level for app values is the evaluator's level for the pod they render."""
    from generator.plan.apps import pod_security_level

    assert pod_security_level({}) == "restricted"
    assert pod_security_level({"securityContext": {"capabilities": {"add": ["CHOWN"]}}}) == "baseline"
    assert pod_security_level({"securityContext": {"capabilities": {"add": ["NET_RAW"]}}}) == "privileged"
    assert pod_security_level({"podSecurityContext": {"runAsUser": 0}}) == "baseline"
    assert pod_security_level({"podSecurityContext": {"seccompProfile": {"type": "Unconfined"}}}) == "privileged"
    assert pod_security_level({"devices": [{"name": "z", "hostPath": "/dev/x", "containerPath": "/dev/x"}]}) == "privileged"
    assert pod_security_level({"podSecurityContext": "x"}) == "baseline"  # no crash: the schema reports the type
    assert podsecurity.required_level({"containers": [{"name": "c"}]}) == "baseline"


def test_a_selector_on_labels_a_controller_sets_at_run_time(model):
    """longhorn-manager labels its own pods for its webhook Service; no template has the label."""
    text = """
apiVersion: v1
kind: Service
metadata: {name: longhorn-admission-webhook, namespace: longhorn-system}
spec: {selector: {longhorn.io/admission-webhook: longhorn-admission-webhook}, ports: [{port: 9502}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: longhorn-manager, namespace: longhorn-system}
spec: {template: {metadata: {labels: {app: longhorn-manager}}, spec: {containers: [{name: c, image: x:1}]}}}
"""
    assert messages(model({"a": text}), "services") == []
    other = text.replace("longhorn.io/admission-webhook: longhorn-admission-webhook", "app: longhorn-ui")
    assert messages(model({"a": other}), "services")


ARGO_LAYERS = """
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: infra-controllers, namespace: argocd, annotations: {argocd.argoproj.io/sync-wave: "1"}}
spec: {source: {path: c}}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: infra-configs, namespace: argocd, annotations: {argocd.argoproj.io/sync-wave: "3"}}
spec: {source: {path: g}}
"""


def test_argo_cd_sync_waves_order_the_layers(model):
    """The Talos deadlock under Argo CD: a lower wave needs what a higher wave creates."""
    root = {"Application/argocd/root": ARGO_LAYERS}
    late = model({**root, "Application/argocd/infra-controllers": PLUGIN, "Application/argocd/infra-configs": RUNTIME_CLASS},
                 engine=ARGO_LAYERS, distribution="talos", gitops="argocd")
    [msg] = messages(late, "ordering")
    assert "only Application/argocd/infra-configs creates" in msg
    early = model({**root, "Application/argocd/infra-controllers": RUNTIME_CLASS, "Application/argocd/infra-configs": PLUGIN},
                  engine=ARGO_LAYERS, distribution="talos", gitops="argocd")
    assert messages(early, "ordering") == []


WEB = """
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: traefik}
spec: {controller: traefik.io/ingress-controller}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: web}
spec:
  ingressClassName: traefik
  rules: [{host: x, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {name: http}}}}]}}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: web}
spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: web}
spec: {template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: x:1, ports: [{name: http, containerPort: 8080}]}]}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: web}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
"""
ALLOW = """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-traefik, namespace: web}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: traefik}}}], ports: [{port: PORT, protocol: TCP}]}]
"""


def _with_controller(text: str) -> list:
    """The IngressClass as its chart renders it: in the controller's release namespace."""
    from .conftest import docs_of

    docs = docs_of(text)
    for d in docs:
        if d.kind == "IngressClass":
            d.default_namespace("traefik")
    return docs


@pytest.mark.parametrize("allow, reaches", [
    ("", False),  # default-deny and nothing else: the site answers 504
    (ALLOW.replace("PORT", "8080"), True),  # the container port the Service targets
    (ALLOW.replace("PORT", "80"), False),  # the Service port is not what the pod receives
    (ALLOW.replace("PORT", "8080").replace("name: traefik}", "name: other}"), False),
])
def test_the_ingress_controller_reaches_its_backend_through_network_policies(allow, reaches):
    from generator.validate.model import build_layers, cluster_facts, run_model

    from .conftest import key, node

    layers = build_layers({"apps": _with_controller(WEB + allow)}, [], {}, key)
    result = run_model(layers, cluster_facts({"nodes": [node("n1")]}), True, lambda d, p: None)
    assert (not [f for f in result.faults if f.check == "network"]) is reaches


# Services in front of pods no template describes: kube-prometheus-stack's Prometheus and
# Alertmanager Services select the pods prometheus-operator makes from their resources, and its
# CoreDNS exporter Service selects the distribution's own CoreDNS.
PROMETHEUS_SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: kps-prometheus, namespace: monitoring}
spec:
  selector: {app.kubernetes.io/name: prometheus, operator.prometheus.io/name: kps-prometheus}
  ports: [{name: http-web, port: 9090}]
"""
PROMETHEUS = """---
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: kps-prometheus, namespace: monitoring}
spec: {replicas: 1}
"""
ALERTMANAGER_SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: kps-alertmanager, namespace: monitoring}
spec:
  selector: {app.kubernetes.io/name: alertmanager, alertmanager: kps-alertmanager, team: ops}
  ports: [{name: http-web, port: 9093}]
"""
ALERTMANAGER = """---
apiVersion: monitoring.coreos.com/v1
kind: Alertmanager
metadata: {name: kps-alertmanager, namespace: monitoring}
spec: {podMetadata: {labels: {team: ops}}}
"""
COREDNS_SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: kps-coredns, namespace: kube-system}
spec: {selector: {k8s-app: kube-dns}, ports: [{name: http-metrics, port: 9153}]}
"""


@pytest.mark.parametrize("text, facts, served", [
    (PROMETHEUS_SERVICE, {}, False),  # no Prometheus resource: nothing makes the pods
    (PROMETHEUS_SERVICE + PROMETHEUS, {}, True),
    (PROMETHEUS_SERVICE + PROMETHEUS.replace("name: kps-prometheus", "name: other"), {}, False),
    (PROMETHEUS_SERVICE + PROMETHEUS.replace("namespace: monitoring", "namespace: elsewhere"), {}, False),
    (ALERTMANAGER_SERVICE + ALERTMANAGER, {}, True),  # podMetadata labels join the operator's
    (ALERTMANAGER_SERVICE + ALERTMANAGER.replace("team: ops", "team: dev"), {}, False),
    (COREDNS_SERVICE, {"packaged": ["coredns"]}, True),
    (COREDNS_SERVICE, {"packaged": []}, False),  # k3s with CoreDNS disabled
    (COREDNS_SERVICE, {"distribution": "talos"}, True),
    (COREDNS_SERVICE.replace("kube-dns", "coredns"), {"distribution": "talos"}, False),
])
def test_services_may_select_pods_an_operator_or_the_distribution_makes(model, text, facts, served):
    no_pod = [m for m in messages(model({"a": text}, **facts), "services") if "matches no pod" in m]
    assert (not no_pod) is served, no_pod


LONGHORN_CLASS = ("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: lh, annotations: {storageclass.kubernetes.io/is-default-class: 'true'}}\n"
                  "provisioner: driver.longhorn.io\n")
LOCAL_CLASS = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: local}\nprovisioner: rancher.io/local-path\n"


def _job(groups: str, task: str = "backup") -> str:
    return f"apiVersion: longhorn.io/v1beta2\nkind: RecurringJob\nmetadata: {{name: b, namespace: longhorn-system}}\nspec: {{task: {task}, cron: '0 3 * * *', groups: {groups}}}\n"


def _pvc(storage_class: str | None) -> str:
    spec = f"{{storageClassName: {storage_class}}}" if storage_class else "{}"
    return f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: data, namespace: ha}}\nspec: {spec}\n"


@pytest.mark.parametrize(("claim_class", "job", "backed_up"), [
    ("lh", _job("[default]"), True),
    (None, _job("[default]"), True),  # the default class is Longhorn's
    ("lh", _job("[default]", task="snapshot"), False),  # a snapshot is not a backup
    ("lh", _job("[nightly]"), False),  # only labelled volumes are in that group
    ("local", _job("[default]"), False),  # not a Longhorn volume
    ("lh", "", False),
], ids=["longhorn-class", "default-class", "snapshot-job", "other-group", "local-path-claim", "no-job"])
def test_longhorn_backup_job_covers_longhorn_claims(model, claim_class, job, backed_up):
    docs = "---\n".join(x for x in (LONGHORN_CLASS, LOCAL_CLASS, job, _pvc(claim_class)) if x)
    assert (messages(model({"a": docs}, backups=True), "backup") == []) == backed_up
