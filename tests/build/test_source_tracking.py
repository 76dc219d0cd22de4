"""Skipping by the writes Weir's trigger records on a source: exact at any size, without reading the table."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from runner.build.report import BuildReport
from runner.build.run import build
from runner.db.connection import connect
from runner.project import Project

# No timestamp column, and every table counts as too large to hash (weir.token_hash_limit = 0
# below): without the trigger only the statistics counters would show a change, and those lag.
RAW = """
CREATE SCHEMA raw;
CREATE TABLE raw.codes (code int PRIMARY KEY, label text NOT NULL);
CREATE TABLE raw.other (id int PRIMARY KEY);
INSERT INTO raw.codes SELECT n, 'label ' || n FROM generate_series(1, 20) AS n;
INSERT INTO raw.other VALUES (1);
"""
MODELS = {
    "models/marts/dim_codes.sql": "-- weir: kind=table\nSELECT code, label FROM raw.codes",
    "models/marts/others.sql": "-- weir: kind=table\nSELECT id FROM raw.other",
}


@pytest.fixture
def warehouse(project: Path, db: psycopg.Connection, write_models) -> Path:
    """A project with two table models over two raw tables, in a database where no table is hashed."""
    (project / "setup.cfg").write_text("[weir]\nlock_timeout = 2s\nstatement_timeout = 60s\nlock_wait = 60s\n")
    db.execute(RAW)
    db.execute(sql.SQL("ALTER DATABASE {} SET weir.token_hash_limit = 0").format(sql.Identifier(db.info.dbname)))
    write_models(project, MODELS)
    return project


def run(project: Path, dsn: str) -> dict[str, str]:
    """Build `project` on `dsn`; return each model's status."""
    with connect(dsn, "weir build") as conn:
        report: BuildReport = build(conn, Project.load(project))
    assert report.ok, [result.error for result in report.results]
    return {result.model: result.status for result in report.results}


def same_content(db: psycopg.Connection) -> bool:
    """Say whether marts.dim_codes holds exactly what raw.codes holds."""
    query = "SELECT count(*) FROM ((TABLE raw.codes EXCEPT ALL TABLE marts.dim_codes)" \
            " UNION ALL (TABLE marts.dim_codes EXCEPT ALL TABLE raw.codes)) AS d"
    return db.execute(query).fetchone()[0] == 0


def test_a_large_table_without_a_timestamp_is_skipped_when_unchanged_and_built_when_changed(
    warehouse: Path, dsn: str, db
) -> None:
    assert run(warehouse, dsn) == {"marts.dim_codes": "success", "marts.others": "success"}
    token = db.execute("SELECT inputs FROM weir.build_input WHERE model = 'marts.dim_codes'").fetchone()[0]
    assert "writes" in str(token)
    assert run(warehouse, dsn) == {"marts.dim_codes": "skipped", "marts.others": "skipped"}
    with db.transaction():
        db.execute("DELETE FROM raw.codes WHERE code = 3")  # a delete, from a session that stays connected
    assert run(warehouse, dsn) == {"marts.dim_codes": "success", "marts.others": "skipped"}
    assert same_content(db)


def test_a_trigger_disabled_while_a_write_happens_is_noticed(warehouse: Path, dsn: str, db) -> None:
    run(warehouse, dsn)
    db.execute("ALTER TABLE raw.codes DISABLE TRIGGER weir_source_write")
    db.execute("UPDATE raw.codes SET label = 'unseen' WHERE code = 1")
    db.execute("ALTER TABLE raw.codes ENABLE ALWAYS TRIGGER weir_source_write")
    assert run(warehouse, dsn)["marts.dim_codes"] == "success"
    assert same_content(db)


