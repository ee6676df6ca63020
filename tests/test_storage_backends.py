"""Storage backends are data (storage_backends: in the catalog) plus one StorageBackend module
each. The schema's enum follows the registry, the catalog entries are whole, and a backend
registered here, in the test alone, is planned and rendered end to end: no other file knows it."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest
import yaml

from generator import catalog
from generator.inventory import load_inventory_text
from generator.plan import backends, plan_cluster
from generator.plan.backends import StorageBackend
from generator.plan.model import NodePlan
from generator.render import render_repository
from generator.render.talos import cluster_patch, schematics
from generator.resources import package_file
from generator.shared import ClusterSecrets
from generator.validate.model.storage import runtime_drivers

from .conftest import EXAMPLES, TEST_TOKEN
from .test_hardware_plan import inventory, node

DISK = {"path": "/dev/disk/by-id/ata-FAKE_1", "size": "500Gi", "type": "ssd", "use": "storage"}


def test_the_schema_enum_is_auto_plus_the_registry() -> None:
    schema = json.loads(package_file("schemas", "inventory.schema.json").read_text())
    enum = schema["$defs"]["components"]["properties"]["storage"]["enum"]
    assert enum[0] == "auto"
    assert sorted(enum[1:]) == list(backends.names())
    assert set(catalog.storage_auto_order()) <= set(backends.names())


@pytest.mark.parametrize("name", sorted(catalog.storage_backends()))
def test_each_catalog_entry_has_its_module_and_its_charts(name: str) -> None:
    backend = backends.backend(name)
    spec = backend.spec
    assert type(backend).name == name
    for key in spec.components:
        assert key in catalog.components(), f"{name}: component {key} is not in the catalog"
    assert spec.ready_when in spec.components
    for key, waits_for in spec.depends_on.items():
        # Install order: a chart waits only for charts listed before it.
        assert all(spec.components.index(w) < spec.components.index(key) for w in waits_for)
    defaults = [c.name for c in spec.storage_classes if c.default]
    # Classes clustergen writes: the default one among them, exactly once.
    assert defaults in ([], [spec.storage_class])
    assert spec.readme.endswith("\n")


def test_validate_learns_longhorn_s_runtime_driver_from_the_catalog() -> None:
    assert runtime_drivers() == {("Deployment", "longhorn-driver-deployer"): "driver.longhorn.io"}


# -- a backend that exists only in this test -----------------------------------------------

FAKE_COMPONENT: dict[str, Any] = {
    "namespace": "fake-storage",
    "pod_security": "privileged",
    "chart": {"type": "helm", "repository": "https://charts.fake.example.org", "name": "fake-provisioner", "version": "1.2.3"},
    "values": {"image": {"tag": "v1.2.3"}},
}
FAKE_DATA: dict[str, Any] = {
    "components": ["fake-provisioner"],
    "storage_class": "fake-copies",
    "rwx_storage_class": "fake-copies",
    "ready_when": "fake-provisioner",
    "needs_storage_disks": True,
    "min_storage_nodes": 1,
    "node_role": "fake-disk",
    "packages": {"every_node": ["fake-client"], "disk_nodes": ["fake-tools"]},
    "disk_mount": ["LABEL=fake", "/var/lib/fake", "xfs", "defaults,nofail", "0", "2"],
    "kernel_modules": ["fake_mod"],
    "talos": {"extensions": ["siderolabs/fake-tools"], "host_path": "/var/lib/fake", "image_label": "fake"},
    "runtime_drivers": [],
    "monitoring_values": {"fake-provisioner": {"metrics": {"enabled": True}}},
    "storage_classes": [{"name": "fake-copies", "default": True, "comment": "two copies.", "provisioner": "fake.example.org",
                         "parameters": {"copies": "2", "fsType": "xfs"}}],
    "disks": {"label": "Fake disk", "preparation": "sudo mkfs.xfs -L fake {path}", "text": "fake x{count}"},
    "readme": "Fake keeps volumes on {{ plan.nodes | selectattr('storage_disks') | list | length }} node(s).\n",
}


class FakeBackend(StorageBackend):
    name = "fake"

    def chart_values(self, key: str, inv: Any, nodes: list[NodePlan]) -> dict[str, Any]:
        return {"diskNodes": [n.name for n in nodes if n.storage_role == self.spec.node_role]}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    """One data entry (and its chart) plus one module: the whole of a new backend."""
    monkeypatch.setitem(catalog.components(), "fake-provisioner", copy.deepcopy(FAKE_COMPONENT))
    monkeypatch.setitem(catalog.storage_backends(), "fake", copy.deepcopy(FAKE_DATA))
    backends.register(FakeBackend)
    yield backends.backend("fake")
    backends.unregister_backend("fake")


def plan_with(data: dict[str, Any], storage: str) -> Any:
    """The schema knows only the built-in backends, so the test sets components.storage after loading."""
    inv, warnings = load_inventory_text(yaml.safe_dump(data, sort_keys=False), "inventory.yaml")
    inv = dataclasses.replace(inv, components=dataclasses.replace(inv.components, storage=storage))
    return plan_cluster(inv, warnings)


def k3s_cluster() -> dict[str, Any]:
    return inventory([node("a", 11), node("b", 12, disks=[DISK]), node("c", 13)],
                     components={"monitoring": True})


def test_a_fake_backend_is_planned_and_rendered(fake: Any) -> None:
    data = k3s_cluster()
    plan = plan_with(data, "fake")
    assert (plan.storage_backend, plan.storage_class, plan.rwx_storage_class) == ("fake", "fake-copies", "fake-copies")
    assert {n.name: n.storage_role for n in plan.nodes} == {"a": "none", "b": "fake-disk", "c": "none"}
    assert all("fake_mod" in n.kernel_modules for n in plan.nodes)
    component = next(c for c in plan.components if c.key == "fake-provisioner")
    assert (component.layer, component.keeps_data) == ("storage", True)
    assert component.cluster_values == {"diskNodes": ["b"], "metrics": {"enabled": True}}
    monitoring = next(c for c in plan.components if c.key == "kube-prometheus-stack")
    assert "fake-storage/fake-provisioner" in monitoring.depends_on
    claim = monitoring.cluster_values["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "fake-copies"
    assert claim["resources"]["requests"]["storage"] == "20Gi"  # 500 GiB storage disk: the 20 GiB default

    files = {f.path: f.content.decode() for f in render_repository(plan, ClusterSecrets(TEST_TOKEN), yaml.safe_dump(data))}
    storage = "overlays/lab/infrastructure/storage"
    classes = list(yaml.safe_load_all(files[f"{storage}/storageclasses.yaml"]))
    assert classes == [{
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "fake-copies", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "fake.example.org", "reclaimPolicy": "Retain", "allowVolumeExpansion": True,
        "volumeBindingMode": "Immediate", "parameters": {"copies": "2", "fsType": "xfs"},
    }]
    kustomization = yaml.safe_load(files[f"{storage}/kustomization.yaml"])
    assert "../../../../bases/fake-provisioner" in kustomization["resources"]
    assert "storageclasses.yaml" in kustomization["resources"]
    patch = yaml.safe_load(files[f"{storage}/fake-provisioner-values.yaml"])
    assert patch["spec"]["values"]["diskNodes"] == ["b"]
    release = yaml.safe_load(files["bases/fake-provisioner/helmrelease.yaml"])
    assert release["spec"]["chart"]["spec"]["version"] == "1.2.3"

    for name, has_disk in (("a", False), ("b", True)):
        user_data = yaml.safe_load(files[f"bootstrap/cloud-init/{name}/user-data"])
        assert "fake-client" in user_data["packages"]
        assert ("fake-tools" in user_data["packages"]) is has_disk
        assert (["LABEL=fake", "/var/lib/fake", "xfs", "defaults,nofail", "0", "2"] in user_data.get("mounts", [])) is has_disk
    readme = files["README.md"]
    assert "Storage backend: **fake**, default StorageClass `fake-copies`" in readme
    assert "Fake keeps volumes on 1 node(s).\n" in readme
    assert f"- **b** `{DISK['path']}` (Fake disk): `sudo mkfs.xfs -L fake {DISK['path']}`" in readme


def test_a_fake_backend_on_talos_gets_its_extension_host_path_and_image(fake: Any) -> None:
    data = yaml.safe_load((EXAMPLES / "talos-rack.yaml").read_text())
    plan = plan_with(data, "fake")
    assert plan.storage_host_path == "/var/lib/fake"
    assert all("siderolabs/fake-tools" in n.talos.extensions for n in plan.nodes)
    kubelet = cluster_patch(plan)[0]["machine"]["kubelet"]
    assert kubelet["extraMounts"][0]["source"] == "/var/lib/fake"
    labels = list(schematics(plan))
    assert labels and all("fake" in label.split("-") for label in labels)  # the extension's image is named for it


# (disks on nodes a, b, c; fake ranked first in auto; backend auto picks)
AUTO_ROWS = [
    ((0, 1, 0), True, "fake"),  # one storage node is fake's minimum
    ((0, 0, 0), True, "local-path"),  # below it: the next in order that fits
    ((1, 1, 0), False, "longhorn"),  # not ranked: the catalog's order alone
    ((0, 1, 0), False, "local-path"),
]


@pytest.mark.parametrize(("disks", "ranked", "expected"), AUTO_ROWS)
def test_auto_follows_the_registry_order(fake: Any, disks: tuple[int, ...], ranked: bool, expected: str) -> None:
    if ranked:
        backends.register_backend(fake, auto_rank=0)
    nodes = [node(name, 11 + i, **({"disks": [dict(DISK, path=f"/dev/disk/by-id/ata-FAKE_{i}")]} if has else {}))
             for i, (name, has) in enumerate(zip("abc", disks))]
    assert plan_with(inventory(nodes), "auto").storage_backend == expected
