"""After a build, check or run: its alerts sent and its metrics file written, whatever the outcome."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from runner.errors import WeirError
from runner.observe.alerts import ERROR, Event, build_events, check_events, notify
from runner.observe.metrics import run_metrics
from runner.observe.sla import Freshness, freshness
from runner.reports.files import write_atomically

if TYPE_CHECKING:
    from runner.build.report import BuildReport
    from runner.checks.results import CheckReport
    from runner.project import Project

_RETRIES = "SELECT model, retries FROM weir.build_result WHERE run_id = %s"


@dataclass
class Outcome:
    """What one command found, gathered for its alerts and metrics."""

    command: str  # build | check | run
    metrics_path: Path | None = None  # --metrics FILE; without it nothing is measured
    build: BuildReport | None = None
    checks: CheckReport | None = None
    failure: str | None = None  # what stopped the run (a failed migration, an error), if anything
    retries: dict[str, int] = field(default_factory=dict)
    freshness: list[Freshness] = field(default_factory=list)

    def measure(self, conn: psycopg.Connection[Any], project: Project) -> None:
        """Read what only the database knows: each model's retries in this run and its freshness lag.

        A failure here costs the metrics those series, never the run.
        """
        if self.metrics_path is None:
            return
        try:
            if self.build is not None and self.build.run_id is not None:
                rows = conn.execute(_RETRIES, (self.build.run_id,)).fetchall()
                self.retries = {str(model): int(retries or 0) for model, retries in rows}
            self.freshness = freshness(conn, project.models)
        except (psycopg.Error, WeirError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            print(f"weir: metrics: could not measure freshness: {first}", file=sys.stderr)

    def events(self) -> list[Event]:
        """The alerts of the run: its failure, then its models', then its checks'."""
        events = [Event("run-failed", ERROR, self.failure)] if self.failure else []
        events += build_events(self.build) if self.build else []
        events += check_events(self.checks) if self.checks else []
        return events

    def report(self, project: Project, *, ok: bool, seconds: float) -> None:
        """Send the alerts, and write the metrics file if asked; a problem with either is said on stderr only."""
        events = self.events()
        if events:
            notify(project.settings.alerts, events, self.command)
        if self.metrics_path is not None:
            metrics = run_metrics(self.command, seconds, ok, self.build, self.retries, self.checks, self.freshness)
            try:
                write_atomically(self.metrics_path, metrics.text().encode())
            except OSError as exc:
                print(f"weir: --metrics {self.metrics_path}: cannot be written: {exc.strerror}; check the directory",
                      file=sys.stderr)
