"""Weir as a library, warm: load a project once, hold a connection, build and check a selection on it.

    from runner import api

    project = api.load_project("path/to/project")
    with api.connect(project) as conn:          # or any autocommit psycopg connection you hold
        api.migrate(conn, project)
        report = api.build(conn, project, select=["marts.fact_order_items"])
        checks = api.check(conn, project, select=["tag:facts"])
        lags = api.freshness(conn, project, select=["marts.fact_order_items"])
    api.alert(project, "my-worker", build=report, checks=checks, freshness=lags)  # to setup.cfg's sinks
    assert report.ok and checks.exit_code == 0

A long-lived worker (a Dagster code location, a service) calls these again and again on the
same project and connection: none of them reads setup.cfg or the SQL files again, and none
starts a process. Nothing here sends an alert by itself: a caller that reports its own
failures (an orchestrator's task) passes what it got to `alert`, which sends the events the
weir command would send to the sinks setup.cfg names. The results are the typed reports the commands print (BuildReport,
CheckReport, PipelineReport). A selector naming one model as `schema.name` (no `+`) builds
exactly that model, which is what an orchestrator's task for that model calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from runner.build.graph import ModelGraph
from runner.build.report import BuildReport, ModelResult
from runner.build.run import build as _build
from runner.checks.results import CheckReport, CheckResult
from runner.checks.run import run_checks
from runner.db.connection import connect as _connect
from runner.db.connection import resolve_target
from runner.migrate import StepResult
from runner.migrate import migrate as _migrate
from runner.observe.alerts import Event, breach_events, build_events, check_events, notify
from runner.observe.sla import BREACH, Freshness
from runner.observe.sla import freshness as _freshness
from runner.pipeline import PipelineReport, run_pipeline
from runner.project import Project

__all__ = [
    "BuildReport",
    "CheckReport",
    "CheckResult",
    "Event",
    "Freshness",
    "ModelResult",
    "PipelineReport",
    "Project",
    "StepResult",
    "alert",
    "build",
    "check",
    "connect",
    "freshness",
    "load_project",
    "migrate",
    "run",
]


def load_project(path: str | Path | None = None) -> Project:
    """Read the project at `path` (or the nearest one up from the current directory) for repeated use."""
    return Project.load(Path(path) if path is not None else None)


@contextmanager
def connect(project: Project, dsn: str | None = None, purpose: str = "weir api") -> Iterator[psycopg.Connection[Any]]:
    """Open an autocommit connection as the weir command would (`dsn`, WEIR_DSN, ..., the embedded server)."""
    conn = _connect(resolve_target(dsn, project.settings).conninfo, purpose=purpose)
    try:
        yield conn
    finally:
        conn.close()


def migrate(conn: psycopg.Connection[Any], project: Project) -> list[StepResult]:
    """Apply the pending migrations; raises MigrationFailed naming the file that failed."""
    return _migrate(conn, project)


def build(
    conn: psycopg.Connection[Any],
    project: Project,
    *,
    select: Iterable[str] = (),
    exclude: Iterable[str] = (),
    full_refresh: bool = False,
    threads: int = 1,
    atomic: bool | None = None,
) -> BuildReport:
    """Build the selected models (all by default), doing only what changed; a failed model is in the report.

    `atomic` releases every new version at once or none (None: the project's `atomic` setting).
    """
    return _build(conn, project, select=select, exclude=exclude, full_refresh=full_refresh, threads=threads,
                  atomic=atomic)


def check(
    conn: psycopg.Connection[Any], project: Project, *, select: Iterable[str] = (), threads: int = 1
) -> CheckReport:
    """Run the selected checks (all by default); a failing check is in the report, its `exit_code` says so."""
    return run_checks(conn, project, select=select, threads=threads)


def run(
    conn: psycopg.Connection[Any], project: Project, *, threads: int = 1, atomic: bool | None = None
) -> PipelineReport:
    """Migrate, build and check, as `weir run` (`atomic` as in build); a failed migration is in the report."""
    return run_pipeline(conn, project, threads=threads, atomic=atomic)


def freshness(conn: psycopg.Connection[Any], project: Project, *, select: Iterable[str] = ()) -> list[Freshness]:
    """Measure the selected models' lag against their freshness SLAs, as `weir freshness` does (alerting nothing)."""
    return _freshness(conn, ModelGraph(project.models).select(select))


def alert(
    project: Project,
    command: str,
    *,
    build: BuildReport | None = None,
    checks: CheckReport | None = None,
    freshness: Iterable[Freshness] = (),
) -> list[Event]:
    """Send what went wrong in these results to the sinks setup.cfg names, as the weir command would; return it.

    Failed models, kept-last-good gates and quarantines of `build`, failed or warning checks of
    `checks`, and the breaches among `freshness`. Nothing to say sends nothing; a sink that
    cannot be reached is said on stderr and never raises.
    """
    events = build_events(build) if build is not None else []
    events += check_events(checks) if checks is not None else []
    events += breach_events(entry for entry in freshness if entry.status == BREACH)
    if events:
        notify(project.settings.alerts, events, command)
    return events
