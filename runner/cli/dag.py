"""`weir dag airflow | dagster`: write the project's graph as an orchestrator's file, or check it is current."""

from __future__ import annotations

from pathlib import Path

import click

from runner.cli.app import cli, project_for, shared_options
from runner.errors import EXIT_FAIL


@cli.group()
def dag() -> None:
    """Export the graph to an orchestrator: one task per model and check, after the migrations."""


def _export(ctx: click.Context, orchestrator: str, out: Path | None, check: bool) -> None:
    from runner.orchestrate import export_path, is_current, render_export, write_export

    weir_project = project_for(ctx)
    path = export_path(weir_project, orchestrator, out)
    shown = _shown(path)
    if check:
        if not is_current(path, render_export(weir_project, orchestrator, path)):
            click.echo(f"weir: {shown} is out of date with the project; run weir dag {orchestrator}"
                       + (f" --out {shown}" if out is not None else "") + " and commit it", err=True)
            ctx.exit(EXIT_FAIL)
        click.echo(f"{shown} is up to date")
        return
    written = write_export(weir_project, orchestrator, path)
    click.echo(f"wrote {shown}" if written else f"{shown} is up to date")


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


_OUT = click.option("--out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
                    help="Where to write it. Default: dags/weir_<orchestrator>.py under the project.")
_CHECK = click.option("--check", is_flag=True,
                      help="Write nothing; exit 1 when FILE differs from what would be written (for CI).")


@dag.command()
@_OUT
@_CHECK
@shared_options
@click.pass_context
def airflow(ctx: click.Context, out: Path | None, check: bool) -> None:
    """Write an Airflow DAG file: a BashOperator running weir per migration step, model and check."""
    _export(ctx, "airflow", out, check)


@dag.command()
@_OUT
@_CHECK
@shared_options
@click.pass_context
def dagster(ctx: click.Context, out: Path | None, check: bool) -> None:
    """Write a Dagster definitions module: an asset per model, its checks as asset checks, via Weir's library."""
    _export(ctx, "dagster", out, check)
