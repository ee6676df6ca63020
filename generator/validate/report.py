"""What a validation run found, and the three ways to print it."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TextIO

from ..errors import ValidateUsageError

FORMATS = ("text", "json", "junit")


@dataclass(frozen=True, order=True)
class Fault:
    check: str  # yaml, kustomize, helm, schema, cloud-init, talos, secrets, references
    file: str  # repo-relative, forward slashes
    line: int | None
    document: str | None  # Kind/namespace/name (namespace omitted when empty)
    path: str | None  # spec.template.spec.containers[0].image
    message: str

    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        parts = [self.location()]
        if self.document:
            parts.append(self.document)
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)


@dataclass
class KindCounts:
    valid: int = 0
    invalid: int = 0
    errors: int = 0
    skipped: int = 0

    def add(self, other: KindCounts) -> None:
        self.valid += other.valid
        self.invalid += other.invalid
        self.errors += other.errors
        self.skipped += other.skipped

    @property
    def total(self) -> int:
        return self.valid + self.invalid + self.errors + self.skipped


@dataclass
class ValidationReport:
    strict: bool = False
    files: int = 0  # YAML files read
    faults: list[Fault] = field(default_factory=list)
    kinds: dict[str, KindCounts] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (kind or check, reason)
    # Files that did not parse count as errors without belonging to a kind.
    file_errors: int = 0
    # Findings that need a person, not a fix (a claim to make by hand); faults under --strict.
    warnings: list[Fault] = field(default_factory=list)
    daemonsets: dict[str, list[str]] = field(default_factory=dict)  # DaemonSet -> nodes it lands on
    # (rule, what) the model could not decide because a release was not rendered; the
    # unrendered release itself is the skip that --strict counts.
    undecided: list[tuple[str, str]] = field(default_factory=list)
    rules: tuple[str, ...] = ()  # the cluster model's rules, when the model ran

    @property
    def exit_code(self) -> int:
        return 1 if self.faults or (self.strict and (self.skipped or self.warnings)) else 0

    def totals(self) -> KindCounts:
        total = KindCounts(errors=self.file_errors)
        for counts in self.kinds.values():
            total.add(counts)
        return total

    def count(self, kind: str) -> KindCounts:
        return self.kinds.setdefault(kind, KindCounts())

    def merge_counts(self, kinds: dict[str, KindCounts]) -> None:
        for kind, counts in kinds.items():
            self.count(kind).add(counts)

    def skip(self, kind: str, reason: str) -> None:
        if (kind, reason) not in self.skipped:
            self.skipped.append((kind, reason))

    def finish(self) -> ValidationReport:
        """Drop duplicate faults (a base shows up in every overlay) and sort."""
        self.faults = sorted(set(self.faults), key=_fault_key)
        self.warnings = sorted(set(self.warnings), key=_fault_key)
        return self

    def summary(self) -> str:
        t = self.totals()
        return (
            f"Summary: {t.total} resource{'s' if t.total != 1 else ''} found in "
            f"{self.files} file{'s' if self.files != 1 else ''} - Valid: {t.valid}, "
            f"Invalid: {t.invalid}, Errors: {t.errors}, Skipped: {t.skipped}"
        )


def _fault_key(f: Fault) -> tuple:
    return (f.file, f.line or 0, f.check, f.document or "", f.path or "", f.message)


def render_report(report: ValidationReport, fmt: str, stream: TextIO) -> None:
    if fmt == "text":
        _render_text(report, stream)
    elif fmt == "json":
        _render_json(report, stream)
    elif fmt == "junit":
        _render_junit(report, stream)
    else:
        raise ValidateUsageError.because(f"unknown report format {fmt!r}", hint=f"choose one of {', '.join(FORMATS)}")


def _render_text(report: ValidationReport, stream: TextIO) -> None:
    stream.write(report.summary() + "\n")
    for fault in report.faults:
        stream.write(f"{fault}\n")
    for fault in report.warnings:
        stream.write(f"warning: {fault}\n")
    for kind, reason in report.skipped:
        stream.write(f"skipped: {kind}: {reason}\n")
    for rule, what in report.undecided:
        stream.write(f"not decided: {rule}: {what}\n")
    for ident, nodes in sorted(report.daemonsets.items()):
        stream.write(f"lands on: {ident}: {', '.join(nodes) or 'no node'}\n")
    if report.rules:
        stream.write("Cluster model: " + "; ".join(_rule_summary(report, r) for r in report.rules) + "\n")
    by_check = Counter(f.check for f in report.faults)
    if by_check:
        detail = ", ".join(f"{check} {n}" for check, n in sorted(by_check.items()))
        stream.write(f"{len(report.faults)} fault{'s' if len(report.faults) != 1 else ''} ({detail})\n")


def rule_counts(report: ValidationReport, rule: str) -> dict[str, int]:
    return {"faults": sum(f.check == rule for f in report.faults),
            "warnings": sum(f.check == rule for f in report.warnings),
            "undecided": sum(r == rule for r, _ in report.undecided)}


def _rule_summary(report: ValidationReport, rule: str) -> str:
    counts = rule_counts(report, rule)
    words = {"faults": ("fault", "faults"), "warnings": ("warning", "warnings"), "undecided": ("not decided",) * 2}
    parts = [f"{n} {words[k][n != 1]}" for k, n in counts.items() if n]
    return f"{rule} {', '.join(parts) or 'ok'}"


def _render_json(report: ValidationReport, stream: TextIO) -> None:
    t = report.totals()
    payload = {
        "summary": {
            "resources": t.total,
            "files": report.files,
            "valid": t.valid,
            "invalid": t.invalid,
            "errors": t.errors,
            "skipped": t.skipped,
            "faults": len(report.faults),
            "exit_code": report.exit_code,
        },
        "kinds": {k: asdict(v) for k, v in sorted(report.kinds.items())},
        "faults": [asdict(f) for f in report.faults],
        "skipped": [{"kind": k, "reason": r} for k, r in report.skipped],
        "warnings": [asdict(f) for f in report.warnings],
        "daemonsets": dict(sorted(report.daemonsets.items())),
        "undecided": [{"rule": r, "what": w} for r, w in report.undecided],
        "rules": {r: rule_counts(report, r) for r in report.rules},
    }
    json.dump(payload, stream, indent=2)
    stream.write("\n")


# One testsuite per check so CI dashboards group faults the way the text does.
_CHECKS = ("yaml", "kustomize", "helm", "schema", "cloud-init", "talos", "secrets", "references",
           "scheduling", "ordering", "storage", "pod-security", "devices", "services", "network", "backup",
           "values")


def _render_junit(report: ValidationReport, stream: TextIO) -> None:
    from xml.sax.saxutils import escape, quoteattr  # JUnit output only

    checks = list(_CHECKS) + sorted({f.check for f in report.faults} - set(_CHECKS))
    suites = []
    total_cases = 0
    for check in checks:
        faults = [f for f in report.faults if f.check == check]
        cases = []
        for f in faults:
            name = quoteattr(f"{f.location()} {f.document or ''}".strip())
            message = quoteattr(f"{f.path + ': ' if f.path else ''}{f.message}")
            cases.append(
                f'    <testcase classname="{check}" name={name}>\n'
                f"      <failure message={message}>{escape(str(f))}</failure>\n"
                f"    </testcase>"
            )
        if check == "schema":
            for kind, reason in report.skipped:
                cases.append(
                    f'    <testcase classname="{check}" name={quoteattr(kind)}>\n'
                    f"      <skipped message={quoteattr(reason)}/>\n"
                    f"    </testcase>"
                )
        if not faults:
            cases.append(f'    <testcase classname="{check}" name="{check}"/>')
        skipped = len(cases) - len(faults) - (0 if faults else 1)
        total_cases += len(cases)
        suites.append(
            f'  <testsuite name="{check}" tests="{len(cases)}" failures="{len(faults)}" '
            f'errors="0" skipped="{skipped}">\n' + "\n".join(cases) + "\n  </testsuite>"
        )
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write(
        f'<testsuites name="clustergen validate" tests="{total_cases}" '
        f'failures="{len(report.faults)}">\n'
    )
    stream.write("\n".join(suites) + "\n</testsuites>\n")
