"""`weir migrate` and `weir rollback` refuse with every problem at once, counted, and change nothing."""

from __future__ import annotations


def make_tables(project, write_migration, names: str) -> None:
    for number, name in enumerate(names, start=1):
        write_migration(project, f"000{number}_{name}", f"CREATE TABLE {name} (id int);\n", f"DROP TABLE {name};\n")


def test_migrate_reports_every_edited_missing_and_out_of_order_migration_at_once(
    project, db, dsn, write_migration, weir
):
    make_tables(project, write_migration, "abcd")
    assert weir("migrate", "--project", str(project), "--dsn", dsn).exit_code == 0
    migrations = project / "migrations"
    for name in ("0001_a", "0002_b"):
        (migrations / f"{name}.sql").write_text(f"-- edited\nCREATE TABLE {name[-1]} (id int);\n")
    (migrations / "0003_c.sql").unlink()
    (migrations / "0003_c.rollback.sql").unlink()
    write_migration(project, "0000_early", "CREATE TABLE early (id int);\n", "DROP TABLE early;\n")
    write_migration(project, "0005_later", "CREATE TABLE later (id int);\n", "DROP TABLE later;\n")

    result = weir("migrate", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("target: ")]
    assert lines[0] == "weir: 4 problems, so nothing was applied:"
    assert lines[1].startswith("  0003_c.sql is applied in the database but missing")
    assert lines[2].startswith("  migrations/0000_early.sql: pending, but 0004_d, numbered after it")
    assert lines[3].startswith("  migrations/0001_a.sql: edited after it was applied")
    assert lines[4].startswith("  migrations/0002_b.sql: edited after it was applied")
    assert len(lines) == 5
    assert db.execute("SELECT to_regclass('later')").fetchone()[0] is None


def test_rollback_reports_every_irreversible_migration_at_once(project, db, dsn, write_migration, weir):
    make_tables(project, write_migration, "ab")
    for number, name in ((3, "purge_c"), (4, "purge_d")):
        write_migration(project, f"000{number}_{name}", f'-- weir: irreversible="{name}"\nSELECT 1;\n', rollback=None)
    assert weir("migrate", "--project", str(project), "--dsn", dsn).exit_code == 0
    result = weir("rollback", "--project", str(project), "--dsn", dsn, "--all")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("target: ")]
    assert lines[0] == "weir: 2 problems, so nothing was rolled back:"
    assert lines[1].startswith("  migrations/0004_purge_d.sql: irreversible (purge_d)")
    assert lines[2].startswith("  migrations/0003_purge_c.sql: irreversible (purge_c)")
    assert db.execute("SELECT count(*) FROM weir.migration").fetchone()[0] == 4


def test_a_malformed_migration_is_reported_before_connecting(project, write_migration, weir) -> None:
    write_migration(project, "0001_t", "CREATE TABLE t (id int);\nCOMMIT;\n", "DROP TABLE t;\n")
    unreachable = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"
    for command in (("migrate",), ("rollback",), ("verify",)):
        result = weir(*command, "--project", str(project), "--dsn", unreachable)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("weir: migrations/0001_t.sql:2: "), (command, result.stderr)
