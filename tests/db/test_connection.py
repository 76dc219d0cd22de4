"""Choosing the database, connecting to it, and never printing a password."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from runner.db import embedded
from runner.db.connection import (
    connect,
    conninfo_of,
    describe,
    describe_conninfo,
    libpq_environment,
    redact,
    resolve_target,
)
from runner.db.workers import WorkerConnections
from runner.project.private import state_dir_mode
from runner.project.settings import load_settings

SECRET = "wrong-horse-battery"


@pytest.fixture(scope="module")
def password_server(tmp_path_factory):
    """A separate embedded server on which role alice must log in with a password."""
    state_dir = tmp_path_factory.mktemp("password-server")
    state = embedded.start(state_dir)
    with psycopg.connect(state.conninfo(), autocommit=True) as conn:
        conn.execute("CREATE ROLE alice LOGIN PASSWORD 'correct-staple'")
        hba_file = Path(conn.execute("SHOW hba_file").fetchone()[0])
        hba_file.write_text("local all alice scram-sha-256\n" + hba_file.read_text())
        conn.execute("SELECT pg_reload_conf()")
    yield state
    embedded.stop(state_dir)


def test_a_wrong_password_is_reported_without_the_password(password_server, project, weir):
    dsn = f"host={password_server.socket_dir} port={password_server.port} user=alice password={SECRET} dbname=postgres"
    result = weir("status", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"weir: cannot connect to alice@{password_server.socket_dir}:")
    assert 'password authentication failed for user "alice"' in result.stderr
    assert SECRET not in result.output


def test_a_wrong_password_in_a_uri_is_not_printed_either(password_server, project, weir):
    dsn = f"postgresql://alice:{SECRET}@/postgres?host={password_server.socket_dir}&port={password_server.port}"
    result = weir("migrate", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 2
    assert 'password authentication failed for user "alice"' in result.stderr
    assert SECRET not in result.output


def test_the_right_password_connects(password_server, project, weir):
    dsn = f"host={password_server.socket_dir} port={password_server.port} user=alice password=correct-staple" \
          " dbname=postgres"
    result = weir("status", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("no migrations")


def test_a_connection_is_described_as_libpq_resolved_it_without_its_password(password_server):
    dsn = f"host={password_server.socket_dir} port={password_server.port} user=alice password=correct-staple" \
          " dbname=postgres"
    with connect(dsn) as conn:
        assert describe(conn) == f"alice@{password_server.socket_dir}:{password_server.port}/postgres"


def test_workers_connect_with_the_password_of_the_callers_connection(password_server):
    dsn = f"host={password_server.socket_dir} port={password_server.port} user=alice password=correct-staple" \
          " dbname=postgres"
    with connect(dsn) as conn:
        assert "correct-staple" in conninfo_of(conn)
        workers = WorkerConnections.for_connection(conn, "weir test")
        try:
            worker = workers.get()
            assert worker is not conn
            assert worker.execute("SELECT current_user, current_database()").fetchone() == ("alice", "postgres")
        finally:
            workers.close_all()


def test_before_connecting_what_the_string_leaves_out_comes_from_libpqs_defaults(monkeypatch):
    monkeypatch.setenv("PGUSER", "carol")
    monkeypatch.setenv("PGPORT", "6543")
    monkeypatch.delenv("PGDATABASE", raising=False)
    monkeypatch.delenv("PGSERVICE", raising=False)
    assert describe_conninfo(f"host=db.internal password={SECRET}") == "carol@db.internal:6543/carol"
    assert describe_conninfo("postgresql://bob@h/warehouse") == "bob@h:6543/warehouse"


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        (f"postgresql://bob:{SECRET}@localhost/db?nonsense=1", "weir: invalid connection string: "),
        (f"postgresql://bob:{SECRET}@localhost:notaport/db", "weir: cannot connect to bob@localhost:notaport/db: "),
        (f"host=127.0.0.1 port=1 user=bob password={SECRET} dbname=db connect_timeout=2",
         "weir: cannot connect to bob@127.0.0.1:1/db: "),
        (f"user=bob password={SECRET} dbname", "weir: invalid connection string: "),
    ],
)
def test_bad_connection_strings_are_a_usage_error_without_secrets(project, dsn, expected, weir):
    result = weir("migrate", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 2
    assert result.stderr.startswith(expected)
    assert SECRET not in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://u:pw@host/db", "postgresql://u:***@host/db"),
        ("postgres://u:p%40ss@h:5432/d?sslmode=require", "postgres://u:***@h:5432/d?sslmode=require"),
        ("host=h password=pw dbname=d", "host=h password=*** dbname=d"),
        ("host=h password='p w' dbname=d", "host=h password=*** dbname=d"),
        ("postgresql:///d?host=/tmp&password=pw", "postgresql:///d?host=/tmp&password=***"),
        ("no secret here", "no secret here"),
    ],
)
def test_redact_removes_passwords_in_every_form(text, expected):
    assert redact(text) == expected


def test_redact_removes_the_known_password_wherever_it_appears():
    assert redact("server said: bad value s3cr3t", "host=h password=s3cr3t") == "server said: bad value ***"


@pytest.mark.parametrize(
    ("option", "env", "expected"),
    [
        ("host=a", {"WEIR_DSN": "host=b", "DATABASE_URL": "host=c", "PGHOST": "d"}, ("host=a", "--dsn")),
        (None, {"WEIR_DSN": "host=b", "DATABASE_URL": "host=c", "PGHOST": "d"}, ("host=b", "WEIR_DSN")),
        (None, {"DATABASE_URL": "host=c", "PGHOST": "d"}, ("host=c", "DATABASE_URL")),
        (None, {"PGSERVICE": "warehouse"}, ("", "PGSERVICE")),
        (None, {"PGHOST": "d", "PGPORT": "5433"}, ("", "PGHOST, PGPORT")),
    ],
)
def test_the_database_is_chosen_in_the_documented_order(project, option, env, expected):
    target = resolve_target(option, load_settings(project), env)
    assert (target.conninfo, target.source) == expected


def test_the_embedded_server_starts_on_demand_and_is_reused(tmp_path, weir):
    (tmp_path / "setup.cfg").write_text("[weir]\n")
    settings = load_settings(tmp_path)
    try:
        first = resolve_target(None, settings, env={})
        assert first.source == "embedded"
        assert (tmp_path / ".weir" / "pgdata" / "PG_VERSION").exists()
        with psycopg.connect(first.conninfo) as conn:
            assert conn.execute("SELECT current_setting('data_directory')").fetchone()[0].endswith(".weir/pgdata")
        pid = embedded.running_state(settings.state_dir).pid
        assert resolve_target(None, settings, env={}).conninfo == first.conninfo
        assert embedded.running_state(settings.state_dir).pid == pid
        status = weir("db", "status", "--project", str(tmp_path))
        assert status.exit_code == 0 and status.stdout.startswith(f"running: pid {pid}")
        assert (tmp_path / ".weir").stat().st_mode & 0o777 == state_dir_mode()
        (tmp_path / "migrations").mkdir()
        status_here = weir("status", "--project", str(tmp_path), env={"WEIR_DSN": None, "DATABASE_URL": None})
        assert status_here.stderr.splitlines()[0] == f"target: embedded at {(tmp_path / '.weir' / 'pgdata').resolve()}"
        url = weir("db", "url", "--project", str(tmp_path)).stdout.strip()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone()[0] == 1
    finally:
        assert weir("db", "stop", "--project", str(tmp_path)).stdout.strip() == "stopped"
    stopped = weir("db", "status", "--project", str(tmp_path))
    assert stopped.exit_code == 1 and stopped.stdout.startswith("not running")


@pytest.mark.parametrize(
    "env",
    [
        {"PGPASSWORD": SECRET},
        {"PGPASSWORD": SECRET, "PGSSLMODE": "require"},
        {"PGSSLMODE": "disable"},
        {"PGSERVICEFILE": "/etc/weir/pg_service.conf"},
        {"PGSYSCONFDIR": "/etc/weir"},
        {"PGCONNECT_TIMEOUT": "3"},
    ],
)
def test_any_libpq_variable_means_a_server_was_meant_never_the_embedded_one(project, env):
    settings = load_settings(project)
    try:
        target = resolve_target(None, settings, env)
    finally:
        embedded.stop(settings.state_dir)  # only if the old behaviour started one
    assert (target.conninfo, target.source) == ("", ", ".join(sorted(env)))
    assert not (project / ".weir" / "pgdata").exists()


def test_a_service_file_in_home_means_a_server_was_meant(project, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".pg_service.conf").write_text("[warehouse]\nhost=db.internal\n")
    settings = load_settings(project)
    try:
        target = resolve_target(None, settings, {"HOME": str(home)})
    finally:
        embedded.stop(settings.state_dir)
    assert (target.conninfo, target.source) == ("", "~/.pg_service.conf")


def test_an_empty_variable_counts_as_unset(tmp_path):
    assert libpq_environment({"PGHOST": "", "PGPASSWORD": "", "HOME": str(tmp_path)}) == ""
    # PGDATA is the server's data directory, not a libpq variable
    assert libpq_environment({"PGDATA": "/var/lib/postgresql", "HOME": str(tmp_path)}) == ""


def test_with_only_pgpassword_set_weir_connects_as_psql_would_and_says_why(project, weir):
    env = {name: None for name in ("WEIR_DSN", "DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER",
                                   "PGSERVICE", "PGSERVICEFILE", "PGSYSCONFDIR", "PGHOSTADDR")}
    env.update(PGPASSWORD=SECRET, PGSSLMODE="disable", HOME=str(project))
    try:
        result = weir("status", "--project", str(project), env=env)
    finally:
        embedded.stop(project / ".weir")
    assert not (project / ".weir" / "pgdata").exists()
    assert "embedded" not in result.stderr
    if result.exit_code == 0:  # a server listens where libpq looks by default
        assert result.stderr.startswith("target: ") and result.stderr.splitlines()[0].endswith(
            "(from PGPASSWORD, PGSSLMODE)")
    else:
        assert result.stderr.startswith("weir: cannot connect to ")
        assert result.stderr.rstrip().endswith("(libpq's defaults, not the embedded server: PGPASSWORD, PGSSLMODE set)")
    assert SECRET not in result.output


def test_every_command_that_connects_names_its_target_once(project, dsn, db, weir):
    (project / "migrations" / "0001_t.sql").write_text("CREATE TABLE t (id int);\n")
    (project / "migrations" / "0001_t.rollback.sql").write_text("DROP TABLE t;\n")
    info = db.info
    where = f"{info.user}@{info.host}:{info.port}/{info.dbname}"
    for command in (("migrate",), ("status",), ("build",), ("check",), ("run",), ("ls",)):
        result = weir(*command, "--project", str(project), "--dsn", dsn)
        assert result.exit_code == 0, (command, result.output)
        assert result.stderr.splitlines()[0] == f"target: {where} (from --dsn)", command
        assert result.stderr.count("target: ") == 1
    from_env = weir("status", "--project", str(project), "--json", env={"WEIR_DSN": dsn})
    assert from_env.stderr.splitlines()[0] == f"target: {where} (from WEIR_DSN)"
    assert json.loads(from_env.stdout)["target"] == where
    (project / "checks").mkdir()
    (project / "checks" / "none.sql").write_text("SELECT 1 WHERE false\n")
    checked = weir("check", "--project", str(project), "--dsn", dsn, "--json")
    assert json.loads(checked.stdout)["target"] == where
