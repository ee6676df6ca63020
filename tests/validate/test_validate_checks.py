"""Each check against a fixture repository holding the fault it must catch."""

from __future__ import annotations

import pytest

from .conftest import FIXTURES, faults_of, needs_shared, one_fault


@needs_shared
def test_clean_repository_passes_strict(validated):
    report = validated("clean", strict=True)
    assert report.faults == [], "\n".join(map(str, report.faults))
    assert report.skipped == []
    assert report.exit_code == 0
    totals = report.totals()
    assert totals.invalid == totals.errors == totals.skipped == 0
    # Kustomize-built, helm-rendered (HelmRelease) and raw Flux objects all counted.
    assert report.kinds["HelmRelease"].valid == 1
    assert report.kinds["Deployment"].valid == 2  # apps/home + the chart rendered by the release
    assert report.kinds["Kustomization"].valid == 3
    assert report.kinds["Secret"].valid == 1  # SOPS-encrypted, validated without its sops block


def test_clean_repository_without_schemas_is_skipped_not_failed(validated, monkeypatch):
    monkeypatch.delenv("CLUSTERGEN_SCHEMAS", raising=False)
    report = validated("clean", shared=False)
    assert report.faults == [], "\n".join(map(str, report.faults))
    assert report.exit_code == 0
    skipped_kinds = {kind for kind, _ in report.skipped}
    assert {"HelmRelease", "GitRepository", "Kustomization", "cloud-init", "talos"} <= skipped_kinds
    assert report.kinds["HelmRelease"].skipped == 1


def test_missing_schemas_fail_under_strict(validated, monkeypatch):
    monkeypatch.delenv("CLUSTERGEN_SCHEMAS", raising=False)
    report = validated("clean", strict=True, shared=False)
    assert report.exit_code == 1
    fault = one_fault(report, "schema", "apps/home/helmrelease.yaml")
    assert fault.line == 1
    assert fault.document == "HelmRelease/web/whoami"
    assert fault.message == "no schema for helm.toolkit.fluxcd.io/v2 HelmRelease in the schema locations (strict)"
    assert faults_of(report, "cloud-init", "bootstrap/cloud-init/nuc1/user-data")
    assert faults_of(report, "talos", "bootstrap/talos/controlplane.yaml")


def test_yaml_syntax_error_names_file_and_line(validated):
    report = validated("yaml-broken")
    fault = one_fault(report, "yaml", "broken.yaml")
    assert fault.line == 7
    assert fault.message == "invalid YAML: mapping values are not allowed in this context"
    assert report.file_errors == 1
    assert str(fault) == "broken.yaml:7: invalid YAML: mapping values are not allowed in this context"


def test_kustomization_that_does_not_build(validated):
    report = validated("kustomize-broken")
    fault = one_fault(report, "kustomize", "apps/home/kustomization.yaml")
    assert fault.line == 5  # the resources entry naming the missing file
    assert fault.message == "kustomize build apps/home failed: resource 'missing.yaml' does not exist"


def test_flux_kustomization_path_must_exist(validated):
    report = validated("kustomize-broken")
    fault = one_fault(report, "kustomize", "clusters/home/sync.yaml", "spec.path")
    assert fault.line == 32
    assert fault.document == "Kustomization/flux-system/media"
    assert fault.message == "Flux Kustomization path './apps/media' does not exist in the repository"
    # ./apps/home exists; its build failure is reported once, at its kustomization.
    assert len(faults_of(report, "kustomize")) == 2


@needs_shared
def test_helmrelease_misspelled_field_against_crd_schema(validated):
    report = validated("schema-faults")
    fault = one_fault(report, "schema", "apps/helmrelease.yaml", "spec.intervall")
    assert fault.line == 16
    assert fault.document == "HelmRelease/flux-system/redis"
    assert fault.message == "additional property 'intervall' is not allowed"


def test_deployment_wrong_type(validated):
    report = validated("schema-faults")
    fault = one_fault(report, "schema", "apps/deployment.yaml", "spec.replicas")
    assert fault.line == 7
    assert fault.document == "Deployment/default/web"
    assert fault.message == '"two" is not of types "null", "integer"'
    assert report.kinds["Deployment"].invalid == 1


