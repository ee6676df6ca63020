"""Command line: parse, call the library, print, exit. 0 ok, 1 validation faults, 2 user error,
141 when the reader of standard output stopped reading."""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from . import __version__
from .errors import ClustergenError, OutputError, Problem
from .shared.dataclass_code import save_dataclass_code
from .shared.regex_code import cache_regex_code, save_regex_code

if TYPE_CHECKING:
    from typing import TextIO

    from .write import WriteReport

DEFAULT_INVENTORY = "inventory.yaml"
GENERATE_EXIT_STATUS = """exit status:
  0  the repository is up to date
  1  written, but some of your edits conflict with the new render: the files listed
     at the end carry <<<<<<< markers to resolve before you commit
  2  nothing written: an inventory error, uncommitted changes (see --allow-dirty),
     another run in progress, or missing secrets (restore .clustergen/age.key); or,
     after writing, the report could not be printed (a full disk under standard output)
  141  whatever read the report stopped reading"""


def run() -> NoReturn:
    """The ``clustergen`` program (its console script and ``python -m generator.cli``): ``main``
    with the cyclic collector off, then an exit that skips tearing the interpreter down.

    A command is one short pass whose data stays alive to its end and holds almost no
    reference cycles, so the collector only walked live objects (9 to 18 ms of a 190 ms fresh
    generate). Teardown frees every object and module one by one for memory the system takes
    back anyway (20 ms, paired runs). Regular expressions come from a table of compiled ones
    (shared/regex_code.py). Only the process's own entry does any of this: ``main`` called
    from a library or a test leaves the interpreter as it was."""
    gc.disable()
    cache_regex_code()
    status: list[int] = []
    # Registered first of this run's exit handlers, so it runs after the others (they run in
    # reverse): the ones added meanwhile, such as removing a TemporaryDirectory left open.
    atexit.register(_exit_without_teardown, status)
    code = main()
    # Registered at import, so an exit that skips teardown would skip it: saved now.
    save_dataclass_code()
    save_regex_code()
    status.append(code)
    sys.exit(code)


