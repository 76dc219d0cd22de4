"""Indexes built CONCURRENTLY: the INVALID ones a migration leaves, and what to do about them.

A `CREATE INDEX CONCURRENTLY` that fails or is killed half way leaves its index in the
catalog, INVALID: never used by queries, yet in the way of `IF NOT EXISTS`, which then
skips it. So a migration that runs outside a transaction drops its own INVALID leftover
before each build, and is not recorded if it ends with an INVALID index of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from runner.errors import MigrationFailed

if TYPE_CHECKING:
    from runner.project.migrations import Migration
    from runner.project.sqlfile import SqlFile, Statement

_INVALID_INDEXES = """
SELECT format('%I.%I', n.nspname, c.relname), n.nspname, c.relname
FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid
ORDER BY 1
"""

# The index `name` on `table` (schema-qualified, or found through search_path), if it is INVALID.
_INVALID_INDEX_ON = """
SELECT format('%%I.%%I', n.nspname, c.relname), n.nspname, c.relname
FROM pg_class AS t
JOIN pg_class AS c ON c.relnamespace = t.relnamespace AND c.relname = %(name)s
JOIN pg_index AS i ON i.indexrelid = c.oid AND i.indrelid = t.oid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE t.oid = to_regclass(%(table)s) AND NOT i.indisvalid
"""


@dataclass(frozen=True)
class IndexBuild:
    """A CREATE INDEX CONCURRENTLY that names its index: which index, on which table."""

    name: str
    schema: str | None
    table: str


def invalid_indexes(conn: psycopg.Connection[Any]) -> list[str]:
    """Return every INVALID index of the database, as 'schema.index'."""
    return [row[0] for row in conn.execute(_INVALID_INDEXES).fetchall()]


def index_build(statement: Statement) -> IndexBuild | None:
    """Return the index a `CREATE INDEX CONCURRENTLY name ON table` statement builds, else None."""
    if statement.kind != "IndexStmt" or not statement.outside_transaction:
        return None
    from runner.project.sqlfile import parse_json

    (raw,), _ = parse_json(statement.text)
    node = raw["stmt"]["IndexStmt"]
    if not node.get("idxname"):
        return None  # PostgreSQL picks a fresh name: a leftover is never in its way
    relation = node["relation"]
    return IndexBuild(node["idxname"], relation.get("schemaname"), relation["relname"])


def drop_leftover(conn: psycopg.Connection[Any], statement: Statement, on_progress: Callable[[str], None]) -> None:
    """Before `statement` builds a named index, drop an INVALID index of that name an earlier attempt left.

    Without this, `IF NOT EXISTS` keeps the leftover and the migration ends with an
    index that queries never use; without IF NOT EXISTS the name is taken.
    """
    build = index_build(statement)
    if build is None:
        return
    table = ".".join(sql.Identifier(part).as_string(conn) for part in (build.schema, build.table) if part)
    row = conn.execute(_INVALID_INDEX_ON, {"name": build.name, "table": table}).fetchone()
    if row is None:
        return
    shown, schema, name = row
    conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(schema, name)))
    on_progress(f"dropped INVALID index {shown}, left by an earlier attempt, to build it again")


def left_invalid(conn: psycopg.Connection[Any], sql_file: SqlFile, before: list[str]) -> list[str]:
    """Return the INVALID indexes that running `sql_file` left: new since `before`, or ones it builds."""
    built = _builds(sql_file)
    return [name for name, _, index in conn.execute(_INVALID_INDEXES).fetchall()
            if name not in before or index in built]


def fix_command(index: str) -> str:
    """Return the commands that clear the INVALID `index` so the migration can run again."""
    return f"`DROP INDEX CONCURRENTLY {index};` then `weir migrate`"


def refuse_invalid(display: str, invalid: list[str]) -> MigrationFailed:
    """Return the failure of a migration that ran to its end but left INVALID indexes."""
    listed = ", ".join(invalid)
    return MigrationFailed(
        f"{display}: left INVALID index {listed} (a CREATE INDEX CONCURRENTLY that did not finish,"
        f" or IF NOT EXISTS that kept an earlier attempt's leftover); the migration is not recorded:"
        f" run {fix_command(invalid[0])}"
    )


def with_invalid(message: str, invalid: list[str]) -> str:
    """Return a failed migration's `message`, naming the INVALID indexes it left and how to clear them."""
    if not invalid:
        return message
    return f"{message}; INVALID index {', '.join(invalid)} left behind: run {fix_command(invalid[0])}"


def advice(conn: psycopg.Connection[Any], pending: list[Migration]) -> list[str]:
    """Say, for each INVALID index, what to do: re-run the pending migration that builds it, else rebuild it."""
    found = []
    for index, _, name in conn.execute(_INVALID_INDEXES).fetchall():
        owner = next((migration for migration in pending if name in _builds(migration.forward)), None)
        if owner is not None:
            found.append(f"index {index} is INVALID, left by an unfinished run of {owner.display} (pending):"
                         " run `weir migrate`, which drops it and builds it again")
        else:
            found.append(f"index {index} is INVALID (a CREATE INDEX CONCURRENTLY or REINDEX that did not finish):"
                         f" rebuild it with `REINDEX INDEX CONCURRENTLY {index};`")
    return found


def _builds(sql_file: SqlFile) -> set[str]:
    return {build.name for build in map(index_build, sql_file.statements) if build is not None}
