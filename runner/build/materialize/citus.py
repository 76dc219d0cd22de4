"""Spreading a model's new table over a Citus cluster, before it is swapped in.

The table is created and filled on the coordinator as on any PostgreSQL, then distributed
(hash on the model's `distribute` column, colocated with the upstream model it joins on that
column) or made a reference table, and the coordinator's local copy of the rows emptied.
Everything after that (primary key, indexes, the swap's renames) Citus propagates to the
shards itself. Without the citus extension in the database nothing here runs, so the same
project builds unchanged on a single PostgreSQL. See docs/scale-out.md.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from runner.db.statements import execute
from runner.project.distribution import REFERENCE
from runner.project.models import Model

_CITUS_INSTALLED = "SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus')"


def distribution_statements(model: Model, table: str) -> list[sql.Composed]:
    """Return the statements that distribute `model`'s table named `table` (in the model's schema)."""
    if model.distribute is None:
        return []
    relation = _regclass(model.schema, table)
    if model.distribute == REFERENCE:
        create = sql.SQL("SELECT create_reference_table({})").format(relation)
    else:
        colocate: sql.Composable = sql.Literal("default")
        if model.colocate_with is not None:
            schema, _, name = model.colocate_with.partition(".")
            colocate = sql.SQL("{}::text").format(_regclass(schema, name))
        create = sql.SQL("SELECT create_distributed_table({}, {}, colocate_with => {})").format(
            relation, sql.Literal(model.distribute), colocate
        )
    return [create, sql.SQL("SELECT truncate_local_data_after_distributing_table({})").format(relation)]


def distribute(conn: psycopg.Connection[Any], model: Model, table: str) -> None:
    """Distribute `model`'s table `table` when the database is a Citus coordinator; otherwise do nothing."""
    if model.distribute is None or not conn.execute(_CITUS_INSTALLED).fetchone() == (True,):
        return
    for statement in distribution_statements(model, table):
        execute(conn, statement)


def _regclass(schema: str, name: str) -> sql.Composed:
    """Return `schema.name` as a regclass, quoted by the server so any name survives."""
    return sql.SQL("format('%I.%I', {}, {})::regclass").format(sql.Literal(schema), sql.Literal(name))
