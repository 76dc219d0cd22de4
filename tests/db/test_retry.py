"""Transient faults raised by a real server are retried, reconnecting and re-taking the run lock; others never."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from runner.build.report import BuildEvent
from runner.build.run import build
from runner.checks import run_checks
from runner.db.connection import connect
from runner.db.locking import lock_key
from runner.db.retry import CONNECTION_LOST, Retry, RunSession, backoff, transient_reason
from runner.errors import ConfigError, MigrationFailed, RunLockLost
from runner.migrate import migrate
from runner.project import Project
from runner.project.settings import Retries, load_settings

FAST_RETRIES = "[weir]\nretry_tries = 4\nretry_base_delay = 20ms\nretry_max_delay = 100ms\nlock_timeout = 1s\n"

# Fails once with SQLSTATE `state`, then succeeds: the first call takes the session advisory
# lock `key` (which outlives the rolled-back transaction, and is allowed in a read-only one)
# and raises; any later call sees the lock held and returns 1.
FLAKY = """
CREATE FUNCTION public.flaky(state text, key int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND objid = key AND objsubid = 1
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) THEN
        PERFORM pg_advisory_lock(key);
        RAISE EXCEPTION 'simulated fault %', state USING ERRCODE = state;
    END IF;
    RETURN 1;
END
$$
"""


@pytest.fixture
def flaky(db):
    """public.flaky(state, key) in this test's database: raises SQLSTATE `state` on its first call only."""
    db.execute(FLAKY)
    return db


def _server_error(db, state: str) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as raised:
        db.execute(f"DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '{state}'; END $$")
    return raised.value


@pytest.mark.parametrize(
    ("state", "reason"),
    [("40001", "serialization failure"), ("40P01", "deadlock"), ("55P03", "lock timeout"),
     ("57P01", "server shut down"), ("57P03", "server starting up"), ("08006", CONNECTION_LOST)],
)
def test_transient_sqlstates_raised_by_the_server_are_recognised(db, state, reason):
    assert transient_reason(_server_error(db, state)) == reason


@pytest.mark.parametrize("state", ["22012", "23505", "42P01", "57014", "25006"])
def test_other_sqlstates_are_not_transient(db, state):
    assert transient_reason(_server_error(db, state)) is None


def test_a_syntax_error_is_not_transient_even_wrapped_in_a_weir_error(db):
    try:
        try:
            db.execute("SELEC 1")
        except psycopg.Error:
            raise MigrationFailed("migrations/0001_x.sql:1: syntax error") from None
    except MigrationFailed as exc:
        assert transient_reason(exc) is None


def test_a_lost_connection_is_transient_also_wrapped_in_a_weir_error(dsn, db):
    conn = connect(dsn, "weir victim")
    db.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
    with pytest.raises(psycopg.OperationalError) as raised:
        conn.execute("SELECT 1")
    assert transient_reason(raised.value) in ("server shut down", CONNECTION_LOST)
    with pytest.raises(psycopg.OperationalError) as closed:
        conn.execute("SELECT 1")  # the connection is closed now: psycopg says so without the server
    assert transient_reason(closed.value) == CONNECTION_LOST
    try:
        try:
            conn.execute("SELECT 1")
        except psycopg.Error:
            raise MigrationFailed("migrations/0001_x.sql:1: the connection is closed") from None
    except MigrationFailed as exc:
        assert transient_reason(exc) == CONNECTION_LOST


