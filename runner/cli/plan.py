"""`weir plan`: what `weir run` would do, without changing anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from runner.cli.app import cli, connected_target, connection_for, project_for, shared_options
from runner.errors import EXIT_BREAKING, EXIT_OK

if TYPE_CHECKING:
    from runner.plan import Plan


@cli.command("plan")
@click.argument("selection", nargs=-1, metavar="[SELECTION]...")
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON document instead of text.")
@click.option("--allow-breaking", is_flag=True, help="Exit 0 even when a change breaks a downstream reader.")
@shared_options
@click.pass_context
def plan_command(ctx: click.Context, selection: tuple[str, ...], as_json: bool, allow_breaking: bool) -> None:
    """Say what `weir run` would do: migrations, models to build and why, breaking column changes.

    Exits 3 when a change removes or retypes a column a downstream model or check reads,
    unless --allow-breaking is given.
    """
    from dataclasses import asdict

    from runner.cli.reporting import reported
    from runner.plan import plan
    from runner.reports.envelope import dumps

    with reported("plan", None, as_json) as envelope:
        weir_project = project_for(ctx)
        with connection_for(ctx, weir_project, "weir plan", only_reads=True) as conn:
            envelope.target = connected_target(ctx)
            found = plan(conn, weir_project, select=selection)
    breaking = bool(found.breaking)
    exit_code = EXIT_BREAKING if breaking and not allow_breaking else EXIT_OK
    if as_json:
        results = {"migrations": found.migrations, "lint": found.findings, "checks": found.checks,
                   "models": [asdict(model) for model in found.models], "breaking": [m.model for m in found.breaking]}
        status = ("warn" if allow_breaking else "fail") if breaking else "pass"  # the envelope's statuses
        click.echo(dumps(envelope.document(status, exit_code, results)))
        ctx.exit(exit_code)
    _print(found)
    if breaking and not allow_breaking:
        click.echo("weir: breaking changes; rerun with --allow-breaking to accept them", err=True)
    ctx.exit(exit_code)


def _print(found: Plan) -> None:
    from tabulate import tabulate

    click.echo(f"migrations to apply: {', '.join(found.migrations) or 'none'}")
    for finding in found.findings:
        click.echo(f"  {finding}")
    rows = [(m.model, m.kind, m.action, m.reason, m.classification or "",
             "; ".join(f"{c.column} {c.change}" + (f" ({c.before} -> {c.after})" if c.change == "type changed" else "")
                       for c in m.columns),
             ", ".join(m.broken_readers) or m.note)
            for m in found.models if m.action != "skip" or m.classification]
    if rows:
        click.echo(tabulate(rows, headers=["model", "kind", "action", "why", "change", "columns", "breaks / note"],
                            tablefmt="simple"))
    skipped = sum(1 for m in found.models if m.action == "skip" and not m.classification)
    click.echo(f"{len(found.to_build)} to build, {skipped} unchanged, {len(found.checks)} checks to run,"
               f" {len(found.breaking)} breaking")
