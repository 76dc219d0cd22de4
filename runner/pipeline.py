"""`weir run`: migrate, then build (with gates), then check, with one summary.

Each stage is idempotent, so re-running after a failure converges: applied
migrations are not re-applied, unchanged models are skipped, checks only read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from runner.build.graph import ModelGraph
from runner.build.report import BuildEvent, BuildReport
from runner.build.run import build
from runner.checks import CheckReport, run_checks
from runner.errors import EXIT_FAIL, EXIT_OK, MigrationFailed
from runner.migrate import StepResult, migrate
from runner.project import Project


@dataclass
class PipelineReport:
    """What each stage of a run did; stages after a failed migration do not run."""

    migrations: list[StepResult] = field(default_factory=list)
    migration_error: str | None = None
    build: BuildReport | None = None
    checks: CheckReport | None = None

    @property
    def exit_code(self) -> int:
        """1 if a migration or model failed or a check failed, 2 if a check could not run; else 0."""
        if self.migration_error or (self.build is not None and not self.build.ok):
            return max(EXIT_FAIL, self.checks.exit_code if self.checks else EXIT_FAIL)
        return self.checks.exit_code if self.checks else EXIT_OK

    def summary(self) -> list[str]:
        """One line per stage."""
        lines = []
        if self.migration_error:
            lines.append(f"migrate: FAILED: {self.migration_error}")
        else:
            lines.append(f"migrate: {len(self.migrations)} applied")
        if self.build is not None:
            counts = ", ".join(f"{n} {status}" for status, n in self.build.counts().items() if n) or "no models"
            lines.append(f"build:   {counts}")
        if self.checks is not None:
            counts = ", ".join(f"{n} {status}" for status, n in self.checks.counts().items() if n) or "no checks"
            lines.append(f"check:   {counts}")
        return lines


def validate_project(project: Project) -> None:
    """Read every migration, model and check, so a malformed file stops the run before it migrates."""
    project.migrations  # noqa: B018  (read now: the properties raise for a malformed file)
    ModelGraph(project.models)
    project.gates  # noqa: B018  (reads every check file too, and validates the gates against the models)


def run_pipeline(
    conn: psycopg.Connection[Any],
    project: Project,
    *,
    threads: int = 1,
    on_progress: Callable[[str], None] = lambda message: None,
    on_build_event: Callable[[BuildEvent], None] | None = None,
) -> PipelineReport:
    """Migrate, build and check `project` on the database of `conn`; stop after a failed migration."""
    validate_project(project)
    report = PipelineReport()
    try:
        report.migrations = migrate(conn, project, on_progress=on_progress)
    except MigrationFailed as exc:
        # Models and checks would run against a schema they were not written for.
        report.migration_error = str(exc)
        return report
    if project.settings.models_dir.is_dir():
        report.build = build(conn, project, threads=threads, on_event=on_build_event)
    if project.settings.checks_dir.is_dir():
        report.checks = run_checks(conn, project, threads=threads, on_progress=on_progress)
    return report
