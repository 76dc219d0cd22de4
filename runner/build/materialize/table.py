"""Table models: built aside with CREATE TABLE AS, then swapped in (runner.build.materialize.swap);
with unique_key the table gets a primary key on it.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from runner.build.materialize.citus import distribute
from runner.build.materialize.common import add_primary_key, analyze, create_indexes, is_rebuild, join_notes, run_select
from runner.build.materialize.partitions import build_partitioned, rename_partitions
from runner.build.materialize.result import Built, MaterializeResult
from runner.build.materialize.swap import new_name, swap_in
from runner.project.models import Model
from runner.project.settings import Timeouts
from runner.state.models import Previous


def build_table(
    conn: psycopg.Connection[Any], model: Model, full_refresh: bool, previous: Previous | None, timeouts: Timeouts
) -> Built:
    """Build the model's table under another name, with its keys and indexes, and swap it in."""
    rebuilt, note = is_rebuild(model, full_refresh, previous)
    built = new_name(model)
    if model.partition_by is not None:
        rows = build_partitioned(conn, model, built)
    else:
        create = sql.SQL("CREATE TABLE {} AS\n").format(sql.Identifier(model.schema, built))
        rows = run_select(conn, model, create).rowcount
    distribute(conn, model, built)
    keys = list(model.unique_key)
    if keys:
        add_primary_key(conn, model, built, keys)
    create_indexes(conn, model, built)
    analyze(conn, model, built, keys)
    notes = swap_in(conn, model, built, timeouts)
    if model.partition_by is not None:
        rename_partitions(conn, model, built)
    return Built(MaterializeResult(max(rows, 0), 0, 0, rebuilt, join_notes(note, *notes)))
