"""`weir run`: migrate, build, check in one idempotent pipeline."""

from __future__ import annotations


def make_project(project, write_migration):
    write_migration(project, "0001_source", "CREATE TABLE source (id int PRIMARY KEY, amount int NOT NULL);\n"
                    "INSERT INTO source VALUES (1, 10), (2, -5);\n", "DROP TABLE source;\n")
    (project / "models" / "marts").mkdir(parents=True)
    (project / "models" / "marts" / "amounts.sql").write_text("-- weir: kind=table\nSELECT id, amount FROM source\n")
    (project / "checks").mkdir()
    (project / "checks" / "amounts_positive.sql").write_text("SELECT * FROM marts.amounts WHERE amount <= 0\n")


def test_run_migrates_builds_checks_and_converges_after_a_fix(project, db, dsn, write_migration, weir):
    make_project(project, write_migration)
    first = weir("run", "--project", str(project), "--dsn", dsn)
    assert first.exit_code == 1
    assert first.stdout.splitlines()[-3:] == ["migrate: 1 applied", "build:   1 success", "check:   1 fail"]
    db.execute("UPDATE source SET amount = 5 WHERE id = 2")
    second = weir("run", "--project", str(project), "--dsn", dsn)
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines()[-3:] == ["migrate: 0 applied", "build:   1 success", "check:   1 pass"]
    third = weir("run", "--project", str(project), "--dsn", dsn)
    assert third.exit_code == 0
    assert third.stdout.splitlines()[-2] == "build:   1 skipped"


def test_run_stops_after_a_failed_migration(project, db, dsn, write_migration, weir):
    make_project(project, write_migration)
    write_migration(project, "0002_broken", "ALTER TABLE nope ADD COLUMN x int;\n", "SELECT 1;\n")
    result = weir("run", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == (
        'migrate: FAILED: migrations/0002_broken.sql:1: relation "nope" does not exist')
    assert db.execute("SELECT to_regclass('marts.amounts')").fetchone()[0] is None


def test_a_malformed_check_stops_the_run_before_it_migrates(project, db, dsn, write_migration, weir):
    make_project(project, write_migration)
    (project / "checks" / "broken.sql").write_text("-- weir: severity=fatal\nSELECT 1\n")
    result = weir("run", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 2
    assert result.stderr.startswith("weir: checks/broken.sql:1: ")
    assert db.execute("SELECT to_regclass('source')").fetchone()[0] is None
