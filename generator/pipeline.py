"""The whole job as one importable function per step, like cookiecutter's main."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ClustergenError, InventoryError, PlanError, Problem
from .write import (
    AGE_KEY_PATH,
    ENCRYPTED_SECRETS_PATH,
    SOPS_CONFIG_PATH,
    STATE_PATH,
    GenerationState,
    WriteReport,
    open_repository,
    prestart_secret_files,
    start_loading_secrets,
    start_secret_files,
)
from .shared.inventory_file import read_inventory_file
from .write.secrets import check_identity, recipient_of
from .write.uptodate import record_run, replay_if_unchanged

# render, plan and inventory are imported inside the functions: together they
# take most of a no-op run's time, and `generate` overlaps their loading with
# decrypting the secrets (a sops subprocess).
if TYPE_CHECKING:
    from .plan import ClusterPlan
    from .shared import ClusterSecrets, RenderedFile
    from .write import CleanCheck, PendingSecrets, PrestartedSecrets


@dataclass
class Generation:
    """What a generate run produced: the plan, the files, the write report and the warnings."""

    plan: ClusterPlan | None  # None when nothing had changed since the last run (see write.uptodate)
    files: list[RenderedFile]
    report: WriteReport | None
    warnings: list[Problem]


def build_plan(inventory_path: Path) -> ClusterPlan:
    # Imported here: loading the schema machinery is the slowest import, and
    # `generate` overlaps it with decrypting the secrets.
    from .inventory import load_inventory
    from .plan import plan_cluster

    inventory, warnings = load_inventory(inventory_path)
    return plan_cluster(inventory, warnings)


def render_files(plan: ClusterPlan, cluster_secrets: ClusterSecrets, inventory_text: str, repo: Path,
                 prestarted: PrestartedSecrets | None = None) -> list[RenderedFile]:
    """Everything the repository should hold: the render plus the secrets store (age key, .sops.yaml,
    encrypted secrets)."""
    from .render import render_repository, secret_manifests

    # sops encrypts on the other core while the repository renders: it is most of a fresh run.
    pending = start_secret_files(repo, cluster_secrets, secret_manifests(plan, cluster_secrets), plan.inventory.cluster_name,
                                 prestarted)
    try:
        files = render_repository(plan, cluster_secrets, inventory_text)
    except BaseException:
        pending.discard()
        raise
    files.extend(pending.files())
    files.sort(key=lambda f: f.path)
    seen: set[str] = set()
    for f in files:
        if f.path in seen:
            # Only a gitops.path pointing into another generated folder can make two files meet.
            raise InventoryError.single(
                f"clustergen would write {f.path} twice: gitops.path {plan.inventory.sync_path!r} overlaps a folder clustergen generates",
                hint="pick a folder of its own, such as clusters/<cluster name> (the default)",
                **plan.inventory.where("gitops", "path"),
            )
        seen.add(f.path)
    return files


def render_base(previous: GenerationState | None, cluster_secrets: ClusterSecrets, inventory_text: str, files: list[RenderedFile]) -> dict[str, bytes] | None:
    """The merge base: the previous inventory rendered by this clustergen.

    Where this version renders a file differently from the one that wrote it,
    the base is not what the user started from; the write stage notices
    (the state records each file's hash), looks for the real one in git
    history, and otherwise reports the merge as approximate.
    """
    if previous is None or previous.inventory is None:
        return None
    if previous.inventory == inventory_text:
        return {f.path: f.content for f in files}
    from .inventory import load_inventory_text
    from .plan import plan_cluster
    from .render import render_repository

    from .render import secret_manifests

    inventory, warnings = load_inventory_text(previous.inventory, f"{STATE_PATH} (previous inventory)")
    previous_plan = plan_cluster(inventory, warnings)
    rendered = render_repository(previous_plan, cluster_secrets, previous.inventory)
    base = {f.path: f.content for f in rendered}
    # The encrypted Secrets the previous inventory made (an app's login, a namespace's backup
    # keys) were produced by it, so one it no longer needs is removed, not taken for a forgery.
    # Ciphertext never merges: their base content is never read.
    base.update({path: b"" for path, _ in secret_manifests(previous_plan, None)})
    # The secrets store is the same on both sides: it is never merged.
    # So are the encrypted Secrets made from it.
    base.update({f.path: f.content for f in files if f.path in (AGE_KEY_PATH, SOPS_CONFIG_PATH, ENCRYPTED_SECRETS_PATH) or f.path.endswith(".sops.yaml")})
    return base


def generate(inventory_path: Path, output: Path, *, strict: bool = False, dry_run: bool = False, allow_dirty: bool = False) -> Generation:
    """Lock the repository (finishing an interrupted run), refuse uncommitted work, then load,
    plan and render while sops decrypts the secrets, and write everything in one transaction
    (or, for a dry run, only report it)."""
    with open_repository(output, dry_run=dry_run) as session:
        # git status runs while the inventory loads; its verdict still comes before any other.
        clean = None if allow_dirty else session.start_clean_check(inventory_path)
        try:
            checked = None if dry_run or session.notes else _checked_text(inventory_path)
            replay = None if checked is None else replay_if_unchanged(output, inventory_path, checked)
            if replay is not None:
                _finish(clean)
                if strict and replay.warnings:
                    raise _warnings_as_errors(replay.warnings)
                return Generation(None, [], replay.report, replay.warnings)
            plan, text, pending_secrets, prestarted = _plan_with_secrets_loading(inventory_path, output, strict, clean)
        except Exception:
            _finish(clean)  # uncommitted work is the first thing to fix
            raise
        except BaseException:
            if clean is not None:
                clean.discard()
            raise
        from .render import wanted_secret_fields

        try:
            cluster_secrets = pending_secrets.result(plan.inventory.distribution, wanted_secret_fields(plan))
        except BaseException:
            if prestarted is not None:
                prestarted.discard()
            raise
        files = render_files(plan, cluster_secrets, text, output, prestarted)
        recipient = recipient_of(next(f.content for f in files if f.path == AGE_KEY_PATH))
        previous = session.previous
        check_identity(output, previous.cluster_name if previous else None, previous.secrets_recipient if previous else None,
                       pending_secrets.store_cluster, recipient, plan.inventory.cluster_name)
        base_notes: list[str] = []

        def load_base() -> dict[str, bytes] | None:
            try:
                return render_base(session.previous, cluster_secrets, text, files)
            except ClustergenError as exc:
                base_notes.append(
                    "the previous inventory (kept in the state) no longer renders with this clustergen, so edited files "
                    f"merge against what git history holds, or without a base: {exc.problems[0].message}"
                )
                return None

        report = session.write(files, text, load_base, cluster_name=plan.inventory.cluster_name, secrets_recipient=recipient)
        report.notes.extend(base_notes)
        advice = _advice(plan, cluster_secrets)
        report.notes.extend(advice)
        record_run(output, inventory_path, text, list(plan.warnings), report, advice)
    return Generation(plan, files, report, list(plan.warnings))


def _plan_with_secrets_loading(inventory_path: Path, output: Path, strict: bool, clean: CleanCheck | None
                               ) -> tuple[ClusterPlan, str, PendingSecrets, PrestartedSecrets | None]:
    """The plan, while sops decrypts the secrets store (or, for a new repository, starts up to
    encrypt one); the repository found clean before anything is returned."""
    pending_secrets = start_loading_secrets(output)
    # A new repository's sops start up while the inventory loads and plans.
    prestarted = prestart_secret_files(output)
    try:
        plan = build_plan(inventory_path)
        if strict and plan.warnings:
            raise _warnings_as_errors(list(plan.warnings))
        text = inventory_path.read_text(encoding="utf-8")
        _finish(clean)
    except BaseException:
        pending_secrets.discard()
        if prestarted is not None:
            prestarted.discard()
        raise
    return plan, text, pending_secrets, prestarted


def _finish(clean: CleanCheck | None) -> None:
    if clean is not None:
        clean.finish()


def _advice(plan: ClusterPlan, cluster_secrets: ClusterSecrets) -> list[str]:
    """What the user still has to put into the secrets store for this inventory (a run that
    changes nothing prints it again)."""
    advice: list[str] = []
    if plan.backup is not None and (cluster_secrets.backup_s3_access_key_id is None or cluster_secrets.backup_s3_secret_access_key is None):
        advice.append(
            "backups are on, but the S3 keys are not in .clustergen/secrets.sops.yaml yet: "
            "set backupS3AccessKeyId and backupS3SecretAccessKey (README, Backups) and regenerate"
        )
    if any(a.pull_secret for a in plan.apps) and cluster_secrets.registry_auths is None:
        advice.append(
            "apps pull with registry credentials, but .clustergen/secrets.sops.yaml has no registryAuths yet: "
            "put your Docker config JSON there (sops .clustergen/secrets.sops.yaml) and regenerate"
        )
    from .render.secrets import missing_store_keys

    missing = missing_store_keys(plan, cluster_secrets)
    if missing:
        advice.append(
            f"external-dns and cert-manager read the {plan.dns.provider} credentials from a Secret clustergen commits, "
            f"but .clustergen/secrets.sops.yaml has no {', '.join(missing)} yet: set them (README, DNS) and regenerate"
        )
    return advice


def _warnings_as_errors(warnings: list[Problem]) -> PlanError:
    return PlanError([Problem(w.message, w.file, w.line, w.column, w.field, w.hint, "error") for w in warnings])


def _checked_text(path: Path) -> str | None:
    """The inventory's text for the up-to-date check, read through the inventory's own checks
    (a FIFO or a huge file is never read); None when they refuse it: the full run says why."""
    try:
        return read_inventory_file(path)
    except InventoryError:
        return None
