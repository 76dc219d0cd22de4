"""Replacing a model's relation with a freshly built one, atomically, without breaking views on it.

A model rebuilt from scratch (a `table`, an `incremental` or `scd2` model built anew, a view
whose columns changed) is first built under another name in the same schema, while readers
keep reading the old relation untouched. Then, in the same transaction:

1. the views reading the old relation are locked (by replacing them with themselves: readers
   lock a view before the tables it reads, and taking the same order avoids deadlocks), the
   old relation is renamed away and the new one takes its name;
2. every view reading the old relation is re-pointed with CREATE OR REPLACE VIEW from its own
   definition (pg_get_viewdef, schema-qualified), which keeps the view's OID, grants, comments
   and the views on top of it, because a view is bound to a table's OID, not its name;
3. the old relation's grants are copied and the old relation is dropped.

Why not TRUNCATE + INSERT or DELETE + INSERT into the same table? Measured rebuilding a 1M-row
table (PostgreSQL 15, a reader running a sequential-scan count in a loop meanwhile):

    swap (this)        0.43-0.53 s alone    slowest reader query 0.09-0.21 s   73 MB after
    TRUNCATE + INSERT  0.70-1.00 s alone    slowest reader query 0.75-0.97 s   73 MB after
    DELETE + INSERT    1.73-2.14 s          slowest reader query 0.08-0.10 s  146 MB after

TRUNCATE holds an ACCESS EXCLUSIVE lock for the whole build, so readers wait the full build
time; DELETE never blocks readers but writes every row twice and leaves the table half dead
tuples until VACUUM. Building aside costs what a bare CREATE TABLE AS costs; readers wait only
for the few catalog updates between the swap and COMMIT, and a reader blocked by them then
reads the new table (PostgreSQL looks a name up again after waiting for its lock).
The trade-off: a REPEATABLE READ transaction that started before the swap and first touches the
table after it sees the new table empty (as with TRUNCATE); indexes added by hand to a model's
table are not carried over.

A dependent view that no longer compiles against the new columns (it reads a dropped column)
is dropped if it and every view on it are Weir models (their state is forgotten, so the next
`weir build` builds them again from their files); otherwise the build fails naming the view.

An atomic build (runner.build.release) builds every model first and swaps them all in at the
end of one transaction: inside `deferring_swaps()`, swap_in only notes what to swap.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import psycopg
import psycopg.errors
from psycopg import sql

from runner.build.materialize.common import failure_message, find_relation, first_row, under_lock_timeout
from runner.db.statements import derived_name, execute
from runner.errors import ModelFailed
from runner.project.models import Model
from runner.project.settings import Timeouts
from runner.state.models import built_by_weir, forget

_KEYWORD = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "f": "FOREIGN TABLE"}
_PRIVILEGES = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"})

# The table's constraints, each with the index behind it (if any), then its indexes.
_PARTS = """
SELECT c.conname AS name, true AS is_constraint, i.relname AS index
FROM pg_constraint AS c LEFT JOIN pg_class AS i ON i.oid = c.conindid AND c.contype IN ('p', 'u', 'x')
WHERE c.conrelid = %(table)s::regclass
UNION ALL
SELECT c.relname, false, c.relname
FROM pg_index AS x JOIN pg_class AS c ON c.oid = x.indexrelid
WHERE x.indrelid = %(table)s::regclass
ORDER BY is_constraint DESC, name
"""

_GRANTS = """
SELECT a.privilege_type, a.is_grantable, CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END
FROM pg_class AS c CROSS JOIN LATERAL aclexplode(c.relacl) AS a
WHERE c.oid = %s AND a.grantee <> c.relowner
"""


@dataclass(frozen=True)
class Deferred:
    """A relation built aside whose swap an atomic build does at its end: a table, or a view (kind "view")."""

    model: Model
    built: str  # its name, in model.schema
    kind: str = "swap"  # swap: swap_in at the end; view: a shadow view, the model's view replaced at the end


_DEFERRED: ContextVar[list[Deferred] | None] = ContextVar("weir_deferred_swaps", default=None)


@contextmanager
def deferring_swaps() -> Iterator[list[Deferred]]:
    """Within the block, swap_in and view models only note what to swap, in the list yielded, in build order."""
    pending: list[Deferred] = []
    token = _DEFERRED.set(pending)
    try:
        yield pending
    finally:
        _DEFERRED.reset(token)


def deferred() -> list[Deferred] | None:
    """Return the swaps noted so far inside deferring_swaps(), or None outside it."""
    return _DEFERRED.get()


@dataclass(frozen=True)
class _Dependent:
    oid: int
    schema: str
    name: str
    kind: str
    definition: str
    options: list[str]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def new_name(model: Model) -> str:
    """Return the name a model's relation is built under before it is swapped in."""
    return derived_name(model.name, "__weir_new")


