"""The `weir` group and what every command shares: one-line errors, common options, settings, connections."""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import contextmanager
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
    from runner.db.connection import redact

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


def settings_for(ctx: click.Context, project: Path | None, debug: bool):
    """Load the project's settings; remember --debug for the error handler."""
    from runner.project.settings import load_settings

    ctx.obj["debug"] = debug
    return load_settings(project)


@contextmanager
def connection_for(settings, dsn: str | None, purpose: str):
    """Open a connection to the target database for one command, closed when it ends."""
    from runner.db.connection import connect, resolve_target

    target = resolve_target(dsn, settings)
    conn = connect(target.conninfo, purpose=purpose)
    try:
        yield conn
    finally:
        conn.close()


def say(message: str) -> None:
    """Print progress on stderr, so stdout stays the command's result."""
    click.echo(message, err=True)


def main() -> None:
    """Run the weir command: the process's entry point (the `weir` script, python -m runner.cli)."""
    try:
        cli(obj={}, prog_name="weir")
    finally:
        # The process is about to end: spare the interpreter's final garbage collections
        # over every object of psycopg and Weir (about 50 ms, a tenth of a no-op build).
        # Objects are still freed by reference counting; exit handlers still run.
        gc.freeze()
