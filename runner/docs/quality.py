"""DATA-QUALITY.md: each check, what it guards, when it fails, what failing does, and how it fared."""

from __future__ import annotations

from runner.docs.context import DocsContext
from runner.docs.markdown import Raw, code, document, table
from runner.project import Check


def render(ctx: DocsContext) -> str:
    """Return DATA-QUALITY.md."""
    checks = sorted(ctx.project.checks, key=lambda check: check.name)
    summary = table(("check", "guards", "severity", "fails when", "on failure"), [
        (Raw(code(check.name)), Raw(", ".join(code(r) for r in ctx.guarded(check).relations)),
         check.severity, _thresholds(check), _action(check)) for check in checks
    ])
    sections = [f"## Checks\n\n{summary}"] + [_check(ctx, check) for check in checks]
    intro = ("Each check is a SELECT whose rows are violations (`checks/`); `weir check` runs them all and"
             " stores every result in the database. Severity `error` fails the run (exit 1), `warn` reports.")
    if ctx.source.history is None:
        intro += " Results are shown when documenting a live database (`weir docs --dsn ...`)."
    return document("Data quality", intro, sections)


def _thresholds(check: Check) -> str:
    parts = []
    if check.error_if is not None:
        parts.append(f"error if violations {check.error_if}")
    if check.warn_if is not None:
        parts.append(f"warn if violations {check.warn_if}")
    return "; ".join(parts) or f"any violation ({check.severity})"


def _action(check: Check) -> str:
    if check.gate and check.quarantine:
        return f"gate of {check.gate}: failing rows are moved to {check.gate}__rejected, the rest is published"
    if check.gate:
        return f"gate of {check.gate}: the build of it is rolled back, its last good version stays"
    return "fails the check run (exit 1)" if check.severity == "error" else "reported as a warning"


def _check(ctx: DocsContext, check: Check) -> str:
    found = ctx.guarded(check)
    lines = [f"### {check.name}", ""]
    if check.description:
        lines += [check.description, ""]
    items = [
        ("file", code(check.display)),
        ("guards", ", ".join(code(r) for r in found.relations) or "nothing Weir manages"),
        ("columns", ", ".join(code(c) for c in found.columns)),
        ("weir functions", ", ".join(code(f"weir.{f}") for f in found.functions)),
        ("severity", check.severity),
        ("fails when", _thresholds(check)),
        ("on failure", _action(check)),
        ("tags", ", ".join(sorted(check.tags))),
        ("run it", code(f"weir check --select {check.name}")),
    ]
    lines += [f"- {name}: {value}" for name, value in items if value]
    history = ctx.source.history
    if history is not None:
        runs = history.checks.get(check.name, ())
        lines += ["", "Recent results:", ""]
        lines.append(table(("run", "finished", "status", "violations", "seconds"), [
            (run.run_id, f"{run.finished_at:%Y-%m-%d %H:%M:%S %Z}", run.status,
             "error" if run.rows is None else f"{run.rows:,}", f"{run.seconds:.2f}") for run in runs
        ]) if runs else "none recorded")
    return "\n".join(lines)
