"""A long reader of a mart delays `weir build`'s swap, never the readers after it (real processes and sessions).

The build runs as a `weir build` process; the long reader is a session with an open
transaction that selected from the mart (it holds ACCESS SHARE until it ends). The swap
needs ACCESS EXCLUSIVE: without lock_timeout it would wait for the long reader, and every
reader after it would queue behind the swap.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

LOCK_TIMEOUT = 0.2  # seconds, as setup.cfg below says
# A reader that starts while the swap waits is served once that try gives up: within
# lock_timeout, plus connecting and scheduling on a busy 2-core test machine.
SERVED_WITHIN = LOCK_TIMEOUT + 1.0

MODEL = (
    "-- weir: kind=table\n"
    "SELECT id, {version} AS version, (SELECT nextval('raw.select_runs')) AS select_run\nFROM raw.items\n"
)

# The build's backend waiting for a lock that session %(blocker)s holds.
SWAP_WAITING = """
SELECT count(*) FROM pg_stat_activity
WHERE application_name LIKE %(build)s AND wait_event_type = 'Lock' AND %(blocker)s = ANY(pg_blocking_pids(pid))
"""


@pytest.fixture
def start_weir() -> Iterator[Callable[..., subprocess.Popen]]:
    """start_weir(*args) starts `weir ARGS` as a process of its own, as a user would; killed at teardown."""
    started: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-m", "runner.cli", *args],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture
def mart(tmp_path: Path, db: psycopg.Connection, dsn: str, write_files) -> Path:
    """A project whose table model marts.items (version 1) is built; its file now says version 2."""
    db.execute("CREATE SCHEMA raw")
    db.execute("CREATE TABLE raw.items AS SELECT generate_series(1, 100) AS id")
    db.execute("CREATE SEQUENCE raw.select_runs")  # counts runs of the model's SELECT: never rolled back
    write_files(tmp_path, {
        "setup.cfg": f"[weir]\nlock_timeout = {int(LOCK_TIMEOUT * 1000)}ms\nlock_retries = 8\n",
        "models/marts/items.sql": MODEL.format(version=1),
    })
    first = subprocess.run([sys.executable, "-m", "runner.cli", "build", "--project", str(tmp_path), "--dsn", dsn],
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    write_files(tmp_path, {"models/marts/items.sql": MODEL.format(version=2)})
    return tmp_path


def swap_waits_on(db: psycopg.Connection, build: subprocess.Popen, blocker: int) -> bool:
    """Say whether the build process's backend now waits for a lock that session `blocker` holds."""
    pattern = f"weir build (% pid {build.pid})"
    return bool(db.execute(SWAP_WAITING, {"build": pattern, "blocker": blocker}).fetchone()[0])


def read_mart(dsn: str) -> tuple[tuple[int, int], float]:
    """Read marts.items as a new session would; return (rows, version) and the seconds it took."""
    started = time.monotonic()
    # statement_timeout ends a reader queued behind the swap, rather than the test.
    with psycopg.connect(dsn, autocommit=True, application_name="new reader", options="-c statement_timeout=10s") as c:
        found = c.execute("SELECT count(*), max(version) FROM marts.items").fetchone()
    return (found[0], found[1]), time.monotonic() - started


def test_a_long_reader_delays_the_swap_but_never_the_readers_after_it(
    wait_until, mart: Path, db, dsn: str, start_weir
) -> None:
    with psycopg.connect(dsn, autocommit=True, application_name="long report") as long_reader:
        long_reader.execute("BEGIN")
        long_reader.execute("SELECT count(*) FROM marts.items")
        blocker = long_reader.info.backend_pid
        build = start_weir("build", "--project", str(mart), "--dsn", dsn)
        try:
            waits: list[float] = []
            for _ in range(3):
                wait_until(lambda: swap_waits_on(db, build, blocker), what="the swap waiting for the long reader")
                seen, seconds = read_mart(dsn)
                assert seen == (100, 1)  # the previous version, while the build waits
                waits.append(seconds)
            print(f"readers started during a blocked swap waited {', '.join(f'{s:.3f}' for s in waits)} s")
            assert max(waits) < SERVED_WITHIN, waits
            assert build.poll() is None, build.communicate()  # delayed, not failed
        finally:
            long_reader.execute("COMMIT")
        _, stderr = build.communicate(timeout=60)
    assert build.returncode == 0, stderr
    seen, _ = read_mart(dsn)
    assert seen == (100, 2)
    # Only the swap was tried again: the SELECT ran once for each of the two builds.
    assert db.execute("SELECT last_value FROM raw.select_runs").fetchone()[0] == 2


def test_a_swap_that_never_gets_its_lock_fails_naming_the_reader_and_keeps_the_previous_version(
    mart: Path, db, dsn: str, start_weir
) -> None:
    (mart / "setup.cfg").write_text("[weir]\nlock_timeout = 100ms\nlock_retries = 1\n")
    with psycopg.connect(dsn, autocommit=True, application_name="long report") as long_reader:
        long_reader.execute("BEGIN")
        long_reader.execute("SELECT count(*) FROM marts.items")
        build = start_weir("build", "--project", str(mart), "--dsn", dsn)
        _, stderr = build.communicate(timeout=30)  # without lock_timeout it waits for the long reader: forever
        user = long_reader.info.user
        pid = long_reader.info.backend_pid
        long_reader.execute("COMMIT")
    assert build.returncode == 1
    assert re.search(
        r"^weir: models/marts/items\.sql:2: could not swap in the new marts\.items in 2 tries of lock_timeout=100ms:"
        rf" pid {pid} \(long report, user {re.escape(user)} from [^,]+, idle in transaction, transaction open since"
        r" [^)]+\) holds a lock on marts\.items; marts\.items keeps its previous version: re-run when that"
        r" transaction ends, or raise lock_timeout or lock_retries in \[weir\]$",
        stderr,
        re.MULTILINE,
    ), stderr
    seen, _ = read_mart(dsn)
    assert seen == (100, 1)
