"""The check library: Weir's reusable check functions, installed in the `weir` schema.

The functions themselves are plain SQL and PL/pgSQL in runner/checks/library.sql, so
they work from psql as well as from check files. This module installs them (runner.state.functions): once per
version of that file, which is recognised by a hash kept in the COMMENT of the marker
function weir.check_library_version().
"""

from __future__ import annotations

from typing import Any

import psycopg

from runner.db.errors import primary_message
from runner.errors import CheckError
from runner.state.functions import FunctionLibrary

LIBRARY = FunctionLibrary("runner.checks", "library.sql", "check_library_version")


def library_sql() -> str:
    """Return the text of runner/checks/library.sql."""
    return LIBRARY.text


def library_version() -> str:
    """Return the version of the library this package ships: a hash of its SQL."""
    return LIBRARY.version


def installed_version(conn: psycopg.Connection[Any]) -> str | None:
    """Return the version of the library installed in `conn`'s database, or None."""
    return LIBRARY.installed_version(conn)


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
    return LIBRARY.install(conn)
