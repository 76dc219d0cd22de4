"""weir.retention_run and weir.retention_step: what `weir retain` removed, step by step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from runner.db.errors import primary_message
from runner.errors import ModelFailed
from runner.state.schema import install

_PRESENT = "to_regclass('weir.retention_step') IS NOT NULL"


def ensure_retention_state(conn: psycopg.Connection[Any]) -> None:
    """Create weir.retention_run and weir.retention_step if they are missing."""
    try:
        install(conn, "retention", _PRESENT)
    except psycopg.Error as exc:
        raise ModelFailed(
            f"cannot create weir.retention_run: {primary_message(exc)}; grant this role CREATE on schema weir,"
            " or create it once as the schema's owner"
        ) from None


def start_retention_run(conn: psycopg.Connection[Any], as_of: datetime) -> int:
    """Record a new retain run measured from `as_of`; return its id."""
    row = conn.execute("INSERT INTO weir.retention_run (as_of) VALUES (%s) RETURNING retention_run_id",
                       (as_of,)).fetchone()
    assert row is not None
    return int(row[0])


def record_step(
    conn: psycopg.Connection[Any], run_id: int, model: str, cutoff: datetime, partition: str | None,
    rows: int | None, archived: bool,
) -> None:
    """Record one removal, in the transaction that made it; `rows` None for a partition detached but not yet counted."""
    conn.execute(
        "INSERT INTO weir.retention_step (retention_run_id, model, cutoff, partition_name, rows_removed, archived)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (run_id, model, cutoff, partition, rows, archived),
    )


def complete_step(conn: psycopg.Connection[Any], model: str, partition: str, rows: int) -> None:
    """Record the rows of a detached partition, in the transaction that drops (or keeps, archived) it."""
    conn.execute("UPDATE weir.retention_step SET rows_removed = %s, finished_at = clock_timestamp()"
                 " WHERE model = %s AND partition_name = %s AND rows_removed IS NULL", (rows, model, partition))


def finish_retention_run(conn: psycopg.Connection[Any], run_id: int, status: str) -> None:
    """Mark the run ended."""
    conn.execute("UPDATE weir.retention_run SET status = %s, finished_at = clock_timestamp()"
                 " WHERE retention_run_id = %s", (status, run_id))