def test_retry_tries_again_after_a_real_deadlock_between_two_sessions(wait_until, dsn, db):
    db.execute("CREATE TABLE pair (id int PRIMARY KEY, n int); INSERT INTO pair VALUES (1, 0), (2, 0)")
    other = connect(dsn, "weir other")
    first_locked = threading.Event()
    messages: list[str] = []

    def attempt(tried: int) -> None:
        with db.transaction():
            db.execute("UPDATE pair SET n = n + 1 WHERE id = 1")
            if not tried:
                first_locked.set()
                wait_until(lambda: _waiting_for_lock(db, other.info.backend_pid))
            db.execute("UPDATE pair SET n = n + 1 WHERE id = 2")

    def the_other_session() -> None:
        first_locked.wait(10)
        with other.transaction():
            other.execute("UPDATE pair SET n = n + 10 WHERE id = 2")
            other.execute("UPDATE pair SET n = n + 10 WHERE id = 1")  # waits for the retried side

    thread = threading.Thread(target=the_other_session)
    thread.start()
    try:
        db.execute("SET deadlock_timeout = '100ms'")
        retry = Retry(Retries(4, 0.01, 0.05), "step x", messages.append)
        retry.run(attempt)
    finally:
        thread.join(10)
        other.close()
    # This side checks for a deadlock first (100 ms against the other's 1 s), so it is the
    # victim: rolled back, tried again once the other committed, and both updates landed once.
    assert retry.count == 1
    assert messages[0].startswith("step x: deadlock, retrying in ") and messages[0].endswith("(try 2 of 4)")
    assert db.execute("SELECT n FROM pair ORDER BY id").fetchall() == [(11,), (11,)]


def test_a_non_transient_error_is_raised_at_once(db):
    calls: list[int] = []

    def attempt(tried: int) -> None:
        calls.append(tried)
        db.execute("SELEC 1")

    with pytest.raises(psycopg.errors.SyntaxError):
        Retry(Retries(5, 0.01, 0.01), "step x", pytest.fail).run(attempt)
    assert calls == [0]


def test_retry_gives_up_after_its_tries(db):
    messages: list[str] = []
    retry = Retry(Retries(3, 0.01, 0.02), "check c", messages.append)
    with pytest.raises(psycopg.errors.SerializationFailure):
        retry.run(lambda tried: db.execute("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40001'; END $$"))
    assert [message.split(", ")[0] for message in messages] == ["check c: serialization failure"] * 2
    assert [message.rsplit("(", 1)[1] for message in messages] == ["try 2 of 3)", "try 3 of 3)"]
    assert retry.gave_up == " (gave up after 3 tries; the last retry was after a serialization failure)"


def test_backoff_doubles_up_to_the_cap_with_jitter_never_below_three_quarters():
    retries = Retries(10, 0.5, 10.0)
    waits = [[backoff(retries, retry) for _ in range(200)] for retry in range(1, 10)]
    for retry, seen in enumerate(waits, 1):
        nominal = min(10.0, 0.5 * 2 ** (retry - 1))
        assert nominal * 0.75 <= min(seen) and max(seen) <= nominal * 1.25
        assert max(seen) - min(seen) > nominal * 0.2  # jittered, not all the same
    assert sum(min(seen) for seen in waits) > 30  # the default tries outlast a 30 s outage


def test_retry_settings_have_defaults_and_are_range_checked(tmp_path):
    assert load_settings(tmp_path).retries == Retries(10, 0.5, 10.0)
    (tmp_path / "setup.cfg").write_text("[weir]\nretry_tries = 3\nretry_base_delay = 2s\nretry_max_delay = 1min\n")
    assert load_settings(tmp_path).retries == Retries(3, 2.0, 60.0)
    for line, key in (("retry_tries = 0", "retry_tries"), ("retry_tries = x", "retry_tries"),
                      ("retry_base_delay = soon", "retry_base_delay"),
                      ("retry_base_delay = 5s\nretry_max_delay = 1s", "retry_max_delay")):
        (tmp_path / "setup.cfg").write_text(f"[weir]\n{line}\n")
        with pytest.raises(ConfigError, match=f"\\[weir\\] {key} = "):
            load_settings(tmp_path)


def test_a_run_session_reconnects_and_takes_its_lock_again(dsn, db):
    conn = connect(dsn, "weir build")
    conn.execute("SELECT pg_advisory_lock(%s)", (lock_key("weir:test"),))
    session = RunSession(conn, "weir build", "weir:test")
    assert session.ensure() is conn
    db.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
    try:
        replaced = session.ensure()
        assert replaced is not conn and session.conn is replaced
        assert _lock_holder(db, "weir:test") == replaced.info.backend_pid
    finally:
        session.close()
        conn.close()
    assert _lock_holder(db, "weir:test") is None