def test_unknown_kind_is_skipped_then_strict_fault(validated):
    report = validated("schema-faults")
    assert ("Widget", "no schema for example.com/v1 Widget in the schema locations") in report.skipped
    assert report.kinds["Widget"].skipped == 1
    strict = validated("schema-faults", strict=True)
    fault = one_fault(strict, "schema", "apps/widget.yaml")
    assert fault.line == 1 and fault.document == "Widget/gadget"


@needs_shared
def test_cloud_init_typos(validated):
    report = validated("cloud-init-faults")
    user_data = "bootstrap/cloud-init/nuc1/user-data"
    typo = one_fault(report, "cloud-init", user_data, "packages_update")
    assert typo.line == 3
    assert typo.message == "additional property 'packages_update' is not allowed"
    runcmd = one_fault(report, "cloud-init", user_data, "runcmd")
    assert runcmd.line == 4
    assert runcmd.message == '"curl -sfL https://get.k3s.io | sh -" is not of type "array"'
    network = one_fault(report, "cloud-init", "bootstrap/cloud-init/nuc1/network-config",
                        "network.ethernets.eno1.dhcp4")
    assert network.line == 5
    assert network.message.startswith('"maybe" is not one of')


def test_cloud_init_user_data_needs_header(validated):
    report = validated("cloud-init-faults")
    fault = one_fault(report, "cloud-init", "bootstrap/cloud-init/nuc2/user-data")
    assert fault.line == 1
    assert fault.message.startswith("user-data must start with '#cloud-config'")


@needs_shared
def test_talos_machine_config(validated):
    report = validated("talos-faults")
    file = "bootstrap/talos/controlplane.yaml"
    assert one_fault(report, "talos", file, "machine.type").line == 3
    assert one_fault(report, "talos", file, "machine.install.wipeDisk").message == \
        "additional property 'wipeDisk' is not allowed"
    hostname = one_fault(report, "talos", file, "hostname")
    assert (hostname.line, hostname.document) == (14, "HostnameConfig")
    assert one_fault(report, "talos", file, contains="FrobnicateConfig").line == 16
    assert len(faults_of(report, "talos")) == 4


def test_unschedulable_node_selector(validated):
    report = validated("references")
    fault = one_fault(report, "scheduling", "apps/workloads.yaml", 'spec.template.spec.nodeSelector["kubernetes.io/arch"]')
    assert fault.line == 14  # the unmet key
    assert fault.document == "Deployment/default/arm-only"
    assert fault.message == ("pod matches no node (nuc1: nodeSelector kubernetes.io/arch=arm64; "
                             "nuc2: nodeSelector kubernetes.io/arch=arm64)")


def test_unschedulable_required_affinity(validated):
    report = validated("references")
    path = ("spec.jobTemplate.spec.template.spec.affinity.nodeAffinity."
            "requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms")
    fault = one_fault(report, "scheduling", "apps/workloads.yaml", path)
    assert fault.line == 34 and fault.document == "CronJob/default/nightly"


def test_storage_classes_and_ingress_domain(validated):
    report = validated("references")
    file = "apps/workloads.yaml"
    missing = one_fault(report, "references", file, "spec.storageClassName")
    assert (missing.line, missing.message) == (50, "StorageClass 'fast-ssd' does not exist (known: none)")
    no_default = one_fault(report, "references", file, "spec", "no default StorageClass")
    assert no_default.document == "PersistentVolumeClaim/default/scratch"
    host = one_fault(report, "references", file, "spec.rules[0].host")
    assert host.line == 73
    assert host.message == "host 'web.example.org' is not under the cluster domain 'home.example.com'"


