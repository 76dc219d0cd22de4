"""Connections for worker threads: builds and checks run in parallel, one connection each.

Not psycopg_pool: a pool lends a connection per checkout and opens them from threads of
its own, while a worker keeps one connection for the whole run (its session settings,
its name in pg_stat_activity) and the run must cancel the queries of those at work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from runner.db.connection import connect, conninfo_of

Prepare = Callable[[psycopg.Connection[Any]], None]


class WorkerConnections:
    """One connection per worker thread, opened on first use; the ones at work can be cancelled."""

    def __init__(self, conninfo: str, purpose: str, prepare: Prepare | None = None) -> None:
        self.conninfo, self.purpose, self.prepare = conninfo, purpose, prepare
        self._local = threading.local()
        self._opened: list[psycopg.Connection[Any]] = []
        self._busy: dict[str, psycopg.Connection[Any]] = {}
        self._guard = threading.Lock()

    @classmethod
    def for_connection(
        cls, conn: psycopg.Connection[Any], purpose: str, prepare: Prepare | None = None
    ) -> WorkerConnections:
        """Open workers' connections to the database of `conn`, as its user, with its credentials."""
        return cls(conninfo_of(conn), purpose, prepare)

    def get(self) -> psycopg.Connection[Any]:
        """Return this thread's connection, opening a new one if it has none or lost it.

        Raises ConnectionFailed when the server cannot be reached (runner.db.retry tries again).
        """
        conn = self.current()
        if conn is None:
            self._drop_lost()
            conn = connect(self.conninfo, self.purpose)
            if self.prepare is not None:
                self.prepare(conn)
            self._local.conn = conn
            with self._guard:
                self._opened.append(conn)
        return conn

    def current(self) -> psycopg.Connection[Any] | None:
        """Return this thread's connection if it has a healthy one."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        return None if conn is None or conn.closed or conn.broken else conn

    def forget(self) -> None:
        """Drop this thread's connection: it is lost, the next get() opens another."""
        self._drop_lost()

    def _drop_lost(self) -> None:
        # A connection lost to a server restart is closed and let go of here, so a run
        # that reconnects many times does not keep every dead one until it ends.
        lost: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if lost is None:
            return
        lost.close()
        with self._guard:
            self._opened = [conn for conn in self._opened if conn is not lost]

    @contextmanager
    def busy(self, task: str, conn: psycopg.Connection[Any]) -> Iterator[None]:
        """Mark `conn` as working on `task`, so cancel_all() can interrupt it."""
        with self._guard:
            self._busy[task] = conn
        try:
            yield
        finally:
            with self._guard:
                self._busy.pop(task, None)

    def cancel_all(self) -> None:
        """Cancel every query at work (Ctrl-C, or the run is stopping)."""
        with self._guard:
            for conn in self._busy.values():
                try:
                    conn.cancel_safe()
                except Exception:  # cancelling is best effort; the connection closes next
                    pass

    def close_all(self) -> None:
        """Close every connection opened here."""
        with self._guard:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
