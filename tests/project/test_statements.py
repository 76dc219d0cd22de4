"""Splitting SQL files into statements: exact, linear in the file's size, and what a transaction cannot hold."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pglast import parser

from runner.errors import ProjectFileError, ProjectProblems
from runner.project import statements as statements_module
from runner.project.checks import read_checks
from runner.project.migrations import read_migrations
from runner.project.models import read_models
from runner.project.statements import split_statements

# Semicolons inside strings, comments, dollar quotes and a BEGIN ATOMIC body, non-ASCII text
# before and inside statements: what a cut between chunks must never split.
TRICKY = """-- héader; with a semicolon
CREATE TABLE t (id int, note text);
INSERT INTO t VALUES (1, 'a; b ü'), (2, E'it\\'s; ok');
/* block; comment ü */ INSERT INTO t VALUES (3, $$x; y$$);
CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;
CREATE FUNCTION g() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;
-- trailing; comment
SELECT 'end;';
"""


def _expected(text: str) -> list[tuple[str, int, int]]:
    """(text, character offset, line) of each statement, by pglast's own split of the whole text, slowly."""
    found = []
    for piece in parser.split(text, with_parser=True, only_slices=True):
        found.append((text[piece], piece.start, text.count("\n", 0, piece.start) + 1))
    return found


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 18])
def test_statements_are_the_same_whatever_the_chunk_size(monkeypatch, chunk):
    monkeypatch.setattr(statements_module, "_CHUNK", chunk)
    text = TRICKY * 5
    found = [(statement.text, statement.offset, statement.line) for statement in split_statements(text, "f.sql")]
    assert found == _expected(text)


def test_a_syntax_error_far_into_a_file_names_its_line(monkeypatch):
    monkeypatch.setattr(statements_module, "_CHUNK", 64)
    text = "-- ééééééééééééééé\n" + "INSERT INTO t VALUES ('ü');\n" * 50 + "INSERT INTO t VALUS (1);\n"
    with pytest.raises(ProjectFileError, match=r'^f\.sql:52: syntax error at or near "VALUS"$'):
        split_statements(text, "f.sql")


def _numbered_inserts(statements: int) -> str:
    return "".join(f"INSERT INTO t VALUES ({n}, 'rüw {n}; with a note');\n" for n in range(statements))


def _seconds_to_split(statements: int) -> float:
    text = _numbered_inserts(statements)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        assert len(split_statements(text, "big.sql")) == statements
        best = min(best, time.perf_counter() - started)
    return best


def test_splitting_is_linear_in_the_file_size():
    # Counting each statement's offset and line from the start of the file took 3.7 s for 5,000
    # statements and a hundred times that for ten times as many; linear, about ten times.
    small = _seconds_to_split(5_000)
    assert small < 1.0, f"5,000 statements took {small:.2f}s"
    large = _seconds_to_split(50_000)
    assert large < 25 * small, f"5,000 statements: {small:.3f}s, 50,000: {large:.3f}s"


def test_the_parser_reads_each_part_of_a_file_about_once(monkeypatch):
    handed: list[int] = []

    def split_and_count(text: str, with_parser: bool = True) -> tuple[str, ...]:
        handed.append(len(text))
        return original(text, with_parser=with_parser)

    original = parser.split
    monkeypatch.setattr(parser, "split", split_and_count)
    text = _numbered_inserts(20_000)
    assert len(split_statements(text, "big.sql")) == 20_000
    assert len(handed) > 1 and sum(handed) < 1.1 * len(text)


# ---------------------------------------------------------------------------------------------
# What a transactional file cannot hold


HEADER = "put `-- transactional: false` at the top of the file to run its statements one by one"


def _migration(tmp_path: Path, forward: str, rollback: str = "SELECT 1;\n") -> Path:
    (tmp_path / "migrations").mkdir(exist_ok=True)
    (tmp_path / "migrations" / "0001_m.sql").write_text(forward)
    (tmp_path / "migrations" / "0001_m.rollback.sql").write_text(rollback)
    return tmp_path / "migrations"


@pytest.mark.parametrize(
    ("statement", "written"),
    [
        ("BEGIN", "BEGIN"),
        ("START TRANSACTION", "START TRANSACTION"),
        ("COMMIT", "COMMIT"),
        ("end", "COMMIT"),
        ("ROLLBACK", "ROLLBACK"),
        ("ABORT", "ROLLBACK"),
        ("SAVEPOINT s", "SAVEPOINT"),
        ("RELEASE SAVEPOINT s", "RELEASE SAVEPOINT"),
        ("ROLLBACK TO s", "ROLLBACK TO SAVEPOINT"),
        ("PREPARE TRANSACTION 'x'", "PREPARE TRANSACTION"),
        ("COMMIT PREPARED 'x'", "COMMIT PREPARED"),
        ("/* a /* nested */ comment */ COMMIT", "COMMIT"),
        ("/* a comment */ Savepoint s", "SAVEPOINT"),
    ],
)
def test_transaction_control_in_a_transactional_migration_is_refused(tmp_path, statement, written):
    directory = _migration(tmp_path, f"CREATE TABLE a (id int);\n-- why\n{statement};\nCREATE TABLE b (id int);\n")
    with pytest.raises(ProjectFileError) as error:
        read_migrations(directory, tmp_path)
    assert str(error.value) == (
        f"migrations/0001_m.sql:3: {written} is transaction control, and this file runs in one transaction;"
        f" remove it (Weir commits the file and its record together), or {HEADER}"
    )


