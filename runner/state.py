"""Weir's own schema, `weir`: installing the SQL files that create its tables and functions.

Each concern owns one file under runner/sql/ (migration_state, build_state, model_state,
check_state, gates, ...) and installs it on first use through `install`.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

# Serialises creation of the weir schema and its objects between concurrent first runs.
STATE_SCHEMA_LOCK = 0x7765_6972_0000  # "weir" + 0


def sql_file(name: str) -> str:
    """Return the text of one of the package's SQL files, e.g. 'migration_state'."""
    return resources.files("runner").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


def install(conn: psycopg.Connection, name: str, present: str) -> bool:
    """Run runner/sql/<name>.sql unless the query `present` says its objects exist; True if it ran.

    Runs in a transaction (a savepoint inside the caller's) under STATE_SCHEMA_LOCK, and
    asks `present` again once it holds the lock, so two first runs never both create.
    """
    if conn.execute(present).fetchone()[0]:
        return False
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (STATE_SCHEMA_LOCK,))
        if conn.execute(present).fetchone()[0]:
            return False
        conn.execute(sql_file(name))
    return True
