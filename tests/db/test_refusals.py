"""Refusals by the database itself, each one line saying what to do, against the real server.

Read-only target, missing privilege, missing database or role, too many connections and
disk full: the roles and databases are made on the test server and dropped afterwards.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from runner.db.connection import connect, describe, refused
from runner.db.errors import detail_and_hint
from runner.errors import EXIT_ERROR, EXIT_FAIL, InsufficientResources, TargetRefused

PASSWORD = "refusal-test-secret"
SUFFIX = f"{os.getpid()}"


def as_role(dsn: str, role: str, dbname: str | None = None) -> str:
    """Return `dsn` logged in as `role` (with the test password), to `dbname` if given."""
    params = conninfo_to_dict(dsn)
    params.update(user=role, password=PASSWORD)
    if dbname:
        params["dbname"] = dbname
    return make_conninfo(**params)


@pytest.fixture
def make_role(db: psycopg.Connection) -> Iterator:
    """make_role(name, options="") creates a login role with the test password, dropped after the test."""
    made: list[str] = []

    def make(name: str, options: str = "") -> str:
        role = f"weir_{name}_{SUFFIX}"
        db.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} " + options).format(
            sql.Identifier(role), sql.Literal(PASSWORD)))
        made.append(role)
        return role

    yield make
    for role in made:
        db.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
        db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
def read_only_database(db: psycopg.Connection) -> Iterator[str]:
    """A database whose sessions are read-only by default (default_transaction_read_only = on)."""
    name = f"weir_read_only_{SUFFIX}"
    db.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    db.execute(sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(sql.Identifier(name)))
    yield name
    db.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def with_one_migration(project: Path) -> Path:
    (project / "migrations" / "0001_t.sql").write_text("CREATE TABLE t (id int);\n")
    (project / "migrations" / "0001_t.rollback.sql").write_text("DROP TABLE t;\n")
    return project


def test_a_read_only_target_is_refused_before_anything_runs(project, dsn, read_only_database, weir):
    with_one_migration(project)
    target = as_role(dsn, conninfo_to_dict(dsn)["user"], read_only_database)
    with connect(target) as conn:
        where = describe(conn)
    for command in ("migrate", "build", "check", "run"):
        result = weir(command, "--project", str(project), "--dsn", target)
        assert result.exit_code == EXIT_ERROR, result.output
        assert result.stderr.splitlines()[-1] == (
            f"weir: the target {where} is read-only (default_transaction_read_only is on):"
            f" weir {command} writes to it; point --dsn at the primary"
        )
    with psycopg.connect(target) as conn:
        assert conn.execute("SELECT to_regnamespace('weir')").fetchone()[0] is None  # nothing was written


def test_status_still_reads_a_read_only_target(project, dsn, read_only_database, weir):
    with_one_migration(project)
    result = weir("status", "--project", str(project), "--dsn", as_role(dsn, conninfo_to_dict(dsn)["user"],
                                                                          read_only_database), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"]["migrations"][0]["state"] == "pending"


def test_a_write_refused_as_read_only_says_point_at_the_primary(dsn, read_only_database):
    with connect(as_role(dsn, conninfo_to_dict(dsn)["user"], read_only_database)) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction) as caught:
            conn.execute("CREATE TABLE t (id int)")
        error = refused(caught.value, conn, "the-target")
        assert "point --dsn at the primary" in detail_and_hint(caught.value)
    assert isinstance(error, TargetRefused) and error.exit_code == EXIT_ERROR
    assert str(error) == ("the target the-target is read-only (default_transaction_read_only is on):"
                          " point --dsn at the primary")


def test_a_missing_privilege_names_it_and_the_grant_that_fixes_it(project, dsn, db, make_role, weir):
    with_one_migration(project)
    role = make_role("nopriv")
    dbname = db.info.dbname
    result = weir("migrate", "--project", str(project), "--dsn", as_role(dsn, role))
    assert result.exit_code == EXIT_ERROR, result.output
    grant = f"GRANT CREATE ON DATABASE {dbname} TO {role}"
    expected = f"weir: role {role} lacks CREATE on database {dbname}: as its owner run {grant}"
    assert result.stderr.splitlines()[-1] == expected
    assert PASSWORD not in result.output
    db.execute(grant)  # followed literally
    db.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")  # as PostgreSQL 15 and later have it
    inside = weir("migrate", "--project", str(project), "--dsn", as_role(dsn, role))
    assert inside.exit_code == EXIT_FAIL, inside.output
    assert inside.stderr.splitlines()[-1] == (
        "weir: migrations/0001_t.sql:1: permission denied for schema public (the role lacks USAGE or CREATE on"
        " schema public: as its owner run GRANT USAGE, CREATE ON SCHEMA public TO <role>)"
    )
    db.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(sql.Identifier(role)))
    assert weir("migrate", "--project", str(project), "--dsn", as_role(dsn, role)).exit_code == 0


def test_a_missing_privilege_on_a_schema_is_found_out_exactly(project, dsn, db, make_role, weir):
    with_one_migration(project)
    role = make_role("nousage")
    db.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(sql.Identifier(db.info.dbname),
                                                                    sql.Identifier(role)))
    db.execute("CREATE SCHEMA weir")  # made by someone else, without a grant to this role
    result = weir("migrate", "--project", str(project), "--dsn", as_role(dsn, role))
    assert result.exit_code == EXIT_ERROR, result.output
    assert result.stderr.splitlines()[-1] == (
        f"weir: role {role} lacks USAGE on schema weir: as its owner run GRANT USAGE ON SCHEMA weir TO {role}"
    )


def test_a_missing_database_is_named_with_what_to_do(project, dsn, weir):
    params = conninfo_to_dict(dsn)
    missing = make_conninfo(dsn, dbname=f"weir_missing_{SUFFIX}")
    result = weir("migrate", "--project", str(project), "--dsn", missing)
    assert result.exit_code == EXIT_ERROR
    assert result.stderr == (
        f"weir: database weir_missing_{SUFFIX} does not exist on {params['user']}@{params['host']}:{params['port']}"
        f"/weir_missing_{SUFFIX}: create it (CREATE DATABASE weir_missing_{SUFFIX}) or fix the database name in"
        " --dsn, WEIR_DSN, DATABASE_URL or PGDATABASE\n"
    )


def test_a_missing_role_is_named_with_what_to_do(project, dsn, weir):
    role = f"weir_nobody_{SUFFIX}"
    result = weir("migrate", "--project", str(project), "--dsn", as_role(dsn, role))
    assert result.exit_code == EXIT_ERROR
    assert result.stderr.startswith(f"weir: role {role} does not exist on {role}@")
    assert result.stderr.endswith(
        f": create it (CREATE ROLE {role} LOGIN) or fix the user name in --dsn, WEIR_DSN, DATABASE_URL or PGUSER\n"
    )
    assert PASSWORD not in result.output


def test_too_many_connections_says_which_limit_and_exits_1(project, dsn, make_role, weir):
    role = make_role("limited", "CONNECTION LIMIT 0")
    result = weir("migrate", "--project", str(project), "--dsn", as_role(dsn, role))
    assert result.exit_code == EXIT_FAIL
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(
        f"weir: the server refused a connection: too many connections for role {role} (its CONNECTION LIMIT);"
        " nothing more was changed: wait for other sessions to end, use fewer --threads, or raise it with"
        f" ALTER ROLE {role} CONNECTION LIMIT n ({role}@"
    )


def test_disk_full_is_one_line_and_exits_1(db):
    with pytest.raises(psycopg.errors.DiskFull) as caught:
        db.execute("DO $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'"
                   " USING ERRCODE = 'disk_full'; END $$")
    error = refused(caught.value, db, describe(db))
    assert isinstance(error, InsufficientResources) and error.exit_code == EXIT_FAIL
    assert str(error) == ("the server is out of disk space (could not extend file: No space left on device);"
                          " nothing more was changed: free space on the server, then re-run")


def test_disk_full_in_a_migration_says_so_after_the_file_and_line(project, dsn, weir):
    (project / "migrations" / "0001_full.sql").write_text(
        "DO $$ BEGIN RAISE EXCEPTION 'No space left on device' USING ERRCODE = 'disk_full'; END $$;\n")
    (project / "migrations" / "0001_full.rollback.sql").write_text("")
    result = weir("migrate", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == EXIT_FAIL
    assert result.stderr.splitlines()[-1] == (
        "weir: migrations/0001_full.sql:1: No space left on device (the server is out of disk space"
        " (No space left on device); nothing more was changed: free space on the server, then re-run)"
    )
