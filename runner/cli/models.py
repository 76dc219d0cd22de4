"""`weir build`, `ls`, `lineage`, and `sample` for the example warehouse's data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from runner.cli.app import cli, connection_for, project_for, say, shared_options
from runner.cli.observe import observe_options, observed
from runner.errors import EXIT_FAIL

if TYPE_CHECKING:
    from runner.build.report import BuildEvent, BuildReport
    from runner.observe.progress import Progress
    from runner.sample.data import Step



@cli.command()
@click.option("--select", "select", multiple=True, metavar="SELECTOR",
              help="Models to build: name, schema.name, +name, name+, tag:x, path:dir (repeatable). Default: all.")
@click.option("--exclude", "exclude", multiple=True, metavar="SELECTOR", help="Models to leave out (repeatable).")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental and scd2 models from scratch.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Build independent models in parallel on this many connections.")
@observe_options
@shared_options
@click.pass_context
def build(
    ctx: click.Context, select: tuple[str, ...], exclude: tuple[str, ...], full_refresh: bool, threads: int,
    metrics: Path | None, log_format: str, progress: str, quiet: bool,
) -> None:
    """Build models/ into tables and views, in dependency order, doing only what changed."""
    from runner.build.run import build as build_models

    weir_project = project_for(ctx)
    _ = weir_project.gates  # every model and check file read, and a bad one reported, before connecting
    with observed(weir_project, "build", metrics, log_format, progress, quiet) as (shown, outcome):
        with connection_for(ctx, weir_project, "weir build") as conn:
            report = build_models(conn, weir_project, select=select, exclude=exclude, full_refresh=full_refresh,
                                  threads=threads, on_event=watched_build_event(shown))
            outcome.build = report
            outcome.measure(conn, weir_project)
    report_build(report)
    ctx.exit(0 if report.ok else EXIT_FAIL)


def watched_build_event(shown: Progress) -> Callable[[BuildEvent], None]:
    """Return the build's event callback: the progress display, then the usual lines (unless logging JSON)."""

    def on_event(event: BuildEvent) -> None:
        if shown.build_event(event):
            report_build_event(event, shown.message)  # through the display, which clears its live line first

    return on_event


def report_build_event(event: BuildEvent, say: Callable[[str], None] = say) -> None:
    """Say what a build is waiting for or retrying, and each model's note as it finishes."""
    if event.kind in ("waiting", "retrying"):
        say(event.message)
    elif event.kind == "finished" and event.result and event.result.note and event.result.status != "skipped":
        say(f"{event.result.model}: {event.result.note}")


def report_build(report: BuildReport) -> None:
    """Print the table of every model, the run's counts and its errors."""
    from tabulate import tabulate

    from runner.build.report import HEADERS

    click.echo(tabulate(report.rows, headers=HEADERS, tablefmt="simple", floatfmt=".2f"))
    counts = ", ".join(f"{count} {status}" for status, count in report.counts().items() if count)
    click.echo(f"run {report.run_id}: {counts or 'no models'}")
    for error in report.errors:
        click.echo(f"weir: {error}", err=True)


@cli.command("ls")
@shared_options
@click.pass_context
def list_models(ctx: click.Context) -> None:
    """List models with their kind, upstream models and last build."""
    from tabulate import tabulate

    from runner.build.report import LS_HEADERS
    from runner.build.run import list_models as rows_of_models

    weir_project = project_for(ctx)
    with connection_for(ctx, weir_project, "weir ls", only_reads=True) as conn:
        listed = rows_of_models(conn, weir_project)
    rows = [(model, kind, upstream, f"{built:%Y-%m-%d %H:%M:%S}" if built else "never")
            for model, kind, upstream, built in listed]
    click.echo(tabulate(rows, headers=LS_HEADERS, tablefmt="simple"))


@cli.command()
@click.argument("name")
@shared_options
@click.pass_context
def lineage(ctx: click.Context, name: str) -> None:
    """Print the models upstream and downstream of NAME."""
    from runner.build.run import lineage as lineage_of

    weir_project = project_for(ctx)
    upstream, downstream = lineage_of(weir_project, name)
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
@shared_options
@click.pass_context
def sample_load(ctx: click.Context, scale: int) -> None:
    """Fill the freshly migrated raw schema with sample data."""
    from runner.sample import data as sample_data

    weir_project = project_for(ctx)
    with connection_for(ctx, weir_project, "weir sample") as conn:
        steps = sample_data.load(conn, scale)
    _report_sample(steps, f"loaded sample data at scale {scale:,}")


@sample.command("change")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch number; batches apply in increasing order.")
@click.option("--fraction", type=click.FloatRange(min=0, max=0.5, min_open=True), default=0.01, show_default=True,
              help="Share of the rows each kind of change touches.")
@shared_options
@click.pass_context
def sample_change(ctx: click.Context, batch: int, fraction: float) -> None:
    """Apply a change batch: new orders, status changes, moved and deleted customers, new prices."""
    from runner.sample import data as sample_data

    weir_project = project_for(ctx)
    with connection_for(ctx, weir_project, "weir sample") as conn:
        steps = sample_data.change_batch(conn, batch, fraction)
    _report_sample(steps, f"applied change batch {batch}")


def _report_sample(steps: list[Step], done: str) -> None:
    from tabulate import tabulate

    click.echo(tabulate([(step.name, step.rows, step.seconds) for step in steps], headers=("step", "rows", "seconds"),
                        tablefmt="simple", floatfmt=".2f", intfmt=","))
    click.echo(f"{done} in {sum(step.seconds for step in steps):.2f} s")
