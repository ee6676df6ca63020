"""The seeds' hard lessons as named checks (the others live where their facts are decided:
even-control-planes in inventory/checks.py, etcd-on-sd-card in nodes.py, ceph-on-small-nodes
in storage.py)."""

from __future__ import annotations

from ..errors import Problem
from ..inventory.model import Inventory
from .model import AppPlan, NodePlan


def check_lessons(inv: Inventory, nodes: list[NodePlan], apps: list[AppPlan]) -> list[Problem]:
    problems: list[Problem] = []
    problems += gpu_without_runtime_class(inv, apps)
    problems += data_namespace_shared_with_stateless(inv, apps)
    return problems


def gpu_without_runtime_class(inv: Inventory, apps: list[AppPlan]) -> list[Problem]:
    """A GPU pod outside the nvidia runtime sees no GPU at all (k3s registers the
    NVIDIA runtime as RuntimeClass 'nvidia'; the default runc hides the device)."""
    found = []
    for app in apps:
        values = {**app.base_values, **app.cluster_values}
        if values.get("gpu", {}).get("enabled") and values.get("runtimeClassName", "nvidia") != "nvidia":
            found.append(
                Problem(
                    f"app '{app.name}' asks for a GPU but runs with runtimeClassName '{values.get('runtimeClassName')}'",
                    hint="remove runtimeClassName from the app's values; GPU apps need the 'nvidia' RuntimeClass",
                    code="gpu-without-runtime-class",
                    **inv.where("apps", app.index, "values"),
                )
            )
    return found


def data_namespace_shared_with_stateless(inv: Inventory, apps: list[AppPlan]) -> list[Problem]:
    """Namespaces that hold volumes are never pruned; warn when a user points an app
    with data into a namespace named like a throwaway one, where people delete freely."""
    found = []
    for app in apps:
        if app.has_data and app.namespace in ("default", "tmp", "test", "scratch"):
            found.append(
                Problem(
                    f"app '{app.name}' keeps data in namespace '{app.namespace}'; deleting that namespace deletes the data",
                    hint="give apps with data a namespace of their own",
                    severity="warning",
                    code="data-in-throwaway-namespace",
                    **inv.where("apps", app.index, "namespace" if inv.apps[app.index].namespace else "name"),
                )
            )
    return found
