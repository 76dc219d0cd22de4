"""`weir build`: every selected model in dependency order, in parallel, doing only what changed.

A build reads and checks every model file first (nothing runs when one is wrong), takes
the `weir:build` advisory lock (a second build waits and is told who holds it), records
a run in weir.build_run, and builds each model on a connection of its own, at most
`threads` at once, a model as soon as everything it reads is done. A failing model rolls
back alone; what depends on it is reported upstream-failed and not run; the rest goes on.
A model's gates (checks declaring gate=schema.name, runner/gates.py) run in its transaction
before it commits: a failing gate rolls the model back like any other failure.

A model is skipped when its SQL, everything it reads and the relation itself are as they
were at its last build; runner/freshness.py decides, and says what it cannot see.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from runner.errors import GateFailed, WeirError
from runner.db.workers import WorkerConnections

if TYPE_CHECKING:
    import psycopg

    from runner.project.checks import Check
    from runner.build.graph import ModelGraph
    from runner.project.models import Model
    from runner.project.settings import Settings

LOCK_NAME = "weir:build"
HEADERS = ("model", "kind", "status", "inserted", "updated", "deleted", "seconds")
LS_HEADERS = ("model", "kind", "upstream", "last build")
STATUSES = ("success", "skipped", "failed", "upstream-failed")


@dataclass(frozen=True)
class ModelResult:
    """What happened to one model in a build."""

    model: str  # "schema.name"
    kind: str
    status: str  # success | skipped | failed | upstream-failed
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    seconds: float = 0.0
    error: str | None = None  # "models/x/y.sql:LINE: message" for a failed model
    note: str = ""

    @property
    def row(self) -> tuple:
        """The row `weir build` prints: model, kind, status, inserted, updated, deleted, seconds."""
        return (self.model, self.kind, self.status, self.inserted, self.updated, self.deleted, round(self.seconds, 3))


@dataclass
class BuildReport:
    """Every selected model's result, in build order, and the run they belong to."""

    run_id: int | None
    results: list[ModelResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no model failed (skipped and built models are fine)."""
        return all(result.status in ("success", "skipped") for result in self.results)

    @property
    def rows(self) -> list[tuple]:
        """Rows for tabulate under HEADERS."""
        return [result.row for result in self.results]

    @property
    def errors(self) -> list[str]:
        """The messages of the failed models."""
        return [result.error for result in self.results if result.status == "failed" and result.error]

    def counts(self) -> dict[str, int]:
        """How many models ended in each status."""
        return {status: sum(result.status == status for result in self.results) for status in STATUSES}


@dataclass(frozen=True)
class BuildEvent:
    """Progress of a build, for a callback: waiting for the lock, a model started or finished."""

    kind: str  # "waiting" | "started" | "finished"
    model: str | None = None
    message: str = ""
    result: ModelResult | None = None


def build(
    conninfo: str,
    settings: Settings,
    *,
    select: Iterable[str] = (),
    exclude: Iterable[str] = (),
    full_refresh: bool = False,
    threads: int = 1,
    on_event: Callable[[BuildEvent], None] | None = None,
) -> BuildReport:
    """Build the selected models of the project in `settings` on database `conninfo`.

    Raises ProjectFileError or ConfigError before touching the database when a model file
    or a selector is wrong, LockHeld when another build holds the lock past lock_wait.
    Failed models do not raise: they are in the report, whose `.ok` is then False.
    """
    from runner.db.connection import connect
    from runner.build.freshness import opaque_calls
    from runner.project.gates import read_gates
    from runner.checks.gates import prepare_gates
    from runner.build.graph import ModelGraph
    from runner.db.locking import run_lock
    from runner.project.models import read_models

    if threads < 1:
        from runner.errors import ConfigError

        raise ConfigError(f"--threads {threads}: use 1 or more")
    select, exclude = tuple(select), tuple(exclude)
    graph = ModelGraph(read_models(settings.models_dir, settings.root))
    selected = graph.select(select, exclude)
    gates = read_gates(settings, graph.models.values())
    emit = on_event or (lambda event: None)
    conn = connect(conninfo, "weir build")
    try:
        with run_lock(conn, LOCK_NAME, settings.lock_wait, lambda message: emit(BuildEvent("waiting", None, message))):
            ensure_build_state(conn)
            if any(model.qualified in gates for model in selected):
                prepare_gates(conn)
            _ensure_schemas(conn, sorted({model.schema for model in selected}))
            opaque = opaque_calls(conn, selected)
            run_id = _start_run(conn, select, exclude, full_refresh, threads)
            runner = _Runner(conninfo, settings, graph, selected, run_id, full_refresh, threads, emit, conn, opaque,
                             gates)
            status = "interrupted"
            try:
                report = runner.run()
                status = "success" if report.ok else "failed"
            finally:
                if not conn.closed:
                    conn.execute(_FINISH_RUN, {"run_id": run_id, "status": status})
            return report
    finally:
        conn.close()


def ensure_build_state(conn: psycopg.Connection) -> None:
    """Create weir.build_run, build_result, build_input and relation_token() if missing (and M's model state)."""
    from runner.build.materialize.model import ensure_model_state
    from runner.state.schema import install

    install(conn, "build_state", _BUILD_STATE_PRESENT)
    ensure_model_state(conn)


# Read from pg_class and pg_proc rather than to_regclass(), whose catalog cache can lag
# behind a concurrent first run that committed while this one waited for the lock.
_BUILD_STATE_PRESENT = """
SELECT EXISTS (SELECT FROM pg_class WHERE relname = 'build_input' AND relnamespace::regnamespace::text = 'weir')
   AND EXISTS (SELECT FROM pg_proc WHERE proname = 'relation_token' AND pronamespace::regnamespace::text = 'weir')
"""


def list_models(conninfo: str, settings: Settings) -> list[tuple[str, str, str, datetime | None]]:
    """Return a row per model for `weir ls`: model, kind, the models it reads, when it was last built."""
    from runner.db.connection import connect
    from runner.build.graph import ModelGraph
    from runner.project.models import read_models

    graph = ModelGraph(read_models(settings.models_dir, settings.root))
    with connect(conninfo, "weir ls") as conn:
        built = _last_built(conn)
    return [
        (
            model.qualified,
            model.kind,
            ", ".join(upstream.qualified for upstream in graph.direct_upstream(model.qualified)),
            built.get(model.qualified),
        )
        for model in graph.in_order()
    ]


def lineage(settings: Settings, name: str) -> tuple[list[str], list[str]]:
    """Return every model `name` depends on and every model that depends on it, each in build order."""
    from runner.build.graph import ModelGraph
    from runner.project.models import read_models

    graph = ModelGraph(read_models(settings.models_dir, settings.root))
    return (
        [model.qualified for model in graph.upstream(name)],
        [model.qualified for model in graph.downstream(name)],
    )


# ---------------------------------------------------------------------------------------------

_START_RUN = """
INSERT INTO weir.build_run (selectors, excludes, full_refresh, threads)
VALUES (%(selectors)s, %(excludes)s, %(full_refresh)s, %(threads)s)
RETURNING run_id
"""
# We hold the build lock, so a run still 'running' is one whose process died.
_MARK_INTERRUPTED = """
UPDATE weir.build_run SET status = 'interrupted'
WHERE status = 'running' AND run_id <> %(run_id)s
"""
_FINISH_RUN = """
UPDATE weir.build_run SET status = %(status)s, finished_at = clock_timestamp() WHERE run_id = %(run_id)s
"""
_RECORD_RESULT = """
INSERT INTO weir.build_result (run_id, model, kind, status, inserted, updated, deleted, seconds, error, note)
VALUES (%(run_id)s, %(model)s, %(kind)s, %(status)s, %(inserted)s, %(updated)s, %(deleted)s,
        round(%(seconds)s::numeric, 3), %(error)s, %(note)s)
"""
def _start_run(
    conn: psycopg.Connection, select: tuple[str, ...], exclude: tuple[str, ...], full_refresh: bool, threads: int
) -> int:
    with conn.transaction():
        run_id = conn.execute(
            _START_RUN,
            {"selectors": list(select), "excludes": list(exclude), "full_refresh": full_refresh, "threads": threads},
        ).fetchone()[0]
        conn.execute(_MARK_INTERRUPTED, {"run_id": run_id})
    return run_id


def _ensure_schemas(conn: psycopg.Connection, schemas: list[str]) -> None:
    # Created here, once, before models run in parallel: two models' transactions each
    # creating the same schema would collide (CREATE SCHEMA IF NOT EXISTS is not safe
    # against a concurrent one, and a transaction waiting on the other keeps a stale view).
    from psycopg import sql

    existing = {row[0] for row in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (schemas,))}
    for schema in schemas:
        if schema not in existing:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def _last_built(conn: psycopg.Connection) -> dict[str, datetime]:
    from runner.build.materialize.model import last_built

    if conn.execute("SELECT to_regnamespace('weir') IS NULL").fetchone()[0]:
        return {}
    return last_built(conn)


class _Runner:
    """One build run: schedules models on a thread pool and records their results."""

    def __init__(
        self,
        conninfo: str,
        settings: Settings,
        graph: ModelGraph,
        selected: list[Model],
        run_id: int,
        full_refresh: bool,
        threads: int,
        emit: Callable[[BuildEvent], None],
        conn: psycopg.Connection,
        opaque: dict[str, list[str]],
        gates: dict[str, tuple[Check, ...]],
    ) -> None:
        self.conninfo, self.settings, self.graph = conninfo, settings, graph
        self.gates = gates  # model -> its gate checks (runner.checks.gates)
        self.opaque = opaque  # model -> functions it calls that may read tables
        self.selected, self.run_id, self.full_refresh = selected, run_id, full_refresh
        self.threads, self.emit, self.conn = threads, emit, conn
        self.workers = WorkerConnections(conninfo, "weir build", self._prepare)

    def _prepare(self, conn: psycopg.Connection) -> None:
        """Set up a worker's new connection once, rather than again for every model it builds."""
        conn.execute("SELECT set_config('statement_timeout', %s, false)", (self.settings.statement_timeout,))

    def run(self) -> BuildReport:
        names = {model.qualified for model in self.selected}
        # A model waits for every selected model upstream of it, also through unselected ones.
        waits_for = {
            model.qualified: {up.qualified for up in self.graph.upstream(model.qualified) if up.qualified in names}
            for model in self.selected
        }
        results: dict[str, ModelResult] = {}
        pending = [model for model in self.selected]
        running: dict[Future, Model] = {}
        executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="weir-build")
        try:
            while pending or running:
                for model in list(pending):
                    upstream = waits_for[model.qualified]
                    failed = sorted(name for name in upstream if results.get(name, _NOT_YET).status in _FAILED)
                    if failed:
                        pending.remove(model)
                        results[model.qualified] = self._upstream_failed(model, failed)
                    elif all(name in results for name in upstream) and len(running) < self.threads:
                        pending.remove(model)
                        self.emit(BuildEvent("started", model.qualified))
                        running[executor.submit(self._build_one, model)] = model
                if not running:
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    model = running.pop(future)
                    result = future.result()
                    results[model.qualified] = result
                    self.emit(BuildEvent("finished", model.qualified, result.error or result.note, result))
        except BaseException:
            self.workers.cancel_all()
            raise
        finally:
            executor.shutdown(wait=True)
            self.workers.close_all()
        return BuildReport(self.run_id, [results[model.qualified] for model in self.selected])

    def _upstream_failed(self, model: Model, failed: list[str]) -> ModelResult:
        result = ModelResult(
            model.qualified, model.kind, "upstream-failed", note=f"not run: {', '.join(failed)} failed"
        )
        self._record(self.conn, result)
        self.emit(BuildEvent("finished", model.qualified, result.note, result))
        return result

    # -- one model, on a worker thread ---------------------------------------------------------

    def _build_one(self, model: Model) -> ModelResult:
        import psycopg

        from runner.build import freshness
        from runner.project.gates import gate_tokens
        from runner.checks.gates import record_gate_results, run_gates
        from runner.build.materialize.model import materialize

        gates = self.gates.get(model.qualified, ())
        started = time.perf_counter()
        try:
            conn = self.workers.get()
            with self.workers.busy(model.qualified, conn):
                # A view's skip needs no tokens: with unchanged SQL it is current whatever it reads.
                inputs = freshness.inputs_of(self.graph, model) if model.kind != "view" else freshness.NO_INPUTS
                seen = freshness.look(conn, model, inputs)
                sql_changed = seen.checksum != model.checksum
                current = {"sources": seen.tokens, "models": seen.markers, **gate_tokens(gates)}
                reason = freshness.skip_reason(
                    model, self.full_refresh, sql_changed, seen, current, bool(self.opaque.get(model.qualified))
                )
                if reason is not None:
                    result = ModelResult(model.qualified, model.kind, "skipped", note=reason,
                                         seconds=time.perf_counter() - started)
                    self._record(conn, result)
                    return result
                full_refresh, why = freshness.full_refresh_for(model, self.full_refresh, seen)
                with conn.transaction():
                    built = materialize(
                        conn, model, full_refresh=full_refresh, run_id=self.run_id, prepared=True
                    )
                    built = run_gates(conn, model, gates, built, run_id=self.run_id)
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
                    freshness.record_inputs(conn, model, current, self.run_id, changed=changed, rebuilt=rebuilt)
                    self._record(conn, result)
                return result
        except (WeirError, psycopg.Error) as exc:
            message = str(exc) if isinstance(exc, WeirError) else _database_error(model, exc)
            result = ModelResult(
                model.qualified, model.kind, "failed", seconds=time.perf_counter() - started, error=message
            )
            self._record_failure(result)
            if isinstance(exc, GateFailed):
                record_gate_results(self.workers.get(), self.run_id, exc.results)
            return result

    # -- recording -------------------------------------------------------------------------------

    def _record(self, conn: psycopg.Connection, result: ModelResult) -> None:
        conn.execute(
            _RECORD_RESULT,
            {
                "run_id": self.run_id,
                "model": result.model,
                "kind": result.kind,
                "status": result.status,
                "inserted": result.inserted,
                "updated": result.updated,
                "deleted": result.deleted,
                "seconds": result.seconds,
                "error": result.error,
                "note": result.note,
            },
        )

    def _record_failure(self, result: ModelResult) -> None:
        # The model's connection may be the reason it failed; record on a healthy one.
        self._record(self.workers.get(), result)


_NOT_YET = ModelResult("", "", "pending")
_FAILED = ("failed", "upstream-failed")


def _database_error(model: Model, exc: Exception) -> str:
    diag = getattr(exc, "diag", None)
    primary = (diag.message_primary if diag else None) or (str(exc).strip().splitlines() or ["error"])[0]
    return f"{model.display}:{model.sql_line}: {primary}"
