"""A model's columns before and after a change: the relation's from the catalog, the new SELECT's described.

The new SELECT is described, not run: `SELECT * FROM (...) LIMIT 0` in the caller's
read-only transaction, under a savepoint, gives each output column's name and type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from runner.db.errors import primary_message
from runner.project.models import Model

_DESCRIBE = sql.SQL("SELECT * FROM (\n{}\n) AS weir_plan LIMIT 0")
_TYPE_NAMES = """
SELECT format_type(t, nullif(m, -1)) FROM unnest(%s::oid[], %s::int[]) WITH ORDINALITY AS c (t, m, n) ORDER BY n
"""


@dataclass(frozen=True)
class ColumnChange:
    """One column's difference between the built relation and the changed SELECT."""

    column: str
    change: str  # added | removed | type changed
    before: str | None  # its type in the relation now, None when added
    after: str | None  # its type from the new SELECT, None when removed


def describe(conn: psycopg.Connection[Any], model: Model) -> tuple[tuple[tuple[str, str], ...] | None, str]:
    """Return the (name, type) of each column the model's SELECT gives, without running it; or None and why not.

    Call it inside a transaction: a SELECT that fails (it reads a column a pending
    migration adds) rolls back to a savepoint and leaves the transaction usable.
    """
    try:
        with conn.transaction():
            cursor = conn.execute(_DESCRIBE.format(sql.SQL(model.sql)))  # the user's SELECT, as the build runs it
            result = cursor.pgresult
            assert result is not None
            names = [column.name for column in cursor.description or ()]
            oids = [result.ftype(index) for index in range(result.nfields)]
            mods = [result.fmod(index) for index in range(result.nfields)]
            types = [row[0] for row in conn.execute(_TYPE_NAMES, (oids, mods))]
    except psycopg.Error as exc:
        return None, f"{model.display}:{model.sql_line}: {primary_message(exc)}"
    return tuple(zip(names, types, strict=True)), ""


def column_changes(before: tuple[tuple[str, str], ...], after: tuple[tuple[str, str], ...]) -> tuple[ColumnChange, ...]:
    """Return the columns added, removed or retyped from `before` to `after` ((name, type) each), in column order.

    A renamed column is one removed and one added: its readers break all the same.
    """
    old, new = dict(before), dict(after)
    changes = [ColumnChange(name, "removed", kind, None) for name, kind in before if name not in new]
    changes += [ColumnChange(name, "type changed", old[name], kind) for name, kind in after
                if name in old and old[name] != kind]
    changes += [ColumnChange(name, "added", None, kind) for name, kind in after if name not in old]
    return tuple(changes)
