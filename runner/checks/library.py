"""The check library: Weir's reusable check functions, installed in the `weir` schema.

The functions themselves are plain SQL and PL/pgSQL in runner/checks/library.sql, so
they work from psql as well as from check files. This module installs them: once per
version of that file, which is recognised by a hash kept in the COMMENT of the marker
function weir.check_library_version().
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

from runner.db.errors import primary_message
from runner.errors import CheckError
from runner.state.schema import STATE_SCHEMA_LOCK

# Read from the catalog tables, not through to_regprocedure(): that goes by the
# backend's catalog cache, which may not yet have seen an installer that committed
# while this session waited for the advisory lock.
_INSTALLED_VERSION = """
SELECT d.description
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_description AS d ON d.objoid = p.oid AND d.classoid = 'pg_catalog.pg_proc'::regclass
WHERE n.nspname = 'weir' AND p.proname = 'check_library_version' AND p.pronargs = 0
"""


@cache
def library_sql() -> str:
    """Return the text of runner/checks/library.sql."""
    return resources.files("runner.checks").joinpath("library.sql").read_text(encoding="utf-8")


@cache
def library_version() -> str:
    """Return the version of the library this package ships: a hash of its SQL."""
    return "sha256:" + hashlib.sha256(library_sql().encode()).hexdigest()[:16]


def installed_version(conn: psycopg.Connection[Any]) -> str | None:
    """Return the version of the library installed in `conn`'s database, or None."""
    row = conn.execute(_INSTALLED_VERSION).fetchone()
    return str(row[0]) if row else None


def install_library(conn: psycopg.Connection[Any]) -> None:
    """Install the weir.* check functions, so check files can call them; raise CheckError when this role cannot."""
    try:
        install(conn)
    except psycopg.Error as exc:
        raise CheckError(
            f"cannot install the check functions in schema weir: {primary_message(exc)};"
            " grant this role CREATE on the database (or on schema weir), or install them once as its owner"
        ) from None


def install(conn: psycopg.Connection[Any]) -> bool:
    """Install or update the check library unless this version is in place; return whether it did.

    Runs in its own transaction (a savepoint if `conn` is inside one). Already installed,
    it costs one catalog query and takes no lock.
    """
    version = library_version()
    if installed_version(conn) == version:
        return False
    with conn.transaction():
        # Two first runs at once would both CREATE SCHEMA, and concurrent CREATE OR
        # REPLACE of one function fails ("tuple concurrently updated"): the second
        # installer waits here, then finds the work done.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (STATE_SCHEMA_LOCK,))
        if installed_version(conn) == version:
            return False
        conn.execute(library_sql())
        conn.execute(
            sql.SQL("COMMENT ON FUNCTION weir.check_library_version() IS {}").format(sql.Literal(version))
        )
    return True
