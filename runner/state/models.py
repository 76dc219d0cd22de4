"""What Weir keeps about each built model: `weir.model_state`, and the settings weir.since() reads.

A model's row (its checksum, kind, rows, and an incremental model's watermark) is written
in the same transaction as the model's data, so a crash leaves the previous version of the
relation and its state together, never one without the other. weir.since(model) answers
from transaction-local settings during a build (runner/state/sql/model_state.sql says why);
this module is the one place that sets them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from runner.db.statements import execute
from runner.state.schema import install

# weir.since is created last, in the same transaction, so it existing means everything does.
_MODEL_STATE_PRESENT = (
    "SELECT EXISTS (SELECT FROM pg_proc WHERE proname = 'since' AND pronamespace::regnamespace::text = 'weir')"
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


@dataclass(frozen=True)
class Previous:
    """What weir.model_state says about the model's last successful build."""

    kind: str
    checksum: str


@dataclass(frozen=True)
class BuiltState:
    """What a build of one model records: its file, its rows, and the watermark to store."""

    model: str  # "schema.name"
    kind: str
    checksum: str
    run_id: int | None
    inserted: int
    updated: int
    deleted: int
    watermark: sql.Composable | None = None  # a SQL expression, evaluated in the build's transaction
    keep_watermark: bool = False  # when `watermark` is NULL (an empty batch), keep the stored one
    lookback: str | None = None  # an incremental model's lookback interval, e.g. "2 hours"


def ensure_model_state(conn: psycopg.Connection[Any]) -> None:
    """Create weir.model_state and weir.since() if missing; safe when several sessions start at once."""
    install(conn, "model_state", _MODEL_STATE_PRESENT)


def previous_build(conn: psycopg.Connection[Any], model: str) -> Previous | None:
    """Return the kind and checksum of `model`'s ("schema.name") last successful build, or None."""
    row = conn.execute("SELECT kind, checksum FROM weir.model_state WHERE model = %s", (model,)).fetchone()
    return Previous(str(row[0]), str(row[1])) if row else None


def record_statement(state: BuiltState) -> sql.Composed:
    """Return the statement recording a build in weir.model_state, for the build's own transaction.

    A statement rather than a call, so the builder sends it in one round trip with its own last one.
    """
    return sql.SQL(_RECORD).format(
        model=sql.Literal(state.model),
        kind=sql.Literal(state.kind),
        checksum=sql.Literal(state.checksum),
        run_id=sql.Literal(state.run_id),
        watermark=sql.SQL("({})::timestamptz").format(state.watermark) if state.watermark else sql.SQL("NULL"),
        lookback=sql.Literal(state.lookback),
        inserted=sql.Literal(state.inserted),
        updated=sql.Literal(state.updated),
        deleted=sql.Literal(state.deleted),
        keep=sql.Literal(state.keep_watermark),
    )


def last_built(conn: psycopg.Connection[Any]) -> dict[str, datetime]:
    """Return when each model ("schema.name") was last built successfully; {} before any build."""
    present = conn.execute("SELECT to_regclass('weir.model_state') IS NOT NULL").fetchone()
    if present is None or not present[0]:
        return {}
    rows = conn.execute("SELECT model, built_at FROM weir.model_state ORDER BY model").fetchall()
    return {str(model): built_at for model, built_at in rows}


# A run that skipped a model found everything it reads unchanged: its data was current then.
# One model at a time, so build_result_skipped_idx answers each with one index entry.
_LAST_CURRENT = """
SELECT s.model, greatest(s.built_at, (
    SELECT r.finished_at FROM weir.build_result AS r
    WHERE r.model = s.model AND r.status = 'skipped' ORDER BY r.finished_at DESC LIMIT 1))
FROM weir.model_state AS s
ORDER BY s.model
"""


def last_current(conn: psycopg.Connection[Any]) -> dict[str, datetime]:
    """Return when each model was last built, or last found up to date by a build that skipped it; {} before any."""
    present = conn.execute("SELECT to_regclass('weir.model_state') IS NOT NULL,"
                           " to_regclass('weir.build_result') IS NOT NULL").fetchone()
    if present is None or not present[0]:
        return {}
    if not present[1]:
        return last_built(conn)
    return {str(model): current_at for model, current_at in conn.execute(_LAST_CURRENT).fetchall()}


def built_by_weir(conn: psycopg.Connection[Any], relations: Sequence[str]) -> set[str]:
    """Return which of `relations` ("schema.name") Weir has built and still keeps state for."""
    rows = execute(conn, "SELECT model FROM weir.model_state WHERE model = ANY(%s)", (list(relations),)).fetchall()
    return {str(row[0]) for row in rows}


def forget(conn: psycopg.Connection[Any], models: Sequence[str]) -> None:
    """Forget `models`' state (their relations were dropped), so the next build builds them again."""
    execute(conn, "DELETE FROM weir.model_state WHERE model = ANY(%s)", (list(models),))


def set_rebuilding(conn: psycopg.Connection[Any], model: str) -> None:
    """Make weir.since(`model`) -infinity for the rest of the transaction; `model` '' ends that."""
    execute(conn, "SELECT set_config('weir.rebuilding', %s, true)", (model,))


def set_since(conn: psycopg.Connection[Any], model: str) -> str:
    """Make weir.since(`model`) its stored watermark minus lookback for the transaction; return that value."""
    row = execute(
        conn,
        "SELECT set_config('weir.building', %(model)s, true),"
        " set_config('weir.since', weir.stored_since(%(model)s)::text, true)",
        {"model": model},
    ).fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    return str(row[1])
