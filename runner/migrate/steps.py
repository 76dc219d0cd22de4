"""One migration file as it runs: forward or rollback, each with the settings of its own header.

A step carries the file, how it is shown, whether it runs in a transaction and its
timeouts together, so a rollback can never run with its forward file's settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from runner.db.execute import run_in_transaction, run_outside_transaction
from runner.errors import WeirError
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
) -> float:
    """Run `step` and return its milliseconds; `finish(milliseconds)` records it in a transaction.

    In a transactional step `finish` runs in the file's own transaction; otherwise in one
    right after the statements, which committed one by one.
    """
    if step.transactional:
        return run_in_transaction(conn, step.sql_file, step.display, step.timeouts, finish=finish, durable=durable)
    milliseconds = run_outside_transaction(conn, step.sql_file, step.display, step.timeouts)
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
