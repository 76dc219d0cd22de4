"""Indexes built CONCURRENTLY: never recorded INVALID, a retry rebuilds its own leftover, status advice works."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

BUILD_INDEX = "-- transactional: false\nCREATE INDEX CONCURRENTLY IF NOT EXISTS items_name ON items (name);\n"
DROP_INDEX = "-- transactional: false\nDROP INDEX CONCURRENTLY IF EXISTS items_name;\n"
INDEX_VALID = "SELECT i.indisvalid FROM pg_index AS i WHERE i.indexrelid = to_regclass('public.items_name')"
WAITING_FOR_A_LOCK = "SELECT count(*) FROM pg_locks WHERE NOT granted"


def index_state(db) -> str:
    """'valid', 'INVALID' or 'missing' for the index items_name."""
    row = db.execute(INDEX_VALID).fetchone()
    return "missing" if row is None else ("valid" if row[0] else "INVALID")


def recorded(db, migration_id: str) -> bool:
    exists = db.execute("SELECT to_regclass('weir.migration') IS NOT NULL").fetchone()[0]
    return exists and db.execute("SELECT count(*) FROM weir.migration WHERE id = %s", (migration_id,)).fetchone()[0]


@pytest.fixture
def index_project(project: Path, db, write_migration) -> Path:
    """A table items with rows, and a migration that builds items_name CONCURRENTLY IF NOT EXISTS."""
    (project / "setup.cfg").write_text("[weir]\nlock_timeout = 1s\nlock_retries = 1\n")
    db.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
    db.execute("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) AS g")
    write_migration(project, "0001_items_name", BUILD_INDEX, DROP_INDEX)
    return project


@pytest.fixture
def writer(dsn: str):
    """A second session whose open transaction has written to items: a CONCURRENTLY build waits for it."""
    conn = psycopg.connect(dsn)
    conn.execute("INSERT INTO items VALUES (0, 'written by an open transaction')")
    yield conn
    conn.close()


def follow(advice: str, weir, db, project: Path, dsn: str) -> None:
    """Run every `command` quoted in `advice`, in order: weir commands with the CLI, SQL in the database."""
    commands = re.findall(r"`([^`]+)`", advice)
    assert commands, f"no command to follow in: {advice}"
    for command in commands:
        if command.startswith("weir "):
            result = weir(*command.split()[1:], "--project", str(project), "--dsn", dsn)
            assert result.exit_code == 0, result.output
        else:
            db.execute(command)


def test_a_lock_timeout_retry_is_not_recorded_with_an_invalid_index(index_project, db, dsn, writer, weir):
    # The first attempt times out waiting for the writer, leaving items_name INVALID; IF NOT
    # EXISTS would let the retry skip it and record the migration with a useless index.
    result = weir("migrate", "--project", str(index_project), "--dsn", dsn)
    assert result.exit_code == 1, result.output
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("weir: migrations/0001_items_name.sql:")
    assert "INVALID index public.items_name" in message
    assert message.endswith("run `DROP INDEX CONCURRENTLY public.items_name;` then `weir migrate`")
    assert "Traceback" not in result.output
    assert index_state(db) == "INVALID"
    assert not recorded(db, "0001_items_name")

    writer.commit()
    follow(message, weir, db, index_project, dsn)
    assert index_state(db) == "valid"
    assert recorded(db, "0001_items_name")


def test_weir_status_advice_followed_word_for_word_ends_with_a_valid_recorded_index(
    index_project, db, dsn, writer, weir
):
    assert weir("migrate", "--project", str(index_project), "--dsn", dsn).exit_code == 1
    writer.commit()
    status = weir("status", "--project", str(index_project), "--dsn", dsn)
    assert status.exit_code == 0, status.output
    (warning,) = [line for line in status.stderr.splitlines() if "INVALID" in line]
    assert warning == (
        "warning: index public.items_name is INVALID, left by an unfinished run of migrations/0001_items_name.sql"
        " (pending): run `weir migrate`, which drops it and builds it again"
    )
    follow(warning, weir, db, index_project, dsn)
    assert index_state(db) == "valid"
    assert recorded(db, "0001_items_name")
    assert "INVALID" not in weir("status", "--project", str(index_project), "--dsn", dsn).stderr


def test_status_advice_for_an_invalid_index_no_pending_migration_builds(project, db, dsn, weir):
    db.execute("CREATE TABLE items (id int, name text)")
    db.execute("INSERT INTO items VALUES (1, 'a'), (1, 'a')")
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("CREATE UNIQUE INDEX CONCURRENTLY items_name ON items (name)")
    db.execute("DELETE FROM items WHERE ctid = (SELECT max(ctid) FROM items)")
    status = weir("status", "--project", str(project), "--dsn", dsn)
    (warning,) = [line for line in status.stderr.splitlines() if "INVALID" in line]
    assert warning.endswith("rebuild it with `REINDEX INDEX CONCURRENTLY public.items_name;`")
    follow(warning, weir, db, project, dsn)
    assert index_state(db) == "valid"


def test_a_retry_drops_its_own_invalid_leftover_and_builds_a_valid_index(
    wait_until, index_project, db, dsn, writer, weir
):
    (index_project / "setup.cfg").write_text("[weir]\nlock_timeout = 1s\nlock_retries = 4\n")

    def release_after_the_first_attempt_fails() -> None:
        # Attempt one waits for the writer, then times out (INVALID leftover, nothing waiting).
        with psycopg.connect(dsn, autocommit=True) as watcher:
            wait_until(lambda: watcher.execute(WAITING_FOR_A_LOCK).fetchone()[0] > 0)
            wait_until(lambda: index_state(watcher) == "INVALID"
                       and watcher.execute(WAITING_FOR_A_LOCK).fetchone()[0] == 0)
        writer.commit()

    releaser = threading.Thread(target=release_after_the_first_attempt_fails)
    releaser.start()
    result = weir("migrate", "--project", str(index_project), "--dsn", dsn)
    releaser.join()
    assert result.exit_code == 0, result.output
    assert "dropped INVALID index public.items_name, left by an earlier attempt, to build it again" in result.stderr
    assert index_state(db) == "valid"
    assert recorded(db, "0001_items_name")


def test_a_rerun_after_kill_9_mid_build_does_not_exit_0_with_an_invalid_index(
    wait_until, index_project, db, dsn, writer
):
    (index_project / "setup.cfg").write_text("[weir]\nlock_timeout = 10min\n")  # outlasts the test
    run = subprocess.Popen([sys.executable, "-m", "runner.cli", "migrate", "--project", str(index_project),
                            "--dsn", dsn], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    building = ("SELECT pid FROM pg_stat_activity"
                " WHERE query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'")
    wait_until(lambda: db.execute(building).fetchone() is not None)
    assert index_state(db) == "INVALID"
    os.kill(run.pid, signal.SIGKILL)
    run.wait(timeout=10)
    # A killed client's backend only dies when it next looks at its socket; make that now.
    db.execute(f"SELECT pg_terminate_backend(pid) FROM ({building}) AS b")
    wait_until(lambda: db.execute(building).fetchone() is None)
    writer.commit()
    rerun = subprocess.run([sys.executable, "-m", "runner.cli", "migrate", "--project", str(index_project),
                            "--dsn", dsn], capture_output=True, text=True, timeout=60)
    assert (rerun.returncode, index_state(db)) != (0, "INVALID"), rerun.stderr
    assert rerun.returncode == 0, rerun.stderr
    assert index_state(db) == "valid"
    assert recorded(db, "0001_items_name")
