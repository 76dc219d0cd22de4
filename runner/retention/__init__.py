"""`weir retain`: removing the rows of incremental models older than their `retain` directive allows.

The cutoff is the start of `as_of`'s day in UTC minus the interval, so runs on the same day
agree on it: a run killed halfway and run again removes exactly what an uninterrupted run
would. Each removal is its own short transaction, recorded in weir.retention_step in that
same transaction (runner.state.retention), so a crash loses nothing that should stay and
forgets nothing it removed:

- a model partitioned by range on the retained column loses whole partitions whose every
  row is older than the cutoff, each in two transactions. The first takes it out of the
  model: DETACH, then a rename to `<partition>__expired` (or ATTACH to `<name>__archive`),
  and a step recorded with rows_removed NULL. It holds the table's lock for a millisecond
  or two, and nothing in it grows with the partition. The second counts the detached rows
  exactly (the history records the truth, not an estimate), drops them and completes the
  step, locking only what it drops; at its commit PostgreSQL truncates the files, which
  ext4 mounted with `discard` does at about 0.23 ms per MB. A run killed between the two
  leaves a step with NULL rows, which the next run finishes first. Rows in the partition
  that holds the cutoff stay until it all expires;
- any other model loses its old rows in batches of `batch` rows (DELETE by tableoid and
  ctid, or moved to `<name>__archive` in the same statement), each under lock_timeout, so
  no batch holds its locks for long and readers are never blocked (DELETE takes ROW
  EXCLUSIVE, which conflicts only with DDL).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from runner.build.graph import ModelGraph
from runner.db.ddl_locks import LockWaitExhausted, with_lock_timeout
from runner.db.statements import derived_name, execute, one_row
from runner.errors import ConfigError, ModelFailed
from runner.project import Project
from runner.project.models import Model
from runner.project.settings import Timeouts
from runner.state.retention import (
    complete_step,
    ensure_retention_state,
    finish_retention_run,
    record_step,
    start_retention_run,
)


class RetentionStopped(ModelFailed):
    """A removal could not get its lock in any of its tries; what was removed before it stays removed."""


T = TypeVar("T")

ARCHIVE_SUFFIX = "__archive"
EXPIRED_SUFFIX = "__expired"  # a detached partition waiting to be counted and dropped
BATCH = 10_000
# The partitions whose upper bound is at or before the cutoff: each of their rows has expired.
_EXPIRED_PARTITIONS = r"""
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
WHERE i.inhparent = %s::regclass
AND substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''([^'']+)''\)')::timestamptz <= %s
ORDER BY 1
"""
# Steps whose partition was detached but not yet counted and dropped, oldest first.
_DETACHED = """
SELECT partition_name, archived FROM weir.retention_step
WHERE model = %s AND rows_removed IS NULL ORDER BY finished_at
"""


@dataclass
class Removed:
    """What retention removed (or, dry, would remove) from one model."""

    model: str
    cutoff: datetime
    rows: int = 0
    partitions: list[str] = field(default_factory=list)
    archived: bool = False
    seconds: float = 0.0
    locked_seconds: float = 0.0  # detaching partitions: the transactions that lock the model's table
    count_seconds: float = 0.0  # counting the rows of detached partitions, after
    dropped_seconds: float = 0.0  # counting, dropping and recording them, after (count_seconds included)


@dataclass
class RetentionReport:
    """Every model's removal, in graph order."""

    run_id: int | None
    removed: list[Removed]
    dry_run: bool


def retain(
    conn: psycopg.Connection[Any],
    project: Project,
    *,
    select: Iterable[str] = (),
    as_of: datetime | None = None,
    dry_run: bool = False,
    batch: int = BATCH,
) -> RetentionReport:
    """Remove (or with `dry_run`, count) the rows of the selected models past their retention; `conn` in autocommit."""
    if batch < 1:
        raise ConfigError(f"--batch {batch}: use 1 or more")
    graph = ModelGraph(project.models)
    models = [model for model in graph.select(tuple(select), ()) if model.retain is not None]
    as_of = as_of or one_row(execute(conn, "SELECT now()"))[0]
    run_id = None
    if not dry_run:
        ensure_retention_state(conn)
        run_id = start_retention_run(conn, as_of)
    removed, status = [], "failed"
    try:
        for model in models:
            removed.append(_retain_model(conn, model, as_of, dry_run, batch, run_id, project.settings.timeouts))
        status = "success"
    finally:
        if run_id is not None:
            finish_retention_run(conn, run_id, status)
    return RetentionReport(run_id, removed, dry_run)


