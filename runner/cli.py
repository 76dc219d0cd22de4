"""The `weir` command: a thin Click layer over the runner library.

Each command reads its options, calls one library function and reports. Heavy
modules are imported inside the commands so `weir --help` starts fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from runner import __version__
from runner.errors import EXIT_FAIL, WeirError


class WeirGroup(click.Group):
    """A group that turns Weir's errors into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WeirError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            _fail(ctx, str(exc), exc.exit_code)
        except Exception as exc:
            import psycopg

            if not isinstance(exc, psycopg.Error) or (ctx.obj and ctx.obj.get("debug")):
                raise
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            _fail(ctx, f"database error: {message}; nothing more was changed (re-run with --debug for details)",
                  EXIT_FAIL)


def _fail(ctx: click.Context, message: str, code: int) -> None:
    from runner.connection import redact

    click.echo(f"weir: {redact(message)}", err=True)
    ctx.exit(code)


def common_options(command: Callable) -> Callable:
    """Add --project, --dsn and --debug to a command."""
    command = click.option("--debug", is_flag=True, help="Show tracebacks for errors.")(command)
    command = click.option(
        "--dsn", envvar=None, metavar="DSN",
        help="Connection string or URI. Default: WEIR_DSN, DATABASE_URL, PG* variables, else the embedded server.",
    )(command)
    command = click.option(
        "--project", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
        help="Project directory. Default: the nearest directory up whose setup.cfg has a [weir] section.",
    )(command)
    return command


