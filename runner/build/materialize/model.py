"""Building one model in its own transaction, by kind, and recording it.

`materialize(conn, model)` opens one transaction on the autocommit connection (or works in
the caller's, as a build's does, which records its own history with it), builds the
model's relation, and records the model's checksum (and an incremental model's watermark) in
`weir.model_state` (runner.state.models) in that same transaction: a crash or an error leaves
the previous version of the relation and its state together, never one without the other.

One module per kind: view, table, incremental, scd2; what they share is in common and swap.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import psycopg
from psycopg import sql

from runner.build.materialize.common import failure_message, first_row
from runner.build.materialize.incremental import build_incremental
from runner.build.materialize.result import Built, MaterializeResult
from runner.build.materialize.scd2 import build_scd2
from runner.build.materialize.swap import deferred
from runner.build.materialize.table import build_table
from runner.build.materialize.view import build_view
from runner.db.locking import lock_key
from runner.errors import ModelFailed
from runner.project.models import Model
from runner.project.settings import DEFAULTS, Timeouts
from runner.state.models import BuiltState, Previous, ensure_model_state, previous_build, record_statement

Builder = Callable[[psycopg.Connection[Any], Model, bool, Previous | None, Timeouts], Built]
DEFAULT_TIMEOUTS = Timeouts(DEFAULTS["lock_timeout"], DEFAULTS["statement_timeout"], int(DEFAULTS["lock_retries"]))
_BUILDERS: dict[str, Builder] = {
    "view": build_view, "table": build_table, "incremental": build_incremental, "scd2": build_scd2,
}


def materialize(
    conn: psycopg.Connection[Any],
    model: Model,
    *,
    full_refresh: bool = False,
    run_id: int | None = None,
    prepared: bool = False,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
) -> MaterializeResult:
    """Build `model` in one transaction and record it; raise ModelFailed (rolled back) on any error.

    `prepared` says the caller has installed weir.model_state and created the model's
    schema already (a build does, once per run), which spares asking again for every model.
    `timeouts` bound how long DDL on the model's live relation waits for readers, and how
    often it tries again (runner.db.ddl_locks): the project's lock_timeout and lock_retries.
    Inside the caller's transaction it uses that one, else it opens its own.
    """
    builder = _BUILDERS.get(model.kind)
    if builder is None:
        raise ModelFailed(f"{model.display}:1: unknown kind {model.kind!r}; use one of {', '.join(_BUILDERS)}")
    if not prepared:
        ensure_model_state(conn)
    # A savepoint inside the caller's transaction would cost two round trips and buy
    # nothing: a failure here fails the caller's transaction anyway.
    in_transaction = conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
    try:
        with nullcontext() if in_transaction else conn.transaction():
            if not prepared:
                _ensure_schema(conn, model.schema)
            built = builder(conn, model, full_refresh, previous_build(conn, model.qualified), timeouts)
            record = record_statement(_state(model, built, run_id))
            # An atomic build comments the relation once it has its name, at the end (runner.build.release).
            conn.execute(record if deferred() is not None else sql.SQL(";\n").join([comment_statement(model), record]))
    except psycopg.Error as exc:
        raise ModelFailed(failure_message(model, exc)) from None
    return built.result


def _state(model: Model, built: Built, run_id: int | None) -> BuiltState:
    result = built.result
    return BuiltState(
        model.qualified, model.kind, model.checksum, run_id, result.inserted, result.updated, result.deleted,
        watermark=built.watermark,
        keep_watermark=built.keep_watermark,
        lookback=model.lookback if model.kind == "incremental" else None,
    )


def _ensure_schema(conn: psycopg.Connection[Any], schema: str) -> None:
    """Create the model's schema if it is missing, serialised with other sessions doing the same."""
    if first_row(conn.execute("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)", (schema,)))[0]:
        return
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(f"weir:schema:{schema}"),))
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def comment_statement(model: Model) -> sql.Composed:
    """Return the statement storing the model's description as the relation's comment (or clearing a stale one)."""
    keyword = "VIEW" if model.kind == "view" else "TABLE"
    return sql.SQL("COMMENT ON {} {} IS {}").format(
        sql.SQL(keyword), sql.Identifier(model.schema, model.name), sql.Literal(model.description)
    )
