"""`rollback`: undo applied migrations, newest first, each with its rollback file and its own settings."""

from __future__ import annotations

from functools import partial
from typing import Any

import psycopg

from runner.errors import WeirError
from runner.migrate.dry_run import dry_run as run_dry
from runner.migrate.plan import find, locked, to_roll_back
from runner.migrate.steps import Progress, Step, StepResult, log_failure, rollback_step, run_step
from runner.project import Project
from runner.state import migrations as migration_state
from runner.state.migrations import AppliedMigration


def rollback(
    conn: psycopg.Connection[Any],
    project: Project,
    *,
    steps: int | None = None,
    to: str | None = None,
    everything: bool = False,
    dry_run: bool = False,
    on_progress: Progress = lambda message: None,
) -> list[StepResult]:
    """Roll back the last `steps` applied migrations (default 1), those after `to`, or all, on autocommit `conn`.

    A dry run runs the rollback files inside a transaction that is rolled back.
    """
    migrations = project.migrations
    stop_after = find(migrations, to).number if to else None
    with locked(conn, project.settings, on_progress):
        applied = migration_state.read_applied(conn)
        chosen = to_roll_back(migrations, applied, steps, stop_after, everything)
        planned = [rollback_step(migration, project.settings.timeouts) for migration in chosen]
        if dry_run:
            return run_dry(conn, planned)
        return _roll_back_all(conn, planned, applied, on_progress)


def _roll_back_all(
    conn: psycopg.Connection[Any], steps: list[Step], applied: dict[str, AppliedMigration], on_progress: Progress
) -> list[StepResult]:
    results = []
    for step in steps:
        migration = step.migration
        from_yoyo = applied[migration.id].in_yoyo
        try:
            record = partial(migration_state.record_rollback, conn, migration, from_yoyo=from_yoyo)
            milliseconds = run_step(conn, step, record)
        except WeirError as exc:
            log_failure(conn, step, exc)
            raise
        results.append(StepResult(migration.id, migration.display, "rollback", milliseconds))
        on_progress(f"rolled back {migration.id} ({milliseconds:.0f} ms)")
    return results
