"""SCD2 models: histories, constraints, re-runs, errors (real PostgreSQL)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import psycopg.errors
import pytest

from runner.build.materialize.model import materialize
from runner.build.materialize.result import MaterializeResult
from runner.errors import ModelFailed

T0 = datetime(2024, 3, 1, tzinfo=UTC)
H = timedelta(hours=1)

CUSTOMERS_SQL = "SELECT id AS customer_id, city, tier, updated_at FROM raw.customers"


@pytest.fixture
def by_updated_at(make_model):
    """marts.dim_customer as scd2 on customer_id, versions by updated_at."""

    def by_updated_at(sql: str = CUSTOMERS_SQL, **options: str):
        return make_model(sql, name="dim_customer", kind="scd2", natural_key="customer_id", updated_at="updated_at",
                          **options)

    return by_updated_at


@pytest.fixture
def by_columns(make_model):
    """marts.dim_customer as scd2 on customer_id, versions when city or tier change."""

    def by_columns(sql: str = CUSTOMERS_SQL, **options: str):
        return make_model(sql, name="dim_customer", kind="scd2", natural_key="customer_id", check_cols="city tier",
                          **options)

    return by_columns


@pytest.fixture
def history(rows):
    """Return (valid_from or None for -infinity, valid_to, is_current, city) of a key's versions, oldest first."""

    def history(conn: psycopg.Connection, customer_id: int) -> list[tuple]:
        return rows(
            conn,
            "SELECT nullif(valid_from, '-infinity'), valid_to, is_current, city FROM marts.dim_customer"
            " WHERE customer_id = %s ORDER BY valid_from",
            (customer_id,),
        )

    return history


@pytest.fixture
def everything(rows):
    """Return the whole history table as text rows, in surrogate key order."""

    def everything(conn: psycopg.Connection) -> list[tuple]:
        return rows(conn, "SELECT d::text FROM marts.dim_customer AS d ORDER BY 1")

    return everything


@pytest.fixture
def now(value):
    """Return the database's clock."""

    def now(conn: psycopg.Connection) -> datetime:
        return value(conn, "SELECT clock_timestamp()")

    return now


@pytest.fixture
def customers(db: psycopg.Connection) -> psycopg.Connection:
    """raw.customers(id, city, tier, note, updated_at): 1 Oslo at T0, 2 Rome at T0+1h, 3 Lima at T0+2h."""
    db.execute("SET TimeZone = 'UTC'")
    db.execute("CREATE SCHEMA raw")
    db.execute(
        "CREATE TABLE raw.customers (id int PRIMARY KEY, city text, tier text, note text, updated_at timestamptz)"
    )
    db.execute(
        "INSERT INTO raw.customers VALUES (1, 'Oslo', 'gold', '', %s), (2, 'Rome', 'gold', '', %s),"
        " (3, 'Lima', 'basic', '', %s)",
        (T0, T0 + H, T0 + 2 * H),
    )
    return db


def change_batch(conn: psycopg.Connection) -> None:
    """1 moves (newer updated_at), 2 changes without a newer updated_at, 3 disappears, 4 is new."""
    conn.execute("UPDATE raw.customers SET city = 'Bergen', updated_at = %s WHERE id = 1", (T0 + 5 * H,))
    conn.execute("UPDATE raw.customers SET city = 'Milan' WHERE id = 2")
    conn.execute("DELETE FROM raw.customers WHERE id = 3")
    conn.execute("INSERT INTO raw.customers VALUES (4, 'Quito', 'basic', '', %s)", (T0 + 4 * H,))


def test_updated_at_history_of_new_changed_unchanged_deleted_and_returning_keys(
    customers: psycopg.Connection, by_updated_at, everything, history, now
) -> None:
    model = by_updated_at()
    assert materialize(customers, model) == MaterializeResult(3, 0, 0, True, "")
    assert history(customers, 1) == [(T0, None, True, "Oslo")]

    change_batch(customers)
    started = now(customers)
    assert materialize(customers, model) == MaterializeResult(2, 1, 1, False, "")
    finished = now(customers)
    assert history(customers, 1) == [(T0, T0 + 5 * H, False, "Oslo"), (T0 + 5 * H, None, True, "Bergen")]
    assert history(customers, 2) == [(T0 + H, None, True, "Rome")]  # same updated_at: no new version
    [(valid_from, closed, is_current, city)] = history(customers, 3)
    assert (valid_from, is_current, city) == (T0 + 2 * H, False, "Lima") and started < closed < finished
    assert history(customers, 4) == [(T0 + 4 * H, None, True, "Quito")]

    before = everything(customers)
    assert materialize(customers, model) == MaterializeResult(0, 0, 0, False, "")
    assert everything(customers) == before

    # 3 comes back with its old updated_at: the new version starts when the last one closed
    customers.execute("INSERT INTO raw.customers VALUES (3, 'Lima', 'basic', '', %s)", (T0 + 2 * H,))
    assert materialize(customers, model) == MaterializeResult(1, 0, 0, False, "")
    assert history(customers, 3) == [(T0 + 2 * H, closed, False, "Lima"), (closed, None, True, "Lima")]


