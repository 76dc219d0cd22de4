"""`weir retain`: remove what incremental models keep past their `retain` directive."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from runner.cli.app import cli, connection_for, project_for, shared_options


@cli.command()
@click.option("--select", "select", multiple=True, metavar="SELECTOR",
              help="Models to trim: name, schema.name, tag:x, ... (repeatable). Default: every one with retain.")
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
              help="Measure ages from this time (UTC) instead of now.")
@click.option("--batch", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Rows deleted per transaction in unpartitioned models.")
@shared_options
@click.pass_context
def retain(ctx: click.Context, select: tuple[str, ...], dry_run: bool, as_of: datetime | None, batch: int) -> None:
    """Remove rows older than each model's retain directive: whole partitions, or rows in short batches."""

    from tabulate import tabulate

    from runner.retention import retain as retain_rows

    weir_project = project_for(ctx)
    when = as_of.replace(tzinfo=UTC) if as_of else None
    with connection_for(ctx, weir_project, "weir retain", only_reads=dry_run) as conn:
        report = retain_rows(conn, weir_project, select=select, as_of=when, dry_run=dry_run, batch=batch)
    verb = "would remove" if dry_run else "removed"
    # How long the table was locked against readers: detaching partitions. Batched DELETEs
    # take only row locks, which block no reader.
    rows = [(done.model, f"{done.cutoff:%Y-%m-%d %H:%M:%S%z}", len(done.partitions), done.rows,
             "yes" if done.archived else "no", done.seconds,
             f"{done.locked_seconds * 1000:.1f} ms" if done.partitions and not dry_run else "-")
            for done in report.removed]
    click.echo(tabulate(rows, headers=("model", "older than", "partitions", "rows", "archived", "seconds",
                                       "table locked"), tablefmt="simple", floatfmt=".2f"))
    total = sum(done.rows for done in report.removed)
    run = f"retain run {report.run_id}: " if report.run_id is not None else "dry run: "
    click.echo(f"{run}{verb} {total} row(s) from {len(report.removed)} model(s)")
