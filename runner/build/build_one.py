"""Building one model of a run on a worker's connection: skip it, or build, gate and record it in one transaction."""

from __future__ import annotations

import time

import psycopg

from runner.build.context import BuildContext
from runner.build.freshness import NO_INPUTS, full_refresh_for, inputs_of, seen_now, skip_reason
from runner.build.materialize.model import materialize
from runner.build.report import ModelResult
from runner.checks.gates import record_gate_results, run_gates
from runner.db.errors import primary_message
from runner.errors import GateFailed, WeirError
from runner.project.gates import gate_tokens
from runner.project.models import Model
from runner.state import builds


def build_one(ctx: BuildContext, model: Model) -> ModelResult:
    """Build `model` unless it is unchanged; a failure is a result, recorded like any other."""
    gates = ctx.gates.get(model.qualified, ())
    started = time.perf_counter()
    try:
        conn = ctx.workers.get()
        with ctx.workers.busy(model.qualified, conn):
            # A view's skip needs no tokens: with unchanged SQL it is current whatever it reads.
            inputs = inputs_of(ctx.graph, model) if model.kind != "view" else NO_INPUTS
            seen = seen_now(conn, ctx.survey, model, inputs, ctx.built)
            sql_changed = seen.checksum != model.checksum
            current = {"sources": seen.tokens, "models": seen.markers, **gate_tokens(gates)}
            reason = skip_reason(
                model, ctx.options.full_refresh, sql_changed, seen, current, bool(ctx.opaque.get(model.qualified))
            )
            if reason is not None:
                result = ModelResult(model.qualified, model.kind, "skipped", note=reason,
                                     seconds=time.perf_counter() - started)
                builds.record_result(conn, ctx.run_id, result)
                return result
            full_refresh, why = full_refresh_for(model, ctx.options.full_refresh, seen)
            with conn.transaction():
                built = materialize(conn, model, full_refresh=full_refresh, run_id=ctx.run_id, prepared=True)
                built = run_gates(conn, model, gates, built, run_id=ctx.run_id)
                # A view or table is replaced whole, so its content may differ even with 0 rows
                # now; an incremental or scd2 model changed only where it says it did.
                changed = model.kind in ("view", "table") or bool(
                    built.inserted or built.updated or built.deleted or built.rebuilt
                )
                # What makes readers rebuild from scratch: new logic, or data rebuilt from nothing.
                rebuilt = built.rebuilt if model.kind in ("incremental", "scd2") else sql_changed
                note = "; ".join(text for text in (why, built.note) if text)
                result = ModelResult(
                    model.qualified, model.kind, "success", built.inserted, built.updated, built.deleted,
                    time.perf_counter() - started, None, note,
                )
                builds.record_built(conn, ctx.run_id, result, current, changed=changed, rebuilt=rebuilt)
            ctx.built.add(model.qualified)  # committed: its readers look at its new markers
            return result
    except (WeirError, psycopg.Error) as exc:
        if isinstance(exc, WeirError):
            message = str(exc)
        else:
            message = f"{model.display}:{model.sql_line}: {primary_message(exc)}"
        result = ModelResult(
            model.qualified, model.kind, "failed", seconds=time.perf_counter() - started, error=message
        )
        # The model's connection may be the reason it failed: record on a healthy one.
        builds.record_result(ctx.workers.get(), ctx.run_id, result)
        if isinstance(exc, GateFailed):
            record_gate_results(ctx.workers.get(), ctx.run_id, exc.results)
        return result
