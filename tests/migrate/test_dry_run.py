"""`--dry-run` reports what would change and leaves no trace at all."""

from __future__ import annotations


def snapshot(db) -> tuple:
    """Everything a dry run could leave behind: schemas, tables, rows, sequence positions."""
    schemas = db.execute("SELECT array_agg(nspname ORDER BY nspname) FROM pg_namespace").fetchone()[0]
    relations = db.execute("SELECT array_agg(relname ORDER BY relname) FROM pg_class"
                           " WHERE relnamespace = 'public'::regnamespace").fetchone()[0]
    sequences = db.execute("SELECT array_agg(last_value ORDER BY sequencename) FROM pg_sequences").fetchone()[0]
    rows = db.execute("SELECT count(*) FROM events").fetchone()[0]
    return schemas, relations, sequences, rows


def test_dry_run_migrate_reports_changes_and_leaves_no_trace(project, db, dsn, write_migration, weir):
    db.execute("CREATE TABLE events (id bigserial PRIMARY KEY, note text)")
    db.execute("INSERT INTO events (note) VALUES ('before')")
    write_migration(project, "0001_customers", "CREATE TABLE customers (id bigint PRIMARY KEY, email text);\n"
                    "INSERT INTO events (note) VALUES ('migrated');\n", "DROP TABLE customers;\n")
    write_migration(project, "0002_email_index", "CREATE INDEX customers_email ON customers (email);\n",
                    "DROP INDEX customers_email;\n")
    before = snapshot(db)
    result = weir("migrate", "--project", str(project), "--dsn", dsn, "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("would apply 0001_customers: ")
    assert "  + table public.customers" in lines
    assert any(line.startswith("  + index public.customers_email") for line in lines)
    assert lines[-1] == "dry run: 2 migration(s) would be applied; nothing was changed"
    assert snapshot(db) == before


def test_dry_run_stops_before_a_migration_that_runs_outside_a_transaction(project, db, dsn, write_migration, weir):
    db.execute("CREATE TABLE events (id bigserial PRIMARY KEY, note text)")
    write_migration(project, "0001_items", "CREATE TABLE items (id int);\n", "DROP TABLE items;\n")
    write_migration(project, "0002_index",
                    "-- transactional: false\nCREATE INDEX CONCURRENTLY items_id ON items (id);\n",
                    "-- transactional: false\nDROP INDEX CONCURRENTLY items_id;\n")
    write_migration(project, "0003_more", "CREATE TABLE more (id int);\n", "DROP TABLE more;\n")
    before = snapshot(db)
    result = weir("migrate", "--project", str(project), "--dsn", dsn, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would apply 0002_index: not run: it runs outside a transaction; the dry run stops here" in result.stdout
    assert "0003_more" not in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "dry run: 1 of 3 migration(s) would be applied; it stopped at migrations/0002_index.sql, which runs outside"
        " a transaction (a dry run cannot roll that back): it and the 1 after it were not tried (2 of 3);"
        " nothing was changed"
    )
    assert snapshot(db) == before


def test_dry_run_rollback_reports_and_changes_nothing(project, db, dsn, write_migration, weir):
    db.execute("CREATE TABLE events (id bigserial PRIMARY KEY, note text)")
    write_migration(project, "0001_items", "CREATE TABLE items (id int);\n", "DROP TABLE items;\n")
    assert weir("migrate", "--project", str(project), "--dsn", dsn).exit_code == 0
    before = snapshot(db)
    result = weir("rollback", "--project", str(project), "--dsn", dsn, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "  - table public.items" in result.stdout.splitlines()
    assert snapshot(db) == before
    assert db.execute("SELECT count(*) FROM weir.migration").fetchone()[0] == 1


# Raises, naming what it saw, unless the file runs with lock_timeout 7s and statement_timeout 9s.
_ASSERT_ROLLBACK_TIMEOUTS = """
DO $$
BEGIN
    IF current_setting('lock_timeout') <> '7s' OR current_setting('statement_timeout') <> '9s' THEN
        RAISE EXCEPTION 'ran with lock_timeout=% statement_timeout=%',
            current_setting('lock_timeout'), current_setting('statement_timeout');
    END IF;
END
$$;
DROP TABLE items;
"""


def test_dry_run_rollback_runs_with_the_rollback_files_timeouts_not_the_forward_ones(
    project, db, dsn, write_migration, weir
):
    write_migration(project, "0001_items",
                    "-- weir: lock_timeout=3s, statement_timeout=4s\nCREATE TABLE items (id int);\n",
                    "-- weir: lock_timeout=7s, statement_timeout=9s\n" + _ASSERT_ROLLBACK_TIMEOUTS)
    assert weir("migrate", "--project", str(project), "--dsn", dsn).exit_code == 0
    result = weir("rollback", "--project", str(project), "--dsn", dsn, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "  - table public.items" in result.stdout.splitlines()


def test_dry_run_rollback_without_timeouts_of_its_own_takes_the_projects(project, db, dsn, write_migration, weir):
    (project / "setup.cfg").write_text("[weir]\nlock_timeout = 7s\nstatement_timeout = 9s\n")
    write_migration(project, "0001_items",
                    "-- weir: lock_timeout=3s, statement_timeout=4s\nCREATE TABLE items (id int);\n",
                    _ASSERT_ROLLBACK_TIMEOUTS)
    assert weir("migrate", "--project", str(project), "--dsn", dsn).exit_code == 0
    result = weir("rollback", "--project", str(project), "--dsn", dsn, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "  - table public.items" in result.stdout.splitlines()
