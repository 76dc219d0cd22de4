"""`weir build`: every selected model in dependency order, in parallel, doing only what changed.

A build reads and checks every model file first (nothing runs when one is wrong), takes
the `weir:build` advisory lock (a second build waits and is told who holds it), records
a run in weir.build_run, and builds each model on a connection of its own, at most
`threads` at once, a model as soon as everything it reads is done. A failing model rolls
back alone; what depends on it is reported upstream-failed and not run; the rest goes on.
A model's gates (checks declaring gate=schema.name, runner/gates.py) run in its transaction
before it commits: a failing gate rolls the model back like any other failure.

A model is skipped when its SQL, everything it reads and the relation itself are as they
were at its last build (see `_skip_reason`). When in doubt it is built: a needless build
costs time, a wrong skip costs correctness. "Everything it reads" is, through any views:
- upstream models: the run in which each last changed rows or was rebuilt from scratch,
  kept in weir.build_input and written in the same transaction as the model's data;
- sources: weir.relation_token() (runner/sql/build_state.sql) per relation: relfilenode,
  the statistics counters of inserted/updated/deleted rows, and max() of each timestamp
  column leading a btree index. Its limits, honestly: the counters reach
  pg_stat_all_tables only when the writing session flushes its statistics (at most about
  ten seconds after its commit, at once when it disconnects), so a change visible only
  to them (a delete, or an insert or update of a table without an indexed timestamp)
  made by a still-connected session moments before a build can be missed by that build;
  the next build sees it, because a skip keeps the old tokens. A table read inside a
  function is invisible to the parser, so a model calling a SQL or PL/pgSQL function that
  is not immutable is never skipped, nor one calling now(), random() and the like.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runner.errors import GateFailed, WeirError
from runner.workers import WorkerConnections

if TYPE_CHECKING:
    import psycopg

    from runner.check_files import Check
    from runner.graph import ModelGraph
    from runner.model_files import Model
    from runner.settings import Settings

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
    from runner.connection import connect
    from runner.gate_files import read_gates
    from runner.gates import prepare_gates
    from runner.graph import ModelGraph
    from runner.locking import run_lock
    from runner.model_files import read_models

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
            opaque = _calls_reading_tables(conn, selected)
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
    from runner.materialize import ensure_model_state
    from runner.state import install

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
    from runner.connection import connect
    from runner.graph import ModelGraph
    from runner.model_files import read_models

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
    from runner.graph import ModelGraph
    from runner.model_files import read_models

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
_RECORD_INPUTS = """
INSERT INTO weir.build_input AS b (model, inputs, built_run_id, changed_run_id, rebuilt_run_id)
VALUES (%(model)s, %(inputs)s, %(run_id)s,
        CASE WHEN %(changed)s THEN %(run_id)s ELSE 0 END,
        CASE WHEN %(rebuilt)s THEN %(run_id)s ELSE 0 END)
ON CONFLICT (model) DO UPDATE SET
    inputs = excluded.inputs,
    built_run_id = excluded.built_run_id,
    changed_run_id = CASE WHEN %(changed)s THEN excluded.built_run_id ELSE b.changed_run_id END,
    rebuilt_run_id = CASE WHEN %(rebuilt)s THEN excluded.built_run_id ELSE b.rebuilt_run_id END,
    built_at = clock_timestamp()
"""
# One round trip for everything a skip decision needs except the checksum: whether the
# relation exists, what its last build read, the upstream models' markers, source tokens.
_INPUTS = """
SELECT
    to_regclass(format('%%I.%%I', %(schema)s::text, %(name)s::text)) IS NOT NULL,
    (SELECT inputs FROM weir.build_input WHERE model = %(model)s),
    (SELECT coalesce(jsonb_object_agg(m.model, jsonb_build_array(b.changed_run_id, b.rebuilt_run_id)), '{}')
     FROM unnest(%(upstream)s::text[]) AS m (model)
     LEFT JOIN weir.build_input AS b ON b.model = m.model),
    (SELECT coalesce(jsonb_object_agg(s.shown, weir.relation_token(to_regclass(
                CASE WHEN s.schema = '' THEN quote_ident(s.name) ELSE format('%%I.%%I', s.schema, s.name) END))),
            '{}')
     FROM unnest(%(schemas)s::text[], %(names)s::text[], %(shown)s::text[]) AS s (schema, name, shown))
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


