"""Partitioned models: a table declared `partition_by`, its partitions made before rows need them.

Built from scratch, the SELECT fills a temporary table first (no WAL, this session only), the
partitioned table is created shaped like it, a partition per day, month, year or value the
rows hold (and `AHEAD` more periods after the last, so the next batches find theirs), and the
rows are inserted; the table is then swapped in like any other, and its partitions renamed
after the model. An incremental batch, already a temporary table, first gets any partition
it lacks, attached under lock_timeout (ATTACH takes only SHARE UPDATE EXCLUSIVE on the
table, so readers go on); its upsert then touches only the partitions its rows fall in.

Default partition policy: there is none. A row whose partition would be missing cannot
arrive, because Weir creates every partition a batch needs before writing it; a NULL in the
partition column fails the model, naming the column, since no range holds NULL.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import psycopg
from psycopg import sql

from runner.build.materialize.common import first_row, run_select, under_lock_timeout
from runner.db.ddl_locks import SHARE_UPDATE_EXCLUSIVE
from runner.db.statements import derived_name, execute
from runner.errors import ModelFailed
from runner.project.models import Model
from runner.project.partitions import Partitioning
from runner.project.settings import Timeouts

AHEAD = 2  # range partitions made after the last period holding rows
STAGE = sql.Identifier("pg_temp", "weir_stage")
_CHILDREN = """
SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
WHERE i.inhparent = %s::regclass ORDER BY 1
"""


def build_partitioned(conn: psycopg.Connection[Any], model: Model, built: str, since: str | None = None) -> int:
    """Create `built` as the model's partitioned table, filled with its SELECT; return the rows."""
    partitioning = _partitioning(model)
    execute(conn, "DROP TABLE IF EXISTS pg_temp.weir_stage")
    rows = max(run_select(conn, model, sql.SQL("CREATE TEMP TABLE weir_stage ON COMMIT DROP AS\n"),
                          since=since).rowcount, 0)
    method = sql.SQL("RANGE" if partitioning.is_range else "LIST")
    table = sql.Identifier(model.schema, built)
    execute(conn, sql.SQL("CREATE TABLE {} (LIKE {}) PARTITION BY {} ({})").format(
        table, STAGE, method, sql.Identifier(partitioning.column)))
    for name, bounds in _missing(conn, model, built, _periods(conn, model, STAGE)):
        execute(conn, sql.SQL("CREATE TABLE {} PARTITION OF {} {}").format(
            sql.Identifier(model.schema, name), table, bounds))
    execute(conn, sql.SQL("INSERT INTO {} SELECT * FROM {}").format(table, STAGE))
    execute(conn, "DROP TABLE pg_temp.weir_stage")
    return rows


def add_partitions_for(
    conn: psycopg.Connection[Any], model: Model, batch: sql.Identifier, timeouts: Timeouts
) -> tuple[int, list[tuple[sql.Identifier, sql.Composable]]]:
    """Attach to the model's live table every partition the rows of `batch` need.

    Return how many were attached, and each partition the rows fall in with the condition
    that picks its rows out of `batch`.
    """
    periods = _periods(conn, model, batch)
    missing = _missing(conn, model, model.name, periods)
    table = sql.Identifier(model.schema, model.name)
    for name, bounds in missing:
        child = sql.Identifier(model.schema, name)
        # Made apart, then attached: CREATE TABLE ... PARTITION OF would lock readers out of the table.
        execute(conn, sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)").format(
            child, table))
        under_lock_timeout(
            conn, model, timeouts,
            lambda child=child, bounds=bounds: execute(  # type: ignore[misc]
                conn, sql.SQL("ALTER TABLE {} ATTACH PARTITION {} {}").format(table, child, bounds)),
            what=f"attach a partition to {model.qualified}", mode=SHARE_UPDATE_EXCLUSIVE,
        )
    partitioning = _partitioning(model)
    column = sql.Identifier(partitioning.column)
    touched: list[tuple[sql.Identifier, sql.Composable]] = []
    for value in periods.values:
        picks: sql.Composable = sql.SQL("{} = {}").format(column, sql.Literal(value))
        if partitioning.is_range:
            picks = sql.SQL("{c} >= {low} AND {c} < {high}").format(
                c=column, low=_bound(value, periods.utc), high=_bound(_next(value, partitioning), periods.utc))
        touched.append((sql.Identifier(model.schema, partition_name(model.name, partitioning, value)), picks))
    return len(missing), touched


def rename_partitions(conn: psycopg.Connection[Any], model: Model, built: str) -> None:
    """Rename the partitions (and their indexes) named after `built` after the model, once it is swapped in."""
    table = sql.Identifier(model.schema, model.name)
    for (child,) in execute(conn, _CHILDREN, (table.as_string(conn),)).fetchall():
        if not child.startswith(built):
            continue
        suffix = child[len(built):]
        renamed = derived_name(model.name, suffix)
        indexes = execute(conn, "SELECT indexrelid::regclass::text, c.relname FROM pg_index AS x"
                                " JOIN pg_class AS c ON c.oid = x.indexrelid"
                                " WHERE x.indrelid = %s::regclass",
                          (sql.Identifier(model.schema, child).as_string(conn),)).fetchall()
        execute(conn, sql.SQL("ALTER TABLE {} RENAME TO {}").format(
            sql.Identifier(model.schema, child), sql.Identifier(renamed)))
        for _, index in indexes:
            if index.startswith(child):
                execute(conn, sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                    sql.Identifier(model.schema, index), sql.Identifier(derived_name(renamed, index[len(child):]))))


