"""local-path: rancher's local-path-provisioner, a folder on the node that first ran the pod."""

from __future__ import annotations

from typing import Any

from ...inventory.model import Inventory
from ..model import NodePlan
from . import StorageBackend, register


@register
class LocalPath(StorageBackend):
    name = "local-path"

    def chart_values(self, key: str, inv: Inventory, nodes: list[NodePlan]) -> dict[str, Any]:
        if key == "local-path-provisioner" and inv.distribution == "talos" and self.spec.talos_host_path:
            # Talos's root filesystem is read-only; /var is the writable EPHEMERAL volume,
            # bind-mounted into the kubelet by the machine config.
            return {"nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": [self.spec.talos_host_path]}]}
        return {}
