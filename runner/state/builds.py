"""Weir's record of builds: `weir.build_run`, `weir.build_result`, `weir.build_input`, `weir.relation_token()`.

A build run is a row in weir.build_run, 'running' until it ends; each model's outcome is a
row in weir.build_result (with how many times a transient fault made it try again), and
what a model read at its last successful build (source change tokens, upstream models'
markers) is its row in weir.build_input. A success's rows commit in
the same transaction as the model's data, so the record never claims a build that did not happen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from psycopg.types.json import Jsonb

from runner.state.models import ensure_model_state
from runner.state.schema import install

# Read from pg_class and pg_proc rather than to_regclass(), whose catalog cache can lag
# behind a concurrent first run that committed while this one waited for the lock.
_BUILD_STATE_PRESENT = """
SELECT EXISTS (SELECT FROM pg_class WHERE relname = 'build_input' AND relnamespace::regnamespace::text = 'weir')
   AND EXISTS (SELECT FROM pg_proc WHERE proname = 'relation_token' AND pronamespace::regnamespace::text = 'weir')
"""
# The run's own rows are history, not state a build depends on: they commit without waiting
# for their WAL to reach disk (synchronous_commit off, for that transaction alone), which
# costs a no-op build an fsync per model otherwise (10-30 ms each on a busy disk). A crash
# can lose only the last fraction of a second of such rows; a model's data and its record
# (_BUILT) commit durably, and that commit flushes every earlier row of the run with it.
_RELAXED = "(SELECT set_config('synchronous_commit', 'off', true)) AS relaxed"
# The caller holds the build lock, so a run still 'running' is one whose process died.
_START_RUN = """
WITH interrupted AS (
    UPDATE weir.build_run SET status = 'interrupted' WHERE status = 'running'
)
INSERT INTO weir.build_run (selectors, excludes, full_refresh, threads)
SELECT %(selectors)s, %(excludes)s, %(full_refresh)s, %(threads)s
FROM """ + _RELAXED + """
RETURNING run_id
"""
_FINISH_RUN = """
UPDATE weir.build_run SET status = %(status)s, finished_at = clock_timestamp()
FROM """ + _RELAXED + """
WHERE run_id = %(run_id)s
"""
_RESULT = """
INSERT INTO weir.build_result (run_id, model, kind, status, inserted, updated, deleted, seconds, error, note, retries)
VALUES (%(run_id)s, %(model)s, %(kind)s, %(status)s, %(inserted)s, %(updated)s, %(deleted)s,
        round(%(seconds)s::numeric, 3), %(error)s, %(note)s, %(retries)s)
"""
_RECORDED = """
SELECT model, kind, status, inserted, updated, deleted, seconds::float8, error, note
FROM weir.build_result WHERE run_id = %(run_id)s AND model = %(model)s
"""
_RELAXED_RESULT = """
INSERT INTO weir.build_result (run_id, model, kind, status, inserted, updated, deleted, seconds, error, note, retries)
SELECT %(run_id)s, %(model)s, %(kind)s, %(status)s, %(inserted)s, %(updated)s, %(deleted)s,
       round(%(seconds)s::numeric, 3), %(error)s, %(note)s, %(retries)s
FROM """ + _RELAXED + """
"""
# A success records what the model read and its result in one statement: one round trip.
_BUILT = """
WITH inputs AS (
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
)
""" + _RESULT
# Put Weir's write-recording trigger on the sources (runner/state/sql/upgrade/build_state.3.sql)
# and fold the rows it wrote since the last run, in one round trip. Its commit need not wait
# for the disk either: folding keeps every sum, and a token that relies on a new trigger is
# stored by a model's durable commit, which flushes this one first.
_TRACK = """
SELECT weir.track_writes(array(
    SELECT to_regclass(CASE WHEN s.schema = '' THEN quote_ident(s.name) ELSE format('%%I.%%I', s.schema, s.name) END)
    FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS s (schema, name))),
    weir.compact_source_writes()
