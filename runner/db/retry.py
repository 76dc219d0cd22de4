"""Riding out transient faults: a step (one model, one check, one migration) tried again.

Each step runs in one transaction, so a step that met a fault left nothing behind and can
simply run again: after the connection was lost (the server restarted, shut down or
crashed), after a serialization failure or a deadlock, or after a lock timeout. Tries
wait longer each time (exponential backoff, capped, with jitter so that workers hit by
the same fault do not all come back at once), reconnecting as needed. Any other error
(bad SQL, a constraint, a timeout) is the step's own and is never retried.

A run's own connection holds its run lock, a session advisory lock that dies with the
connection: `RunSession` replaces that connection when it is lost and takes the lock again
before anything goes on, or stops the run (RunLockLost) when another run took it meanwhile.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg

from runner.db.connection import connect, conninfo_of
from runner.db.ddl_locks import LockWaitExhausted
from runner.db.locking import lock_key
from runner.db.statements import one_row
from runner.errors import ConnectionFailed, RunLockLost

if TYPE_CHECKING:
    from runner.project.settings import Retries

T = TypeVar("T")

CONNECTION_LOST = "connection lost"
LOCK_TIMEOUT = "lock timeout"
# PostgreSQL's SQLSTATEs of faults that a new try, in a new transaction, can get past.
TRANSIENT_SQLSTATES = {
    "40001": "serialization failure",
    "40P01": "deadlock",
    "55P03": LOCK_TIMEOUT,
    "57P01": "server shut down",  # also pg_terminate_backend()
    "57P02": "server crashed",
    "57P03": "server starting up",
}
EVERY_FAULT = frozenset({CONNECTION_LOST, *TRANSIENT_SQLSTATES.values()})
# The faults that end the connection: what they were in the middle of is lost with it.
CONNECTION_FAULTS = frozenset({CONNECTION_LOST, *(TRANSIENT_SQLSTATES[state] for state in ("57P01", "57P02", "57P03"))})


def transient_reason(exc: BaseException, faults: Collection[str] = EVERY_FAULT) -> str | None:
    """Return which transient fault `exc` is (e.g. "deadlock"), or None when a new try would fail the same way.

    A Weir error wrapping a PostgreSQL one (a MigrationFailed naming file:line) is judged
    by the error it wraps; failing to reconnect counts as the connection still lost.
    """
    for error in _causes(exc):
        reason: str | None = None
        if isinstance(error, (RunLockLost, LockWaitExhausted)):
            return None  # a DDL step already waited and retried for its lock: the model keeps its version
        if isinstance(error, psycopg.Error):
            sqlstate = error.sqlstate or ""
            if sqlstate in TRANSIENT_SQLSTATES:
                reason = TRANSIENT_SQLSTATES[sqlstate]
            elif sqlstate.startswith("08") or (isinstance(error, psycopg.OperationalError) and not sqlstate):
                # Class 08 is a connection exception; an OperationalError without a SQLSTATE
                # is libpq's own: the server closed the connection, or it is already closed.
                reason = CONNECTION_LOST
            else:
                return None
        elif isinstance(error, ConnectionFailed):
            reason = CONNECTION_LOST  # the step's connection worked before: the server is not back yet
        if reason is not None:
            return reason if reason in faults else None
    return None


class Retry:
    """Tries one step until it succeeds, fails for good, or has used up its tries."""

    def __init__(
        self,
        retries: Retries,
        what: str,
        on_retry: Callable[[str], None],
        before_retry: Callable[[], object] | None = None,
        faults: Collection[str] = EVERY_FAULT,
    ) -> None:
        """Retry step `what` (as messages name it, e.g. "model marts.orders").

        `on_retry` gets one line per retry; `before_retry` runs before each new try (it
        reconnects the run's own connection, say) and a transient fault in it costs a try.
        """
        self.retries, self.what, self.on_retry, self.before_retry = retries, what, on_retry, before_retry
        self.faults = faults
        self.count = 0  # retries made so far
        self.last_fault: str | None = None

    def run(self, attempt: Callable[[int], T]) -> T:
        """Return `attempt(retries_so_far)`, calling it again after each transient fault it raises."""
        while True:
            try:
                if self.count and self.before_retry is not None:
                    self.before_retry()
                return attempt(self.count)
            except Exception as exc:
                fault = transient_reason(exc, self.faults)
                if fault is None or self.count + 1 >= self.retries.tries:
                    raise
                self.count += 1
                self.last_fault = fault
                wait = backoff(self.retries, self.count)
                self.on_retry(
                    f"{self.what}: {fault}, retrying in {wait:.1f}s (try {self.count + 1} of {self.retries.tries})"
                )
                time.sleep(wait)  # the backoff itself: waiting for the fault to pass, not for an event

    @property
    def gave_up(self) -> str:
        """Say, for an error message, that the step failed after retries: "" when it never retried."""
        if not self.count:
            return ""
        return f" (gave up after {self.count + 1} tries; the last retry was after a {self.last_fault})"

    @property
    def note(self) -> str:
        """Say, for a result's note, how often the step was tried: "" when once."""
        return f"tried {self.count + 1} times (the last retry was after a {self.last_fault})" if self.count else ""


def backoff(retries: Retries, retry: int) -> float:
    """Return the seconds to wait before retry number `retry` (1 for the first).

    base_delay doubled each retry up to max_delay, then ±25% at random: never less than
    three quarters of that, so the default ten tries always outlast a 30 s outage.
    """
    nominal = min(retries.max_delay, retries.base_delay * 2.0 ** (retry - 1))
    return nominal * random.uniform(0.75, 1.25)


class RunSession:
    """A run's own connection, holding the run lock `lock_name` if any; replaced when it is lost.

    Threads share it: `conn` is the connection as of now, `ensure()` checks it and replaces
    it when lost, taking the run lock again on the new one before any step goes on.
    """

    def __init__(self, conn: psycopg.Connection[Any], purpose: str, lock_name: str | None = None) -> None:
        self._conn, self.purpose, self.lock_name = conn, purpose, lock_name
        self._conninfo = conninfo_of(conn)
        self._replacements: list[psycopg.Connection[Any]] = []
        self._guard = threading.Lock()

    @property
    def conn(self) -> psycopg.Connection[Any]:
        """The run's connection as of now (the caller's, unless it was lost)."""
        return self._conn

    def ensure(self) -> psycopg.Connection[Any]:
        """Return the run's connection, replaced (and the run lock taken again) if it was lost.

        Raises ConnectionFailed while the server cannot be reached (a transient fault), and
        RunLockLost when another run took the lock while this one had no connection.
        """
        with self._guard:
            if _alive(self._conn):
                return self._conn
            conn = connect(self._conninfo, self.purpose)
            if self.lock_name is not None and not _try_lock(conn, lock_key(self.lock_name)):
                conn.close()
                raise RunLockLost(
                    f"the connection holding the {self.lock_name} lock was lost and another run took the lock"
                    " before this one could reconnect; this run stopped: what it finished is kept, re-run it"
                    " once the other run ends"
                )
            self._conn = conn
            self._replacements.append(conn)
            return conn

    def close(self) -> None:
        """Release the lock on, and close, every connection opened here (the caller closes its own)."""
        for conn in self._replacements:
            if conn.closed:
                continue
            if self.lock_name is not None:
                try:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key(self.lock_name),))
                except psycopg.Error:
                    pass  # the lock ends with the connection, closed next
            conn.close()


def _try_lock(conn: psycopg.Connection[Any], key: int) -> bool:
    return bool(one_row(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)))[0])


def _alive(conn: psycopg.Connection[Any]) -> bool:
    """Say whether `conn` still reaches the server: asked, since a connection idle through a restart looks fine."""
    if conn.closed:
        return False
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        pass
    return not conn.closed


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """Yield `exc` and what it wraps: Weir's errors are raised from PostgreSQL's (`from None` keeps __context__)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
