"""DDL on a model's live relation waits for other sessions only as long as lock_timeout (real sessions).

Each test holds a lock on the model's relation from another session, as a long report or a
writer would, and checks that the build gives up after its tries, names that session, and
leaves the previous version in place. tests/build/test_build_locks.py shows the readers that
start meanwhile are served and the build completes once the long reader ends.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from runner.build.materialize.model import materialize
from runner.errors import ModelFailed
from runner.project import Timeouts

QUICK = Timeouts(lock_timeout="100ms", statement_timeout="1min", lock_retries=1)
# Two tries of 100 ms with a backoff of at most 0.5 s between them, on a busy machine.
GIVES_UP_WITHIN = 5.0


@pytest.fixture
def source(db: psycopg.Connection) -> psycopg.Connection:
    """The test database with raw.items(id, city, updated_at) of three rows; no statement waits past 30 s."""
    db.execute("SET statement_timeout = '30s'")  # a lock wait without lock_timeout fails the test, not hangs it
    db.execute("CREATE SCHEMA raw")
    db.execute("CREATE TABLE raw.items AS SELECT g AS id, 'city ' || g AS city, now() AS updated_at"
               " FROM generate_series(1, 3) AS g")
    return db


@contextmanager
def holding(dsn: str, statement: str) -> Iterator[psycopg.Connection]:
    """Hold, in an open transaction of a session named "long report", the locks `statement` takes."""
    with psycopg.connect(dsn, autocommit=True, application_name="long report") as session:
        session.execute("BEGIN")
        session.execute(statement)
        try:
            yield session
        finally:
            session.execute("ROLLBACK")


def gives_up(conn: psycopg.Connection, model, holder: psycopg.Connection, what: str, relation: str) -> None:
    """Build `model` and check it fails within GIVES_UP_WITHIN, naming `holder` as the session holding `relation`."""
    started = time.monotonic()
    with pytest.raises(ModelFailed) as failed:
        materialize(conn, model, timeouts=QUICK)
    assert time.monotonic() - started < GIVES_UP_WITHIN
    assert re.fullmatch(
        rf"{re.escape(model.display)}:\d+: could not {re.escape(what)} in 2 tries of lock_timeout=100ms:"
        rf" pid {holder.info.backend_pid} \(long report, user [^,]+ from [^,]+, idle in transaction, transaction"
        rf" open since [^)]+\) holds a lock on {re.escape(relation)}; {re.escape(model.qualified)} keeps its previous"
        r" version: re-run when that transaction ends, or raise lock_timeout or lock_retries in \[weir\]",
        str(failed.value),
    ), str(failed.value)


def test_a_table_swap_waits_for_a_reader_of_a_view_on_it_only_as_long_as_lock_timeout(
    source: psycopg.Connection, dsn: str, make_model, value
) -> None:
    materialize(source, make_model("SELECT id FROM raw.items", name="t", kind="table"))
    source.execute("CREATE VIEW public.t_ids AS SELECT id FROM marts.t")
    with holding(dsn, "SELECT count(*) FROM public.t_ids") as reader:
        gives_up(source, make_model("SELECT id, 1 AS v FROM raw.items", name="t", kind="table"), reader,
                 "swap in the new marts.t", "marts.t")
    assert value(source, "SELECT count(*) FROM information_schema.columns WHERE table_name = 't'") == 1


def test_a_view_replace_waits_for_its_reader_only_as_long_as_lock_timeout(
    source: psycopg.Connection, dsn: str, make_model, value
) -> None:
    materialize(source, make_model("SELECT id FROM raw.items", name="v"))
    with holding(dsn, "SELECT count(*) FROM marts.v") as reader:
        gives_up(source, make_model("SELECT id, city FROM raw.items", name="v"), reader,
                 "replace view marts.v", "marts.v")
    assert value(source, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'v'") == 1


def test_an_index_on_a_kept_incremental_table_waits_for_writers_not_readers(
    source: psycopg.Connection, dsn: str, make_model, value
) -> None:
    sql = "SELECT id, city, updated_at FROM raw.items WHERE updated_at > weir.since('marts.inc')"
    options = {"name": "inc", "kind": "incremental", "unique_key": "id", "watermark": "updated_at"}
    materialize(source, make_model(sql, **options))
    indexed = make_model(sql, indexes="city", full_refresh_on_change="false", **options)
    with holding(dsn, "LOCK TABLE marts.inc IN ROW EXCLUSIVE MODE") as writer:
        gives_up(source, indexed, writer, "index marts.inc", "marts.inc")
    with holding(dsn, "SELECT count(*) FROM marts.inc"):  # CREATE INDEX does not wait for readers
        assert materialize(source, indexed, timeouts=QUICK).note.endswith("created index inc_city_idx")
    assert value(source, "SELECT count(*) FROM pg_indexes WHERE indexname = 'inc_city_idx'") == 1


def test_new_columns_of_an_scd2_history_wait_for_its_reader_only_as_long_as_lock_timeout(
    source: psycopg.Connection, dsn: str, make_model, value
) -> None:
    options = {"name": "dim", "kind": "scd2", "natural_key": "id", "check_cols": "city"}
    materialize(source, make_model("SELECT id, city FROM raw.items", **options))
    with holding(dsn, "SELECT count(*) FROM marts.dim") as reader:
        gives_up(source, make_model("SELECT id, city, updated_at FROM raw.items", **options), reader,
                 "add columns to marts.dim", "marts.dim")
    assert value(source, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'dim'") == 6