def test_dangling_depends_on_and_source_ref(validated):
    report = validated("references")
    file = "clusters/flux.yaml"
    ks = one_fault(report, "references", file, "spec.dependsOn[0].name", "Kustomization")
    assert ks.line == 20
    assert ks.message == "dependsOn Kustomization flux-system/infrastructure does not exist in the repository"
    hr = one_fault(report, "references", file, "spec.dependsOn[0].name", "HelmRelease")
    assert hr.line == 35
    src = one_fault(report, "references", file, "spec.chart.spec.sourceRef.name")
    assert src.message == "sourceRef HelmRepository flux-system/grafana-charts does not exist in the repository"
    assert len(faults_of(report, "references")) == 6
    # The two unschedulable workloads are the model's, and so is the backend nothing serves.
    assert len(faults_of(report, "scheduling")) == 2
    assert one_fault(report, "services", "apps/workloads.yaml").message == "backend Service default/web does not exist"


def test_facts_missing_skips_cluster_checks(validated):
    report = validated("schema-faults")
    assert any(kind == "references" and ".clustergen/facts.yaml not found" in reason
               for kind, reason in report.skipped)


def test_helm_release_renders_local_chart_into_validation(validated):
    report = validated("helm-faults")
    fault = one_fault(report, "schema", "charts/app/templates/deployment.yaml", "spec.replicas",
                      "HelmRelease/flux-system/app")
    assert fault.document == "Deployment/flux-system/app"
    assert fault.message == '"two" is not of types "null", "integer" (helm template HelmRelease/flux-system/app)'


def test_argo_application_renders_local_chart(validated):
    report = validated("helm-faults")
    fault = one_fault(report, "schema", "charts/app/templates/deployment.yaml", "spec.replicas", "app-argo")
    assert fault.document == "Deployment/apps/app-argo"


def test_helm_release_chart_path_must_be_a_chart(validated):
    report = validated("helm-faults")
    fault = one_fault(report, "helm", "apps/releases.yaml", "spec.chart.spec.chart")
    assert fault.line == 26
    assert fault.message == "chart path './charts/ghost' has no Chart.yaml in the repository"


def test_local_chart_fails_helm_lint_strict(validated):
    report = validated("helm-faults")
    fault = one_fault(report, "helm", "charts/broken/templates/configmap.yaml")
    assert fault.line == 6
    assert fault.message.startswith("helm lint error: parse error at (broken/templates/configmap.yaml:6)")


@pytest.mark.parametrize("fmt", ["text", "json", "junit"])
def test_every_fixture_renders(validated, fmt):
    import io

    from generator.validate import render_report

    out = io.StringIO()
    render_report(validated("references"), fmt, out)
    assert "nodeSelector" in out.getvalue()


def test_chart_in_an_upstream_git_repository_is_not_looked_for_here(validated):
    report = validated("helm-faults")
    assert not [f for f in report.faults if "upstream" in f.message or (f.document or "").endswith("/upstream")]


def test_kustomize_components_are_not_built_alone(validated):
    report = validated("kustomize-broken")
    assert not faults_of(report, "kustomize", "apps/components/monitoring/kustomization.yaml")


def _ignore_user_data(root):
    (root / ".gitignore").write_text("# join tokens stay local\n/bootstrap/cloud-init/*/user-data\n")


@needs_shared
def test_git_ignored_cloud_init_seeds_are_still_validated(validated):
    report = validated("cloud-init-faults", prepare=_ignore_user_data)
    assert one_fault(report, "cloud-init", "bootstrap/cloud-init/nuc1/user-data", "packages_update").line == 3
    assert len(faults_of(report, "cloud-init")) == 4


def test_chart_lint_uses_ci_values_when_the_chart_has_them(validated, tmp_path):
    import shutil

    from generator.validate.helm import lint_charts

    assert not faults_of(validated("helm-faults"), "helm", "charts/needs-values/values.yaml")
    # Without ci/ values its deliberately empty defaults fail the chart's own schema.
    chart = tmp_path / "charts" / "needs-values"
    shutil.copytree(FIXTURES / "helm-faults" / "charts" / "needs-values", chart)
    shutil.rmtree(chart / "ci")
    faults = lint_charts(tmp_path, ["charts/needs-values"], "1.34.0")
    assert faults and all("minLength" in f.message for f in faults)
    assert {f.file for f in faults} <= {"charts/needs-values/Chart.yaml", "charts/needs-values/values.yaml"}
