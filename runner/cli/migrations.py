"""`weir migrate`, `rollback`, `status`, `verify` and `new migration`."""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING

import click

from runner.cli.app import cli, connected_target, connection_for, project_for, say, shared_options

if TYPE_CHECKING:
    from runner.migrate import StepResult
    from runner.migrate.verify import MigrationResult



@cli.command()
@click.option("--to", "to", metavar="ID", help="Apply up to and including this migration (id or number).")
@click.option("--dry-run", is_flag=True, help="Run in a transaction that is rolled back; report what would change.")
@click.option("--accept-edit", "accept_edits", multiple=True, metavar="ID",
              help="Record the current checksum of an applied migration whose file was deliberately edited.")
@shared_options
@click.pass_context
def migrate(ctx: click.Context, to: str | None, dry_run: bool, accept_edits: tuple[str, ...]) -> None:
    """Apply pending migrations, each in its own transaction."""
    from runner import migrate as migrations

    weir_project = project_for(ctx)
    weir_project.migrations  # noqa: B018  (read now: a malformed file is reported before connecting)
    with connection_for(ctx, weir_project, "weir migrate") as conn:
        results = migrations.migrate(conn, weir_project, to=to, dry_run=dry_run, accept_edits=accept_edits,
                                     on_progress=say)
    _report_steps(results, "applied", dry_run)


@cli.command()
@click.option("--steps", type=click.IntRange(min=1), metavar="N", help="Roll back the last N migrations (default 1).")
@click.option("--to", "to", metavar="ID", help="Roll back every migration after this one.")
@click.option("--all", "everything", is_flag=True, help="Roll back every applied migration.")
@click.option("--dry-run", is_flag=True, help="Run in a transaction that is rolled back; report what would change.")
@shared_options
@click.pass_context
def rollback(
    ctx: click.Context, steps: int | None, to: str | None, everything: bool, dry_run: bool
) -> None:
    """Roll back applied migrations, newest first, with their rollback files."""
    from runner import migrate as migrations

    if sum(option is not None and option is not False for option in (steps, to, everything)) > 1:
        raise click.UsageError("give one of --steps, --to and --all")
    weir_project = project_for(ctx)
    weir_project.migrations  # noqa: B018  (read now: a malformed file is reported before connecting)
    with connection_for(ctx, weir_project, "weir rollback") as conn:
        results = migrations.rollback(conn, weir_project, steps=steps, to=to, everything=everything, dry_run=dry_run,
                                      on_progress=say)
    _report_steps(results, "rolled back", dry_run)


def _report_steps(results: list[StepResult], verb: str, dry_run: bool) -> None:
    if dry_run:
        for result in results:
            changes = f"{len(result.changes)} catalog change(s)" if result.changes else "no catalog change"
            detail = result.note or changes
            click.echo(f"would {result.action} {result.id}: {detail}")
            for change in result.changes:
                click.echo(f"  {change}")
        click.echo(_dry_run_summary(results, verb))
        return
    total = sum(result.milliseconds for result in results) / 1000
    if results:
        click.echo(f"{len(results)} migration(s) {verb} in {total:.2f} s")
    else:
        click.echo(f"nothing to do: no migration to be {verb}")


