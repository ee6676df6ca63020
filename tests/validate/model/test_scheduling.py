"""Rule `scheduling`: selectors, affinity, taints, arch, requests, anti-affinity."""

from __future__ import annotations

import pytest

from .conftest import messages, node

GPU = {"clustergen.dev/gpu": "nvidia"}


def daemonset(spec: str) -> str:
    return f"""
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: ds, namespace: kube-system}}
spec:
  selector: {{matchLabels: {{app: ds}}}}
  template:
    metadata: {{labels: {{app: ds}}}}
    spec:
{spec}
      containers: [{{name: c, image: x:1}}]
"""


def deployment(spec: str, replicas: int = 1, requests: str = "{cpu: 100m, memory: 64Mi}") -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: kube-system}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
{spec}
      containers: [{{name: c, image: x:1, resources: {{requests: {requests}}}}}]
"""


# The NVIDIA device plugin chart 0.20.0's default affinity: feature-discovery labels only.
NFD_AFFINITY = """      nodeSelector: {clustergen.dev/gpu: nvidia}
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions: [{key: feature.node.kubernetes.io/pci-10de.present, operator: In, values: ["true"]}]
              - matchExpressions: [{key: feature.node.kubernetes.io/cpu-model.vendor_id, operator: In, values: [NVIDIA]}]
              - matchExpressions: [{key: nvidia.com/gpu.present, operator: In, values: ["true"]}]
"""
OWN_AFFINITY = """      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions: [{key: clustergen.dev/gpu, operator: In, values: [nvidia]}]
"""


def test_device_plugin_with_the_charts_default_affinity_lands_on_no_node(model):
    """The pre-fix values: our nodeSelector ANDed with the chart's feature-discovery affinity."""
    result = model({"controllers": daemonset(NFD_AFFINITY)}, [node("laptop", labels=GPU), node("pi", arch="arm64")])
    assert result.daemonsets["DaemonSet/kube-system/ds"] == []
    [msg] = messages(result, "scheduling")
    assert "DaemonSet lands on no node" in msg and "feature.node.kubernetes.io/pci-10de.present" in msg


def test_device_plugin_with_our_affinity_lands_on_exactly_the_gpu_nodes(model):
    nodes = [node("laptop1", labels=GPU), node("tower"), node("laptop2", labels=GPU)]
    result = model({"controllers": daemonset(OWN_AFFINITY)}, nodes)
    assert result.daemonsets["DaemonSet/kube-system/ds"] == ["laptop1", "laptop2"]
    assert messages(result, "scheduling") == []


@pytest.mark.parametrize("effect, toleration, lands", [
    ("NoSchedule", "", False),
    ("NoExecute", "", False),
    ("PreferNoSchedule", "", True),  # a preference, not a bar
    ("NoSchedule", "[{key: dedicated, operator: Exists}]", True),
    ("NoSchedule", "[{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]", True),
    ("NoSchedule", "[{key: dedicated, operator: Equal, value: other}]", False),
    ("NoSchedule", "[{operator: Exists}]", True),
    ("NoSchedule", "[{key: dedicated, operator: Exists, effect: NoExecute}]", False),
])
def test_taints_against_tolerations(model, effect, toleration, lands):
    spec = f"      tolerations: {toleration}\n" if toleration else ""
    nodes = [node("n1", taints=[{"key": "dedicated", "value": "gpu", "effect": effect}])]
    result = model({"l": deployment(spec)}, nodes)
    assert (messages(result, "scheduling") == []) is lands


@pytest.mark.parametrize("arch, fits", [("amd64", True), ("arm64", False)])
def test_architecture_through_node_affinity(model, arch, fits):
    spec = ("      affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: "
            "[{matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]}]}}}\n")
    result = model({"l": deployment(spec)}, [node("n1", arch=arch)])
    assert (messages(result, "scheduling") == []) is fits


@pytest.mark.parametrize("request_mib, fits", [(900, True), (1024, True), (1025, False)])
def test_requests_against_allocatable_at_the_boundary(model, request_mib, fits):
    result = model({"l": deployment("", requests=f"{{cpu: 100m, memory: {request_mib}Mi}}")},
                   [node("pi", memory="1Gi")])
    assert (messages(result, "scheduling") == []) is fits


def test_daemonsets_take_their_share_on_every_node_first(model):
    ds = daemonset("").replace("containers: [{name: c, image: x:1}]",
                               "containers: [{name: c, image: x:1, resources: {requests: {memory: 600Mi}}}]")
    result = model({"l": ds + "---" + deployment("", requests="{memory: 500Mi}")}, [node("pi", memory="1Gi")])
    [msg] = messages(result, "scheduling")
    assert "no eligible node has that left" in msg and "pi" in msg


def test_requests_are_summed_over_replicas(model):
    two = model({"l": deployment("", replicas=2, requests="{cpu: '1', memory: 64Mi}")}, [node("n", cpu="2")])
    three = model({"l": deployment("", replicas=3, requests="{cpu: '1', memory: 64Mi}")}, [node("n", cpu="2")])
    assert messages(two, "scheduling") == []
    assert len(messages(three, "scheduling")) == 1


ANTI = """      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: web}}}
"""


@pytest.mark.parametrize("replicas, fits", [(2, True), (3, False)])
def test_required_anti_affinity_needs_a_node_per_replica(model, replicas, fits):
    result = model({"l": deployment(ANTI, replicas=replicas)}, [node("a"), node("b")])
    assert (messages(result, "scheduling") == []) is fits
    if not fits:
        assert "each replica on its own node" in messages(result, "scheduling")[0]


def test_topology_spread_with_more_domains_than_nodes(model):
    spread = ("      topologySpreadConstraints: [{maxSkew: 1, minDomains: 3, topologyKey: kubernetes.io/hostname, "
              "whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}]\n")
    assert len(messages(model({"l": deployment(spread, replicas=3)}, [node("a"), node("b")]), "scheduling")) == 1
    assert messages(model({"l": deployment(spread, replicas=2)}, [node("a"), node("b")]), "scheduling") == []


@pytest.mark.parametrize("op, value, fits", [
    ("In", "[x]", True), ("NotIn", "[x]", False), ("Exists", "[]", True), ("DoesNotExist", "[]", False),
    ("Gt", "['3']", True), ("Gt", "['4']", False), ("Lt", "['5']", True), ("Lt", "['4']", False),
])
def test_affinity_operators(model, op, value, fits):
    spec = ("      affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: "
            f"[{{matchExpressions: [{{key: k, operator: {op}, values: {value}}}]}}]}}}}}}\n")
    label = "x" if op not in ("Gt", "Lt") else "4"
    assert (messages(model({"l": deployment(spec)}, [node("n", labels={"k": label})]), "scheduling") == []) is fits


def test_a_daemonset_waiting_for_a_run_time_label_is_dormant_not_misplaced(model):
    """NVIDIA's MPS control daemon selects nvidia.com/mps.capable, which its feature
    discovery sets only where MPS sharing is configured."""
    mps = daemonset("      nodeSelector: {nvidia.com/mps.capable: 'true'}\n")
    result = model({"controllers": mps}, [node("laptop", labels=GPU)])
    assert messages(result, "scheduling") == []
    assert result.daemonsets["DaemonSet/kube-system/ds"] == []
    assert any("nvidia.com/mps.capable" in what for _, what in result.undecided)
    other = daemonset("      nodeSelector: {example.com/never: 'true'}\n")
    assert len(messages(model({"controllers": other}, [node("laptop")]), "scheduling")) == 1
