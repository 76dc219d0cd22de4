"""`migrate`: apply pending migrations, each in its own transaction together with its record.

A transactional migration that meets a transient fault (a lost connection, a server restart,
a deadlock) is applied again, on a new connection holding the migrate lock again (runner.db.retry).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import psycopg

from runner.db.retry import EVERY_FAULT, LOCK_TIMEOUT, Retry, RunSession
from runner.errors import MigrationFailed, WeirError
from runner.migrate.dry_run import dry_run as run_dry
from runner.migrate.plan import LOCK_NAME, find, locked, to_apply
from runner.migrate.steps import Progress, Step, StepResult, forward_step, log_failure, run_step
from runner.project import Project
from runner.project.migrations import Migration
from runner.project.settings import Retries
from runner.state import migrations as migration_state
from runner.state.functions import FunctionLibrary
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
        if any(_PARTITIONS_CALL in step.migration.forward.text for step in steps):
            PARTITIONS.install(conn)
        return _apply_all(conn, steps, on_progress, project.settings.retries)


# weir.create_partitions(), for migrations that partition their own tables as Weir does models.
PARTITIONS = FunctionLibrary("runner.migrate", "partitions.sql", "partitions_version")
_PARTITIONS_CALL = "weir.create_partitions"


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


def _apply_all(
    conn: psycopg.Connection[Any], steps: list[Step], on_progress: Progress, retries: Retries
) -> list[StepResult]:
    results = []
    session = RunSession(conn, "weir migrate", LOCK_NAME)
    try:
        for index, step in enumerate(steps):
            migration = step.migration
            # Only the last commit of the run waits for the WAL flush; it makes the earlier,
            # asynchronously committed migrations durable too (a failure logs durably instead).
            durable = index == len(steps) - 1
            try:
                milliseconds = _run_retried(session, step, steps[:index], durable, retries, on_progress)
            except WeirError as exc:
                log_failure(session.conn, step, exc)
                raise
            results.append(StepResult(migration.id, migration.display, "apply", milliseconds))
            on_progress(f"applied {migration.id} ({milliseconds:.0f} ms)")
    finally:
        session.close()
    return results


def _run_retried(
    session: RunSession, step: Step, done: list[Step], durable: bool, retries: Retries, on_progress: Progress
) -> float:
    """Run `step`, a transactional one again after a transient fault (on a new connection, the lock taken again).

    A step outside a transaction is not: the statements before the fault stayed committed.
    Lock timeouts are retried inside the step already (lock_retries).
    """
    def attempt(tried: int) -> float:
        conn = session.conn
        if tried:
            applied = migration_state.read_applied(conn)
            if step.migration.id in applied:
                return 0.0  # the try that lost its connection committed, with its record
            lost = [earlier.migration.id for earlier in done if earlier.migration.id not in applied]
            if lost:  # committed asynchronously just before the server crashed
                raise MigrationFailed(
                    f"{step.display}: the server crashed and lost the commit of {', '.join(lost)};"
                    " nothing after it was applied: run weir migrate again to apply them"
                )
        return run_step(conn, step, partial(migration_state.record_apply, conn, step.migration), durable,
                        on_progress)

    if not step.transactional:
        return attempt(0)
    faults = EVERY_FAULT - {LOCK_TIMEOUT}
    return Retry(retries, f"migration {step.migration.id}", on_progress, session.ensure, faults).run(attempt)

