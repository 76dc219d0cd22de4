"""Whether a model is current: what it read at its last build, against what it reads now.

A model is skipped when its SQL, everything it reads and the relation itself are as they
were at its last build (`skip_reason`). When in doubt it is built: a needless build costs
time, a wrong skip costs correctness. "Everything it reads" is, through any views:
- upstream models: the run in which each last changed rows or was rebuilt from scratch,
  kept in weir.build_input (runner.state.builds) and written in the same transaction as the model's data;
- sources: weir.relation_token() (runner/state/sql/upgrade/build_state.3.sql) per relation.
  Each run first puts a statement-level trigger on every source table Weir may alter
  (`survey_run`); it records each transaction that writes the table in weir.source_write,
  in that transaction, so the count of writing transactions is exact, commits and rolls back
  with the write, and is read from an index whatever the table's size. A table without it
  (not Weir's to alter, a partition or inheritance child, fed by logical replication,
  weir.track_writes = off) has, as before: relfilenode, and for a table under 16 MB a hash
  of its row versions (ctid, xmin), which is exact; for a larger one the statistics
  counters of inserted/updated/deleted rows, and max() of each timestamp column leading a
  btree index. Its limits, honestly, for such a larger table: the counters reach
  pg_stat_all_tables only when the writing session flushes its statistics (at most about
  ten seconds after its commit, at once when it disconnects), so a change visible only to
  them (a delete, or an insert or update of a table without an indexed timestamp) made by
  a still-connected session moments before a build can be missed by that build; the next
  build sees it, because a skip keeps the old tokens. A table read inside a function is
  invisible to the parser, so a model calling a SQL or PL/pgSQL function that is not
  immutable is never skipped, nor one calling now(), random() and the like.

The same markers tell an incremental model that an upstream model was rebuilt from
scratch since its last build (`full_refresh_for`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import psycopg

from runner.build.graph import ModelGraph
from runner.project.models import Model, clock_calls, function_calls
from runner.state import builds
from runner.state.builds import Seen, Survey


@dataclass(frozen=True)
class Inputs:
    """What a model reads, seen through the views it reads: sources and upstream models."""

    sources: tuple[tuple[str, str], ...]
    upstream: tuple[str, ...]


NO_INPUTS = Inputs((), ())
FILE_KEY = "file"  # in the recorded inputs: {"text": file checksum, "shape": select_shape}; a skip ignores it

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


def inputs_of(graph: ModelGraph, model: Model) -> Inputs:
    """Return the sources and models `model` depends on for its content.

    A view holds no data, so what a view reads counts as read by its readers too.
    """
    built = graph.by_relation()
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
    return Inputs(tuple(sorted(sources)), tuple(sorted(upstream)))


def look(conn: psycopg.Connection[Any], model: Model, inputs: Inputs) -> Seen:
    """Ask the database, in one round trip, what `model` and its `inputs` look like now.

    Needs Weir's build state (runner.state.builds.ensure_build_state) to be installed.
    """
    sources = {shown(relation): relation for relation in inputs.sources}
    return builds.look(conn, model.schema, model.name, inputs.upstream, sources)


def survey_run(conn: psycopg.Connection[Any], graph: ModelGraph, models: list[Model]) -> Survey:
    """Prepare a run's skip decisions: have every source `models` read record its writes, then look at all at once.

    The sources' tokens are read here, before any model reads its data, so a write
    committed in between is in the data but not in the stored token: the next build
    builds again rather than missing it. Upstream models' markers change as the run
    builds them; `seen` reads those again for a model whose upstream was built.
    """
    inputs = {model.qualified: inputs_of(graph, model) for model in models if model.kind != "view"}
    sources = sorted({source for found in inputs.values() for source in found.sources})
    builds.track_writes(conn, sources)
    upstream = sorted({name for found in inputs.values() for name in found.upstream})
    return builds.survey(
        conn, [(model.schema, model.name) for model in models], upstream,
        {shown(source): source for source in sources},
    )


def seen_now(
    conn: psycopg.Connection[Any], survey: Survey, model: Model, inputs: Inputs, built: Collection[str]
) -> Seen:
    """Return what `model` and its `inputs` look like now: from the run's survey, unless an upstream model was built.

    `built` is the models this run has built so far, whose markers changed since the survey.
    """
    if model.qualified in survey.models and not any(name in built for name in inputs.upstream):
        return survey.seen(model.qualified, inputs.upstream, [shown(source) for source in inputs.sources])
    return look(conn, model, inputs)


def opaque_calls(conn: psycopg.Connection[Any], models: list[Model]) -> dict[str, list[str]]:
    """Return, per model, the functions it calls that may read tables (so it is never skipped)."""
    calls = {model.qualified: function_calls(model) for model in models}
    every = sorted({call for called in calls.values() for call in called})
    if not every:
        return {}
    rows = conn.execute(
        _OPAQUE_FUNCTIONS, {"schemas": [schema for schema, _ in every], "names": [name for _, name in every]}
    ).fetchall()
    opaque = {(schema, name) for schema, name in rows}
    return {
        model: [shown(call) + "()" for call in called if call in opaque]
        for model, called in calls.items()
        if any(call in opaque for call in called)
    }


def skip_reason(
    model: Model, full_refresh: bool, sql_changed: bool, seen: Seen, current: dict[str, Any], calls_opaque: bool
) -> str | None:
    """Return why `model` can be skipped ("unchanged"), or None when it must be built.

    `current` is what it reads now, as it would be recorded: {"sources": ..., "models": ...};
    `calls_opaque` says it calls a function that may read tables Weir cannot see (opaque_calls).
    """
    if full_refresh or sql_changed or not seen.exists:
        return None
    if model.kind == "view":
        return "unchanged: a view is always current"  # its SQL is unchanged and it exists
    if seen.stored is None or {key: value for key, value in seen.stored.items() if key != FILE_KEY} != current:
        return None
    if calls_opaque:
        return None  # what such a function reads never shows in the tokens
    if any(token is None for token in current["sources"].values()):
        return None  # a source Weir cannot fingerprint (missing, foreign, statistics off)
    if clock_calls(model):
        return None  # now(), random(), ...: the same inputs can give other rows
    return "unchanged"


def recorded_file(model: Model) -> dict[str, Any]:
    """Return what a build records of `model`'s file beside its inputs (FILE_KEY)."""
    return {"text": model.file_checksum, "shape": model.shape}


