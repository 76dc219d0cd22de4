"""`weir seed`: load the CSV seeds that changed, or show the column types they load with."""

from __future__ import annotations

import click

from runner.cli.app import cli, connection_for, project_for, say, shared_options


@cli.command()
@click.option("--select", "select", multiple=True, metavar="SEED",
              help="Seeds to load: name or schema.name (repeatable). Default: all.")
@click.option("--force", is_flag=True, help="Load the seeds even if their files did not change.")
@click.option("--show-types", is_flag=True,
              help="Print each seed's columns with the type it loads them as (declared or inferred); load nothing.")
@shared_options
@click.pass_context
def seed(ctx: click.Context, select: tuple[str, ...], force: bool, show_types: bool) -> None:
    """Load seeds/<schema>/<name>.csv into <schema>.<name>, each that changed, atomically."""
    from tabulate import tabulate

    from runner.build.seeds import columns_of, run_seeds, select_seeds

    weir_project = project_for(ctx)
    if show_types:
        rows = [(chosen.qualified, column.name, column.type, column.source)
                for chosen in select_seeds(weir_project.seeds, select) for column in columns_of(chosen)]
        click.echo(tabulate(rows, headers=("seed", "column", "type", "from"), tablefmt="simple"))
        return
    with connection_for(ctx, weir_project, "weir seed") as conn:
        results = run_seeds(conn, weir_project, select=select, force=force, on_wait=say)
    click.echo(tabulate([(result.seed, result.status, result.rows, result.seconds) for result in results],
                        headers=("seed", "status", "rows", "seconds"), tablefmt="simple", floatfmt=".2f"))
    loaded = sum(result.status == "loaded" for result in results)
    click.echo(f"{loaded} loaded, {len(results) - loaded} unchanged" if results else "no seeds")
