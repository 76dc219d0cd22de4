"""Where check runs are recorded: weir.check_run and weir.check_result (runner/state/sql/check_state.sql).

A run is a row in weir.check_run, opened before its first check and closed with its
counts after the last; each check's result is appended to weir.check_result as it ends.
History is only ever appended to, so `weir status` reads each check's latest row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg
from psycopg.types.json import Jsonb

from runner.db.errors import primary_message
from runner.db.statements import one_row
from runner.errors import CheckError
from runner.state.schema import install

LATEST_HEADERS = ("check", "status", "violations", "seconds", "run", "finished at")

# From pg_class rather than to_regclass(): its catalog cache can lag behind a concurrent
# first run that committed while this one waited for the state lock.
_PRESENT = (
    "SELECT EXISTS (SELECT FROM pg_class"
    " WHERE relname = 'check_result' AND relnamespace::regnamespace::text = 'weir')"
)
_START_RUN = """
INSERT INTO weir.check_run (selectors, threads, checks)
VALUES (%(selectors)s, %(threads)s, %(checks)s)
RETURNING run_id
"""
_FINISH_RUN = """
UPDATE weir.check_run
SET status = %(status)s, finished_at = clock_timestamp(),
    passed = %(pass)s, warned = %(warn)s, failed = %(fail)s, errored = %(error)s
WHERE run_id = %(run_id)s
"""
_RECORD_RESULT = """
INSERT INTO weir.check_result (run_id, check_name, path, status, severity, violations, seconds, sample, error)
VALUES (%(run_id)s, %(check)s, %(path)s, %(status)s, %(severity)s, %(violations)s,
        round(%(seconds)s::numeric, 3), %(sample)s, %(error)s)
"""
_LATEST = """
SELECT DISTINCT ON (check_name) check_name, path, status, violations, seconds::float8, run_id, finished_at, error
FROM weir.check_result
ORDER BY check_name, run_id DESC
"""
_LAST_SECONDS = """
SELECT DISTINCT ON (check_name) check_name, seconds::float8
FROM weir.check_result
WHERE check_name = ANY(%(names)s) AND status <> 'error'
ORDER BY check_name, run_id DESC
"""


class RecordedCheck(Protocol):
    """What weir.check_result keeps of one check's result (runner.checks.CheckResult is one)."""

    @property
    def name(self) -> str: ...
    @property
    def display(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def count(self) -> int | None: ...
    @property
    def seconds(self) -> float: ...
    @property
    def sample(self) -> tuple[Any, ...]: ...  # the shown rows, as JSON-able objects
    @property
    def error(self) -> str | None: ...


@dataclass(frozen=True)
class LatestResult:
    """The most recent recorded result of one check, for `weir status`."""

    check: str
    path: str
    status: str
    violations: int | None
    seconds: float
    run_id: int
    finished_at: datetime
    error: str | None

    @property
    def row(self) -> tuple[str, str, int | None, float, int, datetime]:
        """The row under LATEST_HEADERS."""
        return (self.check, self.status, self.violations, self.seconds, self.run_id, self.finished_at)


def ensure_check_state(conn: psycopg.Connection[Any]) -> None:
    """Create weir.check_run and weir.check_result if they are missing."""
    try:
        install(conn, "check_state", _PRESENT)
    except psycopg.Error as exc:
        raise CheckError(
            f"cannot create Weir's check history tables in schema weir: {primary_message(exc)};"
            " grant this role CREATE on the database, or run weir check once as a role that has it"
        ) from None


def start_check_run(conn: psycopg.Connection[Any], selectors: Sequence[str], threads: int, checks: int) -> int:
    """Open a run of `checks` checks in weir.check_run; return its run_id."""
    params = {"selectors": list(selectors), "threads": threads, "checks": checks}
    return int(one_row(conn.execute(_START_RUN, params))[0])


def finish_check_run(conn: psycopg.Connection[Any], run_id: int, status: str, counts: Mapping[str, int]) -> None:
    """Close run `run_id` with its final `status` and how many checks ended in each status."""
    conn.execute(_FINISH_RUN, {"run_id": run_id, "status": status, **counts})


def record_check_result(conn: psycopg.Connection[Any], run_id: int, result: RecordedCheck) -> None:
    """Append one check's `result` to weir.check_result."""
    params = {
        "run_id": run_id,
        "check": result.name,
        "path": result.display,
        "status": result.status,
        "severity": result.severity,
        "violations": result.count,
        "seconds": result.seconds,
        "sample": Jsonb(list(result.sample)) if result.sample else None,
        "error": result.error,
    }
    try:
        conn.execute(_RECORD_RESULT, params)
    except psycopg.Error as exc:
        raise CheckError(
            f"{result.display}: cannot record the result in weir.check_result: {primary_message(exc)};"
            " check that schema weir is intact and this role may insert into it"
        ) from None


def last_seconds(conn: psycopg.Connection[Any], names: Sequence[str]) -> dict[str, float]:
    """Return how long each of the checks `names` took the last time it ran (checks never timed are absent)."""
    return {name: seconds for name, seconds in conn.execute(_LAST_SECONDS, {"names": list(names)})}


def latest_results(conn: psycopg.Connection[Any]) -> list[LatestResult]:
    """Return the latest recorded result of every check ever run, by check name (none before the first run)."""
    if not one_row(conn.execute("SELECT to_regclass('weir.check_result') IS NOT NULL"))[0]:
        return []
    return [LatestResult(*row) for row in conn.execute(_LATEST)]
