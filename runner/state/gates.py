"""Where gate results are recorded: weir.gate_result (runner/state/sql/gates.sql), keyed by build run.

A gate that passed, warned or quarantined rows is recorded in its model's transaction, so
the record commits with the data; a failed gate after that transaction rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import psycopg

from runner.db.errors import primary_message
from runner.db.statements import one_row
from runner.errors import CheckError
from runner.state.schema import install

LATEST_GATE_HEADERS = ("gate", "model", "status", "violations", "rejected", "seconds", "build run", "finished at")

# From pg_class rather than to_regclass(): its catalog cache can lag behind a concurrent
# first run that committed while this one waited for the state lock.
_PRESENT = (
    "SELECT EXISTS (SELECT FROM pg_class"
    " WHERE relname = 'gate_result' AND relnamespace::regnamespace::text = 'weir')"
)
_RECORD = """
INSERT INTO weir.gate_result
    (build_run_id, model, check_name, path, status, severity, violations, rejected, seconds, sample, error)
VALUES (%(run_id)s, %(model)s, %(check)s, %(path)s, %(status)s, %(severity)s, %(violations)s, %(rejected)s,
        round(%(seconds)s::numeric, 3), %(sample)s::jsonb, %(error)s)
"""
_LATEST = """
SELECT DISTINCT ON (model, check_name)
    check_name, model, status, violations, rejected, seconds::float8, build_run_id, finished_at
FROM weir.gate_result
ORDER BY model, check_name, gate_result_id DESC
"""

LatestGateRow = tuple[str, str, str, int | None, int, float, int | None, datetime]


class RecordedGate(Protocol):
    """What weir.gate_result keeps of one gate's result (runner.checks.GateResult is one)."""

    @property
    def check(self) -> str: ...
    @property
    def display(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def count(self) -> int | None: ...
    @property
    def rejected(self) -> int: ...
    @property
    def seconds(self) -> float: ...
    @property
    def sample(self) -> tuple[str, ...]: ...  # the shown rows, each as jsonb text
    @property
    def error(self) -> str | None: ...


def ensure_gate_state(conn: psycopg.Connection[Any]) -> None:
    """Create weir.gate_result if it is missing."""
    try:
        install(conn, "gates", _PRESENT)
    except psycopg.Error as exc:
        raise CheckError(
            f"cannot create weir.gate_result: {primary_message(exc)}; grant this role CREATE on schema weir,"
            " or run weir build once as a role that has it"
        ) from None


def record_gates(conn: psycopg.Connection[Any], run_id: int | None, results: Sequence[RecordedGate]) -> None:
    """Append `results` to weir.gate_result in the transaction open on `conn`, if any."""
    with conn.cursor() as cursor:
        cursor.executemany(_RECORD, [
            {
                "run_id": run_id,
                "model": result.model,
                "check": result.check,
                "path": result.display,
                "status": result.status,
                "severity": result.severity,
                "violations": result.count,
                "rejected": result.rejected,
                "seconds": result.seconds,
                "sample": "[" + ", ".join(result.sample) + "]" if result.sample else None,
                "error": result.error,
            }
            for result in results
        ])


def latest_gate_results(conn: psycopg.Connection[Any]) -> list[LatestGateRow]:
    """Return the latest result of every gate of every model, as rows under LATEST_GATE_HEADERS."""
    if not one_row(conn.execute("SELECT to_regclass('weir.gate_result') IS NOT NULL"))[0]:
        return []
    return [(*row,) for row in conn.execute(_LATEST)]
