"""Concurrent and killed `weir migrate` processes, lock waits and lock timeouts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg

from runner.db.locking import lock_key

ADVISORY_WAIT = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = %s"


def start_weir(*args: str) -> subprocess.Popen:
    """Start `weir ARGS` as a separate process, the way a user or CI would."""
    return subprocess.Popen(
        [sys.executable, "-m", "runner.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def apply_count(db, migration_id: str) -> int:
    query = "SELECT count(*) FROM weir.migration_log WHERE operation = 'apply' AND migration_id = %s"
    return db.execute(query, (migration_id,)).fetchone()[0]


def test_ten_concurrent_runs_apply_each_migration_exactly_once(project: Path, db, dsn, write_migration):
    for number in range(1, 6):
        write_migration(project, f"000{number}_t{number}", f"CREATE TABLE t{number} (id int);\n",
                        f"DROP TABLE t{number};\n")
    runs = [start_weir("migrate", "--project", str(project), "--dsn", dsn) for _ in range(10)]
    outcomes = [(run.wait(timeout=120), run.stderr.read()) for run in runs]
    assert [code for code, _ in outcomes] == [0] * 10, outcomes
    for number in range(1, 6):
        assert apply_count(db, f"000{number}_t{number}") == 1
    applied_lines = sum(err.count("applied 000") for _, err in outcomes)
    assert applied_lines == 5


def test_a_killed_run_leaves_no_stale_lock_and_nothing_half_applied(
    wait_until, project: Path, db, dsn, write_migration
):
    write_migration(project, "0001_first", "CREATE TABLE first (id int);\n", "DROP TABLE first;\n")
    write_migration(
        project,
        "0002_blocked",
        "CREATE TABLE second (id int);\nSELECT pg_advisory_lock(4242);\nINSERT INTO second VALUES (1);\n",
        "DROP TABLE second;\n",
    )
    holder = psycopg.connect(dsn, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(4242)")
    run = start_weir("migrate", "--project", str(project), "--dsn", dsn)
    wait_until(lambda: db.execute(ADVISORY_WAIT, (4242,)).fetchone()[0] == 1)
    os.kill(run.pid, signal.SIGKILL)
    run.wait(timeout=10)
    holder.execute("SELECT pg_advisory_unlock(4242)")
    holder.close()

    rerun = subprocess.run([sys.executable, "-m", "runner.cli", "migrate", "--project", str(project), "--dsn", dsn],
                           capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    assert apply_count(db, "0001_first") == 1
    assert apply_count(db, "0002_blocked") == 1
    assert db.execute("SELECT array_agg(id) FROM second").fetchone()[0] == [1]


def test_a_waiting_run_says_who_holds_the_lock_and_gives_up_after_lock_wait(project: Path, db, dsn, write_migration):
    (project / "setup.cfg").write_text("[weir]\nlock_wait = 1s\n")
    write_migration(project, "0001_first", "CREATE TABLE first (id int);\n", "DROP TABLE first;\n")
    db.execute("SET application_name = 'a long deploy'")
    db.execute("SELECT pg_advisory_lock(%s)", (lock_key("weir:migrate"),))
    run = subprocess.run([sys.executable, "-m", "runner.cli", "migrate", "--project", str(project), "--dsn", dsn],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    own_pid = db.info.backend_pid
    assert lines[0].startswith("target: ")
    assert lines[1].startswith(f"waiting up to 1s for the weir:migrate lock, held by pid {own_pid}, a long deploy")
    assert lines[-1].startswith(f"weir: the weir:migrate lock is still held after 1s, by pid {own_pid}, a long deploy")
    assert db.execute("SELECT to_regclass('first')").fetchone()[0] is None


def test_a_waiting_run_proceeds_when_the_lock_is_released(project: Path, db, dsn, write_migration):
    write_migration(project, "0001_first", "CREATE TABLE first (id int);\n", "DROP TABLE first;\n")
    db.execute("SELECT pg_advisory_lock(%s)", (lock_key("weir:migrate"),))
    run = start_weir("migrate", "--project", str(project), "--dsn", dsn)
    assert run.stderr.readline().startswith("target: ")
    assert run.stderr.readline().startswith("waiting up to 5min for the weir:migrate lock")
    db.execute("SELECT pg_advisory_unlock(%s)", (lock_key("weir:migrate"),))
    assert run.wait(timeout=30) == 0
    assert apply_count(db, "0001_first") == 1


def test_create_index_concurrently_does_not_deadlock_with_a_waiting_run(
    wait_until, project: Path, db, dsn, write_migration
):
    write_migration(project, "0001_items", "CREATE TABLE items (id int);\n", "DROP TABLE items;\n")
    write_migration(
        project,
        "0002_index",
        "-- transactional: false\nSELECT pg_advisory_lock(5151);\nCREATE INDEX CONCURRENTLY items_id ON items (id);\n",
        "-- transactional: false\nDROP INDEX CONCURRENTLY items_id;\n",
    )
    db.execute("SELECT pg_advisory_lock(5151)")
    first = start_weir("migrate", "--project", str(project), "--dsn", dsn)
    wait_until(lambda: db.execute(ADVISORY_WAIT, (5151,)).fetchone()[0] == 1)
    second = start_weir("migrate", "--project", str(project), "--dsn", dsn)
    assert second.stderr.readline().startswith("target: ")
    assert second.stderr.readline().startswith("waiting up to 5min for the weir:migrate lock")
    db.execute("SELECT pg_advisory_unlock(5151)")
    assert first.wait(timeout=60) == 0, first.stderr.read()
    assert second.wait(timeout=60) == 0, second.stderr.read()
    valid = db.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_id'::regclass").fetchone()[0]
    assert valid is True


def test_a_lock_timeout_is_retried_then_reported_and_nothing_changes(project: Path, db, dsn, write_migration):
    (project / "setup.cfg").write_text("[weir]\nlock_timeout = 100ms\nlock_retries = 2\n")
    db.execute("CREATE TABLE busy (id int)")
    write_migration(project, "0001_alter", "ALTER TABLE busy ADD COLUMN note text;\n",
                    "ALTER TABLE busy DROP COLUMN note;\n")
    with psycopg.connect(dsn) as long_transaction:
        long_transaction.execute("LOCK TABLE busy IN ACCESS SHARE MODE")
        run = subprocess.run([sys.executable, "-m", "runner.cli", "migrate", "--project", str(project), "--dsn", dsn],
                             capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    message = run.stderr.strip().splitlines()[-1]
    assert message.startswith("weir: migrations/0001_alter.sql:1: canceling statement due to lock timeout")
    assert "gave up after 3 attempts of lock_timeout=100ms" in message
    columns = db.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'busy'").fetchone()[0]
    assert columns == 1


def test_a_failed_concurrent_index_build_is_reported_as_invalid(project: Path, db, dsn, write_migration):
    db.execute("CREATE TABLE dupes (id int); INSERT INTO dupes VALUES (1), (1)")
    write_migration(project, "0001_unique", "-- transactional: false\nCREATE UNIQUE INDEX CONCURRENTLY dupes_id"
                    " ON dupes (id);\n", "-- transactional: false\nDROP INDEX CONCURRENTLY dupes_id;\n")
    run = subprocess.run([sys.executable, "-m", "runner.cli", "migrate", "--project", str(project), "--dsn", dsn],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    message = run.stderr.strip().splitlines()[-1]
    assert message.startswith("weir: migrations/0001_unique.sql:2: could not create unique index \"dupes_id\"")
    assert message.endswith("; INVALID index public.dupes_id left behind:"
                            " run `DROP INDEX CONCURRENTLY public.dupes_id;` then `weir migrate`")
    status = subprocess.run([sys.executable, "-m", "runner.cli", "status", "--project", str(project), "--dsn", dsn],
                            capture_output=True, text=True, timeout=60)
    assert "warning: index public.dupes_id is INVALID" in status.stderr