def partition_name(table: str, partitioning: Partitioning, value: Any) -> str:
    """Return the name of `table`'s partition that holds `value` (a period's start, or a list value)."""
    if partitioning.granularity == "day":
        suffix = f"_p{value:%Y%m%d}"
    elif partitioning.granularity == "month":
        suffix = f"_p{value:%Y%m}"
    elif partitioning.granularity == "year":
        suffix = f"_p{value:%Y}"
    else:
        text = str(value)
        slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:20]
        suffix = f"_p_{slug}_{hashlib.md5(text.encode()).hexdigest()[:6]}"
    return derived_name(table, suffix)


@dataclass(frozen=True)
class _Periods:
    """The periods (their first days) or list values that rows hold, in order; `utc` when cut in UTC."""

    values: list[Any]
    utc: bool


def _periods(conn: psycopg.Connection[Any], model: Model, rows: sql.Identifier) -> _Periods:
    """Return the periods or values `rows` hold, in one pass; a NULL in the partition column raises ModelFailed."""
    partitioning = _partitioning(model)
    column = sql.Identifier(partitioning.column)
    utc = False
    value: sql.Composable = column
    if partitioning.is_range:
        # Periods of a timestamptz are cut in UTC, whatever the session's time zone, so every
        # build agrees on where a day or month starts and a partition's name means one range.
        column_type = _column_type(conn, rows, partitioning.column)
        utc = column_type == "timestamp with time zone"
        # date_trunc() of a date would convert it to a timestamptz in the session's time zone
        # first, row by row: as a timestamp it gives the same day, in about half the time.
        local = sql.SQL("{}::timestamp" if column_type == "date" else "{}").format(column)
        value = sql.SQL("date_trunc({}, {})::date").format(
            sql.Literal(partitioning.granularity), sql.SQL("({} AT TIME ZONE 'UTC')").format(column) if utc else local)
    # ORDER BY puts a NULL last; DISTINCT keeps one.
    found = [row[0] for row in execute(conn, sql.SQL("SELECT DISTINCT {} FROM {} ORDER BY 1").format(value, rows))]
    if found and found[-1] is None:
        nulls = first_row(execute(conn, sql.SQL("SELECT count(*) FROM {} WHERE {} IS NULL").format(rows, column)))[0]
        raise ModelFailed(
            f"{model.display}:{model.sql_line}: {nulls} row(s) have a NULL {partitioning.column}, the partition"
            f" column of {model.qualified}, and no partition holds NULL; filter or coalesce them in the SELECT"
        )
    return _Periods(found, utc)


def _missing(
    conn: psycopg.Connection[Any], model: Model, table: str, periods: _Periods
) -> list[tuple[str, sql.Composable]]:
    """Return (name, FOR VALUES clause) of each partition of `table` that `periods` need and it lacks.

    For a range, that is every period from the first to `AHEAD` after the last, gaps included.
    """
    partitioning = _partitioning(model)
    existing = {row[0] for row in execute(
        conn, "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
              " WHERE n.nspname = %s AND c.relname LIKE %s",
        (model.schema, table.replace("_", r"\_") + r"\_p%"),
    )}
    wanted: list[tuple[str, sql.Composable]] = []
    if not periods.values:
        return wanted
    if partitioning.is_range:
        start, last = periods.values[0], periods.values[-1]
        for _ in range(AHEAD):
            last = _next(last, partitioning)
        while start <= last:
            end = _next(start, partitioning)
            name = partition_name(table, partitioning, start)
            if name not in existing:
                wanted.append((name, sql.SQL("FOR VALUES FROM ({}) TO ({})").format(
                    _bound(start, periods.utc), _bound(end, periods.utc))))
            start = end
    else:
        for value in periods.values:
            name = partition_name(table, partitioning, value)
            if name not in existing:
                wanted.append((name, sql.SQL("FOR VALUES IN ({})").format(sql.Literal(value))))
    return wanted


def _next(start: date, partitioning: Partitioning) -> date:
    """Return the first day of the period after the one starting on `start`."""
    if partitioning.granularity == "day":
        return start + timedelta(days=1)
    if partitioning.granularity == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return date(start.year + 1, 1, 1)


def _column_type(conn: psycopg.Connection[Any], rows: sql.Identifier, column: str) -> str:
    return str(first_row(execute(
        conn, "SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
        (rows.as_string(conn), column)))[0])


def _bound(day: date, utc: bool) -> sql.Composable:
    """Return a period's start as a bound: a date, midnight for a timestamp, midnight UTC for a timestamptz."""
    return sql.Literal(f"{day.isoformat()} 00:00:00+00" if utc else day.isoformat())


def _partitioning(model: Model) -> Partitioning:
    if model.partition_by is None:
        raise AssertionError(f"{model.qualified} is not partitioned")
    return model.partition_by
