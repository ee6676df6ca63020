"""The registry of GitOps engines render knows: gitops.engine → Engine (gitops.py).

Each entry pairs an engine's data (shared/engines.py, which the schema and validate read)
with its renderer module. Every render consumer asks engine_of(plan) instead of comparing
the engine's name.
"""

from __future__ import annotations

from ..plan.model import ClusterPlan
from .argocd import ARGOCD_ENGINE
from .flux import FLUX_ENGINE
from .gitops import Engine

ENGINES: dict[str, Engine] = {e.name: e for e in (FLUX_ENGINE, ARGOCD_ENGINE)}


def engine_of(plan: ClusterPlan) -> Engine:
    name = plan.settings.engine
    # The schema's enum lists shared/engines.py's names; an engine there without a renderer is a bug.
    assert name in ENGINES, f"gitops.engine {name!r} has no renderer in render/engines.py (known: {sorted(ENGINES)})"
    return ENGINES[name]

