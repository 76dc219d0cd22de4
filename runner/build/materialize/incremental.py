"""Incremental models: upsert only the rows past the watermark, stored in the same transaction.

A model file reads `WHERE src.updated_at > weir.since('schema.name')`. Weir runs the SELECT
with those calls replaced by their value as a literal (runner.model_files.with_since), so the
planner knows it: it estimates the batch from the source column's statistics and drops a
branch gated on `weir.since(...) = '-infinity'`. Anything else that calls weir.since() during
the build (a view, a function) gets the same value from transaction-local settings (see
runner/state/sql/model_state.sql):

- built from scratch (first build, --full-refresh, the table is missing, the kind changed, or
  the SQL changed while full_refresh_on_change is true, the default): weir.rebuilding names the
  model, so weir.since() is -infinity; the SELECT fills a new table with a primary key on
  unique_key, which is swapped in like a `table` model (runner/materialize_swap.py);
- otherwise weir.building and weir.since carry the stored watermark minus lookback; the SELECT
  fills a temporary table, which must have exactly one row per non-NULL key (else ModelFailed
  naming sample keys), and is upserted with INSERT ... ON CONFLICT DO UPDATE only where a
  column IS DISTINCT FROM the stored row (inserted and updated rows told apart by xmax = 0).

The new watermark is max(watermark column) of the batch (of the whole table after a rebuild),
kept as it was when the batch is empty, and written by runner.build.materialize.model in the same
transaction as the rows: a crash never skips or double-applies a batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.errors import ModelFailed
from runner.build.materialize.result import Built, MaterializeResult, Previous
from runner.build.materialize.common import (
    add_missing_indexes,
    analyze,
    check_keys,
    columns_of,
    create_indexes,
    derived_name,
    directive_line,
    execute,
    failure_message,
    find_relation,
    require_columns,
    run_select,
)
from runner.build.materialize.swap import new_name, swap_in

if TYPE_CHECKING:
    import psycopg

    from runner.project.models import Model

_UPSERT = """
WITH upserted AS (
    INSERT INTO {target} AS t ({columns})
    SELECT {columns} FROM pg_temp.weir_batch
    ON CONFLICT ({keys}) {action}
    RETURNING t.xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
"""


def build_incremental(conn: psycopg.Connection, model: Model, full_refresh: bool, previous: Previous | None) -> Built:
    """Build an incremental model: from scratch when needed, else upsert the batch past the watermark."""
    keys = list(model.unique_key)
    watermark = model.watermark or ""
    rebuild, note = _rebuild_reason(conn, model, full_refresh, previous)
    if rebuild:
        return _from_scratch(conn, model, keys, watermark, note)
    sql_changed = previous is not None and previous.checksum != model.checksum
    return _upsert_batch(conn, model, keys, watermark, note, sql_changed)


def add_primary_key(conn: psycopg.Connection, model: Model, table: str, keys: list[str]) -> None:
    """Make unique_key the primary key of `model.schema`.`table`; NULL or repeated keys raise ModelFailed."""
    import psycopg.errors
    from psycopg import sql

    relation = sql.Identifier(model.schema, table)
    require_columns(model, columns_of(conn, relation), "unique_key", keys)
    try:
        with conn.transaction():
            execute(conn, sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                relation,
                sql.Identifier(derived_name(table, "_pkey")),
                sql.SQL(", ").join(sql.Identifier(key) for key in keys),
            ))
    except (psycopg.errors.UniqueViolation, psycopg.errors.NotNullViolation) as exc:
        check_keys(conn, model, relation, keys, "unique_key")
        raise ModelFailed(failure_message(model, exc, line=directive_line(model, "unique_key"))) from None


def _rebuild_reason(
    conn: psycopg.Connection, model: Model, full_refresh: bool, previous: Previous | None
) -> tuple[bool, str]:
    existing = find_relation(conn, model.schema, model.name)
    if previous is None:
        return True, "" if existing is None else f"{model.qualified} was not built by Weir: rebuilt from scratch"
    if previous.kind != "incremental":
        return True, f"kind changed from {previous.kind}: rebuilt from scratch"
    if existing is None or existing.kind != "r":
        return True, f"{model.qualified} was missing: rebuilt from scratch"
    if full_refresh:
        return True, "full refresh"
    if previous.checksum != model.checksum:
        if model.full_refresh_on_change:
            return True, "SQL changed: rebuilt from scratch"
        return False, "SQL changed: new logic applied to new rows only (full_refresh_on_change=false)"
    return False, ""


def _from_scratch(conn: psycopg.Connection, model: Model, keys: list[str], watermark: str, note: str) -> Built:
    from psycopg import sql

    execute(conn, "SELECT set_config('weir.rebuilding', %s, true)", (model.qualified,))
    built = new_name(model)
    create = sql.SQL("CREATE TABLE {} AS\n").format(sql.Identifier(model.schema, built))
    rows = run_select(conn, model, create, since="-infinity").rowcount
    require_columns(model, columns_of(conn, sql.Identifier(model.schema, built)), "watermark", [watermark])
    add_primary_key(conn, model, built, keys)
    create_indexes(conn, model, built)
    analyze(conn, model, built, [*keys, watermark])
    notes = swap_in(conn, model, built)
    execute(conn, "SELECT set_config('weir.rebuilding', '', true)")
    high = sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(watermark), sql.Identifier(model.schema, model.name))
    result = MaterializeResult(max(rows, 0), 0, 0, True, "; ".join(text for text in (note, *notes) if text))
    return Built(result, high, keep_watermark=False)


def _upsert_batch(
    conn: psycopg.Connection, model: Model, keys: list[str], watermark: str, note: str, sql_changed: bool
) -> Built:
    from psycopg import sql

    since = execute(
        conn,
        "SELECT set_config('weir.building', %(model)s, true),"
        " set_config('weir.since', weir.stored_since(%(model)s)::text, true)",
        {"model": model.qualified},
    ).fetchone()[1]
    batch = sql.Identifier("pg_temp", "weir_batch")
    execute(conn, "DROP TABLE IF EXISTS pg_temp.weir_batch")
    run_select(conn, model, sql.SQL("CREATE TEMP TABLE weir_batch ON COMMIT DROP AS\n"), since=since)
    columns = columns_of(conn, batch)
    require_columns(model, columns, "unique_key", keys)
    require_columns(model, columns, "watermark", [watermark])
    check_keys(conn, model, batch, keys, "unique_key")
    if sql_changed:  # the header may declare an index the table does not have yet
        note = "; ".join([note, *add_missing_indexes(conn, model)])
    others = [column for column in columns if column not in keys]
    if others:
        action = sql.SQL("DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})").format(
            sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(sql.Identifier(column)) for column in others),
            sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(column)) for column in others),
            sql.SQL(", ").join(sql.SQL("excluded.{}").format(sql.Identifier(column)) for column in others),
        )
    else:
        action = sql.SQL("DO NOTHING")
    inserted, updated = execute(conn, sql.SQL(_UPSERT).format(
        target=sql.Identifier(model.schema, model.name),
        columns=sql.SQL(", ").join(sql.Identifier(column) for column in columns),
        keys=sql.SQL(", ").join(sql.Identifier(key) for key in keys),
        action=action,
    )).fetchone()
    high = sql.SQL("SELECT max({}) FROM pg_temp.weir_batch").format(sql.Identifier(watermark))
    return Built(MaterializeResult(int(inserted), int(updated), 0, False, note), high, keep_watermark=True)
