"""Dry runs: run the steps in one transaction that is always rolled back, and report catalog changes."""

from __future__ import annotations

from typing import Any

import psycopg

from runner.migrate.fingerprint import diff, fingerprint
from runner.migrate.steps import Step, StepResult, run_step

_RESET_SEQUENCE = """
SELECT setval(%(name)s::regclass, (SELECT seqstart FROM pg_sequence WHERE seqrelid = %(name)s::regclass), false)
"""


def dry_run(conn: psycopg.Connection[Any], steps: list[Step]) -> list[StepResult]:
    """Run `steps` in a transaction that is rolled back; stop before one that cannot run in it."""
    results = []
    sequences = _sequence_positions(conn)
    try:
        with conn.transaction(force_rollback=True):
            for position, step in enumerate(steps):
                migration = step.migration
                if not step.transactional:
                    results.append(
                        StepResult(migration.id, step.display, step.action, 0.0,
                                   note="not run: it runs outside a transaction; the dry run stops here",
                                   untried=len(steps) - position)
                    )
                    break
                before = fingerprint(conn)
                milliseconds = run_step(conn, step)
                changes = diff(before, fingerprint(conn))
                results.append(StepResult(migration.id, migration.display, step.action, milliseconds, changes))
    finally:
        try:
            _restore_sequences(conn, sequences)
        except psycopg.Error:
            pass  # a sequence the dry run created is gone with the rollback
    return results


def _sequence_positions(conn: psycopg.Connection[Any]) -> list[tuple[str, int | None]]:
    # nextval() is not rolled back; remember positions so a dry run leaves no trace.
    rows = conn.execute("SELECT format('%I.%I', schemaname, sequencename), last_value FROM pg_sequences").fetchall()
    return [(name, last_value) for name, last_value in rows]


def _restore_sequences(conn: psycopg.Connection[Any], positions: list[tuple[str, int | None]]) -> None:
    current = dict(_sequence_positions(conn))
    for name, last_value in positions:
        if name in current and current[name] != last_value:
            if last_value is None:
                conn.execute(_RESET_SEQUENCE, {"name": name})
            else:
                conn.execute("SELECT setval(%s::regclass, %s, true)", (name, last_value))
