"""weir verify: every rollback proven on a scratch database."""

from __future__ import annotations

import secrets

import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from runner.db.connection import connect, describe
from runner.errors import ConnectionFailed, VerifyFailed
from runner.migrate import verify
from runner.migrate.verify import format_failure, scratch_database, verify_migrations
from runner.project import Project

RAW_SCHEMA = """
CREATE SCHEMA raw;
CREATE TABLE raw.customers (
    customer_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE
);
COMMENT ON COLUMN raw.customers.email IS 'Where receipts go';
CREATE TABLE raw.orders (
    order_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES raw.customers,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE FUNCTION raw.touch() RETURNS trigger LANGUAGE plpgsql
    AS $$BEGIN NEW.updated_at = now(); RETURN NEW; END$$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON raw.orders FOR EACH ROW EXECUTE FUNCTION raw.touch();
CREATE VIEW raw.customer_orders AS
    SELECT c.email, o.order_id FROM raw.customers AS c JOIN raw.orders AS o USING (customer_id);
"""
RAW_ROLLBACK = "DROP SCHEMA raw CASCADE;\n"
SCRATCH_DATABASES = r"SELECT datname FROM pg_database WHERE datname LIKE 'weir\_verify\_%'"


def run_verify(db, project):
    """Verify the project's migrations on this test's database, as verify() does on a scratch one."""
    weir_project = Project.load(project)
    return verify_migrations(db, weir_project.migrations, weir_project.settings.timeouts)


def statuses(report):
    return [(result.id, result.status) for result in report.results]


def test_correct_migrations_pass(db, project, write_migration):
    write_migration(project, "0001_raw_schema", RAW_SCHEMA, RAW_ROLLBACK)
    write_migration(
        project, "0002_order_status",
        "CREATE TYPE raw.order_status AS ENUM ('new', 'paid');\n"
        "ALTER TABLE raw.orders ADD COLUMN status raw.order_status NOT NULL DEFAULT 'new';\n"
        "COMMENT ON COLUMN raw.orders.status IS 'Where the order is';\n"
        "CREATE INDEX ix_orders_status ON raw.orders (status);\n"
        "COMMENT ON COLUMN raw.customers.email IS 'Primary contact';\n",
        "COMMENT ON COLUMN raw.customers.email IS 'Where receipts go';\n"
        "ALTER TABLE raw.orders DROP COLUMN status;\n"
        "DROP TYPE raw.order_status;\n",
    )
    steps = []
    weir_project = Project.load(project)
    report = verify_migrations(db, weir_project.migrations, weir_project.settings.timeouts, steps.append)
    assert report.ok
    assert statuses(report) == [("0001_raw_schema", "ok"), ("0002_order_status", "ok")]
    assert [result.id for result in steps] == ["0001_raw_schema", "0002_order_status"]
    assert format_failure(report) == ""


def test_a_rollback_that_forgets_an_index_fails_and_stops_there(db, project, write_migration):
    write_migration(project, "0001_raw_schema", RAW_SCHEMA, RAW_ROLLBACK)
    write_migration(
        project, "0002_order_note",
        "ALTER TABLE raw.orders ADD COLUMN note text;\n"
        "CREATE INDEX ix_orders_updated_at ON raw.orders (updated_at);\n",
        "ALTER TABLE raw.orders DROP COLUMN note;\n",
    )
    write_migration(project, "0003_later", "CREATE SCHEMA staging;\n", "DROP SCHEMA staging;\n")
    report = run_verify(db, project)
    assert not report.ok
    assert statuses(report) == [("0001_raw_schema", "ok"), ("0002_order_note", "failed")]
    failed = report.failure
    assert failed.differences == ["+ index raw.ix_orders_updated_at"]
    assert format_failure(report) == (
        "migrations/0002_order_note.sql: rollback does not restore the schema (+ extra, - missing, ~ changed)\n"
        "  + index raw.ix_orders_updated_at\n"
        "fix migrations/0002_order_note.rollback.sql"
    )


def test_a_rollback_that_forgets_a_column_comment_fails(db, project, write_migration):
    write_migration(project, "0001_raw_schema", RAW_SCHEMA, RAW_ROLLBACK)
    write_migration(
        project, "0002_contact",
        "COMMENT ON COLUMN raw.customers.email IS 'Primary contact';\n"
        "CREATE INDEX ix_orders_updated_at ON raw.orders (updated_at);\n",
        "DROP INDEX raw.ix_orders_updated_at;\n",
    )
    report = run_verify(db, project)
    assert report.failure.differences == [
        "~ comment column raw.customers.email: Where receipts go -> Primary contact"
    ]


