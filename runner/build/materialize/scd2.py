"""SCD2 models: type 2 history of a source on its natural key.

The table holds a surrogate key (primary key; `surrogate_key`, default `<name>_key`: a bigint
identity, or a hash of natural key + valid_from, see runner.build.materialize.surrogate), the
SELECT's columns, and valid_from / valid_to / is_current (timestamptz, timestamptz, boolean).
Its invariants are constraints, not promises:
- primary key on the surrogate key;
- one current version per key: a unique index on the natural key WHERE is_current;
- valid_from < valid_to (a CHECK; valid_to is NULL while current);
- is_current is a stored generated column, `valid_to IS NULL`, so it cannot disagree;
- unique (natural key, valid_from), which is also the index a point-in-time join uses:
  `d.key = f.key AND d.valid_from <= f.at AND (d.valid_to IS NULL OR f.at < d.valid_to)`.

Each build compares the SELECT (in a temporary table, one row per non-NULL key or ModelFailed
naming samples) with the current versions, set-based:
- updated_at mode: a row whose updated_at is newer than the current version's closes it at
  that instant and opens a new version from it. A key's first version starts at its updated_at
  (so a fact earlier than the dimension row's updated_at finds no version: the data must not
  have facts before the key's first updated_at).
- check_cols mode: a row whose listed columns are DISTINCT FROM the current version's closes it
  at the build's transaction time and opens a new version from then. A key's first version
  starts at '-infinity' (nothing says when it began, and every earlier fact must find it).
- a key missing from the SELECT has its current version closed at build time (on_delete=close,
  the default) or kept (on_delete=ignore); a key that comes back opens a new version from its
  updated_at (never before its last version closed) or, in check_cols mode, from build time.
A new history table (first build, or a table without history columns) is filled directly:
one current version per row. Unchanged input changes nothing. History is never rebuilt from
scratch implicitly: neither --full-refresh nor a changed SQL drops it (columns the SELECT adds
are added to the table, NULL in older versions); drop the table to start over.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from runner.build.materialize.citus import distribute
from runner.build.materialize.common import (
    add_missing_indexes,
    analyze,
    check_keys,
    columns_of,
    create_indexes,
    directive_line,
    find_relation,
    first_row,
    refuse_columns,
    require_columns,
    run_select,
    under_lock_timeout,
)
from runner.build.materialize.result import Built, MaterializeResult
from runner.build.materialize.surrogate import column_type, refuse_other_strategy, surrogate_insert
from runner.build.materialize.swap import new_name, swap_in
from runner.db.statements import derived_name, execute
from runner.errors import ModelFailed
from runner.project.models import Model
from runner.project.settings import Timeouts
from runner.state.models import Previous

_VERSION_COLUMNS = ["valid_from", "valid_to", "is_current"]
_DELTA_COLUMNS = ["weir__current", "weir__gone"]

_CREATE = """
CREATE TABLE {table} (
    {surrogate} {surrogate_type},
    LIKE pg_temp.weir_source,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz,
    is_current boolean NOT NULL GENERATED ALWAYS AS (valid_to IS NULL) STORED,
    CONSTRAINT {pkey} PRIMARY KEY ({surrogate}),
    CONSTRAINT {valid_range} CHECK (valid_from < valid_to),
    CONSTRAINT {version} UNIQUE ({keys}, valid_from)
)
"""
_ONE_CURRENT = "CREATE UNIQUE INDEX {index} ON {table} ({keys}) WHERE is_current"

# One pass over the source and the current versions finds every difference: source rows
# that are new, changed or back, with the current version they replace (if any), and
# current versions whose key left the source (weir__gone: the source's columns are NULL,
# even its key, which is never NULL in a source row). One UPDATE then closes the versions
# named here; two, or an anti-join for the deleted keys, each read the whole history again.
# When a returning key last closed is looked up in _OPEN, only for the rows that need it:
# asked here, per source row, its estimated cost made PostgreSQL JIT-compile the join
# (180 ms of 350 at 10M order items).
_DELTA = """
CREATE TEMP TABLE weir_delta ON COMMIT DROP AS
SELECT s.*, c.{surrogate} AS weir__current, s.{first_key} IS NULL AS weir__gone
FROM pg_temp.weir_source AS s
FULL JOIN (SELECT * FROM {table} WHERE is_current) AS c ON {current_match}
WHERE c.{surrogate} IS NULL OR s.{first_key} IS NULL OR {changed}
"""
_CLOSE = """
WITH closed AS (
    UPDATE {table} AS t SET valid_to = CASE WHEN d.weir__gone THEN now() ELSE {closed_at} END
    FROM pg_temp.weir_delta AS d
    WHERE t.{surrogate} = d.weir__current AND (NOT d.weir__gone OR {close_deleted})
    RETURNING d.weir__gone
)
SELECT count(*) FILTER (WHERE NOT weir__gone), count(*) FILTER (WHERE weir__gone) FROM closed
"""
# weir__last_to: when a key without a current version (new, or back) last closed, NULL for a
# key never seen. This build's UPDATE closes only current versions, so it does not change it.
_OPEN = """
INSERT INTO {table} ({columns}, valid_from{surrogate_column})
SELECT {delta_columns}, v.weir__valid_from{surrogate_value}
FROM pg_temp.weir_delta AS d
CROSS JOIN LATERAL (
    SELECT max(h.valid_to) AS weir__last_to FROM {table} AS h WHERE d.weir__current IS NULL AND {history_match}
) AS h
CROSS JOIN LATERAL (SELECT {valid_from} AS weir__valid_from) AS v
WHERE NOT d.weir__gone
"""


def build_scd2(
    conn: psycopg.Connection[Any], model: Model, full_refresh: bool, previous: Previous | None, timeouts: Timeouts
) -> Built:
    """Bring the model's history up to date with its SELECT; return versions opened and closed."""
    keys = list(model.natural_key)
    updated_at = model.updated_at
    check_cols = list(model.check_cols)
    surrogate = model.surrogate_key or f"{model.name}_key"
    source = sql.Identifier("pg_temp", "weir_source")

    execute(conn, "DROP TABLE IF EXISTS pg_temp.weir_source, pg_temp.weir_delta")
    run_select(conn, model, sql.SQL("CREATE TEMP TABLE weir_source ON COMMIT DROP AS\n"))
    columns = columns_of(conn, source)
    refuse_columns(model, columns, [surrogate, *_VERSION_COLUMNS, *_DELTA_COLUMNS], "an scd2 model adds itself")
    require_columns(model, columns, "natural_key", keys)
    if updated_at:
        require_columns(model, columns, "updated_at", [updated_at])
    else:
        require_columns(model, columns, "check_cols", check_cols)
    check_keys(conn, model, source, keys, "natural_key")
    if updated_at:
        _refuse_null_updated_at(conn, model, keys, updated_at)

    table = sql.Identifier(model.schema, model.name)
    existing = find_relation(conn, model.schema, model.name)
    fresh = existing is None or existing.kind != "r" or not _has_history(conn, table, surrogate)
    notes: list[str] = []
    if fresh:
        if existing is not None:
            notes.append(f"{model.qualified} had no history columns: replaced by a new history table")
        built = new_name(model)
        _create(conn, model, built, surrogate, keys)
        distribute(conn, model, built)
        create_indexes(conn, model, built)
        # Filled before the swap: an atomic build swaps only at its end (runner.build.release).
        inserted, updated, deleted = _first_versions(conn, model, sql.Identifier(model.schema, built), columns,
                                                     surrogate), 0, 0
        analyze(conn, model, built, [*keys, "valid_from", "valid_to", "is_current"])
        notes += swap_in(conn, model, built, timeouts)
    else:
        refuse_other_strategy(conn, model, table, surrogate)
        notes += _add_new_columns(conn, model, table, columns, surrogate, timeouts)
        sql_changed = previous is not None and previous.checksum != model.checksum
        if sql_changed:
            notes += add_missing_indexes(conn, model, timeouts)
        if full_refresh:
            notes.append("history kept: --full-refresh does not rebuild an scd2 model (drop its table to start over)")
        elif sql_changed:
            notes.append("SQL changed: history kept, new versions follow the new SQL")

    if not fresh:
        inserted, updated, deleted = _apply(conn, model, table, columns, keys, surrogate, updated_at, check_cols)
    return Built(MaterializeResult(inserted, updated, deleted, fresh, "; ".join(notes)))


