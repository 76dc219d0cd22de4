"""Small helpers for the statements Weir itself sends: names that fit, and no prepared plans."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

_MAX_IDENTIFIER_BYTES = 63  # PostgreSQL silently truncates longer names


def derived_name(name: str, suffix: str) -> str:
    """Return `name` + `suffix`, shortening `name` so the result fits in PostgreSQL's 63 bytes."""
    room = _MAX_IDENTIFIER_BYTES - len(suffix.encode())
    return name.encode()[:room].decode(errors="ignore") + suffix


def execute(conn: psycopg.Connection[Any], query: sql.Composable | str, params: Any = None) -> psycopg.Cursor[Any]:
    """Run one of Weir's statements, never as a prepared statement (most are DDL, run once)."""
    return conn.execute(query, params, prepare=False)  # type: ignore[arg-type]


def one_row(cursor: psycopg.Cursor[Any]) -> tuple[Any, ...]:
    """Return the row a query that always gives exactly one (an aggregate, a SELECT without FROM) gave."""
    row = cursor.fetchone()
    if row is None:  # not a user error: the query itself is wrong
        raise RuntimeError("a query that always returns one row returned none")
    return tuple(row)
