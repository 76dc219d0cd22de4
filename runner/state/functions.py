"""SQL function libraries Weir installs in schema weir: the check library, the masking functions.

Each library is one .sql file of CREATE OR REPLACE statements, installed once per version of
its text: the version is a hash kept in the COMMENT of a marker function the file defines, so
an installed library costs one catalog query and no lock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

from runner.state.schema import STATE_SCHEMA_LOCK

# Read from the catalog tables, not through to_regprocedure(): that goes by the
# backend's catalog cache, which may not yet have seen an installer that committed
# while this session waited for the advisory lock.
_INSTALLED_VERSION = """
SELECT d.description
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_description AS d ON d.objoid = p.oid AND d.classoid = 'pg_catalog.pg_proc'::regclass
WHERE n.nspname = 'weir' AND p.proname = %s AND p.pronargs = 0
"""


@dataclass(frozen=True)
class FunctionLibrary:
    """A .sql file of weir.* functions shipped in `package`, versioned by weir.<marker>()'s comment."""

    package: str
    filename: str
    marker: str  # a function without arguments the file defines

    @cached_property
    def text(self) -> str:
        """Return the library's SQL."""
        return resources.files(self.package).joinpath(self.filename).read_text(encoding="utf-8")

    @cached_property
    def version(self) -> str:
        """Return the version this package ships: a hash of the SQL."""
        return "sha256:" + hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def installed_version(self, conn: psycopg.Connection[Any]) -> str | None:
        """Return the version installed in `conn`'s database, or None."""
        row = conn.execute(_INSTALLED_VERSION, (self.marker,)).fetchone()
        return str(row[0]) if row else None

    def install(self, conn: psycopg.Connection[Any]) -> bool:
        """Install or update the library unless this version is in place; return whether it did.

        Runs in its own transaction (a savepoint if `conn` is inside one).
        """
        if self.installed_version(conn) == self.version:
            return False
        with conn.transaction():
            # Two first runs at once would both CREATE SCHEMA, and concurrent CREATE OR
            # REPLACE of one function fails ("tuple concurrently updated"): the second
            # installer waits here, then finds the work done.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (STATE_SCHEMA_LOCK,))
            if self.installed_version(conn) == self.version:
                return False
            conn.execute(self.text)
            conn.execute(sql.SQL("COMMENT ON FUNCTION {}() IS {}").format(
                sql.Identifier("weir", self.marker), sql.Literal(self.version)))
        return True
