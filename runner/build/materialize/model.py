"""Building one model in its own transaction, by kind, and the state Weir keeps about it.

`materialize(conn, model)` opens one transaction on the autocommit connection (or works in
the caller's, as a build's does, which records its own history with it), builds the
model's relation, and records the model's checksum (and an incremental model's watermark) in
`weir.model_state` in that same transaction: a crash or an error leaves the previous version
of the relation and its state together, never one without the other.

Kinds (the details live in the materialize_* modules):
- view: CREATE OR REPLACE VIEW; when the columns change in a way PostgreSQL refuses to replace
  (a column dropped, renamed or retyped), the view is built aside and swapped in, and the views
  on it are re-pointed (materialize_swap).
- table: built aside with CREATE TABLE AS, then swapped in (materialize_swap); with unique_key
  it gets a primary key on it.
- incremental: materialize_incremental. scd2: materialize_scd2.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime
from typing import TYPE_CHECKING

from runner.build.materialize.result import Built, MaterializeResult, Previous
from runner.errors import ModelFailed

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

    from runner.project.models import Model


def ensure_model_state(conn: psycopg.Connection) -> None:
    """Create weir.model_state and weir.since() if missing; safe when several sessions start at once."""
    from runner.state.schema import install

    # weir.since is created last, in the same transaction, so it existing means everything does.
    install(conn, "model_state",
            "SELECT EXISTS (SELECT FROM pg_proc WHERE proname = 'since' AND pronamespace::regnamespace::text = 'weir')")


def materialize(
    conn: psycopg.Connection,
    model: Model,
    *,
    full_refresh: bool = False,
    run_id: int | None = None,
    prepared: bool = False,
) -> MaterializeResult:
    """Build `model` in one transaction and record it; raise ModelFailed (rolled back) on any error.

    `prepared` says the caller has installed weir.model_state and created the model's
    schema already (a build does, once per run), which spares asking again for every model.
    Inside the caller's transaction it uses that one, else it opens its own.
    """
    import psycopg
    from psycopg import sql

    builders = {"view": _build_view, "table": _build_table, "incremental": _incremental, "scd2": _scd2}
    if model.kind not in builders:
        raise ModelFailed(f"{model.display}:1: unknown kind {model.kind!r}; use one of {', '.join(builders)}")
    if not prepared:
        ensure_model_state(conn)
    # A savepoint inside the caller's transaction would cost two round trips and buy
    # nothing: a failure here fails the caller's transaction anyway.
    in_transaction = conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
    try:
        with nullcontext() if in_transaction else conn.transaction():
            if not prepared:
                _ensure_schema(conn, model.schema)
            previous = _previous(conn, model)
            built = builders[model.kind](conn, model, full_refresh, previous)
            conn.execute(sql.SQL(";\n").join([_comment(model), _record(model, built, run_id)]))
    except psycopg.Error as exc:
        from runner.build.materialize.common import failure_message

        raise ModelFailed(failure_message(model, exc)) from None
    return built.result


def last_built(conn: psycopg.Connection) -> dict[str, datetime]:
    """Return when each model ("schema.name") was last built successfully."""
    if not conn.execute("SELECT to_regclass('weir.model_state') IS NOT NULL").fetchone()[0]:
        return {}
    return dict(conn.execute("SELECT model, built_at FROM weir.model_state ORDER BY model").fetchall())


def _is_rebuild(model: Model, full_refresh: bool, previous: Previous | None) -> tuple[bool, str]:
    """Say whether a view or table counts as built from scratch, with the note to show."""
    if previous is None:
        return True, ""
    if full_refresh:
        return True, "full refresh"
    if previous.kind != model.kind:
        return True, f"kind changed from {previous.kind}"
    if previous.checksum != model.checksum:
        return True, "SQL changed"
    return False, ""


def _build_view(conn: psycopg.Connection, model: Model, full_refresh: bool, previous: Previous | None) -> Built:
    import psycopg.errors
    from psycopg import sql

    from runner.build.materialize.common import execute, failure_message, find_relation, run_select, select_statement
    from runner.build.materialize.swap import new_name, swap_in

    rebuilt, note = _is_rebuild(model, full_refresh, previous)
    existing = find_relation(conn, model.schema, model.name)
    if existing is None or existing.kind == "v":
        statement, start = select_statement(
            conn, model, sql.SQL("CREATE OR REPLACE VIEW {} AS\n").format(sql.Identifier(model.schema, model.name))
        )
        try:
            with conn.transaction():
                execute(conn, statement)
            return Built(MaterializeResult(0, 0, 0, rebuilt, note))
        except psycopg.Error as exc:
            # PostgreSQL refuses to drop, rename or retype a view's columns in place: swap instead.
            if existing is None or not isinstance(exc, psycopg.errors.InvalidTableDefinition):
                raise ModelFailed(failure_message(model, exc, start)) from None
        note = _join(note, "columns changed: view replaced")
    built = new_name(model)
    run_select(conn, model, sql.SQL("CREATE VIEW {} AS\n").format(sql.Identifier(model.schema, built)))
    notes = swap_in(conn, model, built)
    return Built(MaterializeResult(0, 0, 0, rebuilt, _join(note, *notes)))


def _build_table(conn: psycopg.Connection, model: Model, full_refresh: bool, previous: Previous | None) -> Built:
    from psycopg import sql

    from runner.build.materialize.common import analyze, create_indexes, run_select
    from runner.build.materialize.incremental import add_primary_key
    from runner.build.materialize.swap import new_name, swap_in

    rebuilt, note = _is_rebuild(model, full_refresh, previous)
    built = new_name(model)
    rows = run_select(conn, model, sql.SQL("CREATE TABLE {} AS\n").format(sql.Identifier(model.schema, built))).rowcount
    keys = list(model.unique_key)
    if keys:
        add_primary_key(conn, model, built, keys)
    create_indexes(conn, model, built)
    analyze(conn, model, built, keys)
    notes = swap_in(conn, model, built)
    return Built(MaterializeResult(max(rows, 0), 0, 0, rebuilt, _join(note, *notes)))


def _incremental(conn: psycopg.Connection, model: Model, full_refresh: bool, previous: Previous | None) -> Built:
    from runner.build.materialize.incremental import build_incremental

    return build_incremental(conn, model, full_refresh, previous)


def _scd2(conn: psycopg.Connection, model: Model, full_refresh: bool, previous: Previous | None) -> Built:
    from runner.build.materialize.scd2 import build_scd2

    return build_scd2(conn, model, full_refresh, previous)


def _join(*notes: str) -> str:
    return "; ".join(note for note in notes if note)


def _ensure_schema(conn: psycopg.Connection, schema: str) -> None:
    """Create the model's schema if it is missing, serialised with other sessions doing the same."""
    from psycopg import sql

    from runner.db.locking import lock_key

    if conn.execute("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)", (schema,)).fetchone()[0]:
        return
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(f"weir:schema:{schema}"),))
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def _previous(conn: psycopg.Connection, model: Model) -> Previous | None:
    row = conn.execute(
        "SELECT kind, checksum FROM weir.model_state WHERE model = %s", (model.qualified,)
    ).fetchone()
    return Previous(*row) if row else None