def test_check_cols_history_of_new_changed_unchanged_deleted_and_returning_keys(
    customers: psycopg.Connection, value, by_columns, everything, history, now
) -> None:
    model = by_columns()
    assert materialize(customers, model) == MaterializeResult(3, 0, 0, True, "")
    assert history(customers, 1) == [(None, None, True, "Oslo")]  # first versions start at -infinity

    change_batch(customers)  # in this mode 2's new city is a change, whatever updated_at says
    customers.execute("UPDATE raw.customers SET note = 'called', tier = 'gold' WHERE id = 4")
    started = now(customers)
    assert materialize(customers, model) == MaterializeResult(3, 2, 1, False, "")
    build = value(customers, "SELECT valid_from FROM marts.dim_customer WHERE customer_id = 1 AND is_current")
    assert started < build < now(customers)
    assert history(customers, 1) == [(None, build, False, "Oslo"), (build, None, True, "Bergen")]
    assert history(customers, 2) == [(None, build, False, "Rome"), (build, None, True, "Milan")]
    assert history(customers, 3) == [(None, build, False, "Lima")]
    assert history(customers, 4) == [(None, None, True, "Quito")]

    before = everything(customers)
    customers.execute("UPDATE raw.customers SET note = 'not a tracked column'")
    assert materialize(customers, model) == MaterializeResult(0, 0, 0, False, "")
    assert everything(customers) == before

    customers.execute("INSERT INTO raw.customers VALUES (3, 'Lima', 'basic', '', %s)", (T0,))
    assert materialize(customers, model) == MaterializeResult(1, 0, 0, False, "")
    [_, (returned, open_end, current, _)] = history(customers, 3)
    assert returned > build and open_end is None and current


def test_on_delete_ignore_keeps_the_current_version(customers: psycopg.Connection, by_updated_at, history) -> None:
    model = by_updated_at(on_delete="ignore")
    materialize(customers, model)
    customers.execute("DELETE FROM raw.customers WHERE id = 3")
    assert materialize(customers, model) == MaterializeResult(0, 0, 0, False, "")
    assert history(customers, 3) == [(T0 + 2 * H, None, True, "Lima")]


def test_constraints_enforce_the_invariants(customers: psycopg.Connection, value, by_updated_at) -> None:
    materialize(customers, by_updated_at(surrogate_key="customer_key"))
    table = "marts.dim_customer"
    key = value(customers, f"SELECT customer_key FROM {table} WHERE customer_id = 1")
    with pytest.raises(psycopg.errors.UniqueViolation, match="dim_customer_current"):
        customers.execute(f"INSERT INTO {table} (customer_id, city, valid_from) VALUES (1, 'Twin', now())")
    with pytest.raises(psycopg.errors.CheckViolation, match="dim_customer_valid_range"):
        customers.execute(f"UPDATE {table} SET valid_to = valid_from WHERE customer_id = 1")
    with pytest.raises(psycopg.errors.UniqueViolation, match="dim_customer_pkey"):
        customers.execute(
            f"INSERT INTO {table} (customer_key, customer_id, valid_from, valid_to) OVERRIDING SYSTEM VALUE"
            " VALUES (%s, 9, '2000-01-01', '2000-01-02')",
            (key,),
        )
    with pytest.raises(psycopg.errors.UniqueViolation, match="dim_customer_version"):
        customers.execute(
            f"INSERT INTO {table} (customer_id, valid_from, valid_to) SELECT 1, valid_from, valid_from + interval"
            f" '1 day' FROM {table} WHERE customer_id = 1"
        )
    with pytest.raises(psycopg.errors.NotNullViolation):
        customers.execute(f"INSERT INTO {table} (customer_id, valid_from) VALUES (NULL, now())")
    with pytest.raises(psycopg.errors.GeneratedAlways):
        customers.execute(f"UPDATE {table} SET is_current = false")
    customers.execute(f"UPDATE {table} SET valid_to = valid_from + interval '1 day' WHERE customer_id = 1")
    assert value(customers, f"SELECT is_current FROM {table} WHERE customer_id = 1") is False


