"""`weir build`, `ls`, `lineage`, and `sample` for the example warehouse's data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from runner.cli.app import atomic_option, cli, connection_for, project_for, say, shared_options
from runner.cli.observe import observe_options, observed
from runner.errors import EXIT_FAIL

if TYPE_CHECKING:
    from runner.build.graph import ModelGraph
    from runner.build.report import BuildEvent, BuildReport
    from runner.lineage import LineageTree
    from runner.observe.progress import Progress
    from runner.project import Project
    from runner.sample.data import Step



@cli.command()
@click.option("--select", "select", multiple=True, metavar="SELECTOR",
              help="Models to build: name, schema.name, +name, name+, tag:x, path:dir (repeatable). Default: all.")
@click.option("--exclude", "exclude", multiple=True, metavar="SELECTOR", help="Models to leave out (repeatable).")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental and scd2 models from scratch.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Build independent models in parallel on this many connections.")
@atomic_option
@observe_options
@shared_options
@click.pass_context
def build(
    ctx: click.Context, select: tuple[str, ...], exclude: tuple[str, ...], full_refresh: bool, threads: int,
    atomic: bool | None, metrics: Path | None, log_format: str, progress: str, quiet: bool,
) -> None:
    """Build models/ into tables and views, in dependency order, doing only what changed."""
    from runner.build.run import build as build_models

    weir_project = project_for(ctx)
    _ = weir_project.gates  # every model and check file read, and a bad one reported, before connecting
    with observed(weir_project, "build", metrics, log_format, progress, quiet) as (shown, outcome):
        with connection_for(ctx, weir_project, "weir build") as conn:
            report = build_models(conn, weir_project, select=select, exclude=exclude, full_refresh=full_refresh,
                                  threads=threads, atomic=atomic, on_event=watched_build_event(shown))
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
    if event.kind in ("waiting", "retrying", "seed", "cleanup", "released"):
        say(event.message)
    elif event.kind == "finished" and event.result and event.result.note and event.result.status != "skipped":
        say(f"{event.result.model}: {event.result.note}")


def report_build(report: BuildReport) -> None:
    """Print the table of every model, the run's counts and its errors."""
    from tabulate import tabulate

    from runner.build.report import HEADERS

    click.echo(tabulate(report.rows, headers=HEADERS, tablefmt="simple", floatfmt=".2f"))
    counts = ", ".join(f"{count} {status}" for status, count in report.counts().items() if count)
    window = report.lock_window
    released = "" if window is None else f"; released atomically, lock window {window * 1000:.0f} ms"
    click.echo(f"run {report.run_id}: {counts or 'no models'}{released}")
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
@click.option("--json", "as_json", is_flag=True, help="MODEL.COLUMN: print the tree as JSON.")
@shared_options
@click.pass_context
def lineage(ctx: click.Context, name: str, as_json: bool) -> None:
    """Print the models upstream and downstream of NAME, or the upstream tree of MODEL.COLUMN.

    For MODEL.COLUMN (e.g. marts.fact_order_items.order_date or fact_order_items.order_date)
    it prints every column the column is computed from, model by model down to source
    columns, each edge labelled with how (through a CTE, a join, an aggregate, a window...).
    It reads the SQL only, unless a database is named (--dsn, WEIR_DSN, DATABASE_URL or PG*
    variables): then it reads that database's catalog for source tables' columns, which
    `SELECT *` over a source needs. It never starts the embedded server; to use it, pass
    --dsn "$(weir db url)". A column reached twice is drawn once ([upstream shown above]).
    """
    from runner.build.graph import ModelGraph
    from runner.build.run import lineage as lineage_of

    weir_project = project_for(ctx)
    graph = ModelGraph(weir_project.models)
    if not _names_a_column(graph, name):
        upstream, downstream = lineage_of(weir_project, name)
        click.echo("upstream:")
        for model in upstream or ["(none)"]:
            click.echo(f"  {model}")
        click.echo("downstream:")
        for model in downstream or ["(none)"]:
            click.echo(f"  {model}")
        return
    model, _, column = name.rpartition(".")
    tree = _column_tree(ctx, weir_project, model, column)
    if as_json:
        from runner.reports.envelope import dumps

        click.echo(dumps({**tree.to_json(), "sources": [f"{r}.{c}" for r, c in tree.sources()]}))
    else:
        from runner.lineage import tree_lines

        click.echo("\n".join(tree_lines(tree)))


def _names_a_column(graph: ModelGraph, name: str) -> bool:
    """Return whether NAME is MODEL.COLUMN rather than a model (`schema.name` or `name`)."""
    if "." not in name or name in graph.models:
        return False
    model = name.rpartition(".")[0]
    if model in graph.models or any(found.name == model for found in graph.models.values()):
        return True
    # Neither fits: `a.b` is a mistyped model when a is a model schema, else a column of a mistyped model
    return name.count(".") > 1 or name.partition(".")[0] not in {found.schema for found in graph.models.values()}


def _column_tree(ctx: click.Context, weir_project: Project, model: str, column: str) -> LineageTree:
    """Return the column's upstream tree, with source tables' columns from the named database's catalog."""
    from runner.lineage import catalog_columns, project_lineage

    columns_of = None
    if _database_named(ctx):
        from runner.catalog import read_catalog

        with connection_for(ctx, weir_project, "weir lineage", only_reads=True) as conn:
            columns_of = catalog_columns(read_catalog(conn))
    return project_lineage(weir_project, columns_of).upstream(model, column)


def _database_named(ctx: click.Context) -> bool:
    import os

    from runner.cli.app import shared
    from runner.db.connection import libpq_environment

    return bool(shared(ctx).dsn or os.environ.get("WEIR_DSN") or os.environ.get("DATABASE_URL")
                or libpq_environment())


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