def test_a_rollback_that_leaves_a_column_behind_fails(db, project, write_migration):
    write_migration(project, "0001_raw_schema", RAW_SCHEMA, RAW_ROLLBACK)
    write_migration(
        project, "0002_names",
        "ALTER TABLE raw.customers ADD COLUMN first_name text, ADD COLUMN last_name text;\n",
        "ALTER TABLE raw.customers DROP COLUMN first_name;\n",
    )
    report = run_verify(db, project)
    assert report.failure.id == "0002_names"
    assert report.failure.differences == ["+ column raw.customers.last_name"]


def test_a_rollback_whose_reapply_fails_is_reported(db, project, write_migration):
    write_migration(
        project, "0001_countries",
        "CREATE TABLE countries (code text PRIMARY KEY, name text NOT NULL);\n", "DROP TABLE countries;\n"
    )
    write_migration(
        project, "0002_netherlands",
        "INSERT INTO countries VALUES ('NL', 'Netherlands');\n",
        "DELETE FROM countries WHERE code = 'nl';\n",
    )
    report = run_verify(db, project)
    failed = report.failure
    assert failed.id == "0002_netherlands"
    assert failed.differences == []
    assert failed.message == (
        "migrations/0002_netherlands.sql:1: duplicate key value violates unique constraint \"countries_pkey\""
        " (Key (code)=(NL) already exists.)"
        " (applying it again after its rollback: the rollback leaves something behind)"
    )
    assert failed.fix == "migrations/0002_netherlands.rollback.sql"


def test_a_reapply_that_gives_a_different_schema_is_reported(db, project, write_migration):
    write_migration(project, "0001_log", "CREATE TABLE applied_log (at timestamptz);\n", "DROP TABLE applied_log;\n")
    write_migration(
        project, "0002_index_when_busy",
        "INSERT INTO applied_log VALUES (now());\n"
        "DO $$BEGIN\n"
        "    IF (SELECT count(*) FROM applied_log) > 1 THEN CREATE INDEX ix_log_at ON applied_log (at); END IF;\n"
        "END$$;\n",
        "SELECT 1;\n",
    )
    report = run_verify(db, project)
    failed = report.failure
    assert failed.message == (
        "migrations/0002_index_when_busy.sql: applying it again after its rollback gives a different schema"
        " (+ extra, - missing, ~ changed)"
    )
    assert failed.differences == ["+ index public.ix_log_at"]


def test_a_failing_rollback_is_reported_with_its_line(db, project, write_migration):
    write_migration(project, "0001_raw_schema", RAW_SCHEMA, "DROP SCHEMA raw CASCADE;\nDROP TABLE raw.customer;\n")
    report = run_verify(db, project)
    assert report.failure.message == (
        'migrations/0001_raw_schema.rollback.sql:2: schema "raw" does not exist'
        " (rolling back right after migrations/0001_raw_schema.sql)"
    )


def test_irreversible_migrations_are_skipped_and_verify_goes_on(db, project, write_migration):
    write_migration(project, "0001_raw_schema", RAW_SCHEMA, RAW_ROLLBACK)
    write_migration(
        project, "0002_drop_legacy",
        '-- weir: irreversible="drops legacy data"\nALTER TABLE raw.orders DROP COLUMN updated_at;\n',
        None,
    )
    write_migration(project, "0003_staging", "CREATE SCHEMA staging;\n", "DROP SCHEMA staging;\n")
    report = run_verify(db, project)
    assert report.ok
    assert statuses(report) == [("0001_raw_schema", "ok"), ("0002_drop_legacy", "skipped"), ("0003_staging", "ok")]
    assert report.results[1].message == "irreversible: drops legacy data"
    # Later migrations run on top of the irreversible one, as in production.
    assert db.execute("SELECT to_regclass('raw.orders') IS NOT NULL").fetchone()[0]
    columns = db.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'raw' AND column_name = 'updated_at'"
    ).fetchone()[0]
    assert columns == 0