@click.group(cls=WeirGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="weir")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Weir: PostgreSQL migrations, star-schema models and SQL checks, in plain SQL."""
    ctx.ensure_object(dict)


def _settings(ctx: click.Context, project: Path | None, debug: bool):
    from runner.settings import load_settings

    ctx.obj["debug"] = debug
    return load_settings(project)


@contextmanager
def _connection(settings, dsn: str | None, purpose: str):
    from runner.connection import connect, resolve_target

    target = resolve_target(dsn, settings)
    conn = connect(target.conninfo, purpose=purpose)
    try:
        yield conn
    finally:
        conn.close()


def _say(message: str) -> None:
    click.echo(message, err=True)


# -- migrations ---------------------------------------------------------------------------------


@cli.command()
@click.option("--to", "to", metavar="ID", help="Apply up to and including this migration (id or number).")
@click.option("--dry-run", is_flag=True, help="Run in a transaction that is rolled back; report what would change.")
@click.option("--accept-edit", "accept_edits", multiple=True, metavar="ID",
              help="Record the current checksum of an applied migration whose file was deliberately edited.")
@common_options
@click.pass_context
def migrate(ctx, to, dry_run, accept_edits, project, dsn, debug):
    """Apply pending migrations, each in its own transaction."""
    from runner import migrations

    settings = _settings(ctx, project, debug)
    with _connection(settings, dsn, "weir migrate") as conn:
        results = migrations.migrate(conn, settings, to=to, dry_run=dry_run, accept_edits=accept_edits,
                                     on_progress=_say)
    _report_steps(results, "applied", dry_run)


@cli.command()
@click.option("--steps", type=click.IntRange(min=1), metavar="N", help="Roll back the last N migrations (default 1).")
@click.option("--to", "to", metavar="ID", help="Roll back every migration after this one.")
@click.option("--all", "everything", is_flag=True, help="Roll back every applied migration.")
@click.option("--dry-run", is_flag=True, help="Run in a transaction that is rolled back; report what would change.")
@common_options
@click.pass_context
def rollback(ctx, steps, to, everything, dry_run, project, dsn, debug):
    """Roll back applied migrations, newest first, with their rollback files."""
    from runner import migrations

    if sum(option is not None and option is not False for option in (steps, to, everything)) > 1:
        raise click.UsageError("give one of --steps, --to and --all")
    settings = _settings(ctx, project, debug)
    with _connection(settings, dsn, "weir rollback") as conn:
        results = migrations.rollback(conn, settings, steps=steps, to=to, everything=everything, dry_run=dry_run,
                                      on_progress=_say)
    _report_steps(results, "rolled back", dry_run)


def _report_steps(results, verb: str, dry_run: bool) -> None:
    if dry_run:
        for result in results:
            changes = f"{len(result.changes)} catalog change(s)" if result.changes else "no catalog change"
            detail = result.note or changes
            click.echo(f"would {result.action} {result.id}: {detail}")
            for change in result.changes:
                click.echo(f"  {change}")
        click.echo(f"dry run: {len(results)} migration(s) would be {verb}; nothing was changed")
        return
    total = sum(result.milliseconds for result in results) / 1000
    if results:
        click.echo(f"{len(results)} migration(s) {verb} in {total:.2f} s")
    else:
        click.echo(f"nothing to do: no migration to be {verb}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@common_options
@click.pass_context
def status(ctx, as_json, project, dsn, debug):
    """Show every migration (applied, pending, edited or missing-file) and the latest check and gate results."""
    from runner import migrations
    from runner.checks import LATEST_HEADERS, latest_results
    from runner.gates import LATEST_GATE_HEADERS, latest_gate_results

    settings = _settings(ctx, project, debug)
    with _connection(settings, dsn, "weir status") as conn:
        states = migrations.status(conn, settings)
        invalid = migrations.invalid_indexes(conn)
        checks = latest_results(conn)
        gates = latest_gate_results(conn)
    if as_json:
        rows = [
            {"id": s.id, "state": s.state, "applied_at": s.applied_at.isoformat() if s.applied_at else None,
             "checksum": s.checksum, "file": s.display}
            for s in states
        ]
        check_rows = [dict(zip(LATEST_HEADERS, result.row, strict=True)) for result in checks]
        gate_rows = [dict(zip(LATEST_GATE_HEADERS, row, strict=True)) for row in gates]
        click.echo(json.dumps({"migrations": rows, "invalid_indexes": invalid, "checks": check_rows,
                               "gates": gate_rows}, indent=2, default=str))
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
            rows = [[f"{value:%Y-%m-%d %H:%M:%S}" if isinstance(value, datetime) else value for value in row]
                    for row in found]
            click.echo(tabulate(rows, headers=headers, tablefmt="simple"))
    for index in invalid:
        click.echo(f"warning: index {index} is INVALID (a failed CREATE INDEX CONCURRENTLY); drop it and re-run",
                   err=True)


@cli.command()
@common_options
@click.pass_context
def verify(ctx, project, dsn, debug):
    """Prove every rollback on a scratch database: apply, roll back, compare the catalog, apply again."""
    from runner.connection import resolve_target
    from runner.verify import verify_project

    settings = _settings(ctx, project, debug)
    target = resolve_target(dsn, settings)
    report = verify_project(target.conninfo, settings, on_step=_report_verified)
    click.echo(f"verified {len(report.results)} migration(s): every rollback restores the schema")


def _report_verified(result) -> None:
    detail = f" ({result.message})" if result.status == "skipped" and result.message else ""
    _say(f"{result.status:<7} {result.id} ({result.seconds:.2f} s){detail}")


@cli.group()
def new() -> None:
    """Create a new migration file pair."""


@new.command("migration")
@click.argument("title")
@click.option("--project", type=click.Path(file_okay=False, path_type=Path), metavar="DIR", help="Project directory.")
@click.pass_context
def new_migration(ctx, title, project):
    """Create NNNN_<slug>.sql and its .rollback.sql with the next number."""
    from runner.migration_files import new_migration as create

    settings = _settings(ctx, project, False)
    for path in create(settings.migrations_dir, title):
        click.echo(f"created {path.relative_to(settings.root)}")


# -- models ---------------------------------------------------------------------------------------


@cli.command()
@click.option("--select", "select", multiple=True, metavar="SELECTOR",
              help="Models to build: name, schema.name, +name, name+, tag:x, path:dir (repeatable). Default: all.")
@click.option("--exclude", "exclude", multiple=True, metavar="SELECTOR", help="Models to leave out (repeatable).")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental and scd2 models from scratch.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Build independent models in parallel on this many connections.")
@common_options
@click.pass_context
def build(ctx, select, exclude, full_refresh, threads, project, dsn, debug):
    """Build models/ into tables and views, in dependency order, doing only what changed."""
    from runner.build import build as build_models
    from runner.connection import resolve_target

    settings = _settings(ctx, project, debug)
    target = resolve_target(dsn, settings)
    report = build_models(target.conninfo, settings, select=select, exclude=exclude, full_refresh=full_refresh,
                          threads=threads, on_event=_report_build_event)
    _report_build(report)
    ctx.exit(0 if report.ok else EXIT_FAIL)


def _report_build_event(event) -> None:
    if event.kind == "waiting":
        _say(event.message)
    elif event.kind == "finished" and event.result and event.result.note and event.result.status != "skipped":
        _say(f"{event.result.model}: {event.result.note}")


def _report_build(report) -> None:
    from tabulate import tabulate

    from runner.build import HEADERS

    click.echo(tabulate(report.rows, headers=HEADERS, tablefmt="simple", floatfmt=".2f"))
    counts = ", ".join(f"{count} {status}" for status, count in report.counts().items() if count)
    click.echo(f"run {report.run_id}: {counts or 'no models'}")
    for error in report.errors:
        click.echo(f"weir: {error}", err=True)


@cli.command("ls")
@common_options
@click.pass_context
def list_models(ctx, project, dsn, debug):
    """List models with their kind, upstream models and last build."""
    from tabulate import tabulate

    from runner.build import LS_HEADERS
    from runner.build import list_models as rows_of_models
    from runner.connection import resolve_target

    settings = _settings(ctx, project, debug)
    target = resolve_target(dsn, settings)
    rows = [(model, kind, upstream, f"{built:%Y-%m-%d %H:%M:%S}" if built else "never")
            for model, kind, upstream, built in rows_of_models(target.conninfo, settings)]
    click.echo(tabulate(rows, headers=LS_HEADERS, tablefmt="simple"))


@cli.command()
@click.argument("name")
@click.option("--project", type=click.Path(file_okay=False, path_type=Path), metavar="DIR", help="Project directory.")
@click.pass_context
def lineage(ctx, name, project):
    """Print the models upstream and downstream of NAME."""
    from runner.build import lineage as lineage_of

    settings = _settings(ctx, project, False)
    upstream, downstream = lineage_of(settings, name)
    click.echo("upstream:")
    for model in upstream or ["(none)"]:
        click.echo(f"  {model}")
    click.echo("downstream:")
    for model in downstream or ["(none)"]:
        click.echo(f"  {model}")


@cli.group()
def sample() -> None:
    """Load the example warehouse's deterministic sample data and change batches."""


