"""Weir's own schema: parts installed once, versioned in weir.state_version, upgraded in place, never misread."""

from __future__ import annotations

import psycopg.errors
import pytest

from runner.state import schema as state
from runner.state.builds import ensure_build_state
from runner.state.migrations import ensure_schema
from runner.state.retention import ensure_retention_state

_MIGRATION_PRESENT = "SELECT to_regclass('weir.migration_log') IS NOT NULL"


def recorded_versions(db) -> dict[str, int]:
    if not db.execute("SELECT to_regclass('weir.state_version') IS NOT NULL").fetchone()[0]:
        return {}
    return dict(db.execute("SELECT part, version FROM weir.state_version").fetchall())


def test_a_first_install_records_each_part_at_this_weirs_version(project, db, dsn, write_migration, weir):
    write_migration(project, "0001_t", "CREATE TABLE t (id int);\n", "DROP TABLE t;\n")
    assert weir("migrate", "--project", str(project), "--dsn", dsn).exit_code == 0
    assert recorded_versions(db) == {"migration_state": state.known_version("migration_state")}
    assert state.install(db, "migration_state", _MIGRATION_PRESENT) is False


def test_a_part_installed_before_versions_were_recorded_counts_as_version_1_and_is_left_alone(db):
    ensure_schema(db)
    db.execute("DROP TABLE weir.state_version")
    assert state.install(db, "migration_state", _MIGRATION_PRESENT) is False
    assert recorded_versions(db) == {}  # nothing written: a read-only role can still use it


def test_an_older_part_is_upgraded_in_one_step_and_its_new_version_recorded(db, monkeypatch):
    ensure_schema(db)
    upgrade = "ALTER TABLE weir.migration_log ADD COLUMN host text;\n"
    real_sql_file = state.sql_file
    monkeypatch.setattr(state, "known_version", lambda part: 2 if part == "migration_state" else 1)
    monkeypatch.setattr(
        state, "sql_file", lambda name: upgrade if name == "upgrade/migration_state.2" else real_sql_file(name)
    )

    assert state.install(db, "migration_state", _MIGRATION_PRESENT) is True
    assert recorded_versions(db) == {"migration_state": 2}
    columns = db.execute(
        "SELECT count(*) FROM pg_attribute WHERE attrelid = 'weir.migration_log'::regclass AND attname = 'host'"
    ).fetchone()[0]
    assert columns == 1
    assert state.install(db, "migration_state", _MIGRATION_PRESENT) is False  # once only


def test_a_failing_upgrade_leaves_the_part_as_it_was(db, monkeypatch):
    ensure_schema(db)
    real_sql_file = state.sql_file
    monkeypatch.setattr(state, "known_version", lambda part: 3)
    monkeypatch.setattr(state, "sql_file", lambda name: {
        "upgrade/migration_state.2": "ALTER TABLE weir.migration_log ADD COLUMN host text;\n",
        "upgrade/migration_state.3": "ALTER TABLE weir.no_such_table ADD COLUMN x int;\n",
    }.get(name) or real_sql_file(name))

    with pytest.raises(psycopg.errors.UndefinedTable, match="no_such_table"):
        state.install(db, "migration_state", _MIGRATION_PRESENT)
    assert recorded_versions(db) == {"migration_state": 1}
    columns = db.execute(
        "SELECT count(*) FROM pg_attribute WHERE attrelid = 'weir.migration_log'::regclass AND attname = 'host'"
    ).fetchone()[0]
    assert columns == 0


def test_state_from_a_newer_weir_is_refused_with_one_line_and_nothing_changes(project, db, dsn, write_migration, weir):
    write_migration(project, "0001_t", "CREATE TABLE t (id int);\n", "DROP TABLE t;\n")
    assert weir("migrate", "--project", str(project), "--dsn", dsn).exit_code == 0
    db.execute("UPDATE weir.state_version SET version = 99 WHERE part = 'migration_state'")
    write_migration(project, "0002_u", "CREATE TABLE u (id int);\n", "DROP TABLE u;\n")

    result = weir("migrate", "--project", str(project), "--dsn", dsn)

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    message = result.stderr.strip().splitlines()[-1]
    assert "migration_state is at version 99" in message
    assert "upgrade Weir" in message
    assert db.execute("SELECT to_regclass('public.u')").fetchone()[0] is None



def test_the_shipped_build_state_upgrade_applies_over_version_1(db):
    db.execute(state.sql_file("build_state"))  # a database a version 1 Weir left
    assert "xmin" not in relation_token_source(db)
    ensure_build_state(db)
    assert recorded_versions(db)["build_state"] == state.known_version("build_state") >= 2
    assert "xmin" in relation_token_source(db)
    db.execute("CREATE TABLE small (id int)")
    assert "versions" in str(db.execute("SELECT weir.relation_token('small')").fetchone()[0])


def relation_token_source(db) -> str:
    return db.execute("SELECT prosrc FROM pg_proc WHERE proname = 'relation_token'").fetchone()[0]


def test_the_shipped_build_state_upgrade_indexes_skipped_builds_for_freshness(db):
    db.execute(state.sql_file("build_state"))
    ensure_build_state(db)
    index = db.execute("SELECT pg_get_indexdef('weir.build_result_skipped_idx'::regclass)").fetchone()[0]
    assert "(model, finished_at) WHERE (status = 'skipped'::text)" in index


def test_the_shipped_retention_upgrade_keeps_the_history_and_lets_a_step_wait_to_be_counted(db):
    db.execute(state.sql_file("retention"))  # a database a version 1 Weir left
    db.execute("INSERT INTO weir.retention_run (as_of) VALUES ('2024-06-10')")
    db.execute("INSERT INTO weir.retention_step (retention_run_id, model, cutoff, partition_name, rows_removed,"
               " archived) VALUES (1, 'marts.fact', '2024-03-12', 'fact_p202401', 4, false)")
    with pytest.raises(psycopg.errors.NotNullViolation):
        db.execute("INSERT INTO weir.retention_step (retention_run_id, model, cutoff, archived)"
                   " VALUES (1, 'marts.fact', '2024-03-12', false)")

    ensure_retention_state(db)

    assert recorded_versions(db)["retention"] == state.known_version("retention") >= 2
    db.execute("INSERT INTO weir.retention_step (retention_run_id, model, cutoff, partition_name, archived)"
               " VALUES (1, 'marts.fact', '2024-03-12', 'fact_p202402', false)")
    assert db.execute("SELECT partition_name, rows_removed FROM weir.retention_step ORDER BY 1").fetchall() == [
        ("fact_p202401", 4), ("fact_p202402", None)]
