"""`migrate`: apply pending migrations, each in its own transaction together with its record."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import psycopg

from runner.errors import WeirError
from runner.migrate.dry_run import dry_run as run_dry
from runner.migrate.plan import find, locked, to_apply
from runner.migrate.steps import Progress, Step, StepResult, forward_step, log_failure, run_step
from runner.project import Project
from runner.project.migrations import Migration
from runner.state import migrations as migration_state
from runner.state.migrations import AppliedMigration


def migrate(
    conn: psycopg.Connection[Any],
    project: Project,
    *,
    to: str | None = None,
    dry_run: bool = False,
    accept_edits: Sequence[str] = (),
    on_progress: Progress = lambda message: None,
) -> list[StepResult]:
    """Apply pending migrations in order, up to and including `to` if given, on autocommit `conn`.

    Stops at the first failure (MigrationFailed), leaving every earlier migration
    applied and the failing one not at all. A dry run applies transactional
    migrations inside a transaction that is rolled back.
    """
    migrations = project.migrations
    last = find(migrations, to).number if to else None
    accepted = {find(migrations, name).id for name in accept_edits}
    with locked(conn, project.settings, on_progress):
        applied = migration_state.read_applied(conn)
        steps = [forward_step(m, project.settings.timeouts) for m in to_apply(migrations, applied, accepted, last)]
        if dry_run:
            return run_dry(conn, steps)
        with conn.transaction():
            migration_state.ensure_schema(conn)
            _record_checksums(conn, migrations, applied, accepted, on_progress)
        return _apply_all(conn, steps, on_progress)


def _record_checksums(
    conn: psycopg.Connection[Any],
    migrations: list[Migration],
    applied: dict[str, AppliedMigration],
    accepted: set[str],
    on_progress: Progress,
) -> None:
    """Checksum migrations adopted from yoyo, and record edits the user accepted."""
    for migration in migrations:
        record = applied.get(migration.id)
        if record is None:
            continue
        if record.checksum is None:
            migration_state.record_checksum(conn, migration, "adopt", record.applied_at)
            on_progress(f"adopted {migration.id} from yoyo's records")
        elif migration.id in accepted and record.checksum != migration.checksum:
            migration_state.record_checksum(conn, migration, "accept-edit")
            on_progress(f"accepted the edit of {migration.id}: recorded checksum {migration.checksum[:12]}")


def _apply_all(conn: psycopg.Connection[Any], steps: list[Step], on_progress: Progress) -> list[StepResult]:
    results = []
    for index, step in enumerate(steps):
        migration = step.migration
        # Only the last commit of the run waits for the WAL flush; it makes the earlier,
        # asynchronously committed migrations durable too (a failure logs durably instead).
        durable = index == len(steps) - 1
        try:
            milliseconds = run_step(conn, step, partial(migration_state.record_apply, conn, migration), durable,
                                    on_progress)
        except WeirError as exc:
            log_failure(conn, step, exc)
            raise
        results.append(StepResult(migration.id, migration.display, "apply", milliseconds))
        on_progress(f"applied {migration.id} ({milliseconds:.0f} ms)")
    return results