def cutoff_of(conn: psycopg.Connection[Any], model: Model, as_of: datetime) -> datetime:
    """Return the instant before which `model`'s rows go: the start of as_of's UTC day minus the interval."""
    assert model.retain is not None
    cutoff: datetime = one_row(execute(
        conn, "SELECT (date_trunc('day', %s::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') - %s::interval",
        (as_of, model.retain.interval)))[0]
    return cutoff


def _retain_model(
    conn: psycopg.Connection[Any], model: Model, as_of: datetime, dry_run: bool, batch: int, run_id: int | None,
    timeouts: Timeouts,
) -> Removed:
    assert model.retain is not None
    started = time.perf_counter()
    cutoff = cutoff_of(conn, model, as_of)
    done = Removed(model.qualified, cutoff, archived=model.retain.archive)
    built = one_row(execute(conn, "SELECT to_regclass(%s) IS NOT NULL",
                            (sql.Identifier(model.schema, model.name).as_string(conn),)))[0]
    if not built:  # never built here (or dropped): it keeps nothing, so nothing is past its retention
        return done
    partitioning = model.partition_by
    if partitioning is not None and partitioning.is_range and partitioning.column == model.retain.column:
        _drop_partitions(conn, model, cutoff, dry_run, run_id, timeouts, done)
    else:
        _delete_rows(conn, model, cutoff, dry_run, batch, run_id, timeouts, done)
    done.seconds = time.perf_counter() - started
    return done


def _drop_partitions(
    conn: psycopg.Connection[Any], model: Model, cutoff: datetime, dry_run: bool, run_id: int | None,
    timeouts: Timeouts, done: Removed,
) -> None:
    assert model.retain is not None
    table = sql.Identifier(model.schema, model.name)
    expired = execute(conn, _EXPIRED_PARTITIONS, (table.as_string(conn), cutoff)).fetchall()
    if dry_run:
        for name, _ in expired:
            started = time.perf_counter()
            done.rows += _rows_of(conn, sql.Identifier(model.schema, name))
            done.count_seconds += time.perf_counter() - started
            done.partitions.append(name)
        return
    assert run_id is not None
    # First what a killed run detached but never counted and dropped: its `__expired` name
    # must be free before a partition of the same period can be detached again.
    _finish_detached(conn, model, done)
    for name, bound in expired:
        started = time.perf_counter()
        _briefly(conn, model, timeouts, lambda name=name, bound=bound: _detach(  # type: ignore[misc]
            conn, model, cutoff, run_id, name, bound), f"remove partition {name}")
        done.locked_seconds += time.perf_counter() - started
        done.partitions.append(name)
    _finish_detached(conn, model, done)


def _finish_detached(conn: psycopg.Connection[Any], model: Model, done: Removed) -> None:
    for name, archived in execute(conn, _DETACHED, (model.qualified,)).fetchall():
        started = time.perf_counter()
        done.rows += _count_and_drop(conn, model, name, archived, done)
        done.dropped_seconds += time.perf_counter() - started


def _detach(conn: psycopg.Connection[Any], model: Model, cutoff: datetime, run_id: int, name: str, bound: str) -> None:
    """Take partition `name` out of the model: the transaction that holds the table's lock, for milliseconds.

    Nothing here grows with the partition's size. Its rows are counted, and its files
    freed, by _count_and_drop in the next transaction, which locks only the partition.
    """
    assert model.retain is not None
    table = sql.Identifier(model.schema, model.name)
    child = sql.Identifier(model.schema, name)
    execute(conn, sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(table, child))
    if model.retain.archive:
        archive = _archive(conn, model, partitioned=True)
        execute(conn, sql.SQL("ALTER TABLE {} ATTACH PARTITION {} {}").format(archive, child, sql.SQL(bound)))
    else:  # renamed, so a late row can bring the period's partition back while this one waits
        execute(conn, sql.SQL("ALTER TABLE {} RENAME TO {}").format(child, sql.Identifier(_expired_name(name))))
    record_step(conn, run_id, model.qualified, cutoff, name, None, model.retain.archive)


