"""View models: CREATE OR REPLACE VIEW, or, when PostgreSQL refuses to change its columns in
place (a column dropped, renamed or retyped), a new view built aside and swapped in, with the
views on it re-pointed (runner.build.materialize.swap).
"""

from __future__ import annotations

from typing import Any

import psycopg
import psycopg.errors
from psycopg import sql

from runner.build.materialize.common import (
    failure_message,
    find_relation,
    is_rebuild,
    join_notes,
    run_select,
    select_statement,
    under_lock_timeout,
)
from runner.build.materialize.result import Built, MaterializeResult
from runner.build.materialize.swap import Deferred, deferred, new_name, swap_in
from runner.db.statements import execute
from runner.errors import ModelFailed
from runner.project.models import Model
from runner.project.settings import Timeouts
from runner.state.models import Previous


def build_view(
    conn: psycopg.Connection[Any], model: Model, full_refresh: bool, previous: Previous | None, timeouts: Timeouts
) -> Built:
    """Create or replace the model's view; swap a new one in when its columns change incompatibly."""
    rebuilt, note = is_rebuild(model, full_refresh, previous)
    pending = deferred()
    if pending is not None:  # an atomic build: its readers in this run read a view aside, replaced at the end
        shadow_view(conn, model, pending)
        return Built(MaterializeResult(0, 0, 0, rebuilt, note))
    existing = find_relation(conn, model.schema, model.name)
    if existing is None or existing.kind == "v":
        statement, start = select_statement(
            conn, model, sql.SQL("CREATE OR REPLACE VIEW {} AS\n").format(sql.Identifier(model.schema, model.name))
        )
        try:
            # Replacing a view locks it like a table: not while readers hold it (runner.db.ddl_locks).
            under_lock_timeout(conn, model, timeouts, lambda: execute(conn, statement),
                               what=f"replace view {model.qualified}")
            return Built(MaterializeResult(0, 0, 0, rebuilt, note))
        except psycopg.Error as exc:
            # PostgreSQL refuses to drop, rename or retype a view's columns in place: swap instead.
            if existing is None or not isinstance(exc, psycopg.errors.InvalidTableDefinition):
                raise ModelFailed(failure_message(model, exc, start)) from None
        note = join_notes(note, "columns changed: view replaced")
    built = new_name(model)
    run_select(conn, model, sql.SQL("CREATE VIEW {} AS\n").format(sql.Identifier(model.schema, built)))
    notes = swap_in(conn, model, built, timeouts)
    return Built(MaterializeResult(0, 0, 0, rebuilt, join_notes(note, *notes)))


def shadow_view(conn: psycopg.Connection[Any], model: Model, pending: list[Deferred]) -> None:
    """Create the model's view aside, under new_name(model), and note it for the atomic build's end."""
    built = new_name(model)
    run_select(conn, model, sql.SQL("CREATE VIEW {} AS\n").format(sql.Identifier(model.schema, built)))
    pending.append(Deferred(model, built, "view"))
