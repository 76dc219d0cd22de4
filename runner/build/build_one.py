"""Building one model of a run on a worker's connection: skip it, or build, gate and record it in one transaction.

A try that meets a transient fault (the connection lost, a deadlock, ...) left nothing
behind, and the model is tried again (runner.db.retry). Only when the connection was lost
during the commit can a try have committed unseen: its record, committed in the same
transaction, says so, and the next try returns that result instead of building again.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from runner.build.context import BuildContext
from runner.build.freshness import (
    FILE_KEY,
    NO_INPUTS,
    edited_since_built,
    full_refresh_for,
    inputs_of,
    only_adds_columns,
    recorded_file,
    seen_now,
    skip_reason,
)
from runner.build.materialize.model import comment_statement, materialize
from runner.build.report import BuildEvent, ModelResult
from runner.checks.gates import record_gate_results, run_gates
from runner.db.errors import primary_message
from runner.db.retry import Retry
from runner.errors import GateFailed, RunLockLost, WeirError
from runner.project.gates import gate_tokens
from runner.project.models import Model
from runner.state import builds


def build_one(ctx: BuildContext, model: Model) -> ModelResult:
    """Build `model` unless it is unchanged, riding out transient faults; a failure is a result, recorded too.

    Raises RunLockLost when the run lost its lock to another run while reconnecting.
    """
    started = time.perf_counter()
    retry = Retry(
        ctx.project.settings.retries,
        f"model {model.qualified}",
        lambda message: ctx.emit(BuildEvent("retrying", model.qualified, message)),
        ctx.session.ensure,
    )
    try:
        return retry.run(lambda retries: build_once(ctx, model, started, retry))
    except RunLockLost:
        raise
    except (WeirError, psycopg.Error) as exc:
        if isinstance(exc, WeirError):
            message = str(exc)
        else:
            message = f"{model.display}:{model.sql_line}: {primary_message(exc)}"
        result = ModelResult(
            model.qualified, model.kind, "failed", seconds=time.perf_counter() - started,
            error=message + retry.gave_up, note=retry.note,
        )
        # The model's connection may be the reason it failed: record on a healthy one.
        builds.record_result(ctx.workers.get(), ctx.run_id, result, retries=retry.count)
        if isinstance(exc, GateFailed):
            record_gate_results(ctx.workers.get(), ctx.run_id, exc.results)
        return result


def build_once(ctx: BuildContext, model: Model, started: float, retry: Retry) -> ModelResult:
    """Build `model` once, in one transaction with its record (a savepoint in the caller's); raise what stopped it."""
    gates = ctx.gates.get(model.qualified, ())
    conn = ctx.workers.get()
    with ctx.workers.busy(model.qualified, conn):
        if retry.count:
            recorded = builds.recorded_result(conn, ctx.run_id, model.qualified)
            if recorded is not None:
                result = ModelResult(*recorded)
                if result.status == "success":
                    ctx.built.add(model.qualified)  # its try committed: its readers look at its new markers
                return result
        # A view's skip needs no tokens: with unchanged SQL it is current whatever it reads.
        inputs = inputs_of(ctx.graph, model) if model.kind != "view" else NO_INPUTS
        seen = seen_now(conn, ctx.survey, model, inputs, ctx.built)
        sql_changed = seen.checksum != model.checksum
        current = {"sources": seen.tokens, "models": seen.markers, **gate_tokens(gates)}
        reason = skip_reason(
            model, ctx.options.full_refresh, sql_changed, seen, current, bool(ctx.opaque.get(model.qualified))
        )
        if reason is not None:
            if seen.exists and edited_since_built(model, seen.stored):
                reason = _joined(reason, _apply_metadata(conn, model))
            result = ModelResult(model.qualified, model.kind, "skipped", note=_joined(reason, retry.note),
                                 seconds=time.perf_counter() - started)
            builds.record_result(conn, ctx.run_id, result, retries=retry.count)
            return result
        full_refresh, why = full_refresh_for(model, ctx.options.full_refresh, seen)
        with conn.transaction():
            timeouts = ctx.project.settings.timeouts  # how long DDL may queue the model's readers
            built = materialize(conn, model, full_refresh=full_refresh, run_id=ctx.run_id, prepared=True,
                                timeouts=timeouts)
            # Asked again: in an atomic build the gates read the relation just built aside (runner.build.release).
            gates = ctx.gates.get(model.qualified, ())
            built = run_gates(conn, model, gates, built, run_id=ctx.run_id, timeouts=timeouts)
            # A view or table is replaced whole, so its content may differ even with 0 rows
            # now; an incremental or scd2 model changed only where it says it did.
            changed = model.kind in ("view", "table") or bool(
                built.inserted or built.updated or built.deleted or built.rebuilt
            )
            # What makes readers rebuild from scratch: new logic, or data rebuilt from nothing.
            rebuilt = built.rebuilt if model.kind in ("incremental", "scd2") else sql_changed
            if model.kind in ("view", "table") and _columns_added_alone(model, seen, current, sql_changed):
                changed = rebuilt = False  # a non-breaking change: what readers read is as it was
            result = ModelResult(
                model.qualified, model.kind, "success", built.inserted, built.updated, built.deleted,
                time.perf_counter() - started, None, _joined(why, built.note, retry.note),
            )
            # The file's own checksum is kept beside what it read: `weir plan` tells a comment edit from none.
            record = {**current, FILE_KEY: recorded_file(model)}
            builds.record_built(conn, ctx.run_id, result, record, changed=changed, rebuilt=rebuilt,
                                retries=retry.count)
        ctx.built.add(model.qualified)  # committed: its readers look at its new markers
        return result


def _apply_metadata(conn: psycopg.Connection[Any], model: Model) -> str:
    """Store a skipped model's description as its relation's comment, and the file as the one built.

    A metadata edit rebuilds nothing, but the catalog must still say what the file says: the
    docs, the contracts and psql read the description from there.
    """
    with conn.transaction():
        conn.execute(comment_statement(model))
        builds.record_file(conn, model.qualified, {FILE_KEY: recorded_file(model)})
    return "metadata-only edit: description stored"


def _columns_added_alone(model: Model, seen: builds.Seen, current: dict[str, Any], sql_changed: bool) -> bool:
    """Say whether the only change since the last build is new output columns (inputs as they were)."""
    if not sql_changed or not seen.exists or seen.stored is None:
        return False
    inputs_then = {key: value for key, value in seen.stored.items() if key != FILE_KEY}
    return inputs_then == current and only_adds_columns(model, seen.stored)


def _joined(*notes: str) -> str:
    return "; ".join(text for text in notes if text)
