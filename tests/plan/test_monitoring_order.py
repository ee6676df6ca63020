"""Where monitoring installs: its CRDs before anything ships a ServiceMonitor, its volumes after
the storage that binds them (a Helm wait on an unbindable claim in an earlier layer held every
later layer back: found rendering kube-prometheus-stack with three-mini-pcs' values)."""

from __future__ import annotations

import pytest

from .helpers import disk, inventory, node, plan_of

THREE = [node(f"n{i}", 11 + i, disks=[disk(i, size="500Gi")]) for i in range(3)]


@pytest.mark.parametrize("backend, provider", [
    ("local-path", "local-path-storage/local-path-provisioner"),
    ("longhorn", "longhorn-system/longhorn"),
    ("rook-ceph", "rook-ceph/rook-ceph-cluster"),
])
def test_monitoring_waits_for_the_storage_its_volumes_need(backend: str, provider: str) -> None:
    plan = plan_of(inventory(THREE, components={"storage": backend, "monitoring": True}))
    by_key = {c.key: c for c in plan.components}
    stack, crds = by_key["kube-prometheus-stack"], by_key["kube-prometheus-stack-crds"]
    assert (crds.layer, stack.layer) == ("controllers", "storage")
    assert provider in stack.depends_on
    storage_keys = [c.key for c in plan.components if c.layer == "storage"]
    assert storage_keys[-1] == "kube-prometheus-stack"  # after the backend's own releases
    assert stack.install_step > by_key[provider.rsplit("/", 1)[1]].install_step
    # One chart, one pin: the CRDs come from the same chart version as the stack.
    assert crds.chart == stack.chart
    assert stack.values["crds"]["enabled"] is False and crds.values["crds"]["enabled"] is True
    # The monitoring namespace is declared (and kept) by the first release in it.
    assert crds.owns_namespace and crds.keeps_data and not stack.owns_namespace


@pytest.mark.parametrize("monitoring", [True, False])
def test_service_monitor_charts_wait_for_the_crds_only_when_monitoring(monitoring: bool) -> None:
    plan = plan_of(inventory(THREE, components={"storage": "longhorn", "monitoring": monitoring}))
    by_key = {c.key: c for c in plan.components}
    assert ("monitoring/kube-prometheus-stack-crds" in by_key["cert-manager"].depends_on) is monitoring
    assert not any("kube-prometheus-stack" in d for c in plan.components for d in c.depends_on
                   if c.key != "kube-prometheus-stack" and not d.endswith("-crds"))
    assert ("kube-prometheus-stack" in by_key) is monitoring


def test_releases_that_keep_data_are_never_pruned_by_flux() -> None:
    """kube-prometheus-stack moved from the controllers layer (pruned) to the storage layer: without
    the annotation, the old layer's garbage collection could uninstall it, and its volumes."""
    import yaml

    from .helpers import files_of

    files = files_of(inventory(THREE, components={"storage": "local-path", "monitoring": True}))
    def annotations(key: str) -> dict:
        return yaml.safe_load(files[f"bases/{key}/helmrelease.yaml"])["metadata"].get("annotations") or {}
    for key, kept in [("kube-prometheus-stack", True), ("kube-prometheus-stack-crds", True),
                      ("local-path-provisioner", True), ("cert-manager", False)]:
        assert (annotations(key).get("kustomize.toolkit.fluxcd.io/prune") == "disabled") is kept, key
