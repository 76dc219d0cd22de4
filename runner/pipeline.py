"""`weir run`: migrate, then build (with gates), then check, with one summary.

Each stage is idempotent, so re-running after a failure converges: applied
migrations are not re-applied, unchanged models are skipped, checks only read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runner.errors import EXIT_FAIL, EXIT_OK

if TYPE_CHECKING:
    from runner.build.report import BuildEvent, BuildReport
    from runner.checks import CheckReport
    from runner.migrate import StepResult
    from runner.project.settings import Settings


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


def validate_project(settings: Settings) -> None:
    """Read every migration, model and check, so a malformed file stops the run before it migrates."""
    from runner.build.graph import ModelGraph
    from runner.project.checks import read_checks
    from runner.project.gates import read_gates
    from runner.project.migrations import read_migrations
    from runner.project.models import read_models

    read_migrations(settings.migrations_dir, settings.root)
    if settings.models_dir.is_dir():
        models = read_models(settings.models_dir, settings.root)
        ModelGraph(models)
        read_gates(settings, models)  # reads every check file too
    elif settings.checks_dir.is_dir():
        read_checks(settings.checks_dir, settings.root)


def run_pipeline(
    conninfo: str,
    settings: Settings,
    *,
    threads: int = 1,
    on_progress: Callable[[str], None] = lambda message: None,
    on_build_event: Callable[[BuildEvent], None] | None = None,
) -> PipelineReport:
    """Migrate, build and check the project on `conninfo`; stop after a failed migration."""
    from runner import migrate as migrations
    from runner.build.run import build
    from runner.checks import run_checks
    from runner.db.connection import connect
    from runner.errors import MigrationFailed
    from runner.project import Project

    validate_project(settings)
    report = PipelineReport()
    conn = connect(conninfo, "weir run")
    try:
        report.migrations = migrations.migrate(conn, Project(settings), on_progress=on_progress)
    except MigrationFailed as exc:
        # Models and checks would run against a schema they were not written for.
        report.migration_error = str(exc)
        return report
    finally:
        conn.close()
    if settings.models_dir.is_dir():
        with connect(conninfo, "weir build") as conn:
            report.build = build(conn, Project(settings), threads=threads, on_event=on_build_event)
    if settings.checks_dir.is_dir():
        with connect(conninfo, "weir check") as conn:
            report.checks = run_checks(conn, Project(settings), threads=threads)
    return report