FROM """ + _RELAXED + """
"""
# One round trip for everything the skip decisions of a run need, before any model is built:
# whether each model's relation exists, its checksum and recorded inputs, every upstream
# model's markers, and each source's token, computed once however many models read it.
_SURVEY = """
SELECT
    (SELECT coalesce(jsonb_object_agg(m.schema || '.' || m.name, jsonb_build_array(
                to_regclass(format('%%I.%%I', m.schema, m.name)) IS NOT NULL,
                (SELECT s.checksum FROM weir.model_state AS s WHERE s.model = m.schema || '.' || m.name),
                (SELECT b.inputs FROM weir.build_input AS b WHERE b.model = m.schema || '.' || m.name))), '{}')
     FROM unnest(%(model_schemas)s::text[], %(model_names)s::text[]) AS m (schema, name)),
    (SELECT coalesce(jsonb_object_agg(m.model, jsonb_build_array(b.changed_run_id, b.rebuilt_run_id)), '{}')
     FROM unnest(%(upstream)s::text[]) AS m (model)
     LEFT JOIN weir.build_input AS b ON b.model = m.model),
    (SELECT coalesce(jsonb_object_agg(s.shown, weir.relation_token(to_regclass(
                CASE WHEN s.schema = '' THEN quote_ident(s.name) ELSE format('%%I.%%I', s.schema, s.name) END))),
            '{}')
     FROM unnest(%(schemas)s::text[], %(names)s::text[], %(shown)s::text[]) AS s (schema, name, shown))
"""


class ResultRow(Protocol):
    """One model's outcome in a run, as weir.build_result keeps it."""

    @property
    def model(self) -> str: ...  # "schema.name"
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...  # success | skipped | failed | upstream-failed
    @property
    def inserted(self) -> int: ...
    @property
    def updated(self) -> int: ...
    @property
    def deleted(self) -> int: ...
    @property
    def seconds(self) -> float: ...
    @property
    def error(self) -> str | None: ...
    @property
    def note(self) -> str: ...


@dataclass(frozen=True)
class Seen:
    """What the database says now about a model and its inputs."""

    exists: bool  # the model's relation is there
    checksum: str | None  # of the file its last successful build used (weir.model_state), or None
    stored: dict[str, Any] | None  # the inputs recorded at its last build (weir.build_input), or None
    markers: dict[str, list[int]]  # upstream model -> [changed_run_id, rebuilt_run_id]
    tokens: dict[str, Any]  # source relation -> weir.relation_token(), None when it cannot tell


def ensure_build_state(conn: psycopg.Connection[Any]) -> None:
    """Create weir.build_run, build_result, build_input and relation_token() if missing (and model state)."""
    install(conn, "build_state", _BUILD_STATE_PRESENT)
    ensure_model_state(conn)


def start_run(
    conn: psycopg.Connection[Any], selectors: Sequence[str], excludes: Sequence[str], full_refresh: bool, threads: int
) -> int:
    """Record a new build run and return its id; mark runs left 'running' by a dead process interrupted.

    Call it holding the build lock, outside a transaction.
    """
    row = conn.execute(
        _START_RUN,
        {"selectors": list(selectors), "excludes": list(excludes), "full_refresh": full_refresh, "threads": threads},
    ).fetchone()
    assert row is not None  # INSERT ... RETURNING one row
    return int(row[0])


def finish_run(conn: psycopg.Connection[Any], run_id: int, status: str) -> None:
    """Record how run `run_id` ended: success, failed or interrupted (outside a transaction)."""
    conn.execute(_FINISH_RUN, {"run_id": run_id, "status": status})


def record_result(conn: psycopg.Connection[Any], run_id: int, result: ResultRow, *, retries: int = 0) -> None:
    """Record a model's outcome in run `run_id` (a skip or a failure; a success goes through record_built).

    `retries` is how many times it was tried again after a transient fault.
    """
    # Relaxed only as a transaction of its own: inside a caller's, it would relax the caller's commit.
    idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    conn.execute(_RELAXED_RESULT if idle else _RESULT, _result_params(run_id, result, retries))


def recorded_result(conn: psycopg.Connection[Any], run_id: int, model: str) -> tuple[Any, ...] | None:
    """Return the outcome of `model` run `run_id` recorded, or None: whether a try that lost its connection committed.

    The row's fields, in the order of a ResultRow: model, kind, status, inserted, updated,
    deleted, seconds, error, note.
    """
    row = conn.execute(_RECORDED, {"run_id": run_id, "model": model}).fetchone()
    return tuple(row) if row is not None else None