@sample.command("load")
@click.option("--scale", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Order items to generate; customers, products and orders follow in proportion.")
@common_options
@click.pass_context
def sample_load(ctx, scale, project, dsn, debug):
    """Fill the freshly migrated raw schema with sample data."""
    from runner import sample_data

    settings = _settings(ctx, project, debug)
    with _connection(settings, dsn, "weir sample") as conn:
        steps = sample_data.load(conn, scale)
    _report_sample(steps, f"loaded sample data at scale {scale:,}")


@sample.command("change")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch number; batches apply in increasing order.")
@click.option("--fraction", type=click.FloatRange(min=0, max=0.5, min_open=True), default=0.01, show_default=True,
              help="Share of the rows each kind of change touches.")
@common_options
@click.pass_context
def sample_change(ctx, batch, fraction, project, dsn, debug):
    """Apply a change batch: new orders, status changes, moved and deleted customers, new prices."""
    from runner import sample_data

    settings = _settings(ctx, project, debug)
    with _connection(settings, dsn, "weir sample") as conn:
        steps = sample_data.change_batch(conn, batch, fraction)
    _report_sample(steps, f"applied change batch {batch}")


def _report_sample(steps, done: str) -> None:
    from tabulate import tabulate

    click.echo(tabulate([(step.name, step.rows, step.seconds) for step in steps], headers=("step", "rows", "seconds"),
                        tablefmt="simple", floatfmt=".2f", intfmt=","))
    click.echo(f"{done} in {sum(step.seconds for step in steps):.2f} s")


# -- checks ---------------------------------------------------------------------------------------


@cli.command()
@click.option("--select", "select", multiple=True, metavar="SELECTOR",
              help="Checks to run: name, tag:x or path:dir (repeatable). Default: all.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run checks in parallel on this many connections.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write a JUnit XML report for CI.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@common_options
@click.pass_context
def check(ctx, select, threads, junit, as_json, project, dsn, debug):
    """Run the SQL assertions in checks/; exit 1 if one fails, 2 if one cannot run."""
    from runner.check_report import render_json, render_text, write_junit
    from runner.checks import run_checks
    from runner.connection import resolve_target

    settings = _settings(ctx, project, debug)
    target = resolve_target(dsn, settings)
    report = run_checks(target.conninfo, settings, select=select, threads=threads)
    click.echo(render_json(report) if as_json else render_text(report))
    if junit:
        write_junit(report, junit)
    ctx.exit(report.exit_code)


@cli.command("run")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Build models and run checks on this many connections.")
@common_options
@click.pass_context
def run_all(ctx, threads, project, dsn, debug):
    """Migrate, build (with gates), then check: what CI and `make check` call."""
    from runner.check_report import render_text
    from runner.connection import resolve_target
    from runner.pipeline import run_pipeline

    settings = _settings(ctx, project, debug)
    target = resolve_target(dsn, settings)
    report = run_pipeline(target.conninfo, settings, threads=threads, on_progress=_say,
                          on_build_event=_report_build_event)
    if report.build is not None:
        _report_build(report.build)
    if report.checks is not None:
        click.echo(render_text(report.checks))
    click.echo()
    for line in report.summary():
        click.echo(line)
    ctx.exit(report.exit_code)


# -- the embedded server -------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Manage the embedded PostgreSQL in .weir/pgdata."""


def _project_option(command: Callable) -> Callable:
    return click.option("--project", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
                        help="Project directory.")(command)


@db.command("start")
@_project_option
@click.pass_context
def db_start(ctx, project):
    """Start the embedded server (or find it running)."""
    from runner import embedded

    settings = _settings(ctx, project, False)
    state = embedded.start(settings.state_dir)
    click.echo(f"embedded PostgreSQL running (pid {state.pid}): {state.conninfo()}")


@db.command("stop")
@_project_option
@click.pass_context
def db_stop(ctx, project):
    """Stop the embedded server."""
    from runner import embedded

    settings = _settings(ctx, project, False)
    click.echo("stopped" if embedded.stop(settings.state_dir) else "not running")


@db.command("status")
@_project_option
@click.pass_context
def db_status(ctx, project):
    """Say whether the embedded server runs, and where."""
    from runner import embedded

    settings = _settings(ctx, project, False)
    state = embedded.running_state(settings.state_dir)
    if state is None:
        click.echo(f"not running (data directory {embedded.data_dir(settings.state_dir)})")
        ctx.exit(EXIT_FAIL)
    click.echo(f"running: pid {state.pid}, socket {state.socket_dir}, port {state.port}")


@db.command("url")
@_project_option
@click.pass_context
def db_url(ctx, project):
    """Print a psql-ready URI of the embedded server, starting it if needed."""
    from runner import embedded

    settings = _settings(ctx, project, False)
    state = embedded.start(settings.state_dir)
    click.echo(f"postgresql://{embedded.USER}@/{embedded.DATABASE}?host={state.socket_dir}&port={state.port}")


def main() -> None:
    """Run the weir command."""
    cli(obj={}, prog_name="weir")


if __name__ == "__main__":
    sys.exit(main())