# Functions written in SQL or PL/pgSQL and not immutable may read tables the parser never
# sees; Weir's own (weir.since) and PostgreSQL's are known not to hide a model's inputs.
_OPAQUE_FUNCTIONS = """
SELECT DISTINCT c.schema, c.name
FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS c (schema, name)
JOIN pg_proc AS p ON p.proname = c.name
JOIN pg_namespace AS n ON n.oid = p.pronamespace
JOIN pg_language AS l ON l.oid = p.prolang
WHERE l.lanname NOT IN ('internal', 'c')
  AND p.provolatile <> 'i'
  AND n.nspname NOT IN ('weir', 'pg_catalog', 'information_schema')
  AND (c.schema = n.nspname OR (c.schema = '' AND n.nspname = ANY (current_schemas(false))))
"""


def _calls_reading_tables(conn: psycopg.Connection, models: list[Model]) -> dict[str, list[str]]:
    """Return, per model, the functions it calls that may read tables (so it is never skipped)."""
    from runner.model_files import function_calls

    calls = {model.qualified: function_calls(model) for model in models}
    every = sorted({call for called in calls.values() for call in called})
    if not every:
        return {}
    rows = conn.execute(
        _OPAQUE_FUNCTIONS, {"schemas": [schema for schema, _ in every], "names": [name for _, name in every]}
    ).fetchall()
    opaque = {(schema, name) for schema, name in rows}
    return {
        model: [_shown(call) + "()" for call in called if call in opaque]
        for model, called in calls.items()
        if any(call in opaque for call in called)
    }


def _last_built(conn: psycopg.Connection) -> dict[str, datetime]:
    from runner.materialize import last_built

    if conn.execute("SELECT to_regnamespace('weir') IS NULL").fetchone()[0]:
        return {}
    return last_built(conn)


@dataclass(frozen=True)
class _Inputs:
    """What a model reads, seen through the views it reads: sources and upstream models."""

    sources: tuple[tuple[str, str], ...]
    upstream: tuple[str, ...]


def _inputs_of(graph: ModelGraph, model: Model) -> _Inputs:
    """Return the sources and models `model` depends on for its content.

    A view holds no data, so what a view reads counts as read by its readers too.
    """
    built = {(other.schema, other.name): other for other in graph.models.values()}
    sources: set[tuple[str, str]] = set()
    upstream: set[str] = set()
    stack, seen = [model], {model.qualified}
    while stack:
        reader = stack.pop()
        for relation in reader.relations:
            if relation == (reader.schema, reader.name):
                continue
            other = built.get(relation)
            if other is None:
                sources.add(relation)
                continue
            upstream.add(other.qualified)
            if other.kind == "view" and other.qualified not in seen:
                seen.add(other.qualified)
                stack.append(other)
    return _Inputs(tuple(sorted(sources)), tuple(sorted(upstream)))


