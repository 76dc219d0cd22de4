"""Incremental models: watermark and lookback, upserts, key errors, rebuilds (real PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.build.materialize.model import materialize
from runner.build.materialize.result import MaterializeResult
from runner.errors import ModelFailed
from runner.state.models import ensure_model_state

T0 = datetime(2024, 3, 1, tzinfo=UTC)

ORDERS_SQL = """SELECT id AS order_id, status, amount * 2 AS doubled, updated_at
FROM raw.orders
WHERE updated_at > weir.since('marts.orders')"""


@pytest.fixture
def orders_model(make_model):
    """The incremental model marts.<name> over raw.orders, keyed on order_id, watermark updated_at."""

    def orders_model(sql: str = ORDERS_SQL, name: str = "orders", **options: str):
        settings_ = {"unique_key": "order_id", "watermark": "updated_at", "lookback": "1 hour", **options}
        return make_model(sql, name=name, kind="incremental", **settings_)

    return orders_model


@pytest.fixture
def orders(db: psycopg.Connection) -> psycopg.Connection:
    """The test database with raw.orders(id, status, amount, updated_at): three orders at T0, T0+1h, T0+2h."""
    db.execute("SET TimeZone = 'UTC'")
    db.execute("CREATE SCHEMA raw")
    db.execute("CREATE TABLE raw.orders (id int PRIMARY KEY, status text, amount int, updated_at timestamptz)")
    db.execute(
        "INSERT INTO raw.orders VALUES (1, 'new', 10, %(t0)s), (2, 'new', 20, %(t0)s + interval '1 hour'),"
        " (3, 'new', 30, %(t0)s + interval '2 hours')",
        {"t0": T0},
    )
    return db


@pytest.fixture
def stored_watermark(value):
    """Return the watermark weir.model_state holds for `model`."""

    def stored_watermark(conn: psycopg.Connection, model: str = "marts.orders") -> datetime | None:
        return value(conn, "SELECT watermark FROM weir.model_state WHERE model = %s", (model,))

    return stored_watermark


def test_first_build_reads_everything_and_stores_the_watermark(
    orders: psycopg.Connection, rows, value, orders_model, stored_watermark
) -> None:
    ensure_model_state(orders)
    orders.execute(  # a stale watermark from an earlier life must not limit a first build
        "INSERT INTO weir.model_state (model, kind, checksum, watermark) VALUES ('marts.orders', 'view', 'x', now())"
    )
    result = materialize(orders, orders_model())
    assert result == MaterializeResult(3, 0, 0, True, "kind changed from view: rebuilt from scratch")
    assert rows(orders, "SELECT order_id, doubled FROM marts.orders ORDER BY 1") == [(1, 20), (2, 40), (3, 60)]
    assert stored_watermark(orders) == T0 + timedelta(hours=2)
    primary_key = "SELECT conname FROM pg_constraint WHERE conrelid = 'marts.orders'::regclass AND contype = 'p'"
    assert value(orders, primary_key) == "orders_pkey"


def test_later_builds_upsert_only_new_and_changed_rows(
    orders: psycopg.Connection, rows, orders_model, stored_watermark
) -> None:
    model = orders_model()
    materialize(orders, model)
    # within the lookback: order 3 (T0+2h) is read again, unchanged, and not counted
    assert materialize(orders, model) == MaterializeResult(0, 0, 0, False, "")
    orders.execute("INSERT INTO raw.orders VALUES (4, 'new', 40, %s)", (T0 + timedelta(hours=3),))
    orders.execute("UPDATE raw.orders SET status = 'paid', updated_at = %s WHERE id = 2", (T0 + timedelta(hours=3),))
    assert materialize(orders, model) == MaterializeResult(1, 1, 0, False, "")
    assert rows(orders, "SELECT order_id, status FROM marts.orders ORDER BY 1") == [
        (1, "new"), (2, "paid"), (3, "new"), (4, "new")
    ]
    assert stored_watermark(orders) == T0 + timedelta(hours=3)


def test_lookback_catches_a_late_row_and_older_ones_are_not_scanned(
    orders: psycopg.Connection, value, orders_model, stored_watermark
) -> None:
    model = orders_model()
    materialize(orders, model)  # watermark T0+2h, so the next scan starts after T0+1h
    orders.execute(
        "INSERT INTO raw.orders VALUES (5, 'late', 50, %s), (6, 'too late', 60, %s)",
        (T0 + timedelta(minutes=90), T0 + timedelta(minutes=30)),
    )
    assert materialize(orders, model) == MaterializeResult(1, 0, 0, False, "")
    assert value(orders, "SELECT status FROM marts.orders WHERE order_id = 5") == "late"
    assert value(orders, "SELECT count(*) FROM marts.orders WHERE order_id = 6") == 0
    assert stored_watermark(orders) == T0 + timedelta(hours=2)  # a late batch never moves the watermark back


def test_empty_batch_keeps_the_watermark(orders: psycopg.Connection, orders_model, stored_watermark) -> None:
    model = orders_model(lookback="0 seconds")
    materialize(orders, model)
    assert materialize(orders, model) == MaterializeResult(0, 0, 0, False, "")
    assert stored_watermark(orders) == T0 + timedelta(hours=2)


def test_duplicate_keys_in_a_batch_fail_naming_samples(orders: psycopg.Connection, orders_model) -> None:
    source = "SELECT o.id AS order_id, o.updated_at FROM raw.orders AS o, generate_series(1, o.id) AS copy"
    with pytest.raises(ModelFailed) as first_build:
        materialize(orders, orders_model(source))
    assert str(first_build.value) == (
        "models/marts/orders.sql:2: unique_key (order_id) is not unique: 2 key(s) appear more than once,"
        " e.g. 3 (3 rows), 2 (2 rows); make the SELECT return one row per key"
    )
    materialize(orders, orders_model("SELECT id AS order_id, updated_at FROM raw.orders"))
    with pytest.raises(ModelFailed) as later:
        materialize(orders, orders_model(source, full_refresh_on_change="false"))
    assert str(later.value) == str(first_build.value)


def test_null_keys_fail_naming_sample_rows(orders: psycopg.Connection, orders_model) -> None:
    source = "SELECT nullif(id, 2) AS order_id, status, updated_at FROM raw.orders"
    with pytest.raises(ModelFailed) as first_build:
        materialize(orders, orders_model(source))
    message = str(first_build.value)
    assert message.startswith("models/marts/orders.sql:2: unique_key (order_id) is NULL in 1 row(s), e.g. ")
    assert '{"order_id":null,"status":"new","updated_at":"2024-03-01T01:00:00+00:00"}' in message
    materialize(orders, orders_model("SELECT id AS order_id, status, updated_at FROM raw.orders"))
    with pytest.raises(ModelFailed, match=r"unique_key \(order_id\) is NULL in 1 row\(s\)"):
        materialize(orders, orders_model(source, full_refresh_on_change="false"))


def test_a_failing_batch_leaves_data_and_watermark_as_they_were(
    orders: psycopg.Connection, rows, orders_model, stored_watermark
) -> None:
    model = orders_model("SELECT id AS order_id, 100 / amount AS share, updated_at FROM raw.orders"
                         " WHERE updated_at > weir.since('marts.orders')")
    materialize(orders, model)
    before = rows(orders, "SELECT * FROM marts.orders ORDER BY 1")
    orders.execute("INSERT INTO raw.orders VALUES (7, 'new', 0, %s)", (T0 + timedelta(hours=5),))
    orders.execute("UPDATE raw.orders SET amount = 1, updated_at = %s WHERE id = 1", (T0 + timedelta(hours=5),))
    with pytest.raises(ModelFailed, match=r"^models/marts/orders.sql:5: division by zero$"):
        materialize(orders, model)
    assert rows(orders, "SELECT * FROM marts.orders ORDER BY 1") == before
    assert stored_watermark(orders) == T0 + timedelta(hours=2)
    orders.execute("UPDATE raw.orders SET amount = 4 WHERE id = 7")
    assert materialize(orders, model) == MaterializeResult(1, 1, 0, False, "")
    assert stored_watermark(orders) == T0 + timedelta(hours=5)


def test_changed_sql_rebuilds_from_scratch_and_says_so(orders: psycopg.Connection, rows, value, orders_model) -> None:
    materialize(orders, orders_model())
    orders.execute("CREATE VIEW public.paid AS SELECT count(*) AS n FROM marts.orders WHERE status = 'paid'")
    # rows older than the lookback: only a rebuild from scratch gives them the new logic
    changed = orders_model(ORDERS_SQL.replace("amount * 2", "amount * 3"))
    result = materialize(orders, changed)
    assert result == MaterializeResult(3, 0, 0, True, "SQL changed: rebuilt from scratch")
    assert rows(orders, "SELECT doubled FROM marts.orders ORDER BY 1") == [(30,), (60,), (90,)]
    orders.execute("UPDATE raw.orders SET status = 'paid', updated_at = %s", (T0 + timedelta(hours=4),))
    materialize(orders, changed)
    assert value(orders, "SELECT n FROM public.paid") == 3


def test_changed_sql_without_full_refresh_on_change_applies_to_new_rows_only(
    orders: psycopg.Connection, rows, orders_model
) -> None:
    materialize(orders, orders_model())
    changed = orders_model(ORDERS_SQL.replace("amount * 2", "amount * 3"), full_refresh_on_change="false")
    result = materialize(orders, changed)
    assert result.note == "SQL changed: new logic applied to new rows only (full_refresh_on_change=false)"
    assert rows(orders, "SELECT doubled FROM marts.orders ORDER BY 1") == [(20,), (40,), (90,)]


def test_an_index_added_to_the_header_is_created_without_a_rebuild(
    orders: psycopg.Connection, rows, orders_model
) -> None:
    materialize(orders, orders_model(indexes="updated_at"))
    indexed = orders_model(indexes="updated_at; status", full_refresh_on_change="false")
    result = materialize(orders, indexed)
    assert result.note.endswith("; created index orders_status_idx")
    assert not result.rebuilt
    indexes = "SELECT indexname FROM pg_indexes WHERE tablename = 'orders' AND schemaname = 'marts' ORDER BY 1"
    assert [row[0] for row in rows(orders, indexes)] == ["orders_pkey", "orders_status_idx", "orders_updated_at_idx"]


def test_an_error_after_a_call_spanning_lines_names_the_right_line(orders: psycopg.Connection, orders_model) -> None:
    sql = (
        "SELECT id AS order_id, updated_at\nFROM raw.orders\n"
        "WHERE updated_at > weir.since(\n'marts.orders'\n)\nAND missing = 1"
    )
    expected = 'models/marts/orders.sql:11: column "missing" does not exist'  # 5 header lines, then line 6
    with pytest.raises(ModelFailed) as from_scratch:
        materialize(orders, orders_model(sql, full_refresh_on_change="false"))
    assert str(from_scratch.value) == expected
    materialize(orders, orders_model(full_refresh_on_change="false"))
    with pytest.raises(ModelFailed) as batch:  # changed SQL, applied to a batch
        materialize(orders, orders_model(sql, full_refresh_on_change="false"))
    assert str(batch.value) == expected


def test_full_refresh_rebuilds_with_since_minus_infinity(orders: psycopg.Connection, rows, orders_model) -> None:
    model = orders_model()
    materialize(orders, model)
    orders.execute("DELETE FROM raw.orders WHERE id = 1")
    orders.execute("UPDATE raw.orders SET status = 'old fix', updated_at = %s WHERE id = 2", (T0 - timedelta(days=9),))
    assert materialize(orders, model).updated == 0  # far behind the watermark: invisible incrementally
    result = materialize(orders, model, full_refresh=True)
    assert result == MaterializeResult(2, 0, 0, True, "full refresh")
    assert rows(orders, "SELECT order_id, status FROM marts.orders ORDER BY 1") == [(2, "old fix"), (3, "new")]


def test_a_missing_table_is_rebuilt(orders: psycopg.Connection, orders_model) -> None:
    model = orders_model()
    materialize(orders, model)
    orders.execute("DROP TABLE marts.orders")
    result = materialize(orders, model)
    assert result == MaterializeResult(3, 0, 0, True, "marts.orders was missing: rebuilt from scratch")


def test_key_and_watermark_columns_must_be_in_the_select(orders: psycopg.Connection, orders_model) -> None:
    with pytest.raises(ModelFailed) as caught:
        materialize(orders, orders_model("SELECT id, updated_at FROM raw.orders"))
    assert str(caught.value) == (
        "models/marts/orders.sql:2: unique_key names column order_id, which the SELECT does not return"
        " (it returns id, updated_at); fix unique_key or the SELECT"
    )
    with pytest.raises(ModelFailed, match=r"^models/marts/orders.sql:3: watermark names column changed_at"):
        materialize(orders, orders_model("SELECT id AS order_id FROM raw.orders", watermark="changed_at"))


def test_composite_unique_key(orders: psycopg.Connection, orders_model) -> None:
    sql = ("SELECT o.id AS order_id, line, o.updated_at FROM raw.orders AS o, generate_series(1, 2) AS line"
           " WHERE o.updated_at > weir.since('marts.lines')")
    model = orders_model(sql, name="lines", unique_key="order_id line")
    assert materialize(orders, model).inserted == 6
    orders.execute("UPDATE raw.orders SET updated_at = %s WHERE id = 1", (T0 + timedelta(hours=9),))
    assert materialize(orders, model) == MaterializeResult(0, 2, 0, False, "")


# Incremental equals from scratch, for any sequence of change batches

CHANGE = st.tuples(
    st.sampled_from(["now", "late"]),
    st.integers(min_value=1, max_value=12),  # order id
    st.integers(min_value=0, max_value=3),  # new amount
    st.integers(min_value=0, max_value=119),  # minutes late, within the 2 hour lookback
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(CHANGE, max_size=8), min_size=1, max_size=5))
def test_incremental_equals_a_rebuild_from_scratch(
    db: psycopg.Connection, batches: list, rows, value, orders_model
) -> None:
    db.execute("DROP SCHEMA IF EXISTS raw, marts CASCADE")
    db.execute("DROP SCHEMA IF EXISTS weir CASCADE")
    db.execute("CREATE SCHEMA raw")
    db.execute("CREATE TABLE raw.orders (id int PRIMARY KEY, status text, amount int, updated_at timestamptz)")
    db.execute("CREATE INDEX ON raw.orders (updated_at)")
    select = ("SELECT id AS order_id, amount, amount * 10 AS scaled, updated_at FROM raw.orders"
              " WHERE updated_at > weir.since('marts.{name}')")
    incremental = orders_model(select.format(name="inc"), name="inc", lookback="2 hours")
    scratch = orders_model(select.format(name="scratch"), name="scratch", lookback="2 hours")
    for number, batch in enumerate(batches, start=1):
        now, before = T0 + timedelta(hours=3 * number), T0 + timedelta(hours=3 * (number - 1))
        for when, order_id, amount, minutes in batch:
            at = now if when == "now" else before - timedelta(minutes=minutes)
            db.execute(
                "INSERT INTO raw.orders VALUES (%s, 'x', %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET amount = excluded.amount, updated_at = excluded.updated_at",
                (order_id, amount, at),
            )
        result = materialize(db, incremental)
        assert result.inserted + result.updated <= len(batch) or number == 1
    materialize(db, scratch, full_refresh=True)
    columns = "order_id, amount, scaled, updated_at"
    assert rows(db, f"SELECT {columns} FROM marts.inc EXCEPT SELECT {columns} FROM marts.scratch") == []
    assert rows(db, f"SELECT {columns} FROM marts.scratch EXCEPT SELECT {columns} FROM marts.inc") == []
    assert value(db, "SELECT count(*) FROM marts.inc") == value(db, "SELECT count(*) FROM raw.orders")