def _count_and_drop(
    conn: psycopg.Connection[Any], model: Model, name: str, archived: bool, done: Removed
) -> int:
    """Count a detached partition's rows exactly, drop it unless archived, and complete its step; return the rows.

    `archived` is what the step recorded when the partition was detached, which holds even
    if the model's retain_archive changed since. The model's table is not locked: at this
    commit PostgreSQL truncates the partition's files, which ext4 mounted with `discard`
    does at about 0.23 ms per MB.
    """
    held = name if archived else _expired_name(name)
    child = sql.Identifier(model.schema, held)
    with conn.transaction():
        started = time.perf_counter()
        exists = one_row(execute(conn, "SELECT to_regclass(%s) IS NOT NULL", (child.as_string(conn),)))[0]
        rows = _rows_of(conn, child) if exists else 0  # 0: someone dropped it by hand, nothing left to count
        done.count_seconds += time.perf_counter() - started
        if exists and not archived:
            execute(conn, sql.SQL("DROP TABLE {}").format(child))
        complete_step(conn, model.qualified, name, rows)
    return rows


def _rows_of(conn: psycopg.Connection[Any], table: sql.Identifier) -> int:
    rows: int = one_row(execute(conn, sql.SQL("SELECT count(*) FROM {}").format(table)))[0]
    return rows


def _expired_name(partition: str) -> str:
    return derived_name(partition, EXPIRED_SUFFIX)


def _delete_rows(
    conn: psycopg.Connection[Any], model: Model, cutoff: datetime, dry_run: bool, batch: int, run_id: int | None,
    timeouts: Timeouts, done: Removed,
) -> None:
    assert model.retain is not None
    table = sql.Identifier(model.schema, model.name)
    old = sql.SQL("{} < {}").format(sql.Identifier(model.retain.column), sql.Literal(cutoff))
    if dry_run:
        done.rows = one_row(execute(conn, sql.SQL("SELECT count(*) FROM {} WHERE {}").format(table, old)))[0]
        return
    doomed = sql.SQL(
        "WITH doomed AS (SELECT tableoid, ctid FROM {table} WHERE {old} LIMIT {batch}),"
        " removed AS (DELETE FROM {table} WHERE (tableoid, ctid) IN (SELECT tableoid, ctid FROM doomed)"
        " RETURNING {table}.*)"
    ).format(table=table, old=old, batch=sql.Literal(batch))

    def remove() -> int:
        assert model.retain is not None
        if model.retain.archive:
            archive = _archive(conn, model, partitioned=False)
            statement = sql.SQL("{}, archived AS (INSERT INTO {} SELECT * FROM removed RETURNING 1)"
                                " SELECT count(*) FROM archived").format(doomed, archive)
        else:
            statement = sql.SQL("{} SELECT count(*) FROM removed").format(doomed)
        rows: int = one_row(execute(conn, statement))[0]
        if rows:
            assert run_id is not None
            record_step(conn, run_id, model.qualified, cutoff, None, rows, model.retain.archive)
        return rows

    while True:
        rows = _briefly(conn, model, timeouts, remove, f"delete old rows of {model.qualified}")
        done.rows += rows
        if rows < batch:
            return


def _archive(conn: psycopg.Connection[Any], model: Model, partitioned: bool) -> sql.Identifier:
    """Return `<name>__archive`, created shaped like the model's table (partitioned like it) if missing."""
    archive = sql.Identifier(model.schema, derived_name(model.name, ARCHIVE_SUFFIX))
    table = sql.Identifier(model.schema, model.name)
    if partitioned:
        assert model.partition_by is not None
        execute(conn, sql.SQL("CREATE TABLE IF NOT EXISTS {} (LIKE {}) PARTITION BY RANGE ({})").format(
            archive, table, sql.Identifier(model.partition_by.column)))
    else:
        execute(conn, sql.SQL("CREATE TABLE IF NOT EXISTS {} (LIKE {})").format(archive, table))
    return archive


def _briefly(
    conn: psycopg.Connection[Any], model: Model, timeouts: Timeouts, step: Callable[[], T], what: str
) -> T:
    """Run one removal as a transaction of its own under lock_timeout, retried with backoff while a lock is held."""
    try:
        return with_lock_timeout(conn, timeouts, [(model.schema, model.name)], step, what=what)
    except LockWaitExhausted as exc:
        raise RetentionStopped(f"{model.display}:{model.sql_line}: {exc}; what was removed so far is recorded:"
                               " run weir retain again once the lock is released") from None
