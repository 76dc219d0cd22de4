"""`weir db`: the embedded PostgreSQL in .weir/pgdata."""

from __future__ import annotations

import click

from runner.cli.app import cli, project_for, shared_options
from runner.errors import EXIT_FAIL


@cli.group()
def db() -> None:
    """Manage the embedded PostgreSQL in .weir/pgdata."""


@db.command("start")
@shared_options
@click.pass_context
def db_start(ctx: click.Context) -> None:
    """Start the embedded server (or find it running)."""
    from runner.db import embedded

    settings = project_for(ctx).settings
    state = embedded.start(settings.state_dir)
    click.echo(f"embedded PostgreSQL running (pid {state.pid}): {state.conninfo()}")


@db.command("stop")
@shared_options
@click.pass_context
def db_stop(ctx: click.Context) -> None:
    """Stop the embedded server."""
    from runner.db import embedded

    settings = project_for(ctx).settings
    click.echo("stopped" if embedded.stop(settings.state_dir) else "not running")


@db.command("status")
@shared_options
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """Say whether the embedded server runs, and where."""
    from runner.db import embedded

    settings = project_for(ctx).settings
    state = embedded.running_state(settings.state_dir)
    if state is None:
        click.echo(f"not running (data directory {embedded.data_dir(settings.state_dir)})")
        ctx.exit(EXIT_FAIL)
    click.echo(f"running: pid {state.pid}, socket {state.socket_dir}, port {state.port}")


@db.command("url")
@shared_options
@click.pass_context
def db_url(ctx: click.Context) -> None:
    """Print a psql-ready URI of the embedded server, starting it if needed."""
    from runner.db import embedded

    settings = project_for(ctx).settings
    state = embedded.start(settings.state_dir)
    click.echo(f"postgresql://{embedded.USER}@/{embedded.DATABASE}?host={state.socket_dir}&port={state.port}")