def test_point_in_time_join_finds_exactly_one_version_per_fact(
    customers: psycopg.Connection, rows, by_updated_at
) -> None:
    model = by_updated_at()
    materialize(customers, model)
    change_batch(customers)
    materialize(customers, model)
    customers.execute("CREATE TABLE raw.orders (customer_id int, ordered_at timestamptz)")
    customers.execute(
        "INSERT INTO raw.orders VALUES (1, %s), (1, %s), (1, %s), (2, %s), (3, %s), (4, %s)",
        (T0, T0 + 4 * H, T0 + 6 * H, T0 + 2 * H, T0 + 3 * H, T0 + 4 * H),
    )
    matches = rows(
        customers,
        "SELECT o.customer_id, o.ordered_at, count(d.dim_customer_key), min(d.city) FROM raw.orders AS o"
        " LEFT JOIN marts.dim_customer AS d ON d.customer_id = o.customer_id AND d.valid_from <= o.ordered_at"
        " AND (d.valid_to IS NULL OR o.ordered_at < d.valid_to) GROUP BY 1, 2 ORDER BY 1, 2",
    )
    assert [(customer, count, city) for customer, _, count, city in matches] == [
        (1, 1, "Oslo"), (1, 1, "Oslo"), (1, 1, "Bergen"), (2, 1, "Rome"), (3, 1, "Lima"), (4, 1, "Quito")
    ]


def test_full_refresh_and_changed_sql_keep_history(
    customers: psycopg.Connection, value, by_updated_at, everything
) -> None:
    materialize(customers, by_updated_at())
    change_batch(customers)
    materialize(customers, by_updated_at())
    before = everything(customers)
    result = materialize(customers, by_updated_at(), full_refresh=True)
    assert result.note == "history kept: --full-refresh does not rebuild an scd2 model (drop its table to start over)"
    assert everything(customers) == before
    with_note = by_updated_at("SELECT id AS customer_id, city, tier, note, updated_at FROM raw.customers")
    result = materialize(customers, with_note)
    assert result == MaterializeResult(
        0, 0, 0, False, "added column(s) note (NULL in earlier versions); SQL changed: history kept, new versions"
        " follow the new SQL"
    )
    assert value(customers, "SELECT count(*) FROM marts.dim_customer WHERE note IS NULL") == 5


def test_duplicate_natural_keys_fail_naming_samples(customers: psycopg.Connection, value, by_updated_at) -> None:
    doubled = by_updated_at(CUSTOMERS_SQL + " CROSS JOIN generate_series(1, 2) WHERE id < 3")
    with pytest.raises(ModelFailed) as caught:
        materialize(customers, doubled)
    assert str(caught.value) == (
        "models/marts/dim_customer.sql:2: natural_key (customer_id) is not unique: 2 key(s) appear more than"
        " once, e.g. 1 (2 rows), 2 (2 rows); make the SELECT return one row per key"
    )
    assert value(customers, "SELECT to_regclass('marts.dim_customer')") is None


def test_null_updated_at_fails_naming_keys(customers: psycopg.Connection, by_updated_at) -> None:
    customers.execute("UPDATE raw.customers SET updated_at = NULL WHERE id = 2")
    with pytest.raises(ModelFailed) as caught:
        materialize(customers, by_updated_at())
    assert str(caught.value) == (
        "models/marts/dim_customer.sql:3: updated_at (updated_at) is NULL in 1 row(s), for keys (2); every"
        " version needs the time it changed: coalesce it or use check_cols"
    )


def test_columns_scd2_adds_itself_are_refused(customers: psycopg.Connection, by_updated_at) -> None:
    with pytest.raises(ModelFailed) as caught:
        materialize(customers, by_updated_at(CUSTOMERS_SQL.replace("updated_at", "updated_at, now() AS valid_from")))
    assert str(caught.value) == (
        "models/marts/dim_customer.sql:4: the SELECT returns valid_from, which an scd2 model adds itself;"
        " rename or drop that column in the SELECT"
    )


def test_a_table_without_history_is_replaced_and_views_on_it_kept(
    customers: psycopg.Connection, make_model, rows, value, by_updated_at
) -> None:
    materialize(customers, make_model(CUSTOMERS_SQL, name="dim_customer", kind="table"))
    customers.execute("CREATE VIEW public.cities AS SELECT DISTINCT city FROM marts.dim_customer")
    result = materialize(customers, by_updated_at())
    assert result == MaterializeResult(
        3, 0, 0, True, "marts.dim_customer had no history columns: replaced by a new history table"
    )
    assert value(customers, "SELECT count(*) FROM public.cities") == 3
    indexes = "SELECT relname FROM pg_class WHERE relname LIKE 'dim_customer%' AND relkind = 'i' ORDER BY 1"
    assert [name for (name,) in rows(customers, indexes)] == [
        "dim_customer_current", "dim_customer_pkey", "dim_customer_version"
    ]


