"""`weir build`: every selected model in dependency order, in parallel, doing only what changed.

A build reads and checks every model file first (nothing runs when one is wrong), takes
the `weir:build` advisory lock (a second build waits and is told who holds it), records
a run in weir.build_run (runner.state.builds), and builds each model on a connection of its
own, at most `threads` at once (a model that meets a transient fault, such as a server
restart, is tried again: runner.db.retry), a model as soon as everything it reads is done
(runner.build.schedule). A failing model rolls back alone; what depends on it is reported
upstream-failed and not run; the rest goes on. A model's gates (checks declaring
gate=schema.name, runner.checks.gates) run in its transaction before it commits
(runner.build.build_one): a failing gate rolls the model back like any other failure.

A model is skipped when its SQL, everything it reads and the relation itself are as they
were at its last build; runner.build.freshness decides, and says what it cannot see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from runner.build.context import BuildContext, BuildOptions
from runner.build.freshness import opaque_calls, survey_run
from runner.build.graph import ModelGraph
from runner.build.release import BeforeRelease, build_atomic, drop_leftovers, refuse_unsupported
from runner.build.report import BuildEvent, BuildReport
from runner.build.schedule import run_models
from runner.build.seeds import SeedResult, load_seeds
from runner.checks.gates import prepare_gates
from runner.db.connection import conninfo_of
from runner.db.locking import run_lock
from runner.db.retry import Retry, RunSession
from runner.db.workers import WorkerConnections
from runner.errors import ConfigError, RunLockLost
from runner.pii import install_masking, pii_masks, with_masks
from runner.project import Project, Settings
from runner.state import builds
from runner.state.models import last_built

LOCK_NAME = "weir:build"


def build(
    conn: psycopg.Connection[Any],
    project: Project,
    *,
    select: Iterable[str] = (),
    exclude: Iterable[str] = (),
    full_refresh: bool = False,
    threads: int = 1,
    atomic: bool | None = None,
    on_event: Callable[[BuildEvent], None] | None = None,
    before_release: BeforeRelease | None = None,
) -> BuildReport:
    """Build the selected models of `project` on the database of `conn` (an autocommit connection).

    Worker threads open connections of their own to the same database, as the same user.
    Raises ProjectFileError or ConfigError before touching the database when a model file
    or a selector is wrong, LockHeld when another build holds the lock past lock_wait.
    Failed models do not raise: they are in the report, whose `.ok` is then False.
    `atomic` (None: the project's `atomic` setting) builds all in one transaction and releases
    every new version at once, or none (runner.build.release); `threads` does not apply then,
    and `before_release` (ignored otherwise) may stop the release (`weir run --atomic`'s checks).
    """
    if threads < 1:
        raise ConfigError(f"--threads {threads}: use 1 or more")
    options = BuildOptions(tuple(select), tuple(exclude), full_refresh, threads)
    graph = ModelGraph(project.models, project.seeds)
    selected = graph.select(options.select, options.exclude)
    atomic = project.settings.atomic if atomic is None else atomic
    if atomic:
        refuse_unsupported(selected, project.gates)
    gates = project.gates
    emit = on_event or _ignore
    settings = project.settings
    with run_lock(conn, LOCK_NAME, settings.lock_wait, lambda message: emit(BuildEvent("waiting", None, message))):
        builds.ensure_build_state(conn)
        # Seeds first: a model reading a seed that changed then sees its new table (a source
        # token that changed) and is rebuilt. A bad seed stops the build before any model.
        load_seeds(conn, graph.seeds_read(selected), settings.timeouts, on_result=_seed_loaded(emit))
        if any(model.qualified in gates for model in selected):
            prepare_gates(conn)
        _ensure_schemas(conn, sorted({model.schema for model in selected}))
        if atomic:
            for name in drop_leftovers(conn, selected):
                emit(BuildEvent("cleanup", None, f"dropped {name}, left behind by an interrupted build"))
        if gates:
            masks = pii_masks(conn, project)
            gates = {name: tuple(with_masks(checks, masks)) for name, checks in gates.items()} if masks else gates
        install_masking(conn, selected, [check for checks in gates.values() for check in checks])
        opaque = opaque_calls(conn, selected)
        survey = survey_run(conn, graph, selected)
        run_id = builds.start_run(conn, options.select, options.exclude, full_refresh, threads)
        workers = WorkerConnections(conninfo_of(conn), "weir build", _worker_setup(settings))
        session = RunSession(conn, "weir build", LOCK_NAME)
        ctx = BuildContext(project, graph, options, run_id, session, workers, gates, opaque, emit, survey)
        status = "interrupted"
        try:
            if atomic:
                results, window = build_atomic(ctx, selected, before_release)
                report = BuildReport(run_id, results, lock_window=window)
            else:
                report = BuildReport(run_id, run_models(ctx, selected))
            status = "success" if report.ok else "failed"
        finally:
            _finish(ctx, status)
        return report


def list_models(conn: psycopg.Connection[Any], project: Project) -> list[tuple[str, str, str, datetime | None]]:
    """Return a row per model for `weir ls`: model, kind, the models it reads, when it was last built."""
    graph = ModelGraph(project.models)
    built = last_built(conn)
    return [
        (
            model.qualified,
            model.kind,
            ", ".join(upstream.qualified for upstream in graph.direct_upstream(model.qualified)),
            built.get(model.qualified),
        )
        for model in graph.in_order()
    ]


def lineage(project: Project, name: str) -> tuple[list[str], list[str]]:
    """Return every model and seed `name` depends on and every model that depends on it, each in build order.

    Seeds come first, as "schema.name (seed)": a build loads them before any model.
    """
    graph = ModelGraph(project.models, project.seeds)
    upstream = graph.upstream(name)
    return (
        [f"{seed.qualified} (seed)" for seed in graph.seeds_read([*upstream, graph.model(name)])]
        + [model.qualified for model in upstream],
        [model.qualified for model in graph.downstream(name)],
    )


def _finish(ctx: BuildContext, status: str) -> None:
    """Record how the run ended, on its connection as of now, then let go of what the session opened."""
    try:
        if status != "interrupted":
            Retry(ctx.project.settings.retries, "build run", _retrying(ctx), ctx.session.ensure).run(
                lambda retries: builds.finish_run(ctx.conn, ctx.run_id, status)
            )
        elif not ctx.conn.closed:  # stopping (Ctrl-C, an error): no waiting for a server on the way out
            builds.finish_run(ctx.conn, ctx.run_id, status)
    except RunLockLost:
        pass  # the run that holds the lock now marks this one interrupted
    finally:
        ctx.session.close()


def _retrying(ctx: BuildContext) -> Callable[[str], None]:
    return lambda message: ctx.emit(BuildEvent("retrying", None, message))


def _seed_loaded(emit: Callable[[BuildEvent], None]) -> Callable[[SeedResult], None]:
    def loaded(result: SeedResult) -> None:
        """Say that a seed was loaded (an unchanged one goes unmentioned, as most runs find them)."""
        if result.status == "loaded":
            emit(BuildEvent("seed", None, f"seed {result.seed}: loaded {result.rows:,} rows"))

    return loaded


def _ignore(event: BuildEvent) -> None:
    """Drop a progress event nobody asked for."""


def _worker_setup(settings: Settings) -> Callable[[psycopg.Connection[Any]], None]:
    def setup(conn: psycopg.Connection[Any]) -> None:
        """Set up a worker's new connection once, rather than again for every model it builds."""
        conn.execute("SELECT set_config('statement_timeout', %s, false)", (settings.statement_timeout,))

    return setup


def _ensure_schemas(conn: psycopg.Connection[Any], schemas: list[str]) -> None:
    # Created here, once, before models run in parallel: two models' transactions each
    # creating the same schema would collide (CREATE SCHEMA IF NOT EXISTS is not safe
    # against a concurrent one, and a transaction waiting on the other keeps a stale view).
    existing = {row[0] for row in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (schemas,))}
    for schema in schemas:
        if schema not in existing:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