@pytest.mark.parametrize(
    ("statement", "written"),
    [
        ("CREATE INDEX CONCURRENTLY i ON t (id)", "CREATE INDEX CONCURRENTLY"),
        ("create unique index concurrently if not exists i on t (id)", "CREATE INDEX CONCURRENTLY"),
        ("DROP INDEX CONCURRENTLY i", "DROP INDEX CONCURRENTLY"),
        ("REINDEX (CONCURRENTLY) INDEX i", "REINDEX CONCURRENTLY"),
        ("REINDEX INDEX CONCURRENTLY i", "REINDEX CONCURRENTLY"),
        ("REINDEX DATABASE d", "REINDEX DATABASE"),
        ("VACUUM t", "VACUUM"),
        ("VACUUM (ANALYZE) t", "VACUUM"),
        ("CREATE DATABASE d", "CREATE DATABASE"),
        ("DROP DATABASE d", "DROP DATABASE"),
        ("ALTER SYSTEM SET work_mem = '64MB'", "ALTER SYSTEM"),
        ("CREATE TABLESPACE s LOCATION '/x'", "CREATE TABLESPACE"),
        ("ALTER TABLE p DETACH PARTITION c CONCURRENTLY", "DETACH PARTITION CONCURRENTLY"),
        ("CLUSTER", "CLUSTER without a table"),
        ("DISCARD ALL", "DISCARD ALL"),
        ("ALTER DATABASE d SET TABLESPACE s", "ALTER DATABASE SET TABLESPACE"),
        ("CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p WITH (binary = true)",
         "CREATE SUBSCRIPTION (creating a replication slot)"),
    ],
)
def test_what_postgresql_refuses_in_a_transaction_is_refused_in_a_transactional_migration(
    tmp_path, statement, written
):
    directory = _migration(tmp_path, f"-- weir: lock_timeout=1s\n\n{statement};\n")
    with pytest.raises(ProjectFileError) as error:
        read_migrations(directory, tmp_path)
    assert str(error.value) == (
        f"migrations/0001_m.sql:3: {written} cannot run inside a transaction, and this file runs in one; {HEADER}"
    )


@pytest.mark.parametrize(
    "statement",
    [
        "ANALYZE t",
        "ALTER TYPE mood ADD VALUE 'meh'",  # PostgreSQL 12 and later run it in a transaction
        "ALTER TABLE system_log ADD COLUMN database text",
        "ALTER DATABASE d SET work_mem = '64MB'",
        "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p WITH (connect = false)",
        "CLUSTER t USING i",
        "DISCARD TEMP",
        "CREATE INDEX i ON t (id)",
        "INSERT INTO t (note) VALUES ('begin; commit; the weekend ends; vacuum concurrently')",
        "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$",
    ],
)
def test_statements_a_transaction_can_hold_are_accepted(tmp_path, statement):
    (migration,) = read_migrations(_migration(tmp_path, f"{statement};\n"), tmp_path)
    assert migration.transactional


def test_a_non_transactional_file_may_hold_them(tmp_path):
    forward = "-- transactional: false\nCREATE INDEX CONCURRENTLY i ON t (id);\nVACUUM t;\nCOMMIT;\n"
    (migration,) = read_migrations(_migration(tmp_path, forward), tmp_path)
    assert [statement.outside_transaction for statement in migration.forward.statements] == [
        "CREATE INDEX CONCURRENTLY", "VACUUM", None
    ]


def test_the_header_that_made_the_file_transactional_is_named_and_the_rollback_is_read_too(tmp_path):
    directory = _migration(
        tmp_path, "-- transactional: true\nBEGIN;\nSELECT 1;\nCOMMIT;\n", "-- transactional: yes\nVACUUM t;\n"
    )
    with pytest.raises(ProjectProblems) as error:
        read_migrations(directory, tmp_path)
    assert [line.split(", and this file")[0] for line in str(error.value).splitlines()] == [
        "migrations/0001_m.sql:2: BEGIN is transaction control",
        "migrations/0001_m.sql:4: COMMIT is transaction control",
        "migrations/0001_m.rollback.sql:2: VACUUM cannot run inside a transaction",
        "3 problems in the project",
    ]
    assert " transaction (line 1: transactional: true); remove it" in str(error.value)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"models/marts/m.sql": "-- weir: kind=table\nBEGIN;\nSELECT 1 AS id;\nCOMMIT;\n"},
         "models/marts/m.sql:2: BEGIN is transaction control; Weir builds each model in a transaction of its own"
         " (a failure keeps the previous version): remove it"),
        ({"checks/c.sql": "SELECT 1 WHERE false;\nCOMMIT;\n"},
         "checks/c.sql:2: COMMIT is transaction control; Weir runs each check in a transaction of its own:"
         " remove it"),
    ],
)
def test_transaction_control_in_a_model_or_check_is_refused(tmp_path, write_files, files, message):
    write_files(tmp_path, files)
    with pytest.raises(ProjectFileError) as error:
        read_models(tmp_path / "models", tmp_path)
        read_checks(tmp_path / "checks", tmp_path)
    assert str(error.value) == message


def test_a_migration_that_commits_midway_is_refused_before_anything_runs(project, db, dsn, write_migration, weir):
    write_migration(project, "0001_half", "CREATE TABLE first (id int);\nCOMMIT;\nCREATE TABLE second (id int);\n",
                    "DROP TABLE second;\nDROP TABLE first;\n")
    result = weir("migrate", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 2
    assert result.stderr.startswith("weir: migrations/0001_half.sql:2: COMMIT is transaction control")
    assert db.execute("SELECT count(*) FROM pg_class WHERE relname IN ('first', 'second')").fetchone() == (0,)
    assert db.execute("SELECT to_regnamespace('weir')").fetchone() == (None,)  # Weir wrote nothing either
