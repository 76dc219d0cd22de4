"""`weir freshness`, and what build, check and run share to be watched: alerts, metrics, logs, progress."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from runner.cli.app import cli, connected_target, connection_for, project_for, shared_options
from runner.errors import EXIT_FAIL

if TYPE_CHECKING:
    from runner.observe.outcome import Outcome
    from runner.observe.progress import Progress
    from runner.project import Project

F = TypeVar("F", bound=Callable[..., Any])


@cli.command()
@click.argument("selection", nargs=-1, metavar="[SELECTION]...")
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON document instead of text.")
@shared_options
@click.pass_context
def freshness(ctx: click.Context, selection: tuple[str, ...], as_json: bool) -> None:
    """Show each model's lag against its freshness SLA (sla=, sla_column=); exit 1 on a breach."""
    from runner.build.graph import ModelGraph
    from runner.cli.reporting import reported
    from runner.observe.alerts import alert_breaches
    from runner.observe.sla import BREACH, HEADERS
    from runner.observe.sla import freshness as measure
    from runner.reports.envelope import dumps

    with reported("freshness", None, as_json) as envelope:
        weir_project = project_for(ctx)
        models = ModelGraph(weir_project.models).select(selection)
        with connection_for(ctx, weir_project, "weir freshness", only_reads=True) as conn:
            envelope.target = connected_target(ctx)
            found = measure(conn, models)
    breached = [entry for entry in found if entry.status == BREACH]
    alert_breaches(weir_project.settings.alerts, breached)
    exit_code = EXIT_FAIL if breached else 0
    if as_json:
        results = {"models": [entry.as_json() for entry in found], "breaches": len(breached)}
        click.echo(dumps(envelope.document("fail" if breached else "pass", exit_code, results)))
    else:
        from tabulate import tabulate

        click.echo(tabulate([entry.row for entry in found], headers=HEADERS, tablefmt="simple"))
        click.echo(f"{len(breached)} breach{'es' if len(breached) != 1 else ''} of {len(found)} models")
    ctx.exit(exit_code)


@cli.command()
@click.argument("message")
@click.option("--kind", default="task-failed", show_default=True,
              help="The event's kind, as the sinks' filters and the payload's `kind` see it.")
@click.option("--severity", type=click.Choice(["error", "warn"]), default="error", show_default=True)
@click.option("--model", "model", metavar="SCHEMA.NAME", help="The model the event is about, if any.")
@shared_options
@click.pass_context
def alert(ctx: click.Context, message: str, kind: str, severity: str, model: str | None) -> None:
    """Send MESSAGE to the alert sinks setup.cfg names, as one event; for an orchestrator's failure callback."""
    from runner.observe.alerts import Event, notify

    weir_project = project_for(ctx)
    alerts = weir_project.settings.alerts
    if not alerts.webhook_env and not alerts.on_failure:
        click.echo("weir: alert not sent: setup.cfg names no alert sink; set alert_webhook_env or on_failure"
                   " under [weir]", err=True)
        return
    notify(alerts, [Event(kind, severity, " ".join(message.split()), model=model)], "alert")


def observe_options(command: F) -> F:
    """Add --metrics, --log-format, --progress and -q to build, check and run."""
    options = (
        click.option("--metrics", "metrics", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
                     help="Write the run's Prometheus metrics to FILE (atomically, for node_exporter's textfile"
                          " collector)."),
        click.option("--log-format", "log_format", type=click.Choice(["text", "json"]), default="text",
                     show_default=True, help="json: one JSON event per step on stderr, for log shippers."),
        click.option("--progress", "progress", type=click.Choice(["auto", "live", "lines", "off"]), default="auto",
                     show_default=True, help="auto: a live line on a terminal, one line per finished step"
                                             " otherwise (lines); off: none."),
        click.option("-q", "--quiet", is_flag=True, help="Show no progress."),
    )
    for option in reversed(options):
        command = option(command)
    return command


@contextmanager
def observed(project: Project, command: str, metrics: Path | None, log_format: str, progress: str,
             quiet: bool) -> Iterator[tuple[Progress, Outcome]]:
    """Yield the run's progress display and its outcome; afterwards send its alerts and write its metrics.

    A run stopped by an error (a lock held, a lost server) still alerts and writes metrics.
    """
    from runner.observe.outcome import Outcome
    from runner.observe.progress import Progress

    started = time.perf_counter()
    outcome = Outcome(command, metrics)
    shown = Progress(command, log_format=log_format, mode=progress, quiet=quiet)
    ok = False
    try:
        with shown:
            yield shown, outcome
        ok = _succeeded(outcome)
    except click.exceptions.Exit:
        raise
    except Exception as exc:
        from runner.errors import ConfigError, ProjectFileError

        # A mistyped selector or a bad file is for whoever typed the command, not an alert.
        if not isinstance(exc, (ConfigError, ProjectFileError)):
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            outcome.failure = outcome.failure or f"weir {command} stopped: {first}"
        raise
    finally:
        shown.emit("run_finished", ok=ok, seconds=round(time.perf_counter() - started, 3))
        outcome.report(project, ok=ok, seconds=time.perf_counter() - started)


def _succeeded(outcome: Outcome) -> bool:
    if outcome.failure:
        return False
    if outcome.build is not None and not outcome.build.ok:
        return False
    return outcome.checks is None or outcome.checks.exit_code == 0