def test_a_table_dropped_and_created_again_is_rebuilt_and_tracked_again(warehouse: Path, dsn: str, db) -> None:
    run(warehouse, dsn)
    db.execute("DROP TABLE raw.codes; CREATE TABLE raw.codes (code int PRIMARY KEY, label text NOT NULL)")
    assert run(warehouse, dsn)["marts.dim_codes"] == "success"
    assert run(warehouse, dsn)["marts.dim_codes"] == "skipped"
    assert same_content(db)


def test_a_writer_without_rights_on_the_weir_schema_is_recorded(warehouse: Path, dsn: str, db) -> None:
    run(warehouse, dsn)
    db.execute("CREATE ROLE weir_test_writer_role")
    try:
        db.execute("GRANT USAGE ON SCHEMA raw TO weir_test_writer_role")
        db.execute("GRANT ALL ON raw.codes TO weir_test_writer_role")
        with db.transaction():
            db.execute("SET LOCAL ROLE weir_test_writer_role")
            db.execute("INSERT INTO raw.codes VALUES (99, 'by another role')")
        assert run(warehouse, dsn)["marts.dim_codes"] == "success"
        assert same_content(db)
    finally:
        db.execute("DROP OWNED BY weir_test_writer_role; DROP ROLE weir_test_writer_role")


def test_a_table_weir_may_not_alter_keeps_the_statistics_token(warehouse: Path, dsn: str, db) -> None:
    db.execute(sql.SQL("ALTER DATABASE {} SET weir.track_writes = off").format(sql.Identifier(db.info.dbname)))
    run(warehouse, dsn)
    assert db.execute("SELECT count(*) FROM pg_trigger WHERE tgname = 'weir_source_write'").fetchone()[0] == 0
    # No timestamp and too large to hash: nothing exact, so it is built every time.
    assert run(warehouse, dsn)["marts.dim_codes"] == "success"


# Each write and whether it changes what raw.codes holds (None: it may or may not look changed).
WRITES = {
    "insert": ("INSERT INTO raw.codes SELECT coalesce(max(code), 0) + 1, 'new' FROM raw.codes", True),
    "update": ("UPDATE raw.codes SET label = label || '!' WHERE code = (SELECT min(code) FROM raw.codes)", True),
    "update to the same value": ("UPDATE raw.codes SET label = label WHERE code = (SELECT max(code) FROM raw.codes)",
                                 None),
    "delete": ("DELETE FROM raw.codes WHERE code = (SELECT max(code) FROM raw.codes)", True),
    "truncate": ("TRUNCATE raw.codes", True),
    "insert then delete it": ("INSERT INTO raw.codes VALUES (-1, 'gone'); DELETE FROM raw.codes WHERE code = -1",
                              None),
    "write of another table": ("INSERT INTO raw.other SELECT max(id) + 1 FROM raw.other", False),
    "vacuum full": ("VACUUM FULL raw.codes", None),
    "statistics reset": ("SELECT pg_stat_reset()", False),
    "nothing": ("SELECT 1", False),
}
class RolledBack(Exception):
    """Raised inside a write's transaction to roll it back."""


STEP = st.tuples(st.sampled_from(sorted(WRITES)), st.booleans())  # (write, rolled back)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=6))
def test_a_build_after_any_write_rebuilds_and_after_none_skips(warehouse: Path, dsn: str, db, steps) -> None:
    run(warehouse, dsn)  # settle whatever the examples before left
    run(warehouse, dsn)
    for write, rolled_back in steps:
        statement, changes = WRITES[write]
        if write == "vacuum full":
            db.execute(statement)  # not inside a transaction block
        elif rolled_back:
            with pytest.raises(RolledBack), db.transaction():
                db.execute(statement)  # in a session that stays connected: its statistics are not flushed
                raise RolledBack
            changes = False
        else:
            with db.transaction():
                db.execute(statement)
        status = run(warehouse, dsn)["marts.dim_codes"]
        assert same_content(db), (write, rolled_back)
        if changes is True:
            assert status == "success", (write, rolled_back)
        elif changes is False:
            assert status == "skipped", (write, rolled_back)
