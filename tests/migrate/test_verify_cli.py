"""`weir verify` through the CLI: exit codes and the one-line failure."""

from __future__ import annotations

import pytest


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


@pytest.fixture
def leaky_project(project, write_migration):
    """Ten migrations, each creating a table; the rollbacks of eight of them forget to drop it."""
    for number in range(1, 11):
        leaky = number not in (1, 6)
        write_migration(project, f"{number:04d}_t{number}", f"CREATE TABLE t{number} (id int);\n",
                        "SELECT 1;\n" if leaky else f"DROP TABLE t{number};\n")
    return project


LEAKY = [number for number in range(1, 11) if number not in (1, 6)]


def test_keep_going_reports_every_leaky_rollback_in_one_run(leaky_project, dsn, db, weir):
    result = weir("verify", "--project", str(leaky_project), "--dsn", dsn, "--keep-going")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    start = lines.index("weir: 8 of 10 migration(s) failed verify:")
    assert lines[start + 1:] == [
        f"  migrations/{n:04d}_t{n}.sql: rollback does not restore the schema (+ extra, - missing, ~ changed):"
        f" + column public.t{n}.id, + table public.t{n}; fix migrations/{n:04d}_t{n}.rollback.sql"
        for n in LEAKY
    ]
    assert sum(line.startswith("ok      ") for line in lines) == 2
    assert db.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'weir_verify_%'").fetchone()[0] == 0


def test_keep_going_is_the_default_in_ci_and_fail_fast_stops_at_the_first(leaky_project, dsn, weir):
    in_ci = weir("verify", "--project", str(leaky_project), "--dsn", dsn, env={"CI": "true"})
    assert in_ci.exit_code == 1
    assert "weir: 8 of 10 migration(s) failed verify:" in in_ci.stderr
    fail_fast = weir("verify", "--project", str(leaky_project), "--dsn", dsn, "--fail-fast", env={"CI": "true"})
    assert fail_fast.exit_code == 1
    assert fail_fast.stderr.splitlines()[-1] == (
        "weir: migrations/0002_t2.sql: rollback does not restore the schema (+ extra, - missing, ~ changed):"
        " + column public.t2.id, + table public.t2; fix migrations/0002_t2.rollback.sql;"
        " the 8 migration(s) after it were not verified"
    )


def test_keep_going_still_stops_at_a_migration_that_cannot_be_applied(project, dsn, write_migration, weir):
    write_migration(project, "0001_a", "CREATE TABLE a (id int);\n", "SELECT 1;\n")
    write_migration(project, "0002_broken", "CREATE TABLE b (id int REFERENCES nowhere);\n", "DROP TABLE b;\n")
    write_migration(project, "0003_c", "CREATE TABLE c (id int);\n", "DROP TABLE c;\n")
    result = weir("verify", "--project", str(project), "--dsn", dsn, "--keep-going")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-3:] == [
        "weir: 2 of 3 migration(s) failed verify; the 1 migration(s) after it were not verified:",
        "  migrations/0001_a.sql: rollback does not restore the schema (+ extra, - missing, ~ changed):"
        " + column public.a.id, + table public.a; fix migrations/0001_a.rollback.sql",
        '  migrations/0002_broken.sql:1: relation "nowhere" does not exist'
        " (on a scratch database, after the migrations before it)",
    ]
