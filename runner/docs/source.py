"""Where the docs' facts come from: a throwaway database built from the project, or a live one.

By default Weir documents what the project's files make: on a scratch database of a server
(the embedded one) it applies every migration and builds every model with no data, reads
the catalog, and drops the database. Production is never needed, and the result depends
only on the files. A live database adds what only it knows: row counts and run history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from runner.catalog import Catalog, read_catalog
from runner.docs.descriptions import with_descriptions
from runner.errors import ModelFailed
from runner.project import Project
from runner.state.history import History, recent_history

# Models built at once on the throwaway database: each is quick with no data, so two halve the time.
BUILD_THREADS = 2

# An estimate, read from the statistics: count(*) on a warehouse's facts would take minutes. The live
# row counter follows every commit (a new table's reltuples waits for VACUUM or ANALYZE); reltuples,
# -1 when never analyzed, stands in when statistics are off.
_ROW_ESTIMATES = """
SELECT n.nspname || '.' || c.relname, coalesce(s.n_live_tup, nullif(c.reltuples, -1)::bigint)
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables AS s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname = ANY(%(schemas)s)
"""


@dataclass(frozen=True)
class DocsSource:
    """What the docs describe: the catalog with the SQL's descriptions, and what a live database adds."""

    catalog: Catalog
    history: History | None = None  # live database only
    row_estimates: dict[str, int] | None = None  # live database only: "schema.name" -> rows (statistics)


def throwaway_source(server: psycopg.Connection[Any], project: Project) -> DocsSource:
    """Build `project` with no data on a scratch database of the server of autocommit `server`; read it.

    Raises MigrationFailed or ModelFailed (one line, naming the file) when a migration or a
    model does not build; the scratch database is dropped either way.
    """
    from runner.build.run import build
    from runner.db.connection import connect
    from runner.migrate import migrate
    from runner.migrate.verify import scratch_database

    with scratch_database(server) as conninfo:
        conn = connect(conninfo, "weir docs")
        try:
            # A scratch database needs no durable commits, on this connection or the build's workers.
            conn.execute(sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(
                sql.Identifier(conn.info.dbname)))
            conn.execute("SET synchronous_commit = off")
            migrate(conn, project)
            report = build(conn, project, threads=BUILD_THREADS)
            if not report.ok:
                failed = report.errors or [f"{r.model}: {r.status}" for r in report.results
                                           if r.status not in ("success", "skipped")]
                raise ModelFailed(f"{failed[0]} (building the models with no data on a throwaway database, to"
                                  " document them; fix the model, or document a live database with --dsn)")
            catalog = read_catalog(conn)
        finally:
            conn.close()
    return DocsSource(with_descriptions(catalog, project.models))


def live_source(conn: psycopg.Connection[Any], project: Project) -> DocsSource:
    """Read the catalog, row estimates and recent run history of the live database of `conn`."""
    catalog = with_descriptions(read_catalog(conn), project.models)
    estimates = {name: rows for name, rows in conn.execute(_ROW_ESTIMATES, {"schemas": list(catalog.schemas())})
                 if rows is not None}
    return DocsSource(catalog, recent_history(conn), estimates)
