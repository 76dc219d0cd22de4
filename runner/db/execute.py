"""Running a SQL file's statements: in one transaction or one by one, with timeouts,
lock-timeout retries, and failures reported as `path:line: PostgreSQL's message`.

In a transaction, statements travel many per round trip (PostgreSQL's simple query
protocol runs a string of statements one after another), so a file of 150,000
statements costs about a hundred round trips, not 150,000; a failure is still traced
to its statement, by the error's position or by how many results came before it.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg.errors
from psycopg import generators, pq

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

# A batch closes at whichever comes first; a megabyte keeps the server's parse of it cheap.
_BATCH_CHARACTERS = 1 << 20
_BATCH_STATEMENTS = 5000
# A newline first, so a statement ending in a `-- comment` cannot swallow the semicolon.
_SEPARATOR = "\n;\n"
# COPY ... FROM STDIN / TO STDOUT would leave a raw batch in copy mode; psycopg refuses it cleanly.
_SENT_ALONE = {"CopyStmt"}


def _sent_alone(statement: Statement) -> bool:
    # Only a statement that may be COPY is parsed: parsing all 150,000 of a big file would
    # cost seconds and keep every parse tree (a gigabyte).
    return statement.first_word in ("copy", None) and statement.kind in _SENT_ALONE


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
        sent_before = 0
        try:
            with conn.transaction():
                conn.execute(_SET_LOCAL_TIMEOUTS, settings)
                started = time.perf_counter()
                try:
                    for batch in _batches(sql_file.statements):
                        batch.run(conn)
                except BatchFailed as failure:
                    statement, sent_before = failure.statement, failure.sent_before
                    raise failure.error from None
                milliseconds = (time.perf_counter() - started) * 1000
                if finish is not None:
                    finish(milliseconds)
            return milliseconds
        except psycopg.errors.LockNotAvailable as exc:
            if attempt == timeouts.lock_retries:
                raise MigrationFailed(_lock_gave_up(exc, sql_file, statement, display, timeouts, sent_before)) from None
            _back_off(attempt)
        except psycopg.Error as exc:
            raise MigrationFailed(failure_message(exc, sql_file, statement, display, sent_before)) from None
    raise AssertionError("unreachable")


def run_outside_transaction(
    conn: psycopg.Connection[Any],
    sql_file: SqlFile,
    display: str,
    timeouts: Timeouts,
    before_each: Callable[[Statement], None] | None = None,
) -> float:
    """Run the statements of `sql_file` one by one in autocommit; return the milliseconds.

    For statements PostgreSQL refuses in a transaction (CREATE INDEX CONCURRENTLY).
    A failure leaves the statements before it committed; the message says so.
    `before_each(statement)` runs before every attempt of a statement, under the same
    timeouts and lock-timeout retries (it clears what a failed attempt left behind).
    """
    conn.execute(_SET_SESSION_TIMEOUTS, {"lock_timeout": timeouts.lock_timeout,
                                         "statement_timeout": timeouts.statement_timeout})
    started = time.perf_counter()
    try:
        for index, statement in enumerate(sql_file.statements):
            for attempt in range(timeouts.lock_retries + 1):
                try:
                    if before_each is not None:
                        before_each(statement)
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


def failure_message(
    exc: Exception, sql_file: SqlFile, statement: Statement | None, display: str, sent_before: int = 0
) -> str:
    """Return `display:line: message` for a PostgreSQL error raised by `statement` of `sql_file`.

    `sent_before` is how many characters of the text sent came before the statement.
    """
    message = primary_message(exc) + detail_and_hint(exc)
    if statement is None:
        return f"{display}: {message}" if sql_file.statements else f"{display}:1: {message}"
    return f"{display}:{error_line(exc, statement.text, statement.line, sent_before)}: {message}"


class BatchFailed(Exception):
    """A statement of a batch failed: PostgreSQL's error, the statement, and where it starts in the batch."""

    def __init__(self, error: psycopg.Error, statement: Statement, sent_before: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.statement = statement
        self.sent_before = sent_before


@dataclass(frozen=True)
class Batch:
    """Statements sent in one round trip, and where each starts in the text sent."""

    statements: Sequence[Statement]
    starts: Sequence[int]

    def run(self, conn: psycopg.Connection[Any]) -> None:
        """Run the statements in order, stopping at the first failure; raise BatchFailed naming it."""
        if len(self.statements) == 1 and _sent_alone(self.statements[0]):
            try:
                conn.execute(self.statements[0].text)
            except psycopg.Error as exc:
                raise BatchFailed(exc, self.statements[0], 0) from None
            return
        text = _SEPARATOR.join(statement.text for statement in self.statements)
        with conn.lock:
            conn.pgconn.send_query(text.encode(conn.info.encoding))
            results = conn.wait(generators.execute(conn.pgconn))
        for index, result in enumerate(results):
            if result.status == pq.ExecStatus.FATAL_ERROR:
                error = psycopg.errors.error_from_result(result, encoding=conn.info.encoding)
                raise self._failed(error, index)

    def _failed(self, error: psycopg.Error, index: int) -> BatchFailed:
        # The server parses the whole text before it runs any of it: a position names the
        # statement better than the count of results, which is 0 for a parse error.
        position = error.diag.statement_position
        if position:
            index = max(bisect.bisect_right(self.starts, int(position) - 1) - 1, 0)
        return BatchFailed(error, self.statements[index], self.starts[index])


def _batches(statements: Sequence[Statement]) -> Iterator[Batch]:
    """Group `statements` into batches of up to _BATCH_STATEMENTS or about _BATCH_CHARACTERS each."""
    chosen: list[Statement] = []
    starts: list[int] = []
    size = 0
    for statement in statements:
        alone = _sent_alone(statement)
        if chosen and (alone or len(chosen) >= _BATCH_STATEMENTS or size >= _BATCH_CHARACTERS):
            yield Batch(chosen, starts)
            chosen, starts, size = [], [], 0
        if alone:
            yield Batch([statement], [0])
            continue
        if chosen:
            size += len(_SEPARATOR)
        starts.append(size)
        chosen.append(statement)
        size += len(statement.text)
    if chosen:
        yield Batch(chosen, starts)


def _lock_gave_up(
    exc: Exception, sql_file: SqlFile, statement: Statement | None, display: str, timeouts: Timeouts,
    sent_before: int = 0,
) -> str:
    return (
        f"{failure_message(exc, sql_file, statement, display, sent_before)}: gave up after {timeouts.lock_retries + 1}"
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
