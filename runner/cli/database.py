"""`weir db`: the embedded PostgreSQL in .weir/pgdata."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from runner.cli.app import cli, settings_for
from runner.errors import EXIT_FAIL


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
    from runner.db import embedded

    settings = settings_for(ctx, project, False)
    state = embedded.start(settings.state_dir)
    click.echo(f"embedded PostgreSQL running (pid {state.pid}): {state.conninfo()}")


@db.command("stop")
@_project_option
@click.pass_context
def db_stop(ctx, project):
    """Stop the embedded server."""
    from runner.db import embedded

    settings = settings_for(ctx, project, False)
    click.echo("stopped" if embedded.stop(settings.state_dir) else "not running")


@db.command("status")
@_project_option
@click.pass_context
def db_status(ctx, project):
    """Say whether the embedded server runs, and where."""
    from runner.db import embedded

    settings = settings_for(ctx, project, False)
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
    from runner.db import embedded

    settings = settings_for(ctx, project, False)
    state = embedded.start(settings.state_dir)
    click.echo(f"postgresql://{embedded.USER}@/{embedded.DATABASE}?host={state.socket_dir}&port={state.port}")