def swap_in(conn: psycopg.Connection[Any], model: Model, built: str, timeouts: Timeouts) -> list[str]:
    """Put relation `model.schema`.`built` in the place of the model's relation; return notes for the user.

    Runs in the caller's transaction, in a savepoint under lock_timeout: while a reader holds
    the old relation, the swap gives up its locks, backs off and tries again, and the relation
    built aside stays built (runner.db.ddl_locks). Raises ModelFailed naming that reader after
    the last try. Constraints and indexes named after `built` are renamed after the model.
    Inside deferring_swaps() it only notes the swap.
    """
    pending = _DEFERRED.get()
    if pending is not None:
        pending.append(Deferred(model, built))
        return []
    return under_lock_timeout(
        conn, model, timeouts, lambda: _swap(conn, model, built), what=f"swap in the new {model.qualified}"
    )


def _swap(conn: psycopg.Connection[Any], model: Model, built: str) -> list[str]:
    target = sql.Identifier(model.schema, model.name)
    old = find_relation(conn, model.schema, model.name)
    notes: list[str] = []
    if old is not None:
        keyword = _KEYWORD.get(old.kind)
        if keyword is None:
            raise ModelFailed(
                f"{model.display}:{model.sql_line}: {model.qualified} exists and is not a table or view"
                f" (relkind {old.kind!r}); drop or rename it, then re-run"
            )
        with _qualified_names(conn):
            rows = execute(conn, _catalog_query("dependents"), {"oid": old.oid}).fetchall()
        dependents = [_Dependent(*row) for row in rows]
        grants = execute(conn, _GRANTS, (old.oid,)).fetchall()
        # Readers lock a view before the tables it reads; lock the views first too, or a reader
        # holding a view while waiting for the old table deadlocks with this transaction.
        if dependents:
            _replace_views(conn, model, dependents, lock_only=True)
        retired_name = derived_name(model.name, "__weir_old")
        retired = sql.Identifier(model.schema, retired_name)
        execute(conn, sql.SQL("ALTER {} {} RENAME TO {}").format(
            sql.SQL(keyword), target, sql.Identifier(retired_name)
        ))
    execute(conn, sql.SQL("ALTER TABLE {} RENAME TO {}").format(
        sql.Identifier(model.schema, built), sql.Identifier(model.name)
    ))
    if old is not None:
        if dependents:
            notes += _replace_views(conn, model, dependents)
        _grant(conn, target, grants)
        try:
            execute(conn, sql.SQL("DROP {} {}").format(sql.SQL(_KEYWORD[old.kind]), retired))
        except psycopg.errors.DependentObjectsStillExist as exc:
            raise ModelFailed(
                failure_message(model, exc)
                + f"; the old {model.qualified} cannot be replaced while these objects depend on it:"
                " drop them, then re-run"
            ) from None
    _rename_parts(conn, model, built)
    return notes


def _rename_parts(conn: psycopg.Connection[Any], model: Model, built: str) -> None:
    """Rename the constraints and indexes PostgreSQL or a builder named after `built`."""
    table = sql.Identifier(model.schema, model.name)

    def renamed(name: str) -> sql.Identifier:
        return sql.Identifier(derived_name(model.name, name[len(built):]))

    # Renaming a constraint renames the index behind it, so constraints go first; an index
    # is listed under the name it has before that.
    parts = execute(conn, _PARTS, {"table": table.as_string(conn)}).fetchall()
    renamed_by_constraint: set[str] = set()
    for name, is_constraint, index in parts:
        if not name.startswith(built):
            continue
        if is_constraint:
            execute(conn, sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                table, sql.Identifier(name), renamed(name)
            ))
            if index is not None:
                renamed_by_constraint.add(index)
        elif name not in renamed_by_constraint:
            execute(conn, sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(model.schema, name), renamed(name)
            ))


