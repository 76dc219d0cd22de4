"""Run locks: PostgreSQL session advisory locks, one per kind of run.

A session lock dies with its connection, so a process killed with SIGKILL never
leaves a stale lock behind (yoyo's lock row does). It is held outside any
transaction, so it holds no snapshot and CREATE INDEX CONCURRENTLY never waits on it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from runner.db.statements import one_row
from runner.errors import LockHeld


def lock_key(name: str) -> int:
    """Return a stable signed 64-bit advisory lock key for `name`, e.g. 'weir:migrate'."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_HOLDER = """
SELECT a.pid, coalesce(nullif(a.application_name, ''), 'unnamed client'), a.usename,
       coalesce(host(a.client_addr), 'local socket'), date_trunc('second', a.backend_start)
FROM pg_locks AS l
JOIN pg_stat_activity AS a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = ((%(key)s::bigint >> 32) & 4294967295)::oid
  AND l.objid = (%(key)s::bigint & 4294967295)::oid
  AND l.objsubid = 1
"""


def describe_holder(conn: psycopg.Connection[Any], key: int) -> str:
    """Say who holds advisory lock `key`: pid, client name, user, address and since when."""
    row = conn.execute(_HOLDER, {"key": key}).fetchone()
    if row is None:
        return "another session (it may just have finished)"
    pid, application, user, address, since = row
    return f"pid {pid}, {application}, user {user} from {address}, connected since {since:%Y-%m-%d %H:%M:%S %Z}"


@contextmanager
def run_lock(
    conn: psycopg.Connection[Any],
    name: str,
    wait: str,
    on_wait: Callable[[str], None] = lambda message: None,
) -> Iterator[None]:
    """Hold the session advisory lock `name` on autocommit `conn` for the block.

    If another session holds it, report who through `on_wait`, then wait up to
    `wait` (a PostgreSQL interval such as '5min') before raising LockHeld.
    """
    key = lock_key(name)
    if not _try_lock(conn, key):
        on_wait(f"waiting up to {wait} for the {name} lock, held by {describe_holder(conn, key)}")
        _wait_for(conn, key, name, wait)
    try:
        yield
    finally:
        if not conn.closed:
            conn.execute("SELECT pg_advisory_unlock(%s), pg_notify(%s, '')", (key, _channel(key)))


def _try_lock(conn: psycopg.Connection[Any], key: int) -> bool:
    return bool(one_row(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)))[0])


def _channel(key: int) -> str:
    return f"weir_lock_{key & 0xFFFFFFFF:x}"


def _wait_for(conn: psycopg.Connection[Any], key: int, name: str, wait: str) -> None:
    # Waiting in a blocking pg_advisory_lock() would hold a snapshot for the whole wait,
    # and CREATE INDEX CONCURRENTLY in the holder's migration waits for every older
    # snapshot: a deadlock. So wait idle, woken by the holder's NOTIFY on release, and
    # look again every second in case the holder died without notifying.
    seconds = float(one_row(conn.execute("SELECT extract(epoch FROM %s::interval)", (wait,)))[0])
    deadline = time.monotonic() + seconds
    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(_channel(key))))
    try:
        while not _try_lock(conn, key):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockHeld(
                    f"the {name} lock is still held after {wait}, by {describe_holder(conn, key)};"
                    " wait for that run to finish, or stop it (pg_terminate_backend) if it is stuck"
                )
            for _ in conn.notifies(timeout=min(1.0, remaining), stop_after=1):
                pass
    finally:
        conn.execute(sql.SQL("UNLISTEN {}").format(sql.Identifier(_channel(key))))
