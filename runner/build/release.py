"""Atomic builds (`weir build --atomic`): every selected model's new version becomes visible at once, or none does.

The whole build is one transaction on one connection. Each model is built as usual, except
that nothing replaces a live relation until the end (runner.build.materialize.swap,
`deferring_swaps`): a table, or an incremental or scd2 model built from scratch, is built
aside under new_name(model), a view model as a view aside; an incremental batch or an scd2
change is applied to the live table in place, which readers do not see before COMMIT (MVCC)
and which does not block them (ROW EXCLUSIVE). A model reading one built aside in this run
reads that relation: its SELECT's references are rewritten by the parser's positions
(runner.project.model_select.renamed_relations), and so are its gates'. Models are skipped
as in any build: their records are written in the same transaction, so a model sees what
its upstream did.

At the end, the release: the views aside are dropped, every relation built aside is swapped
in and every view model replaced, in build order (each swap locks the views on a table
before the table, as readers do), the relations are commented, then COMMIT. The lock
window, from the release's first lock to COMMIT, is measured and reported.

On any failure (a model, a gate, a swap) the transaction rolls back: every model keeps its
previous version and nothing built aside remains, even after kill -9 (a crashed client's
transaction is rolled back by the server). Leftovers of anything else are dropped when the
next atomic build starts (`drop_leftovers`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import psycopg
import psycopg.errors
from psycopg import sql

from runner.build.build_one import build_once
from runner.build.context import BuildContext
from runner.build.materialize.model import comment_statement
from runner.build.materialize.swap import Deferred, deferring_swaps, new_name, swap_in
from runner.build.materialize.view import build_view, shadow_view
from runner.build.report import BuildEvent, ModelResult
from runner.db.ddl_locks import back_off
from runner.db.errors import primary_message
from runner.db.retry import Retry
from runner.db.statements import execute
from runner.errors import ConfigError, ProjectFileError, RunLockLost, WeirError
from runner.project import Check
from runner.project.model_select import extract, renamed_names, renamed_relations
from runner.project.models import Model
from runner.state import builds

Shadows = dict[tuple[str, str], tuple[str, str]]
# Called before the release, in the build's transaction, with what was built aside: a
# message (naming what failed) stops the release and rolls everything back, None lets it go.
BeforeRelease = Callable[[psycopg.Connection[Any], Shadows], str | None]
NOTHING_RELEASED = "; nothing released (--atomic): every model keeps its previous version"

_LEFTOVERS = """
SELECT n.nspname, c.relname, c.relkind
FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS w (schema, name)
JOIN pg_namespace AS n ON n.nspname = w.schema
JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = w.name
ORDER BY c.relkind = 'v' DESC
"""


class _Stop(Exception):
    """A model failed: the atomic build rolls back."""

    def __init__(self, result: ModelResult) -> None:
        super().__init__(result.error)
        self.result = result


def refuse_unsupported(selected: list[Model], gates: Mapping[str, tuple[Check, ...]]) -> None:
    """Raise ConfigError for a model an atomic build cannot build yet: a partitioned one, or one a gate quarantines."""
    for model in selected:
        if model.partition_by is not None:
            raise ConfigError(
                f"{model.display}:1: --atomic does not build partitioned models yet ({model.qualified});"
                " build it without --atomic, or leave it out with --exclude"
            )
        quarantining = [check for check in gates.get(model.qualified, ()) if check.quarantine]
        if quarantining:
            raise ConfigError(
                f"{quarantining[0].display}:1: --atomic does not run quarantine gates yet (on {model.qualified});"
                " build it without --atomic, or leave it out with --exclude"
            )


def drop_leftovers(conn: psycopg.Connection[Any], selected: list[Model]) -> list[str]:
    """Drop relations built aside for `selected` that a crashed run left behind; return their names."""
    rows = execute(conn, _LEFTOVERS, {
        "schemas": [model.schema for model in selected], "names": [new_name(model) for model in selected],
    }).fetchall()
    for schema, name, kind in rows:
        keyword = "VIEW" if kind == "v" else "TABLE"
        execute(conn, sql.SQL("DROP {} IF EXISTS {} CASCADE").format(sql.SQL(keyword), sql.Identifier(schema, name)))
    return [f"{schema}.{name}" for schema, name, _ in rows]


def build_atomic(
    ctx: BuildContext, selected: list[Model], before_release: BeforeRelease | None = None,
) -> tuple[list[ModelResult], float | None]:
    """Build `selected` (in build order) in one transaction and release them together.

    `before_release` (`weir run --atomic`: the run's checks) is called after the last model,
    in the transaction, with what the run built aside; a message from it releases nothing.

    Returns each model's result and the release's lock window in seconds (None when a
    failure rolled everything back: then the failed model says why, the others were not released).
    """
    conn = ctx.workers.get()
    results: dict[str, ModelResult] = {}
    try:
        with conn.transaction():
            with deferring_swaps() as pending:
                atomic = replace(ctx, gates=_ShadowGates(ctx.gates, pending))
                for model in selected:
                    results[model.qualified] = _build(atomic, conn, model, pending)
            if before_release is not None:
                failure = before_release(conn, _shadows(pending))
                if failure is not None:
                    raise _Stop(ModelResult(failure.split(":", 1)[0], "check", "failed",
                                            error=failure + NOTHING_RELEASED))
            began = _release(conn, ctx, selected, pending, results)
        window = time.perf_counter() - began
    except _Stop as stop:
        return _rolled_back(ctx, selected, stop.result), None
    finally:
        ctx.workers.close_all()
    ctx.emit(BuildEvent("released", None, f"atomic release: {len(pending)} relation(s) swapped in one transaction,"
                        f" lock window {window * 1000:.0f} ms", lock_window=window))
    return [results[model.qualified] for model in selected], window


def _build(ctx: BuildContext, conn: psycopg.Connection[Any], model: Model, pending: list[Deferred]) -> ModelResult:
    """Build one model in the atomic build's transaction, reading what the run built aside; raise _Stop if it fails."""
    started = time.perf_counter()
    ctx.emit(BuildEvent("started", model.qualified))
    shadows = _shadows(pending)
    reading = replace(model, sql=renamed_relations(model.sql, model.display, model.sql_line, model.relations, shadows))
    retry = Retry(ctx.project.settings.retries, f"model {model.qualified}", lambda message: None)
    try:
        result = build_once(ctx, reading, started, retry)
        if result.status == "skipped" and model.kind == "view" and any(r in shadows for r in model.relations):
            shadow_view(conn, reading, pending)  # its readers in this run must see through it what was built aside
    except RunLockLost:
        raise
    except (WeirError, psycopg.Error) as exc:
        where = f"{model.display}:{model.sql_line}"
        message = str(exc) if isinstance(exc, WeirError) else f"{where}: {primary_message(exc)}"
        failed = ModelResult(model.qualified, model.kind, "failed", seconds=time.perf_counter() - started,
                             error=message + NOTHING_RELEASED)
        ctx.emit(BuildEvent("finished", model.qualified, failed.error or "", failed))
        raise _Stop(failed) from None
    ctx.emit(BuildEvent("finished", model.qualified, result.error or result.note, result))
    return result


def _release(
    conn: psycopg.Connection[Any],
    ctx: BuildContext,
    selected: list[Model],
    pending: list[Deferred],
    results: Mapping[str, ModelResult],
) -> float:
    """Swap in what was built aside and replace the view models; return when it began to lock.

    A reader locking two of the swapped relations in another order than the build can
    deadlock with the release; PostgreSQL then cancels one of the two. When that is the
    release, it rolls back to its savepoint (keeping what the build did), backs off and
    tries again, up to lock_retries times.
    """
    timeouts = ctx.project.settings.timeouts
    began = time.perf_counter()
    for attempt in range(timeouts.lock_retries + 1):
        try:
            with conn.transaction():
                _swap_all(conn, ctx, selected, pending, results)
            return began
        except psycopg.errors.DeadlockDetected as exc:
            if attempt == timeouts.lock_retries:
                raise _Stop(ModelResult(pending[0].model.qualified if pending else "release", "release", "failed",
                                        error=f"release: {primary_message(exc)}" + NOTHING_RELEASED)) from None
            ctx.emit(BuildEvent("retrying", None, f"release: {primary_message(exc)}; trying again"
                                f" (try {attempt + 2} of {timeouts.lock_retries + 1})"))
            back_off(attempt)
    raise AssertionError("unreachable")


def _swap_all(
    conn: psycopg.Connection[Any],
    ctx: BuildContext,
    selected: list[Model],
    pending: list[Deferred],
    results: Mapping[str, ModelResult],
) -> None:
    """Drop the views aside, swap in each relation built aside and replace each view model, in build order."""
    originals = {model.qualified: model for model in selected}
    timeouts = ctx.project.settings.timeouts
    views = [sql.Identifier(item.model.schema, item.built) for item in pending if item.kind == "view"]
    if views:  # only this run read them
        execute(conn, sql.SQL("DROP VIEW {}").format(sql.SQL(", ").join(views)))
    for item in pending:
        original = originals[item.model.qualified]
        try:
            if item.kind == "swap":
                swap_in(conn, item.model, item.built, timeouts)
            elif results[original.qualified].status == "success":  # a view model built: its new definition
                build_view(conn, original, False, None, timeouts)
        except psycopg.errors.DeadlockDetected:
            raise
        except (WeirError, psycopg.Error) as exc:
            message = str(exc) if isinstance(exc, WeirError) else f"{original.display}: {primary_message(exc)}"
            raise _Stop(ModelResult(original.qualified, original.kind, "failed", error=message + NOTHING_RELEASED)
                        ) from None
    built = [originals[name] for name, result in results.items() if result.status == "success"]
    if built:
        execute(conn, sql.SQL(";\n").join(comment_statement(model) for model in built))


def _rolled_back(ctx: BuildContext, selected: list[Model], failed: ModelResult) -> list[ModelResult]:
    """Record the failure and that no other model was released; return every model's result."""
    results = []
    if all(model.qualified != failed.model for model in selected):  # a check of `weir run --atomic`
        results.append(failed)
    for model in selected:
        if model.qualified == failed.model:
            result = failed
        else:
            result = ModelResult(model.qualified, model.kind, "upstream-failed",
                                 note=f"not released: {failed.model} failed (--atomic)")
        builds.record_result(ctx.conn, ctx.run_id, result)
        results.append(result)
    return results


def _shadows(pending: list[Deferred]) -> Shadows:
    return {(item.model.schema, item.model.name): (item.model.schema, item.built) for item in pending}


class _ShadowGates(Mapping[str, tuple[Check, ...]]):
    """A model's gates reading, as of when they are asked for, what the run has built aside."""

    def __init__(self, gates: Mapping[str, tuple[Check, ...]], pending: list[Deferred]) -> None:
        self.gates, self.pending = gates, pending

    def __getitem__(self, name: str) -> tuple[Check, ...]:
        shadows = _shadows(self.pending)
        return tuple(replace(check, sql=check_reading(check, shadows)) for check in self.gates[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self.gates)

    def __len__(self) -> int:
        return len(self.gates)


def check_reading(check: Check, shadows: Shadows) -> str:
    """Return the check's SELECT reading the relations built aside.

    Relations it reads in FROM are renamed (renamed_relations), and so are the row types
    and the schema-qualified string constants that name one (`NULL::marts.x`, `'marts.x'`:
    how the check library is told which relation to check; renamed_names). Any other
    string is left as written.
    """
    try:
        named = extract(check.sql, check.display, check.sql_line).references
    except ProjectFileError:
        return check.sql
    relations = frozenset((reference.schema or "", reference.name) for reference in named)
    return renamed_names(renamed_relations(check.sql, check.display, check.sql_line, relations, shadows), shadows)