@contextmanager
def _qualified_names(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Empty the search_path for the block, so view definitions print and parse fully qualified names."""
    previous = first_row(execute(conn, "SELECT current_setting('search_path')"))[0]
    execute(conn, "SELECT set_config('search_path', '', true)")
    yield
    # Not in a finally: after an error the transaction (or savepoint) rolls back, and with it this setting.
    execute(conn, "SELECT set_config('search_path', %s, true)", (previous,))


def _replace_views(
    conn: psycopg.Connection[Any], model: Model, dependents: list[_Dependent], lock_only: bool = False
) -> list[str]:
    """Re-create each view on the old relation from its definition, so it reads what the name now is.

    With `lock_only`, before the swap, this changes nothing but takes each view's lock.
    """
    dropped: list[str] = []
    with _qualified_names(conn):
        for view in dependents:
            if view.qualified in dropped or (lock_only and view.kind != "v"):
                continue
            options: sql.Composable = sql.SQL("")
            if view.options:
                pairs = [option.split("=", 1) for option in view.options]
                options = sql.SQL(" WITH ({})").format(
                    sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(v)) for k, v in pairs)
                )
            replace = sql.SQL("CREATE OR REPLACE VIEW {}{} AS {}").format(
                sql.Identifier(view.schema, view.name), options, sql.SQL(view.definition.rstrip().rstrip(";"))
            )
            if lock_only:
                execute(conn, replace)
                continue
            try:
                with conn.transaction():
                    if view.kind != "v":
                        raise ModelFailed(
                            f"{model.display}:{model.sql_line}: materialized view {view.qualified} reads"
                            f" {model.qualified}, which is rebuilt as a new relation; drop the materialized view"
                            " (or make it a model) and re-run"
                        )
                    execute(conn, replace)
            except psycopg.errors.LockNotAvailable:
                raise  # the whole swap is tried again
            except psycopg.Error as exc:
                dropped += _drop_models_on(conn, model, view, exc)
    if not dropped:
        return []
    return [f"dropped view(s) {', '.join(dropped)}, built by Weir from files that no longer match the new"
            f" columns of {model.qualified}: `weir build` builds them again"]


def _drop_models_on(conn: psycopg.Connection[Any], model: Model, view: _Dependent, exc: Exception) -> list[str]:
    """Drop `view` and the views on it if Weir builds them all; else fail naming the view."""
    names = [str(row[0]) for row in execute(conn, _catalog_query("dependents_all"), {"oid": view.oid})]
    built = built_by_weir(conn, names)
    others = [name for name in names if name not in built]
    if others:
        primary = failure_message(model, exc).split(": ", 1)[1]
        raise ModelFailed(
            f"{model.display}:{model.sql_line}: the new columns of {model.qualified} break view"
            f" {view.qualified}: {primary}; change {', '.join(others)} to match (or drop it), then re-run"
        )
    execute(conn, sql.SQL("DROP VIEW {} CASCADE").format(sql.Identifier(view.schema, view.name)))
    forget(conn, names)
    return names


def _grant(conn: psycopg.Connection[Any], target: object, grants: list[tuple[str, bool, str | None]]) -> None:
    """Give the new relation the privileges the old one had."""
    for privilege, grantable, grantee in grants:
        if privilege not in _PRIVILEGES:
            continue
        execute(conn, sql.SQL("GRANT {} ON {} TO {}{}").format(
            sql.SQL(privilege),
            target,
            sql.SQL("PUBLIC") if grantee is None else sql.Identifier(grantee),
            sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL(""),
        ))


@cache
def _catalog_query(name: str) -> str:
    """Return the catalog query in runner/build/materialize/<name>.sql."""
    return resources.files("runner.build.materialize").joinpath(f"{name}.sql").read_text(encoding="utf-8")