def record_built(
    conn: psycopg.Connection[Any],
    run_id: int,
    result: ResultRow,
    inputs: Mapping[str, Any],
    *,
    changed: bool,
    rebuilt: bool,
    retries: int = 0,
) -> None:
    """Record a successful build in the model's transaction: its result and what it read (`inputs`).

    `changed` says its rows changed, `rebuilt` that it was built from scratch or with new SQL:
    the markers that tell downstream models to rebuild (runner.build.freshness). `retries`
    is how many times it was tried again after a transient fault.
    """
    params = _result_params(run_id, result, retries)
    params.update(inputs=Jsonb(dict(inputs)), changed=changed, rebuilt=rebuilt)
    conn.execute(_BUILT, params)


def record_file(conn: psycopg.Connection[Any], model: str, file: Mapping[str, Any]) -> None:
    """Replace what the last build of `model` recorded of its file (one key of its inputs), nothing else."""
    conn.execute("UPDATE weir.build_input SET inputs = inputs || %s WHERE model = %s", (Jsonb(dict(file)), model))


def track_writes(conn: psycopg.Connection[Any], sources: Sequence[tuple[str, str]]) -> None:
    """Have writes to the tables under `sources` ((schema, name), schema '' for search_path) recorded.

    Where Weir may, it puts a statement-level trigger on each such table; from then on
    weir.relation_token() of the table is exact and costs an index lookup at any size.
    """
    if sources:  # outside a transaction: see _TRACK
        conn.execute(_TRACK, {"schemas": [schema for schema, _ in sources], "names": [name for _, name in sources]})


def look(
    conn: psycopg.Connection[Any],
    schema: str,
    name: str,
    upstream: Sequence[str],
    sources: Mapping[str, tuple[str, str]],
) -> Seen:
    """Ask in one round trip what model `schema`.`name` and its inputs look like now.

    `upstream` are the models it reads; `sources` maps each source relation's key in the
    recorded inputs to (schema, name), schema '' for a name found through search_path.
    """
    return survey(conn, [(schema, name)], upstream, sources).seen(f"{schema}.{name}", upstream, list(sources))


@dataclass(frozen=True)
class Survey:
    """What the database said about every model of a run and its inputs before the first was built."""

    models: dict[str, list[Any]]  # "schema.name" -> [exists, checksum or None, recorded inputs or None]
    markers: dict[str, list[int]]  # upstream model -> [changed_run_id, rebuilt_run_id] (None when never built)
    tokens: dict[str, Any]  # source relation -> weir.relation_token()

    def seen(self, model: str, upstream: Sequence[str], sources: Sequence[str]) -> Seen:
        """Return what look() would have said about `model` then, reading `upstream` and `sources`."""
        exists, checksum, stored = self.models[model]
        return Seen(bool(exists), checksum, stored, {name: self.markers[name] for name in upstream},
                    {shown: self.tokens[shown] for shown in sources})


def survey(
    conn: psycopg.Connection[Any],
    models: Sequence[tuple[str, str]],
    upstream: Sequence[str],
    sources: Mapping[str, tuple[str, str]],
) -> Survey:
    """Ask in one round trip what `models` ((schema, name)), the `upstream` models they read and `sources` look like.

    `sources` maps each source's key in the recorded inputs to (schema, name), schema '' for search_path.
    """
    row = conn.execute(
        _SURVEY,
        {
            "model_schemas": [schema for schema, _ in models],
            "model_names": [name for _, name in models],
            "upstream": list(upstream),
            "schemas": [relation[0] for relation in sources.values()],
            "names": [relation[1] for relation in sources.values()],
            "shown": list(sources),
        },
    ).fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    return Survey(row[0], row[1], row[2])


def _result_params(run_id: int, result: ResultRow, retries: int) -> dict[str, Any]:
    return {
        "retries": retries,
        "run_id": run_id,
        "model": result.model,
        "kind": result.kind,
        "status": result.status,
        "inserted": result.inserted,
        "updated": result.updated,
        "deleted": result.deleted,
        "seconds": result.seconds,
        "error": result.error,
        "note": result.note,
    }
