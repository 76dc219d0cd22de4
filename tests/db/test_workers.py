"""Worker connections: one per thread, to the caller's database, the busy ones cancellable."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from runner.db.workers import WorkerConnections


@pytest.fixture
def workers(db):
    """Worker connections made from this test's connection, closed afterwards."""
    made = WorkerConnections.for_connection(db, "weir test", prepare=lambda conn: conn.execute("SET work_mem = '8MB'"))
    yield made
    made.close_all()


def test_each_thread_gets_its_own_connection_to_the_callers_database(db, workers):
    seen = {}

    def work(name: str) -> None:
        conn = workers.get()
        assert workers.get() is conn
        seen[name] = (conn, *conn.execute("SELECT current_database(), current_setting('work_mem')").fetchone())

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen["a"][0] is not seen["b"][0]
    assert seen["a"][1:] == seen["b"][1:] == (db.info.dbname, "8MB")
    application = db.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'weir test (%'")
    assert application.fetchone()[0] == 2


def test_cancel_all_interrupts_a_busy_worker(db, workers):
    failure = []

    def work() -> None:
        conn = workers.get()
        with workers.busy("sleeper", conn):
            try:
                conn.execute("SELECT pg_sleep(30)")
            except psycopg.errors.QueryCanceled as exc:
                failure.append(exc)

    thread = threading.Thread(target=work)
    started = time.monotonic()
    thread.start()
    while not db.execute("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'"
                         " AND state = 'active'").fetchone()[0]:
        assert time.monotonic() - started < 10, "the worker's query never started"
        time.sleep(0.01)
    workers.cancel_all()
    thread.join(10)
    assert failure and time.monotonic() - started < 10
