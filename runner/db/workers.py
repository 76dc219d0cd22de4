"""Connections for worker threads: builds and checks run in parallel, one connection each."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg


class WorkerConnections:
    """One connection per worker thread, opened on first use; the ones at work can be cancelled."""

    def __init__(
        self, conninfo: str, purpose: str, prepare: Callable[[psycopg.Connection], None] | None = None
    ) -> None:
        self.conninfo, self.purpose, self.prepare = conninfo, purpose, prepare
        self._local = threading.local()
        self._opened: list[psycopg.Connection] = []
        self._busy: dict[str, psycopg.Connection] = {}
        self._guard = threading.Lock()

    def get(self) -> psycopg.Connection:
        """Return this thread's connection, opening a new one if it has none or lost it."""
        from runner.db.connection import connect

        conn = self.current()
        if conn is None:
            conn = connect(self.conninfo, self.purpose)
            if self.prepare is not None:
                self.prepare(conn)
            self._local.conn = conn
            with self._guard:
                self._opened.append(conn)
        return conn

    def current(self) -> psycopg.Connection | None:
        """Return this thread's connection if it has a healthy one."""
        conn = getattr(self._local, "conn", None)
        return None if conn is None or conn.closed or conn.broken else conn

    def forget(self) -> None:
        """Drop this thread's connection: it is lost, the next get() opens another."""
        self._local.conn = None

    @contextmanager
    def busy(self, task: str, conn: psycopg.Connection) -> Iterator[None]:
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
        for conn in self._opened:
            conn.close()
