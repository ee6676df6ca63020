"""Validation of a generated GitOps repository (``clustergen validate``).

    from generator.validate import ValidateOptions, validate_repository, render_report
    report = validate_repository(Path("out"), ValidateOptions(strict=True))
    render_report(report, "text", sys.stdout)
    sys.exit(report.exit_code)

Checks: YAML syntax, kustomize builds and Flux Kustomization paths, Helm
lint of in-repo charts and rendering of every Helm release (charts from
Helm repositories, OCI registries and upstream git are fetched into a
cache; see ``ValidateOptions``), Kubernetes JSON Schemas (bundled core
schemas plus kubeconform-style schema locations for CRDs), cloud-init and
Talos configs, secret hygiene, and cross-references (Flux sources and
dependsOn, storage classes, ingress hosts, node scheduling).
"""

from .options import ValidateOptions
from .report import Fault, KindCounts, ValidationReport, render_report
from .runner import validate_repository
from .tool import ToolError

__all__ = [
    "Fault",
    "KindCounts",
    "ToolError",
    "ValidateOptions",
    "ValidationReport",
    "render_report",
    "validate_repository",
]