def test_a_run_session_stops_the_run_when_another_run_took_its_lock(wait_until, dsn, db):
    conn = connect(dsn, "weir build")
    conn.execute("SELECT pg_advisory_lock(%s)", (lock_key("weir:test"),))
    session = RunSession(conn, "weir build", "weir:test")
    db.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
    wait_until(lambda: _lock_holder(db, "weir:test") is None)
    db.execute("SELECT pg_advisory_lock(%s)", (lock_key("weir:test"),))
    with pytest.raises(RunLockLost, match="another run took the lock"):
        session.ensure()
    assert _lock_holder(db, "weir:test") == db.info.backend_pid


def _project(root: Path, files: dict[str, str]) -> Project:
    (root / "setup.cfg").write_text(FAST_RETRIES)
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return Project.load(root)


@pytest.mark.parametrize("state", ["40001", "40P01", "55P03"])
def test_a_model_is_retried_after_a_transient_error_and_the_history_counts_it(tmp_path, flaky, state):
    events: list[BuildEvent] = []
    model = f"-- weir: kind=table\nSELECT public.flaky('{state}', 71) AS one\n"
    project = _project(tmp_path, {"models/marts/one.sql": model})
    report = build(flaky, project, on_event=events.append)
    assert report.ok, report.errors
    retrying = [event.message for event in events if event.kind == "retrying"]
    assert len(retrying) == 1 and retrying[0].startswith("model marts.one: ")
    assert flaky.execute("SELECT one FROM marts.one").fetchall() == [(1,)]
    assert flaky.execute("SELECT status, retries FROM weir.build_result").fetchall() == [("success", 1)]
    assert report.results[0].note.startswith("tried 2 times")


def test_a_model_with_a_non_transient_error_is_never_retried(tmp_path, flaky):
    events: list[BuildEvent] = []
    # Division by zero once: a second try would succeed, so any retry would show.
    project = _project(tmp_path, {
        "models/marts/one.sql": "-- weir: kind=table\nSELECT public.flaky('22012', 72) AS one\n",
        "models/marts/missing.sql": "SELECT id FROM public.no_such_table\n",
    })
    report = build(flaky, project, on_event=events.append)
    assert [result.status for result in report.results] == ["failed", "failed"]
    assert not [event for event in events if event.kind == "retrying"]
    assert flaky.execute("SELECT count(*) FROM weir.build_result WHERE retries = 0").fetchone() == (2,)


def test_a_check_is_retried_after_a_serialization_failure(tmp_path, flaky):
    messages: list[str] = []
    project = _project(tmp_path, {"checks/flaky.sql": "SELECT 1 WHERE public.flaky('40001', 73) <> 1\n"})
    report = run_checks(flaky, project, on_progress=messages.append)
    assert [result.status for result in report.results] == ["pass"]
    assert len(messages) == 1 and messages[0].startswith("check flaky: serialization failure, retrying in ")


def test_a_migration_is_retried_after_a_deadlock_and_applied_once(tmp_path, flaky):
    messages: list[str] = []
    project = _project(tmp_path, {
        "migrations/0001_flaky.sql": (
            "CREATE TABLE applied (n int);\nINSERT INTO applied SELECT public.flaky('40P01', 74);\n"
        ),
        "migrations/0001_flaky.rollback.sql": "DROP TABLE applied;\n",
    })
    applied = migrate(flaky, project, on_progress=messages.append)
    assert [step.id for step in applied] == ["0001_flaky"]
    assert messages[0].startswith("migration 0001_flaky: deadlock, retrying in ")
    assert flaky.execute("SELECT n FROM applied").fetchall() == [(1,)]


def test_a_build_rides_out_lost_connections_and_takes_its_lock_again(wait_until, tmp_path, dsn, db):
    project = _project(tmp_path, {"models/marts/slow.sql": (
        "-- weir: kind=table\nSELECT g AS id FROM generate_series(1, 3) AS g, (SELECT pg_sleep(0.3)) AS pause\n"
    )})
    conn = connect(dsn, "weir build")
    events: list[BuildEvent] = []
    outcome: dict[str, object] = {}
    thread = threading.Thread(target=lambda: outcome.update(report=build(conn, project, on_event=events.append)))
    thread.start()
    try:
        worker = wait_until(lambda: _sleeping_backend(db))
        # Both the run's own connection (which holds the build lock) and the worker's are lost.
        db.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid",
                   ([conn.info.backend_pid, worker],))
        thread.join(30)
    finally:
        conn.close()
    report = outcome["report"]
    assert report.ok, report.errors
    assert [event.message.split(",")[0] for event in events if event.kind == "retrying"] == [
        "model marts.slow: server shut down"
    ]
    assert db.execute("SELECT count(*) FROM marts.slow").fetchone() == (3,)
    assert db.execute("SELECT status FROM weir.build_run").fetchall() == [("success",)]
    assert db.execute("SELECT retries FROM weir.build_result").fetchall() == [(1,)]
    assert _lock_holder(db, "weir:build") is None  # released by the replacement connection