def _dry_run_summary(results: list[StepResult], verb: str) -> str:
    tried = [result for result in results if not result.untried]
    stopped = next((result for result in results if result.untried), None)
    if stopped is None:
        return f"dry run: {len(tried)} migration(s) would be {verb}; nothing was changed"
    planned = len(tried) + stopped.untried
    after = stopped.untried - 1
    untried = "it was not tried" if after == 0 else f"it and the {after} after it were not tried"
    return (
        f"dry run: {len(tried)} of {planned} migration(s) would be {verb}; it stopped at {stopped.display},"
        f" which runs outside a transaction (a dry run cannot roll that back): {untried}"
        f" ({stopped.untried} of {planned}); nothing was changed"
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON document instead of a table.")
@shared_options
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show every migration (applied, pending, edited or missing-file) and the latest check and gate results."""
    from runner import migrate as migrations
    from runner.cli.reporting import reported
    from runner.state.checks import LATEST_HEADERS, latest_results
    from runner.state.gates import LATEST_GATE_HEADERS, latest_gate_results

    with reported("status", None, as_json) as envelope:
        weir_project = project_for(ctx)
        with connection_for(ctx, weir_project, "weir status", only_reads=True) as conn:
            envelope.target = connected_target(ctx)
            states = migrations.status(conn, weir_project)
            invalid = migrations.invalid_indexes(conn)
            pending = {s.id for s in states if s.state == "pending"}
            advice = migrations.invalid_index_advice(conn, [m for m in weir_project.migrations if m.id in pending])
            checks = latest_results(conn)
            gates = latest_gate_results(conn)
    if as_json:
        from runner.reports.envelope import dumps

        rows = [
            {"id": s.id, "state": s.state, "applied_at": s.applied_at.isoformat() if s.applied_at else None,
             "checksum": s.checksum, "file": s.display}
            for s in states
        ]
        check_rows = [dict(zip(LATEST_HEADERS, result.row, strict=True)) for result in checks]
        gate_rows = [dict(zip(LATEST_GATE_HEADERS, row, strict=True)) for row in gates]
        results = {"migrations": rows, "invalid_indexes": invalid, "invalid_index_advice": advice,
                   "checks": check_rows, "gates": gate_rows}
        attention = invalid or any(s.state in ("edited", "missing-file") for s in states)
        click.echo(dumps(envelope.document("warn" if attention else "pass", 0, results)))
        return
    from tabulate import tabulate

    table = [
        (s.id, s.state, f"{s.applied_at:%Y-%m-%d %H:%M:%S}" if s.applied_at else "", (s.checksum or "")[:12])
        for s in states
    ]
    click.echo(tabulate(table, headers=["migration", "state", "applied at", "checksum"], tablefmt="simple"))
    counts = {state: sum(1 for s in states if s.state == state) for state in ("applied", "pending", "edited",
                                                                             "missing-file")}
    click.echo(", ".join(f"{count} {state}" for state, count in counts.items() if count) or "no migrations")
    for headers, found in ((LATEST_HEADERS, [result.row for result in checks]), (LATEST_GATE_HEADERS, gates)):
        if found:
            click.echo()
            shown = [[f"{value:%Y-%m-%d %H:%M:%S}" if isinstance(value, datetime) else value for value in row]
                    for row in found]
            click.echo(tabulate(shown, headers=headers, tablefmt="simple"))
    for line in advice:
        click.echo(f"warning: {line}", err=True)


@cli.command()
@click.option("--keep-going/--fail-fast", default=lambda: bool(os.environ.get("CI")), show_default="keep going in CI",
              help="After a rollback that fails, go on and report every failure (default when $CI is set).")
@shared_options
@click.pass_context
def verify(ctx: click.Context, keep_going: bool) -> None:
    """Prove every rollback on a scratch database: apply, roll back, compare the catalog, apply again."""
    from runner.migrate import verify as verify_migrations

    weir_project = project_for(ctx)
    weir_project.migrations  # noqa: B018  (read now: a malformed file is reported before connecting)
    with connection_for(ctx, weir_project, "weir verify") as conn:
        report = verify_migrations(conn, weir_project, on_step=_report_verified, keep_going=keep_going)
    click.echo(f"verified {len(report.results)} migration(s): every rollback restores the schema")


def _report_verified(result: MigrationResult) -> None:
    detail = f" ({result.message})" if result.status == "skipped" and result.message else ""
    say(f"{result.status:<7} {result.id} ({result.seconds:.2f} s){detail}")


@cli.group()
def new() -> None:
    """Create a new migration file pair."""


@new.command("migration")
@click.argument("title")
@shared_options
@click.pass_context
def new_migration(ctx: click.Context, title: str) -> None:
    """Create NNNN_<slug>.sql and its .rollback.sql with the next number."""
    from runner.project.migrations import new_migration as create

    settings = project_for(ctx).settings
    for path in create(settings.migrations_dir, title):
        click.echo(f"created {path.relative_to(settings.root)}")
