"""The `weir` group and what every command shares: one-line errors, common options, settings, connections."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from runner import __version__
from runner.errors import EXIT_FAIL, WeirError

if TYPE_CHECKING:
    import psycopg

    from runner.project import Project

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class SharedOptions:
    """--project, --dsn and --debug, given before the subcommand, after it, or both (after wins)."""

    project: Path | None = None
    dsn: str | None = None
    debug: bool = False
    target: str | None = None  # where the command's connection went, once it connected


class WeirGroup(click.Group):
    """A group that turns Weir's errors into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WeirError as exc:
            if _debugging(ctx):
                raise
            _fail(ctx, str(exc), exc.exit_code)
        except Exception as exc:
            import psycopg

            if not isinstance(exc, psycopg.Error) or _debugging(ctx):
                raise
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            _fail(ctx, f"database error: {message}; nothing more was changed (re-run with --debug for details)",
                  EXIT_FAIL)


def _debugging(ctx: click.Context) -> bool:
    return isinstance(ctx.obj, SharedOptions) and ctx.obj.debug


def _fail(ctx: click.Context, message: str, code: int) -> None:
    from runner.db.connection import redact

    click.echo(f"weir: {redact(message)}", err=True)
    ctx.exit(code)


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Store a shared option's value, unless it was not given here (then an earlier one stands)."""
    if value is None or value is False:
        return
    options = ctx.find_object(SharedOptions)
    if options is None:  # the group's own options: the first to be parsed
        options = ctx.ensure_object(SharedOptions)
    setattr(options, str(param.name), value)


_SHARED = (
    click.option(
        "--project", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
        expose_value=False, callback=_remember,
        help="Project directory. Default: the nearest directory up whose setup.cfg has a [weir] section.",
    ),
    click.option(
        "--dsn", metavar="DSN", expose_value=False, callback=_remember,
        help="Connection string or URI. Default: WEIR_DSN, DATABASE_URL, PG* variables, else the embedded server.",
    ),
    click.option("--debug", is_flag=True, default=None, expose_value=False, callback=_remember,
                 help="Show tracebacks for errors."),
)


def atomic_option(command: F) -> F:
    """Accept --atomic / --no-atomic (build and run); unset, the project's `atomic` setting decides."""
    return click.option(
        "--atomic/--no-atomic", default=None,
        help="Release every model's new version at once, or none (one transaction; --threads does not apply)."
        "  [default: setup.cfg [weir] atomic, else no]",
    )(command)


def shared_options(command: F) -> F:
    """Accept --project, --dsn and --debug on a subcommand too, as well as before it."""
    for option in reversed(_SHARED):
        command = option(command)
    return command


@click.group(cls=WeirGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="weir")
@shared_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Weir: PostgreSQL migrations, star-schema models and SQL checks, in plain SQL.

    The options below (--project, --dsn, --debug) are shared: every command takes them,
    before its name or after it. `weir COMMAND --help` shows a command's own options.

    \b
    Examples:
      weir migrate                         apply pending migrations (embedded server)
      weir --dsn postgresql://db/wh run    migrate, build and check that database
      weir build --select tag:daily        build the models tagged daily
    """
    ctx.ensure_object(SharedOptions)


def shared(ctx: click.Context) -> SharedOptions:
    """Return the shared options of this invocation."""
    return ctx.find_object(SharedOptions) or SharedOptions()


def project_for(ctx: click.Context) -> Project:
    """Load the project that --project names (or the nearest one up from here)."""
    from runner.project import Project

    return Project.load(shared(ctx).project)


@contextmanager
def connection_for(
    ctx: click.Context, project: Project, purpose: str, only_reads: bool = False
) -> Iterator[psycopg.Connection[Any]]:
    """Open a connection to the target database for one command, closed when it ends.

    It names the target on stderr once. A command that writes (all but those passing
    `only_reads`) is refused on a read-only target before anything runs; a refusal by the
    database during the command (a missing privilege, disk full, ...) becomes one line.
    """
    import psycopg

    from runner.db.connection import connect, describe_target, read_only_reason, refused, resolve_target
    from runner.errors import ConnectionFailed, TargetRefused

    target = resolve_target(shared(ctx).dsn, project.settings)
    try:
        conn = connect(target.conninfo, purpose=purpose)
    except ConnectionFailed as exc:
        if target.conninfo or target.data_dir:
            raise
        raise ConnectionFailed(f"{exc} (libpq's defaults, not the embedded server: {target.source} set)") from None
    try:
        where = describe_target(target, conn)
        shared(ctx).target = where
        say(f"target: {where}" if target.data_dir else f"target: {where} (from {target.source})")
        reason = None if only_reads else read_only_reason(conn)
        if reason:
            raise TargetRefused(f"the target {where} is read-only ({reason}): {purpose} writes to it;"
                                " point --dsn at the primary")
        try:
            yield conn
        except psycopg.Error as exc:
            error = refused(exc, conn, where)
            if error is None:
                raise
            raise error from exc
    finally:
        conn.close()


def connected_target(ctx: click.Context) -> str | None:
    """Return where this command's connection went (`user@host:port/db`, `embedded at ...`), once connected."""
    return shared(ctx).target


def say(message: str) -> None:
    """Print progress on stderr, so stdout stays the command's result."""
    click.echo(message, err=True)


def main() -> None:
    """Run the weir command: the process's entry point (the `weir` script, python -m runner.cli)."""
    try:
        cli(prog_name="weir")
    finally:
        # The process is about to end: spare the interpreter's final garbage collections
        # over every object of psycopg and Weir (about 50 ms, a tenth of a no-op build).
        # Objects are still freed by reference counting; exit handlers still run.
        gc.freeze()