def _comment(model: Model) -> sql.Composed:
    """Return the statement storing the model's description as the relation's comment (or clearing a stale one)."""
    from psycopg import sql

    keyword = "VIEW" if model.kind == "view" else "TABLE"
    return sql.SQL("COMMENT ON {} {} IS {}").format(
        sql.SQL(keyword), sql.Identifier(model.schema, model.name), sql.Literal(model.description)
    )


_RECORD = """
INSERT INTO weir.model_state AS s
    (model, kind, checksum, built_at, run_id, watermark, lookback, rows_inserted, rows_updated, rows_deleted)
VALUES ({model}, {kind}, {checksum}, clock_timestamp(), {run_id}, {watermark}, {lookback}::interval,
        {inserted}, {updated}, {deleted})
ON CONFLICT (model) DO UPDATE SET
    kind = excluded.kind,
    checksum = excluded.checksum,
    built_at = excluded.built_at,
    run_id = excluded.run_id,
    watermark = CASE WHEN {keep} THEN coalesce(excluded.watermark, s.watermark) ELSE excluded.watermark END,
    lookback = excluded.lookback,
    rows_inserted = excluded.rows_inserted,
    rows_updated = excluded.rows_updated,
    rows_deleted = excluded.rows_deleted
"""


def _record(model: Model, built: Built, run_id: int | None) -> sql.Composed:
    """Return the statement recording the build in weir.model_state, run in the build's transaction."""
    from psycopg import sql

    result = built.result
    return sql.SQL(_RECORD).format(
        model=sql.Literal(model.qualified),
        kind=sql.Literal(model.kind),
        checksum=sql.Literal(model.checksum),
        run_id=sql.Literal(run_id),
        watermark=sql.SQL("({})::timestamptz").format(built.watermark) if built.watermark else sql.SQL("NULL"),
        lookback=sql.Literal(model.lookback),
        inserted=sql.Literal(result.inserted),
        updated=sql.Literal(result.updated),
        deleted=sql.Literal(result.deleted),
        keep=sql.Literal(built.keep_watermark),
    )