def documented_hash(kind: str, *parts: object) -> object:
    """The hash key README and runner.build.materialize.surrogate document, computed outside PostgreSQL."""
    texts = [part.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if isinstance(part, datetime) else str(part) for part in parts]
    digest = hashlib.md5("|".join(texts).encode()).digest()
    if kind == "bigint":
        return int.from_bytes(digest[:8], "big", signed=True)
    return uuid.UUID(bytes=digest) if kind == "uuid" else digest.hex()


@pytest.mark.parametrize("kind", ["bigint", "uuid", "text"])
def test_hash_surrogate_keys_follow_the_documented_formula(
    customers: psycopg.Connection, rows, by_updated_at, kind: str
) -> None:
    model = by_updated_at(surrogate_key=f"customer_sk hash {kind}")
    materialize(customers, model)
    change_batch(customers)
    materialize(customers, model)
    customers.execute("INSERT INTO raw.customers VALUES (3, 'Lima', 'basic', '', %s)", (T0,))  # back: opened at close
    materialize(customers, model)
    versions = rows(customers, "SELECT customer_id, valid_from, customer_sk FROM marts.dim_customer ORDER BY 1, 2")
    assert len(versions) == 6
    assert [key for _, _, key in versions] == [
        documented_hash(kind, customer, valid_from.astimezone(UTC)) for customer, valid_from, _ in versions
    ]
    assert rows(customers, "SELECT format_type(atttypid, atttypmod), attidentity FROM pg_attribute"
                " WHERE attrelid = 'marts.dim_customer'::regclass AND attname = 'customer_sk'") == [(kind, "")]


def test_hash_surrogate_keys_are_the_same_after_a_rebuild_from_scratch(
    customers: psycopg.Connection, rows, by_updated_at
) -> None:
    model = by_updated_at(surrogate_key="customer_sk hash bigint")
    materialize(customers, model)
    change_batch(customers)
    materialize(customers, model)
    current = "SELECT customer_id, valid_from, customer_sk FROM marts.dim_customer WHERE is_current ORDER BY 1"
    built_over_time = rows(customers, current)
    customers.execute("DROP TABLE marts.dim_customer")
    materialize(customers, model)
    assert rows(customers, current) == built_over_time
    sequence = rows(customers, "SELECT count(DISTINCT customer_sk), min(customer_sk) FROM marts.dim_customer")
    assert sequence != [(3, 1)]  # not numbered 1..n


def test_hash_keys_of_a_composite_key_and_infinite_first_versions(
    customers: psycopg.Connection, rows, make_model
) -> None:
    model = make_model(
        "SELECT id AS customer_id, updated_at::date AS day, city FROM raw.customers",
        name="dim_customer", kind="scd2", natural_key="customer_id day", check_cols="city",
        surrogate_key="sk hash uuid",
    )
    materialize(customers, model)
    versions = rows(customers, "SELECT customer_id, day, sk FROM marts.dim_customer ORDER BY 1")
    assert [sk for _, _, sk in versions] == [
        documented_hash("uuid", customer, day.isoformat(), "-infinity") for customer, day, _ in versions
    ]


def test_a_changed_surrogate_strategy_is_refused_and_history_kept(
    customers: psycopg.Connection, everything, by_updated_at
) -> None:
    materialize(customers, by_updated_at(surrogate_key="customer_sk"))
    before = everything(customers)
    with pytest.raises(ModelFailed) as caught:
        materialize(customers, by_updated_at(surrogate_key="customer_sk hash uuid"))
    assert str(caught.value) == (
        "models/marts/dim_customer.sql:4: marts.dim_customer.customer_sk is a sequence, the header says a uuid hash;"
        " history is never rebuilt implicitly: change surrogate_key back, or drop marts.dim_customer to rebuild it"
    )
    with pytest.raises(ModelFailed, match="customer_sk is a sequence, the header says a bigint hash"):
        materialize(customers, by_updated_at(surrogate_key="customer_sk hash bigint"))
    assert everything(customers) == before
    assert materialize(customers, by_updated_at(surrogate_key="customer_sk sequence")).inserted == 0