def _apply(
    conn: psycopg.Connection[Any],
    model: Model,
    table: sql.Identifier,
    columns: list[str],
    keys: list[str],
    surrogate: str,
    updated_at: str | None,
    check_cols: list[str],
) -> tuple[int, int, int]:
    """Close changed and deleted versions and open new ones; return (opened, closed as changed, closed as deleted)."""

    def match(left: str, right: str) -> sql.Composable:
        return sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(sql.Identifier(left, key), sql.Identifier(right, key)) for key in keys
        )

    def row(alias: str, names: list[str]) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier(alias, name) for name in names)

    changed: sql.Composable
    closed_at: sql.Composable
    valid_from: sql.Composable
    if updated_at:
        changed = sql.SQL("{} > {}").format(sql.Identifier("s", updated_at), sql.Identifier("c", updated_at))
        closed_at = sql.Identifier("d", updated_at)
        valid_from = sql.SQL("greatest({}, h.weir__last_to)").format(sql.Identifier("d", updated_at))
    else:
        changed = sql.SQL("({}) IS DISTINCT FROM ({})").format(row("s", check_cols), row("c", check_cols))
        closed_at = sql.SQL("now()")
        valid_from = sql.SQL(
            "CASE WHEN d.weir__current IS NULL AND h.weir__last_to IS NULL THEN '-infinity'::timestamptz ELSE now() END"
        )
    names: dict[str, sql.Composable] = {"table": table, "surrogate": sql.Identifier(surrogate)}
    execute(conn, sql.SQL(_DELTA).format(
        current_match=match("c", "s"), changed=changed, first_key=sql.Identifier(keys[0]), **names
    ))
    close_deleted = model.on_delete == "close"
    updated, deleted = first_row(execute(conn, sql.SQL(_CLOSE).format(
        closed_at=closed_at, close_deleted=sql.Literal(close_deleted), **names
    )))
    surrogate_column, surrogate_value = surrogate_insert(model, surrogate, "d", sql.SQL("v.weir__valid_from"))
    opened = execute(conn, sql.SQL(_OPEN).format(
        columns=sql.SQL(", ").join(sql.Identifier(column) for column in columns),
        delta_columns=row("d", columns),
        valid_from=valid_from,
        history_match=match("h", "d"),
        surrogate_column=surrogate_column,
        surrogate_value=surrogate_value,
        **names,
    )).rowcount
    return opened, int(updated), int(deleted)