def _shown(relation: tuple[str, str]) -> str:
    schema, name = relation
    return f"{schema}.{name}" if schema else name


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
        self.gates = gates  # model -> its gate checks (runner.gates)
        self.opaque = opaque  # model -> functions it calls that may read tables
        self.selected, self.run_id, self.full_refresh = selected, run_id, full_refresh
        self.threads, self.emit, self.conn = threads, emit, conn
        self.workers = WorkerConnections(conninfo, "weir build")

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

        from runner.gate_files import gate_tokens
        from runner.gates import record_gate_results, run_gates
        from runner.materialize import materialize, model_checksum_changed

        gates = self.gates.get(model.qualified, ())
        started = time.perf_counter()
        try:
            conn = self.workers.get()
            with self.workers.busy(model.qualified, conn):
                sql_changed = model_checksum_changed(conn, model)
                # A view's skip needs no tokens: with unchanged SQL it is current whatever it reads.
                inputs = _inputs_of(self.graph, model) if model.kind != "view" else _Inputs((), ())
                exists, stored, markers, tokens = self._look(conn, model, inputs)
                current = {"sources": tokens, "models": markers, **gate_tokens(gates)}
                reason = _skip_reason(model, self.full_refresh, sql_changed, exists, stored, current)
                if reason is not None and model.kind != "view" and self.opaque.get(model.qualified):
                    reason = None  # it calls a function that may read tables Weir cannot see
                if reason is not None:
                    result = ModelResult(model.qualified, model.kind, "skipped", note=reason,
                                         seconds=time.perf_counter() - started)
                    self._record(conn, result)
                    return result
                full_refresh, why = self._full_refresh_for(model, stored, markers)
                with conn.transaction():
                    conn.execute(
                        "SELECT set_config('statement_timeout', %s, true)", (self.settings.statement_timeout,)
                    )
                    built = materialize(conn, model, full_refresh=full_refresh, run_id=self.run_id)
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
                    conn.execute(
                        _RECORD_INPUTS,
                        {
                            "model": model.qualified,
                            "inputs": _jsonb(current),
                            "run_id": self.run_id,
                            "changed": changed,
                            "rebuilt": rebuilt,
                        },
                    )
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

    def _look(self, conn: psycopg.Connection, model: Model, inputs: _Inputs) -> tuple[bool, Any, dict, dict]:
        row = conn.execute(
            _INPUTS,
            {
                "schema": model.schema,
                "name": model.name,
                "model": model.qualified,
                "upstream": list(inputs.upstream),
                "schemas": [schema for schema, _ in inputs.sources],
                "names": [name for _, name in inputs.sources],
                "shown": [_shown(relation) for relation in inputs.sources],
            },
        ).fetchone()
        return bool(row[0]), row[1], row[2], row[3]

    def _full_refresh_for(self, model: Model, stored: Any, markers: dict) -> tuple[bool, str]:
        """Say whether to rebuild `model` from scratch, and why when it is not the user's --full-refresh."""
        if self.full_refresh:
            return True, ""
        # An incremental model must not mix rows made from an upstream model's old logic with
        # its new logic: when an upstream model was rebuilt from scratch (its SQL changed, or a
        # full refresh) since this model's last build, this one is rebuilt from scratch too.
        # scd2 is not: a rebuild would throw away history; its versions follow the change.
        if model.kind != "incremental" or not stored:
            return False, ""
        if (model.option("full_refresh_on_change", "true") or "true").lower() in ("false", "no", "off", "0"):
            return False, ""
        before = (stored or {}).get("models", {})
        rebuilt = sorted(name for name, marker in markers.items() if name in before and marker[1] != before[name][1])
        if rebuilt:
            return True, f"rebuilt from scratch because upstream {', '.join(rebuilt)} was"
        return False, ""

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


def _skip_reason(
    model: Model, full_refresh: bool, sql_changed: bool, exists: bool, stored: Any, current: dict
) -> str | None:
    """Return why `model` can be skipped ("unchanged"), or None when it must be built."""
    from runner.model_files import clock_calls

    if full_refresh or sql_changed or not exists:
        return None
    if model.kind == "view":
        return "unchanged: a view is always current"  # its SQL is unchanged and it exists
    if stored is None or stored != current:
        return None
    if any(token is None for token in current["sources"].values()):
        return None  # a source Weir cannot fingerprint (missing, foreign, statistics off)
    if clock_calls(model):
        return None  # now(), random(), ...: the same inputs can give other rows
    return "unchanged"


def _jsonb(value: Any) -> Any:
    from psycopg.types.json import Jsonb

    return Jsonb(value)


def _database_error(model: Model, exc: Exception) -> str:
    diag = getattr(exc, "diag", None)
    primary = (diag.message_primary if diag else None) or (str(exc).strip().splitlines() or ["error"])[0]
    return f"{model.display}:{model.sql_line}: {primary}"
