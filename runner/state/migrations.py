"""Where applied migrations are recorded: the `weir.migration` table and its log.

A migration's record is written in the migration's own transaction, so a crash can
never leave a migration applied but unrecorded, or recorded but not applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from runner.db.statements import one_row
from runner.state.schema import install

if TYPE_CHECKING:
    from runner.project.migrations import Migration


@dataclass(frozen=True)
class AppliedMigration:
    """What the database says about one applied migration."""

    id: str
    checksum: str | None  # None when adopted from yoyo and not yet checksummed
    rollback_checksum: str | None
    applied_at: datetime | None
    duration_ms: float | None
    applied_by: str | None
    in_yoyo: bool = False  # also recorded in yoyo's _yoyo_migration, which rollback must keep in step


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create the weir schema's migration tables if they are missing."""
    install(conn, "migration_state", "SELECT to_regclass('weir.migration_log') IS NOT NULL")


def read_applied(conn: psycopg.Connection[Any]) -> dict[str, AppliedMigration]:
    """Return every applied migration by id, including ones yoyo applied before Weir."""
    applied: dict[str, AppliedMigration] = {}
    has_weir, has_yoyo = one_row(conn.execute(
        "SELECT to_regclass('weir.migration') IS NOT NULL, to_regclass('_yoyo_migration') IS NOT NULL"
    ))
    if has_yoyo:
        for migration_id, applied_at in conn.execute("SELECT migration_id, applied_at_utc FROM _yoyo_migration"):
            applied[migration_id] = AppliedMigration(migration_id, None, None, applied_at, None, "yoyo", True)
    if has_weir:
        rows = conn.execute(
            "SELECT id, checksum, rollback_checksum, applied_at, duration_ms, applied_by FROM weir.migration"
        )
        for row in rows:
            in_yoyo = row[0] in applied
            applied[row[0]] = AppliedMigration(row[0], row[1], row[2], row[3], float(row[4]), row[5], in_yoyo)
    return applied


def record_apply(conn: psycopg.Connection[Any], migration: Migration, duration_ms: float) -> None:
    """Record `migration` as applied, in the caller's transaction."""
    conn.execute(
        _RECORD_APPLY,
        {
            "id": migration.id,
            "checksum": migration.checksum,
            "rollback_checksum": migration.rollback_checksum,
            "transactional": migration.transactional,
            "duration_ms": round(duration_ms, 3),
        },
    )


# One statement, so recording costs a single round trip inside the migration's transaction.
_RECORD_APPLY = """
WITH applied AS (
    INSERT INTO weir.migration (id, checksum, rollback_checksum, transactional, duration_ms)
    VALUES (%(id)s, %(checksum)s, %(rollback_checksum)s, %(transactional)s, %(duration_ms)s)
    RETURNING id, checksum, duration_ms
)
INSERT INTO weir.migration_log (migration_id, operation, checksum, duration_ms)
SELECT id, 'apply', checksum, duration_ms FROM applied
"""

_RECORD_ROLLBACK = """
WITH removed AS (
    DELETE FROM weir.migration WHERE id = %(id)s RETURNING id, checksum
)
INSERT INTO weir.migration_log (migration_id, operation, checksum, duration_ms)
SELECT %(id)s, 'rollback', %(checksum)s, %(duration_ms)s
"""

_FORGET_YOYO = "DELETE FROM _yoyo_migration WHERE migration_id = %(id)s"

_RECORD_CHECKSUM = """
WITH recorded AS (
    INSERT INTO weir.migration (id, checksum, rollback_checksum, transactional, duration_ms, applied_at)
    VALUES (%(id)s, %(checksum)s, %(rollback_checksum)s, %(transactional)s, 0, coalesce(%(applied_at)s, now()))
    ON CONFLICT (id) DO UPDATE SET checksum = excluded.checksum, rollback_checksum = excluded.rollback_checksum
    RETURNING id, checksum
)
INSERT INTO weir.migration_log (migration_id, operation, checksum)
SELECT id, %(operation)s, checksum FROM recorded
"""


def record_rollback(conn: psycopg.Connection[Any], migration: Migration, duration_ms: float, from_yoyo: bool) -> None:
    """Remove `migration`'s record (Weir's, and yoyo's if it came from there), in the caller's transaction."""
    params: dict[str, Any] = {"id": migration.id, "checksum": migration.checksum, "duration_ms": round(duration_ms, 3)}
    conn.execute(_RECORD_ROLLBACK, params)
    if from_yoyo:
        conn.execute(_FORGET_YOYO, params)


def record_checksum(
    conn: psycopg.Connection[Any], migration: Migration, operation: str, applied_at: datetime | None = None
) -> None:
    """Record the current checksum of an applied migration: an accepted edit or a yoyo adoption."""
    conn.execute(
        _RECORD_CHECKSUM,
        {
            "id": migration.id,
            "checksum": migration.checksum,
            "rollback_checksum": migration.rollback_checksum,
            "transactional": migration.transactional,
            "applied_at": applied_at,
            "operation": operation,
        },
    )


def record_failure(conn: psycopg.Connection[Any], migration_id: str, operation: str, message: str) -> None:
    """Log a failed apply or rollback, in its own durable transaction.

    Its synchronous commit also flushes the WAL of the earlier, asynchronously
    committed migrations of the same run.
    """
    with conn.transaction():
        conn.execute("SELECT set_config('synchronous_commit', 'on', true)")
        conn.execute(
            "INSERT INTO weir.migration_log (migration_id, operation, message) VALUES (%s, 'failed', %s)",
            (migration_id, f"{operation}: {message}"),
        )
