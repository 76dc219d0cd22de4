"""A transactional migration's statements travel many per round trip, and a failure still names its line."""

from __future__ import annotations

STAMP = "INSERT INTO trips SELECT statement_timestamp();\n"


def error_line(result) -> str:
    return result.stderr.strip().splitlines()[-1]


def test_thousands_of_statements_take_a_handful_of_round_trips(project, db, dsn, write_migration, weir):
    # statement_timestamp() is when the server received the message that carried the
    # statement: one value per round trip.
    db.execute("CREATE TABLE trips (received timestamptz)")
    write_migration(project, "0001_many", STAMP * 3000, "DELETE FROM trips;\n")
    result = weir("migrate", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 0, result.output
    count, round_trips = db.execute("SELECT count(*), count(DISTINCT received) FROM trips").fetchone()
    assert count == 3000
    assert round_trips <= 2


def test_an_error_without_a_position_in_a_later_batch_names_its_line(project, db, dsn, write_migration, weir):
    db.execute("CREATE TABLE trips (received timestamptz)")
    statements = [STAMP] * 12_000
    statements[11_000] = "SELECT\n    1 / 0;\n"  # line 11001, past two full batches
    write_migration(project, "0001_many", "".join(statements), "DELETE FROM trips;\n")
    result = weir("migrate", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 1
    assert error_line(result) == "weir: migrations/0001_many.sql:11001: division by zero"
    assert db.execute("SELECT count(*) FROM trips").fetchone()[0] == 0


def test_an_error_with_a_position_names_the_line_inside_its_statement(project, db, dsn, write_migration, weir):
    db.execute("CREATE TABLE trips (received timestamptz)")
    statements = [STAMP] * 7_000
    statements[6_000] = "INSERT INTO trips\nSELECT received\nFROM nowhere;\n"  # "nowhere" on line 6003
    write_migration(project, "0001_many", "".join(statements), "DELETE FROM trips;\n")
    result = weir("migrate", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 1
    assert error_line(result) == 'weir: migrations/0001_many.sql:6003: relation "nowhere" does not exist'


def test_a_trailing_comment_does_not_swallow_the_next_statement(project, db, dsn, write_migration, weir):
    write_migration(project, "0001_comments",
                    "CREATE TABLE a (id int) -- no semicolon on this line\n;\nCREATE TABLE b (id int);\n",
                    "DROP TABLE a, b;\n")
    result = weir("migrate", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 0, result.output
    assert db.execute("SELECT to_regclass('a') IS NOT NULL AND to_regclass('b') IS NOT NULL").fetchone()[0]



def test_each_migration_commits_alone_together_with_its_record(project, db, dsn, write_migration, weir):
    for number in range(1, 6):
        write_migration(project, f"000{number}_t{number}", f"CREATE TABLE t{number} (id int);\n",
                        f"DROP TABLE t{number};\n")
    assert weir("migrate", "--project", str(project), "--dsn", dsn).exit_code == 0
    # xmin is the transaction that wrote a row: a table's catalog row and its record share one.
    rows = db.execute(
        "SELECT m.id, m.xmin::text = c.xmin::text FROM weir.migration AS m"
        " JOIN pg_class AS c ON c.relname = 't' || ltrim(split_part(m.id, '_', 1), '0') ORDER BY m.id"
    ).fetchall()
    assert rows == [(f"000{number}_t{number}", True) for number in range(1, 6)]
    assert db.execute("SELECT count(DISTINCT xmin::text) FROM weir.migration").fetchone()[0] == 5


def test_sending_a_file_parses_none_of_its_plain_statements(project, db, write_migration) -> None:
    """Parse trees of a big file's statements would cost a gigabyte at 150,000 statements."""
    from runner.migrate import migrate
    from runner.project import Project

    db.execute("CREATE TABLE trips (received timestamptz)")
    write_migration(project, "0001_many", STAMP * 3000, "DELETE FROM trips;\n")
    weir_project = Project.load(project)
    [migration] = weir_project.migrations
    migrate(db, weir_project)
    assert db.execute("SELECT count(*) FROM trips").fetchone()[0] == 3000
    assert [statement for statement in migration.forward.statements if "_parsed" in vars(statement)] == []
