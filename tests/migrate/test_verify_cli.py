"""`weir verify` through the CLI: exit codes and the one-line failure."""

from __future__ import annotations


def test_verify_passes_and_fails_with_the_objects_that_differ(project, dsn, db, write_migration, weir):
    write_migration(project, "0001_items", "CREATE TABLE items (id int);\n", "DROP TABLE items;\n")
    write_migration(project, "0002_index", "CREATE INDEX items_id ON items (id);\n", "SELECT 1;\n")
    result = weir("verify", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[1].startswith("ok      0001_items (")  # after the target line
    assert result.stderr.splitlines()[-1] == (
        "weir: migrations/0002_index.sql: rollback does not restore the schema (+ extra, - missing, ~ changed):"
        " + index public.items_id; fix migrations/0002_index.rollback.sql"
    )
    (project / "migrations" / "0002_index.rollback.sql").write_text("DROP INDEX items_id;\n")
    result = weir("verify", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "verified 2 migration(s): every rollback restores the schema"
    assert db.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'weir_verify_%'").fetchone()[0] == 0
