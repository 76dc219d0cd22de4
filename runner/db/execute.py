"""Running a SQL file's statements: in one transaction or one by one, with timeouts,
lock-timeout retries, and failures reported as `path:line: PostgreSQL's message`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg.errors

from runner.db.errors import detail_and_hint, error_line, primary_message
from runner.errors import MigrationFailed

if TYPE_CHECKING:
    from runner.project.settings import Timeouts
    from runner.project.sqlfile import SqlFile, Statement

_SET_LOCAL_TIMEOUTS = """
SELECT set_config('lock_timeout', %(lock_timeout)s, true),
       set_config('statement_timeout', %(statement_timeout)s, true),
       set_config('synchronous_commit', %(synchronous_commit)s, true)
"""
_SET_SESSION_TIMEOUTS = """
SELECT set_config('lock_timeout', %(lock_timeout)s, false),
       set_config('statement_timeout', %(statement_timeout)s, false)
"""
_RESET_SESSION_TIMEOUTS = "RESET lock_timeout; RESET statement_timeout"


def run_in_transaction(
    conn: psycopg.Connection[Any],
    sql_file: SqlFile,
    display: str,
    timeouts: Timeouts,
    finish: Callable[[float], None] | None = None,
    durable: bool = True,
) -> float:
    """Run every statement of `sql_file` in one transaction and return its milliseconds.

    `finish(milliseconds)` runs in the same transaction before commit, so its writes
    (a migration's record, a watermark) commit or vanish with the file's. With
    `durable=False` the commit does not wait for the WAL flush; the caller makes a
    later durable commit, which flushes this one too.
    """
    settings = {
        "lock_timeout": timeouts.lock_timeout,
        "statement_timeout": timeouts.statement_timeout,
        "synchronous_commit": "on" if durable else "off",
    }
    for attempt in range(timeouts.lock_retries + 1):
        statement: Statement | None = None
        try:
            with conn.transaction():
                conn.execute(_SET_LOCAL_TIMEOUTS, settings)
                started = time.perf_counter()
                for statement in sql_file.statements:
                    conn.execute(statement.text)
                milliseconds = (time.perf_counter() - started) * 1000
                if finish is not None:
                    statement = None
                    finish(milliseconds)
            return milliseconds
        except psycopg.errors.LockNotAvailable as exc:
            if attempt == timeouts.lock_retries:
                raise MigrationFailed(_lock_gave_up(exc, sql_file, statement, display, timeouts)) from None
            _back_off(attempt)
        except psycopg.Error as exc:
            raise MigrationFailed(failure_message(exc, sql_file, statement, display)) from None
    raise AssertionError("unreachable")


def run_outside_transaction(
    conn: psycopg.Connection[Any], sql_file: SqlFile, display: str, timeouts: Timeouts
) -> float:
    """Run the statements of `sql_file` one by one in autocommit; return the milliseconds.

    For statements PostgreSQL refuses in a transaction (CREATE INDEX CONCURRENTLY).
    A failure leaves the statements before it committed; the message says so.
    """
    conn.execute(_SET_SESSION_TIMEOUTS, {"lock_timeout": timeouts.lock_timeout,
                                         "statement_timeout": timeouts.statement_timeout})
    started = time.perf_counter()
    try:
        for index, statement in enumerate(sql_file.statements):
            for attempt in range(timeouts.lock_retries + 1):
                try:
                    conn.execute(statement.text)
                    break
                except psycopg.errors.LockNotAvailable as exc:
                    if attempt == timeouts.lock_retries:
                        raise MigrationFailed(
                            _lock_gave_up(exc, sql_file, statement, display, timeouts)
                            + _committed_before(index, statement)
                        ) from None
                    _back_off(attempt)
                except psycopg.Error as exc:
                    raise MigrationFailed(
                        failure_message(exc, sql_file, statement, display) + _committed_before(index, statement)
                    ) from None
    finally:
        conn.execute(_RESET_SESSION_TIMEOUTS)
    return (time.perf_counter() - started) * 1000


def failure_message(exc: Exception, sql_file: SqlFile, statement: Statement | None, display: str) -> str:
    """Return `display:line: message` for a PostgreSQL error raised by `statement` of `sql_file`."""
    message = primary_message(exc) + detail_and_hint(exc)
    if statement is None:
        return f"{display}: {message}" if sql_file.statements else f"{display}:1: {message}"
    return f"{display}:{error_line(exc, statement.text, statement.line)}: {message}"


def _lock_gave_up(
    exc: Exception, sql_file: SqlFile, statement: Statement | None, display: str, timeouts: Timeouts
) -> str:
    return (
        f"{failure_message(exc, sql_file, statement, display)}: gave up after {timeouts.lock_retries + 1}"
        f" attempts of lock_timeout={timeouts.lock_timeout}; a long transaction holds a lock this needs"
        " (see pg_stat_activity), re-run when it ends or raise lock_timeout in [weir]"
    )


def _committed_before(index: int, statement: Statement) -> str:
    if index == 0:
        return ""
    return (
        f"; this file runs outside a transaction, so the {index} statement(s) before line"
        f" {statement.line} stay committed: make them idempotent (IF NOT EXISTS) before re-running"
    )


def _back_off(attempt: int) -> None:
    # Give the long transaction that holds the lock time to finish: 0.5 s, 1 s, 2 s, ...
    time.sleep(min(0.5 * 2**attempt, 8.0))