def _exit_without_teardown(status: list[int]) -> None:
    """The last exit handler: end the process with ``main``'s status once the standard
    streams are flushed. When ``main`` raised (a traceback) or a stream cannot be flushed (a
    closed pipe), the interpreter's own shutdown goes on and reports it as it always has."""
    if not status:
        return
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # None when the program was started with that descriptor closed
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(status[0])


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["probe"]:
        # The probe is a standalone stdlib script (the generated repo carries a copy
        # for machines without clustergen); it parses its own options.
        from .probe import main as probe_main

        return int(probe_main(arguments[1:]) or 0)
    parser = _parser()
    stdout = sys.stdout
    if stdout is not None:  # None when the program was started with standard output closed
        sys.stdout = _GuardedOutput(stdout)
    writes = False
    try:
        args = parser.parse_args(arguments)  # --help prints
        writes = args.func in (_cmd_init, _cmd_generate) and not getattr(args, "dry_run", False)
        return int(args.func(args) or 0)
    except OutputError as exc:
        if stdout is not None:
            _stop_writing(stdout)
        if exc.closed_pipe:
            return 128 + 13  # what a shell reports for a program the closed pipe's SIGPIPE ended
        _print_problems(exc.problems)
        return 2
    except ClustergenError as exc:
        _print_problems(exc.problems)
        if exc.wrote:
            print(f"clustergen: {len(exc.problems)} problem(s); before stopping, clustergen {exc.wrote}. "
                  "Nothing else was written.", file=sys.stderr)
        elif writes:
            print(f"clustergen: {len(exc.problems)} problem(s); nothing was written.", file=sys.stderr)
        else:  # plan, diff, validate, catalog, schema never write
            print(f"clustergen: {len(exc.problems)} problem(s).", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("clustergen: interrupted", file=sys.stderr)
        return 130
    finally:
        if isinstance(sys.stdout, _GuardedOutput):
            sys.stdout = stdout


class _GuardedOutput:
    """Standard output while a command runs: a write or flush that fails (a full disk, a
    reader that stopped reading) becomes an ``OutputError`` for ``main``, not a traceback
    from deep inside whatever was printing. Everything else is the stream's own."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise OutputError.writing(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputError.writing(exc) from None

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def _stop_writing(stream: TextIO) -> None:
    """Point a failed standard output at the null device, so that the text still buffered
    for it is dropped at exit instead of failing a second time."""
    try:
        descriptor = stream.fileno()
    except (OSError, ValueError, AttributeError):  # not a file (a test's capture): nothing is left to fail
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, descriptor)
    finally:
        os.close(null)


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        print(problem.format(), file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clustergen", description="Turn an inventory of machines into a validated GitOps repository.")
    parser.add_argument("--version", action="version", version=f"clustergen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    init = sub.add_parser("init", help="write a commented starter inventory")
    init.add_argument("path", nargs="?", default=DEFAULT_INVENTORY, type=Path)
    init.add_argument("--example", help="start from a bundled example instead (see --list)")
    init.add_argument("--list", action="store_true", help="list the bundled examples")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(func=_cmd_init)

    plan = sub.add_parser("plan", help="show the nodes, roles and app placement the inventory leads to")
    plan.add_argument("inventory", nargs="?", default=DEFAULT_INVENTORY, type=Path)
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.add_argument("--strict", action="store_true", help="treat warnings as errors")
    plan.set_defaults(func=_cmd_plan)

    gen = sub.add_parser(
        "generate",
        help="generate (or update) the GitOps repository",
        description="Generate the repository, or regenerate it in place like `copier update`: files you did not\n"
        "touch are updated, your edits are merged three-way (git merge-file), files you deleted stay\n"
        "deleted, your own files are never touched, and secrets are never rotated. Refuses to start\n"
        "on uncommitted changes, so git shows exactly what the run changed.",
        epilog=GENERATE_EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _generate_arguments(gen)
    gen.add_argument("--dry-run", action="store_true", help="print a unified diff of what would change and write nothing (same as 'clustergen diff')")
    gen.add_argument("--allow-dirty", action="store_true", help="regenerate even though the git tree has uncommitted changes")
    gen.set_defaults(func=_cmd_generate)

    diff = sub.add_parser(
        "diff",
        help="show what generate would change, as a unified diff; writes nothing",
        description="Print a unified diff (git apply accepts it) of what 'clustergen generate' would change, merges "
        "included. Secret files are named but not shown. Exit status 0, or 2 on an error.",
    )
    _generate_arguments(diff)
    diff.set_defaults(func=_cmd_generate, dry_run=True, allow_dirty=True)

    val = sub.add_parser("validate", help="check a generated repository with real kustomize, helm and schemas")
    val.add_argument("path", nargs="?", default=Path("."), type=Path)
    val.add_argument("--strict", action="store_true", help="missing schemas and warnings fail")
    val.add_argument("--kubernetes-version", help="target Kubernetes version (default: the pinned one)")
    val.add_argument("--schema-location", action="append", default=[], help="extra schema location (folder, URL or kubeconform template); repeatable")
    val.add_argument("--engine", choices=["builtin", "kubeconform"], default="builtin")
    val.add_argument("--charts", choices=["remote", "local"], default="remote",
                     help="render every Helm release, fetching charts from their repositories into the chart cache "
                          "(remote, the default), or only releases whose chart is in this repository (local)")
    val.add_argument("--offline", action="store_true",
                     help="use the chart cache alone; releases whose chart is not cached are skipped")
    val.add_argument("--chart-cache", type=Path, default=None,
                     help="chart cache folder (default: $XDG_CACHE_HOME/clustergen/charts)")
    val.add_argument("-o", "--output", choices=["text", "json", "junit"], default="text")
    val.set_defaults(func=_cmd_validate)

    # Listed for --help; main() hands `probe` and everything after it to the probe script.
    sub.add_parser("probe", help="print this machine's inventory entry (disks, GPUs, USB devices, NICs)")

    apps = sub.add_parser("catalog", help="list the catalog apps, or show one app's options")
    apps.add_argument("name", nargs="?", help="a catalog app (default: list them all)")
    apps.set_defaults(func=_cmd_catalog)

    schema = sub.add_parser("schema", help="print the inventory JSON Schema")
    schema.set_defaults(func=_cmd_schema)
    return parser


def _cmd_init(args: argparse.Namespace) -> int:
    from .starter import example_names, write_starter

    if args.list:
        for name in example_names():
            print(name)
        return 0
    write_starter(args.path, args.example, force=args.force)
    print(f"wrote {args.path}; edit it, then run: clustergen plan {args.path}")
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from .pipeline import build_plan
    from .report import plan_as_data, print_plan

    plan = build_plan(args.inventory)
    if args.json:
        print(json.dumps(plan_as_data(plan), indent=2))
    else:
        print_plan(plan)
    if args.strict and plan.warnings:
        return 2
    return 0


def _generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inventory", nargs="?", default=DEFAULT_INVENTORY, type=Path)
    parser.add_argument("-o", "--output", type=Path, help="repository folder (default: the inventory's folder)")
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")


def _cmd_generate(args: argparse.Namespace) -> int:
    from .pipeline import generate
    from .write import unified_diff

    output = args.output or args.inventory.resolve().parent
    result = generate(args.inventory, output, strict=args.strict, dry_run=args.dry_run, allow_dirty=args.allow_dirty)
    _print_problems(result.warnings)
    report = result.report
    assert report is not None
    if report.dry_run:
        sys.stdout.write(unified_diff(report.updates))
        _print_write_report(report, output, sys.stderr)
        return 0
    _print_write_report(report, output, sys.stdout)
    return report.exit_code


def _print_write_report(report: WriteReport, output: Path, out: TextIO) -> None:
    if report.dry_run:
        print(f"{output}: dry run, nothing written; {len(report.updates)} file(s) would change", file=out)
    else:
        merged = f", {len(report.merged)} merged" if report.merged else ""
        print(f"{output}: {len(report.written)} written, {len(report.unchanged)} unchanged, {len(report.removed)} removed{merged}", file=out)
    would = "would be " if report.dry_run else ""
    for note in report.notes:
        print(f"  note: {note}", file=out)
    for path in report.merged:
        print(f"  {'would merge' if report.dry_run else 'merged'} your edits into {path}", file=out)
    for path in report.kept_deleted:
        print(f"  {path}: you deleted it, so it stays deleted (clustergen's version changed)", file=out)
    for path in report.stale_kept:
        print(f"  {path}: no longer generated, but you changed it, so it {would}kept; delete it if you no longer need it", file=out)
    for path in report.kept_secret_edits:
        print(f"  {path}: a secret file you edited; {would}kept as it is, never merged", file=out)
    for path in report.approximate_base:
        print(f"  {path}: merged against an approximate base (see note); review the result", file=out)
    if report.conflicts or report.unresolved:
        print("conflicts" + (" (would be)" if report.dry_run else "") + ": resolve the <<<<<<< markers, then commit:", file=out)
        for path in report.conflicts:
            print(f"  {path}", file=out)
        for path in report.unresolved:
            print(f"  {path} (markers from an earlier run)", file=out)


def _cmd_validate(args: argparse.Namespace) -> int:
    from .validate import ValidateOptions, render_report, validate_repository

    if not args.path.is_dir():
        raise ClustergenError([Problem(f"{args.path} is not a folder", hint="pass the generated repository's folder")])
    version = args.kubernetes_version or _pinned_kubernetes_version(args.path) or ValidateOptions.kubernetes_version
    options = ValidateOptions(
        strict=args.strict,
        schema_locations=tuple(args.schema_location),
        engine=args.engine,
        charts=args.charts,
        offline=args.offline,
        chart_cache_dir=args.chart_cache,
        progress=args.output == "text",
        kubernetes_version=version,
    )
    report = validate_repository(args.path, options)
    render_report(report, args.output, sys.stdout)
    return report.exit_code


def _pinned_kubernetes_version(repo: Path) -> str | None:
    """The version the repository was generated for, from .clustergen/facts.yaml."""
    import yaml

    from .shared.layout import FACTS_PATH
    from .shared.yamltext import safe_load

    facts = repo / FACTS_PATH
    if facts.is_symlink():
        return None  # validate reports a link leaving the repository; never read here
    try:
        data = safe_load(facts.read_text(encoding="utf-8", errors="replace")) or {}
    except (OSError, yaml.YAMLError):
        return None
    version = data.get("kubernetesVersion") if isinstance(data, dict) else None
    return str(version) if version else None


def _cmd_catalog(args: argparse.Namespace) -> int:
    from .catalog_view import describe_text, list_text

    sys.stdout.write(describe_text(args.name) if args.name else list_text())
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from .inventory.load import inventory_schema

    print(json.dumps(inventory_schema(), indent=2))
    return 0


if __name__ == "__main__":
    run()