def _first_versions(
    conn: psycopg.Connection[Any], model: Model, table: sql.Identifier, columns: list[str], surrogate: str
) -> int:
    """Fill a new history table with one current version per source row; return how many."""
    valid_from = sql.Identifier(model.updated_at) if model.updated_at else sql.SQL("'-infinity'::timestamptz")
    names = sql.SQL(", ").join(sql.Identifier(column) for column in columns)
    surrogate_column, surrogate_value = surrogate_insert(model, surrogate, None, valid_from)
    return execute(conn, sql.SQL("INSERT INTO {} ({}, valid_from{}) SELECT {}, {}{} FROM pg_temp.weir_source").format(
        table, names, surrogate_column, names, valid_from, surrogate_value
    )).rowcount


def _create(conn: psycopg.Connection[Any], model: Model, built: str, surrogate: str, keys: list[str]) -> None:
    """Create the empty history table `built` with its constraints, shaped like the SELECT."""
    table = sql.Identifier(model.schema, built)
    key_list = sql.SQL(", ").join(sql.Identifier(key) for key in keys)
    execute(conn, sql.SQL(_CREATE).format(
        table=table,
        surrogate=sql.Identifier(surrogate),
        surrogate_type=column_type(model),
        pkey=sql.Identifier(derived_name(built, "_pkey")),
        valid_range=sql.Identifier(derived_name(model.name, "_valid_range")),
        version=sql.Identifier(derived_name(built, "_version")),
        keys=key_list,
    ))
    for key in keys:
        execute(conn, sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET NOT NULL").format(table, sql.Identifier(key)))
    execute(conn, sql.SQL(_ONE_CURRENT).format(
        index=sql.Identifier(derived_name(built, "_current")), table=table, keys=key_list
    ))


def _has_history(conn: psycopg.Connection[Any], table: sql.Identifier, surrogate: str) -> bool:
    present = columns_of(conn, table)
    return all(column in present for column in [surrogate, *_VERSION_COLUMNS])


def _add_new_columns(
    conn: psycopg.Connection[Any],
    model: Model,
    table: sql.Identifier,
    columns: list[str],
    surrogate: str,
    timeouts: Timeouts,
) -> list[str]:
    """Add the SELECT's new columns to the history table; return notes on added and vanished columns."""
    present = columns_of(conn, table)
    added = [column for column in columns if column not in present]
    if added:
        types = dict(execute(
            conn,
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = 'pg_temp.weir_source'::regclass AND attname = ANY(%s)",
            (added,),
        ).fetchall())
        add = sql.SQL("ALTER TABLE {} {}").format(table, sql.SQL(", ").join(
            sql.SQL("ADD COLUMN {} {}").format(sql.Identifier(column), sql.SQL(types[column])) for column in added
        ))
        # ALTER TABLE locks out the history's readers: not while one holds it (runner.db.ddl_locks).
        under_lock_timeout(conn, model, timeouts, lambda: execute(conn, add), what=f"add columns to {model.qualified}")
    gone = [column for column in present if column not in columns and column not in (surrogate, *_VERSION_COLUMNS)]
    notes = []
    if added:
        notes.append(f"added column(s) {', '.join(added)} (NULL in earlier versions)")
    if gone:
        notes.append(f"column(s) {', '.join(gone)} no longer in the SELECT: NULL in new versions")
    return notes


def _refuse_null_updated_at(conn: psycopg.Connection[Any], model: Model, keys: list[str], updated_at: str) -> None:
    key_text = sql.SQL("ROW({})::text").format(sql.SQL(", ").join(sql.Identifier(key) for key in keys))
    rows = execute(conn, sql.SQL(
        "SELECT {}, count(*) OVER () FROM pg_temp.weir_source WHERE {} IS NULL ORDER BY 1 LIMIT 5"
    ).format(key_text, sql.Identifier(updated_at))).fetchall()
    if rows:
        raise ModelFailed(
            f"{model.display}:{directive_line(model, 'updated_at')}: updated_at ({updated_at}) is NULL in"
            f" {rows[0][1]} row(s), for keys {', '.join(row[0] for row in rows)}; every version needs the time"
            " it changed: coalesce it or use check_cols"
        )