def test_a_build_that_lost_its_lock_to_another_run_stops_cleanly(wait_until, tmp_path, dsn, db):
    project = _project(tmp_path, {"models/marts/slow.sql": (
        "-- weir: kind=table\nSELECT g AS id FROM generate_series(1, 3) AS g, (SELECT pg_sleep(0.3)) AS pause\n"
    )})
    conn = connect(dsn, "weir build")
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            build(conn, project)
        except RunLockLost as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    try:
        worker = wait_until(lambda: _sleeping_backend(db))
        db.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        wait_until(lambda: _lock_holder(db, "weir:build") is None)
        db.execute("SELECT pg_advisory_lock(%s)", (lock_key("weir:build"),))  # another run takes it
        db.execute("SELECT pg_terminate_backend(%s)", (worker,))
        thread.join(30)
    finally:
        conn.close()
    assert "another run took the lock" in str(outcome["error"])
    assert db.execute("SELECT to_regclass('marts.slow')").fetchone() == (None,)  # nothing half-built


def _sleeping_backend(db) -> int | None:
    row = db.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'"
        " AND application_name LIKE 'weir build%%' AND query LIKE '%%pg_sleep%%'"
    ).fetchone()
    return row[0] if row else None


def _lock_holder(db, name: str) -> int | None:
    key = lock_key(name)
    row = db.execute(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND classid = ((%(key)s::bigint >> 32) & 4294967295)::oid AND objid = (%(key)s::bigint & 4294967295)::oid",
        {"key": key},
    ).fetchone()
    return row[0] if row else None


def _waiting_for_lock(db, pid: int) -> bool:
    row = db.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return row is not None and row[0] == "Lock"


def test_build_history_at_version_2_gains_the_retry_count_and_old_rows_count_none(db):
    from runner.state import builds, schema

    db.execute(schema.sql_file("build_state"))  # what a version 2 Weir left: version 1 plus its upgrade
    db.execute(schema.sql_file("upgrade/build_state.2"))
    db.execute("INSERT INTO weir.build_run (threads) VALUES (1)")
    db.execute("INSERT INTO weir.build_result (run_id, model, kind, status)"
               " VALUES (1, 'marts.old', 'table', 'success')")
    builds.ensure_build_state(db)
    assert db.execute("SELECT model, retries FROM weir.build_result").fetchall() == [("marts.old", 0)]


def test_weir_run_goes_on_to_build_and_check_after_migrate_lost_the_callers_connection(tmp_path, dsn, db):
    from runner.pipeline import run_pipeline

    db.execute("CREATE SEQUENCE public.once")  # nextval is not rolled back: the second try goes through
    project = _project(tmp_path, {
        "migrations/0001_lost.sql": (
            "CREATE TABLE public.t (id int);\nINSERT INTO public.t VALUES (1);\n"
            "SELECT CASE WHEN nextval('public.once') = 1 THEN pg_terminate_backend(pg_backend_pid()) END;\n"
        ),
        "migrations/0001_lost.rollback.sql": "DROP TABLE public.t;\n",
        "models/marts/copy.sql": "-- weir: kind=table\nSELECT id FROM public.t\n",
        "checks/one_row.sql": "SELECT count(*) FROM marts.copy HAVING count(*) <> 1\n",
    })
    conn = connect(dsn, "weir run")
    messages: list[str] = []
    try:
        report = run_pipeline(conn, project, on_progress=messages.append)
    finally:
        conn.close()
    assert any(message.startswith("migration 0001_lost: server shut down, retrying") for message in messages)
    assert report.migration_error is None
    assert report.build is not None and [r.status for r in report.build.results] == ["success"]
    assert report.checks is not None and report.checks.status == "pass"
    assert report.exit_code == 0
