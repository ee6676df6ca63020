"""The NetworkPolicies the plan decided for each app namespace, as files."""

from __future__ import annotations

from typing import Any

from ..plan.model import ClusterPlan, NamespacePolicy
from .templates import render_template

FILE = "network-policies.yaml"


def network_policy_files(plan: ClusterPlan) -> list[tuple[str, str]]:
    """(file name, text) for the apps overlay; nothing when policies are off."""
    if not plan.network_policies:
        return []
    text = "---\n".join(render_template("overlays/cluster/network-policies.yaml.j2", p=as_values(p))
                        for p in plan.network_policies)
    return [(FILE, text)]


def as_values(policy: NamespacePolicy) -> dict[str, Any]:
    """The template's view of one namespace's policies."""
    return {
        "namespace": policy.namespace,
        "ingress_from": [{"namespace": p.namespace, "ports": [{"port": n, "protocol": pr} for n, pr in p.ports]}
                         for p in policy.ingress_from],
        "egress_to": [{"namespace": p.namespace, "ports": [{"port": n, "protocol": pr} for n, pr in p.ports]}
                      for p in policy.egress_to],
        "open_ports": [{"port": n, "protocol": pr} for n, pr in policy.open_ports],
        "leaves_cluster": policy.leaves_cluster,
        "outside": _outside(policy.cluster_cidrs),
        "database_operator": policy.database_operator,
        "database_status_port": {"port": policy.database_status_port[0], "protocol": policy.database_status_port[1]},
        "api_servers": list(policy.api_servers),
        "api_server_port": policy.api_server_port,
    }


def _outside(cidrs: tuple[str, ...]) -> list[dict[str, Any]]:
    v4 = [c for c in cidrs if ":" not in c]
    v6 = [c for c in cidrs if ":" in c]
    blocks = [{"cidr": "0.0.0.0/0", "except": v4}]
    if v6:
        blocks.append({"cidr": "::/0", "except": v6})
    return blocks
