"""weir.create_partitions: a migration partitions a table it owns the way Weir partitions models."""

from __future__ import annotations

from pathlib import Path

import psycopg

MIGRATION = """
CREATE SCHEMA raw;
CREATE TABLE raw.events (id bigint, at timestamptz NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
SELECT weir.create_partitions('raw.events', 'month', '2024-11-20', '2025-02-01');
INSERT INTO raw.events VALUES (1, '2024-11-30 23:30-05'), (2, '2025-02-01 00:00+00');
"""


def test_a_migration_makes_monthly_partitions_named_as_weir_names_them(
    tmp_path: Path, write_files, db: psycopg.Connection, dsn: str, weir
) -> None:
    write_files(tmp_path, {"migrations/0001_events.sql": MIGRATION,
                           "migrations/0001_events.rollback.sql": "DROP SCHEMA raw CASCADE;\n"})
    migrated = weir("migrate", "--project", str(tmp_path), "--dsn", dsn)
    assert migrated.exit_code == 0, migrated.output
    assert db.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'raw.events'::regclass ORDER BY 1").fetchall() == [
        ("events_p202411", "FOR VALUES FROM ('2024-11-01 00:00:00+00') TO ('2024-12-01 00:00:00+00')"),
        ("events_p202412", "FOR VALUES FROM ('2024-12-01 00:00:00+00') TO ('2025-01-01 00:00:00+00')"),
        ("events_p202501", "FOR VALUES FROM ('2025-01-01 00:00:00+00') TO ('2025-02-01 00:00:00+00')"),
        ("events_p202502", "FOR VALUES FROM ('2025-02-01 00:00:00+00') TO ('2025-03-01 00:00:00+00')"),
    ]
    # 23:30 at UTC-5 on 30 November is 1 December in UTC
    assert db.execute("SELECT id, tableoid::regclass::text FROM raw.events ORDER BY id").fetchall() == [
        (1, "raw.events_p202412"), (2, "raw.events_p202502")]
    assert db.execute("SELECT weir.create_partitions('raw.events', 'month', '2024-12-05', '2025-03-01')").fetchone() \
        == (1,)  # only March is new


def test_a_table_that_is_not_partitioned_is_refused_with_a_hint(db: psycopg.Connection, tmp_path: Path,
                                                                  write_files, dsn: str, weir) -> None:
    write_files(tmp_path, {
        "migrations/0001_events.sql": "CREATE TABLE plain (id int);\n"
                                      "SELECT weir.create_partitions('plain', 'month', now(), now());\n",
        "migrations/0001_events.rollback.sql": "DROP TABLE plain;\n"})
    migrated = weir("migrate", "--project", str(tmp_path), "--dsn", dsn)
    assert migrated.exit_code == 1
    assert "weir.create_partitions: plain is not a partitioned table" in migrated.output
    assert db.execute("SELECT to_regclass('public.plain')").fetchone() == (None,)
