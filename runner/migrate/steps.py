"""One migration file as it runs: forward or rollback, each with the settings of its own header.

A step carries the file, how it is shown, whether it runs in a transaction and its
timeouts together, so a rollback can never run with its forward file's settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

from runner.db.execute import run_in_transaction, run_outside_transaction
from runner.errors import MigrationFailed, WeirError
from runner.migrate import indexes
from runner.project.migrations import Migration
from runner.project.settings import Timeouts
from runner.project.sqlfile import SqlFile
from runner.state import migrations as migration_state

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Step:
    """A migration's forward or rollback file, ready to run."""

    migration: Migration
    action: str  # apply | rollback
    sql_file: SqlFile
    display: str  # the file as messages name it
    transactional: bool
    timeouts: Timeouts


@dataclass
class StepResult:
    """One migration applied or rolled back (or that would be, in a dry run)."""

    id: str
    display: str
    action: str  # apply | rollback
    milliseconds: float
    changes: list[str] = field(default_factory=list)  # catalog differences, reported by dry runs
    note: str = ""
    untried: int = 0  # a dry run stopped here: this step and the ones after it, not tried


def forward_step(migration: Migration, defaults: Timeouts) -> Step:
    """Return the step that applies `migration`, with its header's timeouts over `defaults`."""
    return Step(migration, "apply", migration.forward, migration.display, migration.transactional,
                _timeouts(migration, defaults, rollback=False))


def rollback_step(migration: Migration, defaults: Timeouts, display: str | None = None) -> Step:
    """Return the step that rolls `migration` back, with the rollback header's timeouts over `defaults`.

    The file is shown as `display`, by default its bare name (0002_orders.rollback.sql).
    """
    if migration.rollback is None:
        raise ValueError(f"{migration.display} has no rollback file")  # irreversible ones are refused before
    return Step(migration, "rollback", migration.rollback, display or migration.rollback.path.name,
                migration.rollback_transactional, _timeouts(migration, defaults, rollback=True))


def rollback_path(migration: Migration) -> str:
    """Return the rollback file of `migration` as a path relative to the project."""
    return str(Path(migration.display).with_name(f"{migration.id}.rollback.sql"))


def run_step(
    conn: psycopg.Connection[Any],
    step: Step,
    finish: Callable[[float], None] | None = None,
    durable: bool = True,
    on_progress: Progress = lambda message: None,
) -> float:
    """Run `step` and return its milliseconds; `finish(milliseconds)` records it in a transaction.

    In a transactional step `finish` runs in the file's own transaction; otherwise in one
    right after the statements, which committed one by one, and only if the step left
    no INVALID index of its own (MigrationFailed names it and the command that clears it).
    """
    if step.transactional:
        return run_in_transaction(conn, step.sql_file, step.display, step.timeouts, finish=finish, durable=durable)
    # Only a step outside a transaction can leave an INVALID index (a CONCURRENTLY build
    # that failed or was killed); inside one, a failed build rolls back with the rest.
    before = indexes.invalid_indexes(conn)
    drop_leftover = partial(indexes.drop_leftover, conn, on_progress=on_progress)
    try:
        milliseconds = run_outside_transaction(conn, step.sql_file, step.display, step.timeouts, drop_leftover)
    except MigrationFailed as exc:
        left = indexes.left_invalid(conn, step.sql_file, before)
        raise MigrationFailed(indexes.with_invalid(str(exc), left)) from None
    invalid = indexes.left_invalid(conn, step.sql_file, before)
    if invalid:
        raise indexes.refuse_invalid(step.display, invalid)
    if finish is not None:
        with conn.transaction():
            finish(milliseconds)
    return milliseconds


def log_failure(conn: psycopg.Connection[Any], step: Step, exc: WeirError) -> None:
    """Log that `step` failed, best effort: the failure itself is what the user must see."""
    try:
        migration_state.record_failure(conn, step.migration.id, step.action, str(exc))
    except psycopg.Error:
        pass


def _timeouts(migration: Migration, defaults: Timeouts, rollback: bool) -> Timeouts:
    return Timeouts(
        lock_timeout=migration.setting("lock_timeout", defaults.lock_timeout, rollback),
        statement_timeout=migration.setting("statement_timeout", defaults.statement_timeout, rollback),
        lock_retries=defaults.lock_retries,
    )
