"""Incremental models: upsert only the rows past the watermark, stored in the same transaction.

A model file reads `WHERE src.updated_at > weir.since('schema.name')`. Weir runs the SELECT
with those calls replaced by their value as a literal (runner.project.models.with_since), so the
planner knows it: it estimates the batch from the source column's statistics and drops a
branch gated on `weir.since(...) = '-infinity'`. Anything else that calls weir.since() during
the build (a view, a function) gets the same value from transaction-local settings (see
runner/state/sql/model_state.sql):

- built from scratch (first build, --full-refresh, the table is missing, the kind changed, or
  the SQL changed while full_refresh_on_change is true, the default): weir.rebuilding names the
  model, so weir.since() is -infinity; the SELECT fills a new table with a primary key on
  unique_key, which is swapped in like a `table` model (runner.build.materialize.swap);
- otherwise weir.building and weir.since carry the stored watermark minus lookback; the SELECT
  fills a temporary table, which must have exactly one row per non-NULL key (else ModelFailed
  naming sample keys), and is upserted with INSERT ... ON CONFLICT DO UPDATE only where a
  column IS DISTINCT FROM the stored row (inserted and updated rows told apart by xmax = 0).
  The batch runs with JIT off (see _upsert_batch).

The new watermark is max(watermark column) of the batch (of the whole table after a rebuild),
kept as it was when the batch is empty, and recorded by runner.build.materialize.model in the same
transaction as the rows: a crash never skips or double-applies a batch.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from runner.build.materialize.citus import distribute
from runner.build.materialize.common import (
    add_missing_indexes,
    add_primary_key,
    analyze,
    check_keys,
    columns_of,
    create_indexes,
    find_relation,
    first_row,
    require_columns,
    run_select,
)
from runner.build.materialize.partitions import (
    add_partitions_for,
    build_partitioned,
    rename_partitions,
)
from runner.build.materialize.result import Built, MaterializeResult
from runner.build.materialize.swap import deferred, new_name, swap_in
from runner.db.statements import execute
from runner.project.models import Model
from runner.project.settings import Timeouts
from runner.state.models import Previous, set_rebuilding, set_since

_UPSERT = """
WITH upserted AS (
    INSERT INTO {target} AS t ({columns})
    SELECT {columns} FROM pg_temp.weir_batch WHERE {rows}
    ON CONFLICT ({keys}) {action}
    RETURNING t.xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
"""
_UPSERT_OLD = """
WITH upserted AS (
    INSERT INTO {target} AS t ({columns})
    SELECT {columns} FROM pg_temp.weir_batch
    ON CONFLICT ({keys}) {action}
    RETURNING {first_key} IS NULL AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
"""
# Before PostgreSQL 18, a partitioned table's RETURNING cannot read xmax ("cannot retrieve a
# system column in this context"), but each of its partitions' can: the batch is upserted
# into each partition its rows fall in, by name, one statement each. Counting the new keys
# first instead, by a probe of the key's index per batch row, took 630 ms of a 370,000-row
# batch at 10M order items; the statements per partition also skip routing each row.


def build_incremental(
    conn: psycopg.Connection[Any], model: Model, full_refresh: bool, previous: Previous | None, timeouts: Timeouts
) -> Built:
    """Build an incremental model: from scratch when needed, else upsert the batch past the watermark."""
    keys = list(model.unique_key)
    watermark = model.watermark or ""
    rebuild, note = _rebuild_reason(conn, model, full_refresh, previous)
    if rebuild:
        return _from_scratch(conn, model, keys, watermark, note, timeouts)
    sql_changed = previous is not None and previous.checksum != model.checksum
    return _upsert_batch(conn, model, keys, watermark, note, sql_changed, timeouts)


def _rebuild_reason(
    conn: psycopg.Connection[Any], model: Model, full_refresh: bool, previous: Previous | None
) -> tuple[bool, str]:
    existing = find_relation(conn, model.schema, model.name)
    if previous is None:
        return True, "" if existing is None else f"{model.qualified} was not built by Weir: rebuilt from scratch"
    if previous.kind != "incremental":
        return True, f"kind changed from {previous.kind}: rebuilt from scratch"
    if existing is None or existing.kind not in ("r", "p"):
        return True, f"{model.qualified} was missing: rebuilt from scratch"
    if existing.kind != ("p" if model.partition_by is not None else "r"):
        return True, "partitioning changed: rebuilt from scratch"
    if full_refresh:
        return True, "full refresh"
    if previous.checksum != model.checksum:
        if model.full_refresh_on_change:
            return True, "SQL changed: rebuilt from scratch"
        return False, "SQL changed: new logic applied to new rows only (full_refresh_on_change=false)"
    return False, ""


def _from_scratch(
    conn: psycopg.Connection[Any], model: Model, keys: list[str], watermark: str, note: str, timeouts: Timeouts
) -> Built:
    set_rebuilding(conn, model.qualified)
    built = new_name(model)
    if model.partition_by is not None:
        rows = build_partitioned(conn, model, built, since="-infinity")
    else:
        create = sql.SQL("CREATE TABLE {} AS\n").format(sql.Identifier(model.schema, built))
        rows = run_select(conn, model, create, since="-infinity").rowcount
    require_columns(model, columns_of(conn, sql.Identifier(model.schema, built)), "watermark", [watermark])
    distribute(conn, model, built)
    add_primary_key(conn, model, built, keys)
    create_indexes(conn, model, built)
    analyze(conn, model, built, [*keys, watermark])
    notes = swap_in(conn, model, built, timeouts)
    if model.partition_by is not None:
        rename_partitions(conn, model, built)
    set_rebuilding(conn, "")
    # An atomic build swaps at its end: the rows are still in the table built aside.
    holder = built if deferred() is not None else model.name
    high = sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(watermark), sql.Identifier(model.schema, holder))
    result = MaterializeResult(max(rows, 0), 0, 0, True, "; ".join(text for text in (note, *notes) if text))
    return Built(result, high, keep_watermark=False)


def _upsert_batch(
    conn: psycopg.Connection[Any],
    model: Model,
    keys: list[str],
    watermark: str,
    note: str,
    sql_changed: bool,
    timeouts: Timeouts,
) -> Built:
    since = set_since(conn, model.qualified)
    # PostgreSQL decides to JIT-compile from a plan's estimated cost, and compiles every
    # expression of every scan: over a partitioned table that is each partition's, and with a
    # run-time array (`= any(array(...))`, which PostgreSQL up to 18 cannot prune partitions
    # with) each partition's share is guessed high. At 10M order items agg_daily_sales's
    # batch spent 1.38 s of 1.65 s compiling 222 functions with inlining and optimization,
    # and ran in 0.32 s without; on the plain table its JIT took 30 ms. A batch is small by
    # design: it runs without JIT, and the model's transaction gets the setting back after.
    jit = first_row(execute(conn, "SELECT current_setting('jit'), set_config('jit', 'off', true)"))[0]
    batch = sql.Identifier("pg_temp", "weir_batch")
    execute(conn, "DROP TABLE IF EXISTS pg_temp.weir_batch")
    run_select(conn, model, sql.SQL("CREATE TEMP TABLE weir_batch ON COMMIT DROP AS\n"), since=since)
    columns = columns_of(conn, batch)
    require_columns(model, columns, "unique_key", keys)
    require_columns(model, columns, "watermark", [watermark])
    check_keys(conn, model, batch, keys, "unique_key")
    touched: list[tuple[sql.Identifier, sql.Composable]] = []
    if model.partition_by is not None:
        added, touched = add_partitions_for(conn, model, batch, timeouts)
        note = "; ".join(text for text in (note, f"{added} new partition(s)" if added else "") if text)
    if sql_changed:  # the header may declare an index the table does not have yet
        note = "; ".join([note, *add_missing_indexes(conn, model, timeouts)])
    others = [column for column in columns if column not in keys]
    action: sql.Composable = sql.SQL("DO NOTHING")
    if others:
        action = sql.SQL("DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})").format(
            sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(sql.Identifier(column)) for column in others),
            sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(column)) for column in others),
            sql.SQL(", ").join(sql.SQL("excluded.{}").format(sql.Identifier(column)) for column in others),
        )
    parts = {
        "target": sql.Identifier(model.schema, model.name),
        "columns": sql.SQL(", ").join(sql.Identifier(column) for column in columns),
        "keys": sql.SQL(", ").join(sql.Identifier(key) for key in keys),
        "action": action,
    }
    if model.partition_by is None:
        inserted, updated = first_row(execute(conn, sql.SQL(_UPSERT).format(**parts, rows=sql.SQL("true"))))
    elif conn.info.server_version >= 180000:
        # PostgreSQL 18's RETURNING old.* tells an inserted row (no old version) from an updated one.
        inserted, updated = first_row(execute(conn, sql.SQL(_UPSERT_OLD).format(
            **parts, first_key=sql.Identifier("old", keys[0]))))
    else:
        inserted = updated = 0
        for partition, rows in touched:
            counts = first_row(execute(conn, sql.SQL(_UPSERT).format(
                **{**parts, "target": partition}, rows=rows if len(touched) > 1 else sql.SQL("true"))))
            inserted, updated = inserted + counts[0], updated + counts[1]
    execute(conn, "SELECT set_config('jit', %s, true)", (jit,))
    high = sql.SQL("SELECT max({}) FROM pg_temp.weir_batch").format(sql.Identifier(watermark))
    return Built(MaterializeResult(int(inserted), int(updated), 0, False, note), high, keep_watermark=True)