def test_a_concurrent_index_migration_is_verified_outside_a_transaction(db, project, write_migration):
    write_migration(project, "0001_raw_schema", RAW_SCHEMA, RAW_ROLLBACK)
    write_migration(
        project, "0002_concurrent_index",
        "-- transactional: false\nCREATE INDEX CONCURRENTLY ix_orders_updated_at ON raw.orders (updated_at);\n",
        "-- transactional: false\nDROP INDEX CONCURRENTLY raw.ix_orders_updated_at;\n",
    )
    write_migration(
        project, "0003_concurrent_forgotten",
        "-- transactional: false\nCREATE INDEX CONCURRENTLY ix_orders_customer ON raw.orders (customer_id);\n",
        "-- transactional: false\nSELECT 1;\n",
    )
    report = run_verify(db, project)
    assert statuses(report) == [
        ("0001_raw_schema", "ok"), ("0002_concurrent_index", "ok"), ("0003_concurrent_forgotten", "failed")
    ]
    assert report.failure.differences == ["+ index raw.ix_orders_customer"]


def test_verify_passes_and_drops_its_scratch_database(db, project, write_migration):
    write_migration(project, "0001_raw_schema", RAW_SCHEMA, RAW_ROLLBACK)
    before = set(db.execute(SCRATCH_DATABASES).fetchall())
    seen = []
    report = verify(db, Project.load(project),
                    on_step=lambda result: seen.append(db.execute(SCRATCH_DATABASES).fetchall()))
    assert report.ok and statuses(report) == [("0001_raw_schema", "ok")]
    assert len(set(seen[0]) - before) == 1  # the scratch database existed during the run
    assert set(db.execute(SCRATCH_DATABASES).fetchall()) == before
    # Nothing reached the user's own database.
    assert db.execute("SELECT to_regnamespace('raw')").fetchone()[0] is None


def test_verify_raises_one_line_and_still_drops_the_scratch_database(db, project, write_migration):
    write_migration(project, "0001_raw_schema", RAW_SCHEMA, RAW_ROLLBACK)
    write_migration(
        project, "0002_order_note",
        "CREATE INDEX ix_orders_updated_at ON raw.orders (updated_at);\n"
        "COMMENT ON COLUMN raw.customers.email IS 'Primary contact';\n",
        "ALTER TABLE raw.orders ADD COLUMN note text;\n",
    )
    before = set(db.execute(SCRATCH_DATABASES).fetchall())
    with pytest.raises(VerifyFailed) as raised:
        verify(db, Project.load(project))
    assert str(raised.value) == (
        "migrations/0002_order_note.sql: rollback does not restore the schema (+ extra, - missing, ~ changed):"
        " + column raw.orders.note,"
        " ~ comment column raw.customers.email: Where receipts go -> Primary contact,"
        " + index raw.ix_orders_updated_at;"
        " fix migrations/0002_order_note.rollback.sql"
    )
    assert raised.value.exit_code == 1
    assert set(db.execute(SCRATCH_DATABASES).fetchall()) == before


def test_the_scratch_database_is_dropped_when_the_body_raises(db):
    with pytest.raises(RuntimeError), scratch_database(db) as scratch:
        name = conninfo_to_dict(scratch)["dbname"]
        assert name.startswith("weir_verify_")
        assert db.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone()[0] == 1
        raise RuntimeError("verify blew up")
    assert db.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone()[0] == 0


@pytest.fixture
def role_without_createdb(db):
    """A role that may not create databases, dropped after the test."""
    role = f"weir_no_createdb_{secrets.token_hex(4)}"
    db.execute(sql.SQL("CREATE ROLE {} NOCREATEDB").format(sql.Identifier(role)))
    yield role
    db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_scratch_database_needs_createdb(dsn, role_without_createdb):
    # The session takes the role at login, so CREATE DATABASE is checked against it.
    with connect(make_conninfo(dsn, options=f"-c role={role_without_createdb}")) as conn:
        with pytest.raises(ConnectionFailed) as raised, scratch_database(conn):
            pass
        info = conn.info
        assert describe(conn) == f"{info.user}@{info.host}:{info.port}/{info.dbname}"
        assert str(raised.value) == (
            f"cannot create a scratch database on {describe(conn)}: permission denied;"
            " weir verify needs a role with CREATEDB (ALTER ROLE ... CREATEDB), or --dsn for one that has it"
        )
