"""DDL on relations other sessions read: under lock_timeout, retried with backoff, never queueing readers.

A statement that needs an ACCESS EXCLUSIVE lock (rename, drop, ALTER TABLE, CREATE OR REPLACE
VIEW) waits behind every open transaction that read the relation, and while it waits every
new reader queues behind it: one long report would stop every reader of a mart for as long
as it runs. So Weir runs such DDL in a savepoint under the project's lock_timeout: when the
lock is not granted in time, the savepoint rolls back (releasing every lock it took, so the
readers queued behind it go on), Weir sleeps with exponential backoff and jitter, and tries
the same short step again, up to lock_retries times. The work before the savepoint (a new
table built aside) is kept across tries. After the last try it raises LockWaitExhausted naming
the session that held the lock, and the caller rolls its transaction back.

Only modes that conflict with readers need this; a statement taking a weaker lock (COMMENT ON,
ANALYZE: SHARE UPDATE EXCLUSIVE; INSERT, UPDATE, DELETE: ROW EXCLUSIVE) never makes a reader
wait, waiting or not.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
import psycopg.errors
from psycopg import sql

if TYPE_CHECKING:
    from runner.project.settings import Timeouts

T = TypeVar("T")

ACCESS_EXCLUSIVE = "AccessExclusiveLock"
SHARE = "ShareLock"  # CREATE INDEX: blocks writers, not readers
SHARE_UPDATE_EXCLUSIVE = "ShareUpdateExclusiveLock"  # ATTACH PARTITION: blocks neither readers nor writers

# The table-level modes each mode waits for (PostgreSQL's "Conflicting Lock Modes" table).
_CONFLICTS = {
    ACCESS_EXCLUSIVE: (
        "AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareLock",
        "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock",
    ),
    SHARE: ("RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareRowExclusiveLock", "ExclusiveLock",
            "AccessExclusiveLock"),
    SHARE_UPDATE_EXCLUSIVE: ("ShareUpdateExclusiveLock", "ShareLock", "ShareRowExclusiveLock", "ExclusiveLock",
                             "AccessExclusiveLock"),
}

# Who holds a lock on one of the relations that the mode we asked for waits on, longest in a transaction first.
_HOLDERS = """
SELECT DISTINCT ON (xact_start, pid) a.pid, coalesce(nullif(a.application_name, ''), 'unnamed client'),
       a.usename, coalesce(host(a.client_addr), 'local socket'), date_trunc('second', a.xact_start),
       a.state, c.oid::regclass::text
FROM pg_locks AS l
JOIN pg_stat_activity AS a ON a.pid = l.pid
JOIN pg_class AS c ON c.oid = l.relation
WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.relation IN (SELECT to_regclass(name) FROM unnest(%(relations)s::text[]) AS name)
  AND l.mode = ANY(%(modes)s)
ORDER BY a.xact_start, a.pid
"""

ADVICE = "re-run when that transaction ends, or raise lock_timeout or lock_retries in [weir]"


class LockWaitExhausted(Exception):
    """A DDL step did not get its lock in any of its tries; the message says who held it."""


def with_lock_timeout(
    conn: psycopg.Connection[Any],
    timeouts: Timeouts,
    relations: Sequence[tuple[str, str]],
    action: Callable[[], T],
    *,
    what: str,
    mode: str = ACCESS_EXCLUSIVE,
) -> T:
    """Run `action` (DDL on `relations`, each (schema, name)) in a savepoint under lock_timeout; retry on timeout.

    Any other error rolls the savepoint back and propagates. After `timeouts.lock_retries`
    retries, raises LockWaitExhausted: "could not `what`: ...". Outside a transaction the
    savepoint is a transaction of its own.
    """
    in_transaction = conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
    names = [sql.Identifier(schema, name).as_string(conn) for schema, name in relations]
    for attempt in range(timeouts.lock_retries + 1):
        try:
            with conn.transaction():
                previous = conn.execute(
                    "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
                    (timeouts.lock_timeout,),
                ).fetchone()
                result = action()
            if in_transaction and previous is not None:  # the setting outlives the released savepoint
                conn.execute("SELECT set_config('lock_timeout', %s, true)", (previous[0],))
            return result
        except psycopg.errors.LockNotAvailable:
            if attempt == timeouts.lock_retries:
                raise LockWaitExhausted(
                    f"could not {what} in {attempt + 1} tries of lock_timeout={timeouts.lock_timeout}:"
                    f" {describe_lock_holders(conn, names, mode)}"
                ) from None
            back_off(attempt)
    raise AssertionError("unreachable")


def describe_lock_holders(conn: psycopg.Connection[Any], relations: Sequence[str], mode: str) -> str:
    """Say who holds a lock on `relations` (quoted names) that `mode` waits for: pid, client, user, since when."""
    rows = conn.execute(_HOLDERS, {"relations": list(relations), "modes": list(_CONFLICTS[mode])}).fetchall()
    if not rows:
        return "another session held a lock it needs (it may just have finished)"
    pid, application, user, address, since, state, relation = rows[0]
    about = [application, f"user {user} from {address}"]
    about += [state] if state else []
    about += [f"transaction open since {since:%Y-%m-%d %H:%M:%S %Z}"] if since is not None else []
    others = f" (and {len(rows) - 1} other session(s))" if len(rows) > 1 else ""
    return f"pid {pid} ({', '.join(about)}) holds a lock on {relation}{others}"


def back_off(attempt: int) -> None:
    """Sleep before retry `attempt` + 1 of DDL that waited too long for a lock."""
    # Readers run freely while Weir sleeps: 0.5 s, 1 s, 2 s, ... up to 8 s, with jitter so two
    # builds blocked by the same transaction do not take turns queueing readers in step.
    time.sleep(min(0.5 * 2**attempt, 8.0) * random.uniform(0.5, 1.0))