def edited_since_built(model: Model, stored: dict[str, Any] | None) -> bool:
    """Say whether `model`'s file differs from the one its last build recorded (`stored`, its recorded inputs)."""
    before = (stored or {}).get(FILE_KEY)
    return isinstance(before, dict) and before.get("text") != model.file_checksum


def only_adds_columns(model: Model, stored: dict[str, Any] | None) -> bool:
    """Say whether `model`'s SQL, against the version last built, only adds output columns.

    Then every column its readers had is computed as before from the same rows
    (runner.project.model_select.select_shape), and they need not be rebuilt.
    """
    before = (stored or {}).get(FILE_KEY)
    if not isinstance(before, dict) or not before.get("shape") or not model.shape:
        return False
    (old_rest, old_targets), (new_rest, new_targets) = before["shape"], model.shape
    if old_rest != new_rest or not old_targets:
        return False
    kept = {tuple(target) for target in new_targets}
    return all(tuple(target) in kept for target in old_targets)


def full_refresh_for(model: Model, full_refresh: bool, seen: Seen) -> tuple[bool, str]:
    """Say whether to rebuild `model` from scratch, and why when it is not the user's --full-refresh."""
    if full_refresh:
        return True, ""
    # An incremental model must not mix rows made from an upstream model's old logic with
    # its new logic: when an upstream model was rebuilt from scratch (its SQL changed, or a
    # full refresh) since this model's last build, this one is rebuilt from scratch too.
    # scd2 is not: a rebuild would throw away history; its versions follow the change.
    if model.kind != "incremental" or not seen.stored:
        return False, ""
    if not model.full_refresh_on_change:
        return False, ""
    before = seen.stored.get("models", {})
    rebuilt = sorted(
        name for name, marker in seen.markers.items() if name in before and marker[1] != before[name][1]
    )
    if rebuilt:
        return True, f"rebuilt from scratch because upstream {', '.join(rebuilt)} was"
    return False, ""


def shown(relation: tuple[str, str]) -> str:
    """Return a relation as a person writes it: schema.name, or name alone when unqualified."""
    schema, name = relation
    return f"{schema}.{name}" if schema else name
