"""Materializing models: state, views, tables, error reporting (real PostgreSQL).

Incremental and scd2 models have their own files; all three get `make_model`, `rows` and `value`
as fixtures from tests/build/conftest.py.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace

import psycopg
import pytest

from runner.build.materialize.model import materialize
from runner.build.materialize.result import MaterializeResult
from runner.errors import ModelFailed
from runner.project.models import Model
from runner.state.models import ensure_model_state, last_built


@pytest.fixture
def checksum_changed(value):
    """True unless weir.model_state says the model's last build used exactly this file."""

    def checksum_changed(conn: psycopg.Connection, model: Model) -> bool:
        if value(conn, "SELECT to_regclass('weir.model_state')") is None:
            return True
        row = conn.execute("SELECT checksum FROM weir.model_state WHERE model = %s", (model.qualified,)).fetchone()
        return row is None or row[0] != model.checksum

    return checksum_changed


@pytest.fixture
def wait_until_waiting_for_lock(value):
    """Return once backend `pid` waits for a lock (polls pg_stat_activity; fails after 10 s)."""

    def wait_until_waiting_for_lock(conn: psycopg.Connection, pid: int) -> None:
        deadline = time.monotonic() + 10
        while value(conn, "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)) != "Lock":
            assert time.monotonic() < deadline, f"backend {pid} never waited for a lock"

    return wait_until_waiting_for_lock


@pytest.fixture
def source(db: psycopg.Connection) -> psycopg.Connection:
    """The test database with a source table raw.items(id, name, price) of three rows."""
    db.execute("CREATE SCHEMA raw")
    db.execute("CREATE TABLE raw.items (id int PRIMARY KEY, name text, price numeric)")
    db.execute("INSERT INTO raw.items VALUES (1, 'tea', 2.50), (2, 'coffee', 3.10), (3, 'cake', 4.00)")
    return db


# State


def test_ensure_model_state_is_idempotent_and_installs_since(db: psycopg.Connection, value) -> None:
    ensure_model_state(db)
    ensure_model_state(db)
    assert value(db, "SELECT weir.since('marts.never_built') = '-infinity'")
    db.execute(
        "INSERT INTO weir.model_state (model, kind, checksum, watermark, lookback)"
        " VALUES ('marts.x', 'incremental', 'c', '2024-05-01 12:00+00', '2 days')"
    )
    assert value(db, "SELECT weir.since('marts.x') = '2024-04-29 12:00+00'")


def test_concurrent_first_use_creates_state_once(dsn: str, value) -> None:
    sessions = 6
    barrier = threading.Barrier(sessions)
    failures: list[BaseException] = []

    def first_use() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            barrier.wait()
            try:
                ensure_model_state(conn)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                failures.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert value(conn, "SELECT count(*) FROM pg_proc WHERE proname = 'since'") == 1


def test_since_is_inlined_so_a_scan_of_the_source_can_use_its_index(db: psycopg.Connection, rows, value) -> None:
    ensure_model_state(db)
    db.execute("CREATE TABLE events AS SELECT g AS id, timestamptz '2024-01-01' + g * interval '1 minute' AS at"
               " FROM generate_series(1, 20000) AS g")
    db.execute("CREATE INDEX ON events (at)")
    db.execute("ANALYZE events")
    db.execute("INSERT INTO weir.model_state (model, kind, checksum, watermark) VALUES"
               " ('marts.e', 'incremental', 'c', timestamptz '2024-01-01' + 19990 * interval '1 minute')")
    plan = value(db, "EXPLAIN (FORMAT JSON) SELECT * FROM events WHERE at > weir.since('marts.e')")
    assert "Index" in plan[0]["Plan"]["Node Type"]
    with db.transaction():
        db.execute("SELECT set_config('weir.building', 'marts.e', true), set_config('weir.since', '2024-01-14', true)")
        plan_rows = rows(db, "EXPLAIN VERBOSE SELECT * FROM events WHERE at > weir.since('marts.e')")
    shown = "\n".join(row[0] for row in plan_rows)
    assert "current_setting('weir.building'" in shown  # the body, inlined: no function call per row


def test_checksum_changed_and_last_built(source: psycopg.Connection, make_model, value, checksum_changed) -> None:
    model = make_model("SELECT id FROM raw.items", name="ids")
    assert checksum_changed(source, model)
    assert last_built(source) == {}
    materialize(source, model)
    assert not checksum_changed(source, model)
    assert checksum_changed(source, make_model("SELECT id, name FROM raw.items", name="ids"))
    built = last_built(source)
    assert list(built) == ["marts.ids"]
    assert built["marts.ids"] <= value(source, "SELECT clock_timestamp()")


def test_run_id_and_counts_are_recorded(source: psycopg.Connection, make_model, rows) -> None:
    materialize(source, make_model("SELECT id FROM raw.items", name="t", kind="table"), run_id=42)
    assert rows(source, "SELECT kind, run_id, rows_inserted FROM weir.model_state") == [("table", 42, 3)]


def test_description_becomes_the_comment(source: psycopg.Connection, make_model, value) -> None:
    materialize(source, make_model("SELECT id FROM raw.items", name="v", description="Item ids"))
    materialize(source, make_model("SELECT id FROM raw.items", name="t", kind="table", description="Item table"))
    assert value(source, "SELECT obj_description('marts.v'::regclass)") == "Item ids"
    assert value(source, "SELECT obj_description('marts.t'::regclass)") == "Item table"


def test_schema_is_created_when_missing(source: psycopg.Connection, make_model, value) -> None:
    materialize(source, make_model("SELECT 1 AS one", schema="fresh_schema", name="v"))
    assert value(source, "SELECT * FROM fresh_schema.v") == 1


# Errors


def test_error_is_reported_at_the_file_line_of_the_select(source: psycopg.Connection, make_model, value) -> None:
    model = make_model("SELECT id,\n       name,\n       no_such_column\nFROM raw.items", name="t", kind="table")
    with pytest.raises(ModelFailed) as caught:
        materialize(source, model)
    # header is line 1, the SELECT starts on line 2, the bad column is on its third line
    assert str(caught.value) == 'models/marts/t.sql:4: column "no_such_column" does not exist'
    assert value(source, "SELECT to_regclass('marts.t')") is None


def test_failed_rebuild_keeps_the_previous_table_and_state(source: psycopg.Connection, make_model, rows, value) -> None:
    materialize(source, make_model("SELECT id, price FROM raw.items", name="t", kind="table"))
    stored = value(source, "SELECT checksum FROM weir.model_state")
    failing = make_model("SELECT id, price / (id - 2) AS price FROM raw.items", name="t", kind="table")
    with pytest.raises(ModelFailed, match=r"^models/marts/t.sql:2: division by zero$"):
        materialize(source, failing)
    assert rows(source, "SELECT id, price::float8 FROM marts.t ORDER BY id") == [(1, 2.5), (2, 3.1), (3, 4)]
    assert value(source, "SELECT checksum FROM weir.model_state") == stored
    assert value(source, "SELECT count(*) FROM pg_class WHERE relname LIKE 't\\_\\_weir%'") == 0


def test_unknown_kind_is_refused(source: psycopg.Connection, make_model) -> None:
    with pytest.raises(ModelFailed, match="unknown kind 'snapshot'"):
        materialize(source, replace(make_model("SELECT 1"), kind="snapshot"))  # a header cannot say it


# Views


def test_view_first_build_and_compatible_replace_keep_dependent_views(
    source: psycopg.Connection, make_model, rows, value
) -> None:
    first = materialize(source, make_model("SELECT id, name FROM raw.items", name="v"))
    assert first == MaterializeResult(0, 0, 0, True, "")
    source.execute("CREATE VIEW public.names AS SELECT name FROM marts.v")
    oid = value(source, "SELECT 'marts.v'::regclass::oid")
    again = materialize(source, make_model("SELECT id, name FROM raw.items", name="v"))
    assert again == MaterializeResult(0, 0, 0, False, "")
    appended = materialize(source, make_model("SELECT id, name, price FROM raw.items", name="v"))
    assert appended.rebuilt and appended.note == "SQL changed"
    assert value(source, "SELECT 'marts.v'::regclass::oid") == oid
    assert rows(source, "SELECT name FROM public.names ORDER BY 1") == [("cake",), ("coffee",), ("tea",)]


def test_view_with_incompatible_columns_is_swapped_and_dependents_repointed(
    source: psycopg.Connection, make_model, rows, value
) -> None:
    materialize(source, make_model("SELECT id, name, price FROM raw.items", name="v"))
    source.execute("CREATE VIEW public.cheap AS SELECT id FROM marts.v WHERE price < 3")
    source.execute("CREATE VIEW public.cheap_count AS SELECT count(*) AS n FROM public.cheap")
    source.execute("GRANT SELECT ON public.cheap TO PUBLIC")
    cheap = value(source, "SELECT 'public.cheap'::regclass::oid")
    # name dropped and price retyped: CREATE OR REPLACE VIEW would refuse both
    result = materialize(source, make_model("SELECT id, price::float8 AS price FROM raw.items", name="v"))
    assert result.note == "SQL changed; columns changed: view replaced"
    assert rows(source, "SELECT * FROM marts.v ORDER BY id")[0] == (1, 2.5)
    assert value(source, "SELECT n FROM public.cheap_count") == 1
    assert value(source, "SELECT 'public.cheap'::regclass::oid") == cheap
    assert value(source, "SELECT has_table_privilege('public', 'public.cheap', 'SELECT')")


def test_view_change_breaking_a_foreign_dependent_fails_and_keeps_the_old_view(
    source: psycopg.Connection, make_model, rows
) -> None:
    materialize(source, make_model("SELECT id, name FROM raw.items", name="v"))
    source.execute("CREATE VIEW public.names AS SELECT name FROM marts.v")
    with pytest.raises(ModelFailed) as caught:
        materialize(source, make_model("SELECT id FROM raw.items", name="v"))
    # PostgreSQL 15 says `column v.name`, 18 says `column "name"`
    assert re.fullmatch(
        r'models/marts/v\.sql:2: the new columns of marts\.v break view public\.names: column (v\.name|"name")'
        r" does not exist; change public\.names to match \(or drop it\), then re-run",
        str(caught.value),
    )
    assert rows(source, "SELECT name FROM public.names ORDER BY 1") == [("cake",), ("coffee",), ("tea",)]


def test_view_change_drops_dependent_models_for_the_build_to_rebuild(
    source: psycopg.Connection, make_model, rows, value, checksum_changed
) -> None:
    materialize(source, make_model("SELECT id, name FROM raw.items", name="v"))
    downstream = make_model("SELECT name FROM marts.v", name="names")
    materialize(source, downstream)
    result = materialize(source, make_model("SELECT id, name AS label FROM raw.items", name="v"))
    assert "dropped view(s) marts.names" in result.note
    assert value(source, "SELECT to_regclass('marts.names')") is None
    assert checksum_changed(source, downstream)
    assert rows(source, "SELECT model FROM weir.model_state") == [("marts.v",)]


def test_kind_change_from_table_to_view_keeps_dependent_views(source: psycopg.Connection, make_model, value) -> None:
    materialize(source, make_model("SELECT id, name FROM raw.items", name="x", kind="table"))
    source.execute("CREATE VIEW public.on_x AS SELECT count(*) AS n FROM marts.x")
    result = materialize(source, make_model("SELECT id, name FROM raw.items", name="x"))
    assert result.rebuilt and "kind changed from table" in result.note
    assert value(source, "SELECT relkind FROM pg_class WHERE oid = 'marts.x'::regclass") == "v"
    assert value(source, "SELECT n FROM public.on_x") == 3


# Tables


def test_table_first_build_and_rebuild(source: psycopg.Connection, make_model, value) -> None:
    model = make_model("SELECT id, name FROM raw.items", name="t", kind="table")
    assert materialize(source, model) == MaterializeResult(3, 0, 0, True, "")
    source.execute("INSERT INTO raw.items VALUES (4, 'juice', 1.0)")
    assert materialize(source, model) == MaterializeResult(4, 0, 0, False, "")
    assert value(source, "SELECT count(*) FROM marts.t") == 4
    assert materialize(source, model, full_refresh=True) == MaterializeResult(4, 0, 0, True, "full refresh")


def test_table_rebuild_keeps_views_on_it_working_with_their_grants(
    source: psycopg.Connection, make_model, value
) -> None:
    model = make_model("SELECT id, name FROM raw.items", name="t", kind="table")
    materialize(source, model)
    source.execute("GRANT SELECT ON marts.t TO PUBLIC")
    source.execute("CREATE VIEW public.t_names WITH (security_barrier) AS SELECT name FROM marts.t")
    source.execute("CREATE VIEW public.t_count AS SELECT count(*) AS n FROM public.t_names")
    source.execute("COMMENT ON VIEW public.t_names IS 'kept'")
    view_oid = value(source, "SELECT 'public.t_names'::regclass::oid")
    table_oid = value(source, "SELECT 'marts.t'::regclass::oid")
    source.execute("INSERT INTO raw.items VALUES (4, 'juice', 1.0)")
    materialize(source, model)
    assert value(source, "SELECT 'marts.t'::regclass::oid") != table_oid  # a new table...
    assert value(source, "SELECT n FROM public.t_count") == 4  # ...that the views read
    assert value(source, "SELECT 'public.t_names'::regclass::oid") == view_oid
    assert value(source, "SELECT obj_description('public.t_names'::regclass)") == "kept"
    assert value(source, "SELECT reloptions FROM pg_class WHERE oid = 'public.t_names'::regclass") == [
        "security_barrier=true"
    ]
    assert value(source, "SELECT has_table_privilege('public', 'marts.t', 'SELECT')")


def test_table_with_unique_key_gets_a_primary_key_and_refuses_duplicates(
    source: psycopg.Connection, make_model, value
) -> None:
    model = make_model("SELECT id, name FROM raw.items", name="t", kind="table", unique_key="id")
    materialize(source, model)
    materialize(source, model)
    primary_key = "SELECT conname FROM pg_constraint WHERE conrelid = 'marts.t'::regclass AND contype = 'p'"
    assert value(source, primary_key) == "t_pkey"
    source.execute("INSERT INTO raw.items VALUES (4, 'tea', 1.0), (5, 'tea', 1.5)")
    by_name = make_model("SELECT name, price FROM raw.items", name="t", kind="table", unique_key="name")
    with pytest.raises(ModelFailed) as caught:
        materialize(source, by_name)
    assert str(caught.value) == (
        "models/marts/t.sql:2: unique_key (name) is not unique: 1 key(s) appear more than once,"
        " e.g. tea (3 rows); make the SELECT return one row per key"
    )
    assert value(source, "SELECT count(*) FROM marts.t") == 3


TABLE_INDEXES = """
SELECT i.relname, array_agg(a.attname ORDER BY k.position)
FROM pg_index AS x
JOIN pg_class AS i ON i.oid = x.indexrelid
CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k (attnum, position)
JOIN pg_attribute AS a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
WHERE x.indrelid = %s::regclass
GROUP BY i.relname ORDER BY 1
"""


def test_table_indexes_are_built_with_the_table_and_named_after_it(
    source: psycopg.Connection, make_model, rows
) -> None:
    model = make_model("SELECT id, name, price FROM raw.items", name="t", kind="table", unique_key="id",
                       indexes="name; price name")
    expected = [("t_name_idx", ["name"]), ("t_pkey", ["id"]), ("t_price_name_idx", ["price", "name"])]
    for _ in range(2):  # built, then rebuilt aside and swapped in
        materialize(source, model)
        assert rows(source, TABLE_INDEXES, ("marts.t",)) == expected


def test_an_index_on_a_column_the_select_lacks_fails_naming_the_line(
    source: psycopg.Connection, make_model, value
) -> None:
    model = make_model("SELECT id, name FROM raw.items", name="t", kind="table", indexes="price")
    with pytest.raises(ModelFailed) as caught:
        materialize(source, model)
    assert str(caught.value).startswith("models/marts/t.sql:2: indexes names column price, which the SELECT")
    assert value(source, "SELECT to_regclass('marts.t')") is None


def test_a_table_built_from_scratch_has_statistics_on_its_key_and_indexed_columns(
    source: psycopg.Connection, flush_statistics, make_model, rows, value
) -> None:
    model = make_model("SELECT id, name, price FROM raw.items", name="t", kind="table", unique_key="id",
                       indexes="price")
    materialize(source, model)
    analyzed = "SELECT attname FROM pg_stats WHERE schemaname = 'marts' AND tablename = 't' ORDER BY 1"
    assert [row[0] for row in rows(source, analyzed)] == ["id", "price"]
    assert value(source, "SELECT reltuples FROM pg_class WHERE oid = 'marts.t'::regclass") == 3
    # A quick pass: autovacuum still sees three changed rows and runs its own full ANALYZE.
    flush_statistics(source)
    changed = "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relid = 'marts.t'::regclass"
    assert value(source, changed) == 3


def test_table_readers_see_the_old_rows_while_a_rebuild_runs(
    source: psycopg.Connection, dsn: str, make_model, value, wait_until_waiting_for_lock
) -> None:
    gated = (
        "SELECT g AS id FROM generate_series(1, {n}) AS g"
        " CROSS JOIN (SELECT pg_advisory_xact_lock_shared(4242)) AS gate"
    )
    materialize(source, make_model(gated.format(n=100), name="t", kind="table"))
    source.execute("CREATE VIEW public.t_count AS SELECT count(*) AS n FROM marts.t")
    source.execute("SELECT pg_advisory_lock(4242)")
    with psycopg.connect(dsn, autocommit=True) as builder, psycopg.connect(dsn, autocommit=True) as reader:
        outcome: list[object] = []
        thread = threading.Thread(
            target=lambda: outcome.append(materialize(builder, make_model(gated.format(n=500), name="t", kind="table")))
        )
        thread.start()
        wait_until_waiting_for_lock(source, builder.info.backend_pid)  # mid-build: the new table is half filled
        assert value(reader, "SELECT count(*) FROM marts.t") == 100
        assert value(reader, "SELECT n FROM public.t_count") == 100
        source.execute("SELECT pg_advisory_unlock(4242)")
        thread.join()
        assert value(reader, "SELECT n FROM public.t_count") == 500
    assert outcome[0].inserted == 500


def test_table_reader_blocked_by_the_swap_reads_the_new_rows(
    source: psycopg.Connection, dsn: str, make_model, value, wait_until_waiting_for_lock
) -> None:
    model = make_model("SELECT g AS id FROM generate_series(1, 100) AS g", name="t", kind="table")
    materialize(source, model)
    bigger = make_model("SELECT g AS id FROM generate_series(1, 300) AS g", name="t", kind="table")
    with psycopg.connect(dsn, autocommit=True) as builder, psycopg.connect(dsn, autocommit=True) as reader:
        # Hold the model's state row: the build blocks recording itself, after the swap, before COMMIT.
        with source.transaction():
            source.execute("SELECT 1 FROM weir.model_state WHERE model = 'marts.t' FOR UPDATE")
            build = threading.Thread(target=materialize, args=(builder, bigger))
            build.start()
            wait_until_waiting_for_lock(source, builder.info.backend_pid)
            counts: list[int] = []
            read = threading.Thread(target=lambda: counts.append(value(reader, "SELECT count(*) FROM marts.t")))
            read.start()
            wait_until_waiting_for_lock(source, reader.info.backend_pid)
        build.join()
        read.join()
    assert counts == [300]


def test_table_rebuilt_in_a_loop_is_never_seen_empty(source: psycopg.Connection, dsn: str, make_model, value) -> None:
    model = make_model("SELECT g AS id FROM generate_series(1, 2000) AS g", name="t", kind="table")
    materialize(source, model)
    source.execute("CREATE VIEW public.t_count AS SELECT count(*) AS n FROM marts.t")
    done = threading.Event()
    seen: list[int] = []

    def read() -> None:
        with psycopg.connect(dsn, autocommit=True) as reader:
            while not done.is_set():
                seen.append(value(reader, "SELECT n FROM public.t_count"))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for _ in range(20):
            materialize(source, model)
    finally:
        done.set()
        thread.join()
    assert seen and set(seen) == {2000}


def test_parallel_first_builds_into_a_new_schema(db: psycopg.Connection, dsn: str, make_model, value) -> None:
    models = [make_model(f"SELECT {n} AS n", schema="parallel", name=f"m{n}", kind="table") for n in range(6)]
    barrier = threading.Barrier(len(models))
    failures: list[BaseException] = []

    def build(model: Model) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            barrier.wait()
            try:
                materialize(conn, model)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                failures.append(exc)

    threads = [threading.Thread(target=build, args=(model,)) for model in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert value(db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'parallel'") == 6
    assert value(db, "SELECT count(*) FROM weir.model_state") == 6
