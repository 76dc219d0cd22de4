"""The deterministic sample-data generator: same inputs give the same rows, sizes scale, batches do what they say."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from runner.errors import SampleDataError
from runner.migrate import migrate
from runner.migrate.fingerprint import diff, fingerprint
from runner.project import Project
from runner.sample import data as sample_data

ROOT = Path(__file__).resolve().parents[2]
END_AT = datetime(2024, 1, 1, tzinfo=UTC)


def migrate_raw(conn: psycopg.Connection) -> None:
    """Create the example warehouse's raw schema with the repository's own migrations."""
    migrate(conn, Project.load(ROOT))


@pytest.fixture
def raw(db: psycopg.Connection) -> psycopg.Connection:
    """This test's database with the raw schema migrated and empty."""
    migrate_raw(db)
    return db


@pytest.fixture
def second_raw(db: psycopg.Connection, dsn: str) -> Iterator[psycopg.Connection]:
    """A second fresh database on the same server, migrated like the first."""
    name = conninfo_to_dict(dsn)["dbname"] + "_second"
    db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with psycopg.connect(make_conninfo(dsn, dbname=name), autocommit=True) as conn:
            migrate_raw(conn)
            yield conn
    finally:
        db.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def counts(conn: psycopg.Connection) -> dict[str, int]:
    """Return the row count of each raw table."""
    return {
        table: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.split(".")))).fetchone()[0]
        for table in sample_data.RAW_TABLES
    }


def rows_by_step(steps: list[sample_data.Step]) -> dict[str, int]:
    return {step.name: step.rows for step in steps}


def test_same_scale_and_batches_give_identical_content_in_two_databases(raw, second_raw):
    for conn in (raw, second_raw):
        sample_data.load(conn, 3000)
    assert sample_data.content_hash(raw) == sample_data.content_hash(second_raw)
    for conn in (raw, second_raw):
        for batch in (1, 2, 3):
            sample_data.change_batch(conn, batch)
    assert sample_data.content_hash(raw) == sample_data.content_hash(second_raw)
    # The digest is sensitive to a single changed value.
    second_raw.execute("UPDATE raw.customers SET city = city || 'x' WHERE customer_id = 1")
    assert sample_data.content_hash(raw) != sample_data.content_hash(second_raw)


def test_a_different_scale_or_batch_gives_different_content(raw, second_raw):
    sample_data.load(raw, 3000)
    sample_data.load(second_raw, 3001)
    assert sample_data.content_hash(raw) != sample_data.content_hash(second_raw)


@pytest.mark.parametrize(
    ("scale", "customers", "products"),
    [(600, 20, 10), (6000, 120, 60), (30000, 600, 300)],
)
def test_row_counts_scale_with_the_number_of_order_items(raw, scale, customers, products):
    steps = rows_by_step(sample_data.load(raw, scale))
    found = counts(raw)
    assert found["raw.order_items"] == scale == steps["order_items"]
    assert found["raw.customers"] == customers == steps["customers"]
    assert found["raw.products"] == products == steps["products"]
    assert abs(found["raw.orders"] - scale / 3) <= scale * 0.03
    # one to five items per order, three on average
    low, high, average = raw.execute(
        "SELECT min(n), max(n), avg(n) FROM (SELECT count(*) AS n FROM raw.order_items GROUP BY order_id) AS i"
    ).fetchone()
    assert (low, high) == (1, 5)
    assert abs(float(average) - 3) < 0.15


def test_products_are_capped_at_five_thousand_and_customers_grow_on(raw):
    raw.execute((ROOT / "runner" / "sample" / "functions.sql").read_text())
    sizes = raw.execute(
        "SELECT pg_temp.sample_product_count(s), pg_temp.sample_customer_count(s), pg_temp.sample_order_of_item(s)"
        " FROM unnest(ARRAY[499999, 500000, 50000000]::bigint[]) AS s"
    ).fetchall()
    assert [row[0] for row in sizes] == [4999, 5000, 5000]
    assert [row[1] for row in sizes] == [9999, 10000, 1000000]
    scales = (499999, 500000, 50000000)
    assert all(abs(orders - scale / 3) < scale * 0.01 for (*_, orders), scale in zip(sizes, scales, strict=True))


def test_loaded_history_is_two_years_ending_at_a_fixed_instant(raw):
    sample_data.load(raw, 6000)
    first, last, latest_change = raw.execute(
        "SELECT min(ordered_at), max(ordered_at),"
        " greatest((SELECT max(updated_at) FROM raw.orders), (SELECT max(updated_at) FROM raw.customers))"
        " FROM raw.orders"
    ).fetchone()
    assert END_AT - timedelta(days=730) <= first < END_AT - timedelta(days=729)
    assert END_AT - timedelta(days=1) < last < END_AT
    assert latest_change < END_AT
    statuses = dict(raw.execute("SELECT status, count(*) FROM raw.orders GROUP BY status").fetchall())
    assert set(statuses) == {"placed", "paid", "shipped", "delivered", "cancelled"}
    assert statuses["delivered"] > 0.9 * sum(statuses.values())


def test_customers_sign_up_before_their_first_order_and_some_never_order(raw):
    sample_data.load(raw, 6000)
    early = raw.execute(
        "SELECT count(*) FROM raw.orders o JOIN raw.customers c USING (customer_id) WHERE c.created_at >= o.ordered_at"
    ).fetchone()[0]
    assert early == 0
    never = raw.execute(
        "SELECT count(*) FROM raw.customers c"
        " WHERE NOT EXISTS (SELECT FROM raw.orders o WHERE o.customer_id = c.customer_id)"
    ).fetchone()[0]
    assert never >= 12  # every tenth customer, at least


def test_load_restores_every_key_index_and_comment_it_sets_aside(raw):
    before = fingerprint(raw)
    sample_data.load(raw, 3000)
    sample_data.change_batch(raw, 1)
    assert diff(before, fingerprint(raw)) == []
    not_valid = raw.execute(
        "SELECT count(*) FROM pg_constraint WHERE connamespace = 'raw'::regnamespace AND NOT convalidated"
    ).fetchone()[0]
    assert not_valid == 0
    # Sequences continue after the generated ids, so the application's own inserts work.
    customer_id = raw.execute(
        "INSERT INTO raw.customers (email, full_name, city, country) VALUES ('new@example.com', 'New', 'Oslo', 'NO')"
        " RETURNING customer_id"
    ).fetchone()[0]
    assert customer_id == raw.execute("SELECT max(customer_id) FROM raw.customers").fetchone()[0]


def test_foreign_keys_hold_after_load_and_batches(raw):
    sample_data.load(raw, 3000)
    for batch in (1, 2, 3, 4):
        sample_data.change_batch(raw, batch, fraction=0.05)
    orphans = raw.execute(
        "SELECT (SELECT count(*) FROM raw.orders o WHERE NOT EXISTS"
        "  (SELECT FROM raw.customers c WHERE c.customer_id = o.customer_id))"
        " + (SELECT count(*) FROM raw.order_items i WHERE NOT EXISTS"
        "  (SELECT FROM raw.orders o WHERE o.order_id = i.order_id))"
        " + (SELECT count(*) FROM raw.order_items i WHERE NOT EXISTS"
        "  (SELECT FROM raw.products p WHERE p.product_id = i.product_id))"
        " + (SELECT count(*) FROM raw.orders o WHERE NOT EXISTS"
        "  (SELECT FROM raw.order_items i WHERE i.order_id = o.order_id))"
    ).fetchone()[0]
    assert orphans == 0


SNAPSHOT = """
CREATE SCHEMA snap;
CREATE TABLE snap.customers AS SELECT * FROM raw.customers;
CREATE TABLE snap.products AS SELECT * FROM raw.products;
CREATE TABLE snap.orders AS SELECT * FROM raw.orders;
CREATE TABLE snap.order_items AS SELECT * FROM raw.order_items
"""
# What each step of a batch claims, measured by comparing the tables with the snapshot.
OBSERVED = {
    "new_customers": """
        SELECT count(*) FROM raw.customers WHERE customer_id > (SELECT max(customer_id) FROM snap.customers)""",
    "returning_customers": """
        SELECT count(*) FROM raw.customers c
        WHERE c.customer_id <= (SELECT max(customer_id) FROM snap.customers)
          AND NOT EXISTS (SELECT FROM snap.customers s WHERE s.customer_id = c.customer_id)""",
    "moved_customers": """
        SELECT count(*) FROM raw.customers c JOIN snap.customers s USING (customer_id)
        WHERE (c.city, c.country) <> (s.city, s.country)""",
    "deleted_customers": """
        SELECT count(*) FROM snap.customers s
        WHERE NOT EXISTS (SELECT FROM raw.customers c WHERE c.customer_id = s.customer_id)""",
    "repriced_products": """
        SELECT count(*) FROM raw.products p JOIN snap.products s USING (product_id)
        WHERE p.price_cents <> s.price_cents""",
    "order_status": "SELECT count(*) FROM raw.orders o JOIN snap.orders s USING (order_id) WHERE o.status <> s.status",
    "new_orders": "SELECT count(*) FROM raw.orders WHERE order_id > (SELECT max(order_id) FROM snap.orders)",
    "new_order_items": """
        SELECT count(*) FROM raw.order_items WHERE order_item_id > (SELECT max(order_item_id) FROM snap.order_items)""",
}
# Rows new or different since the snapshot, and the range of their updated_at.
_CHANGED = """
SELECT count(*), min(t.updated_at), max(t.updated_at)
FROM (SELECT * FROM {table} EXCEPT SELECT * FROM {snapshot}) AS t
"""


def test_a_change_batch_touches_what_it_claims_within_its_simulated_day(raw):
    sample_data.load(raw, 30000)
    sample_data.change_batch(raw, 1)
    raw.execute(SNAPSHOT)
    claimed = rows_by_step(sample_data.change_batch(raw, 2))
    observed = {step: raw.execute(query).fetchone()[0] for step, query in OBSERVED.items()}
    assert observed == {step: claimed[step] for step in OBSERVED}
    # About 1% of each kind of row changes; a few customers leave and come back.
    assert 0.005 * 600 <= claimed["moved_customers"] <= 0.02 * 600
    assert abs(claimed["new_orders"] - 100) <= 2
    assert claimed["order_status"] == claimed["new_orders"]
    assert 1 <= claimed["deleted_customers"] <= 30
    # Every new or changed row is stamped inside batch 2's day, after everything before it.
    day_start, day_end = END_AT + timedelta(days=1), END_AT + timedelta(days=2)
    for table in ("customers", "products", "orders", "order_items"):
        changed, first, last = raw.execute(
            sql.SQL(_CHANGED).format(table=sql.Identifier("raw", table), snapshot=sql.Identifier("snap", table))
        ).fetchone()
        assert changed > 0, table
        assert day_start <= first and last < day_end, table


def test_deleted_customers_never_ordered_and_some_come_back_under_their_old_key(raw):
    sample_data.load(raw, 6000)
    deleted: set[int] = set()
    returned: set[int] = set()
    for batch in range(1, 9):
        before = {row[0] for row in raw.execute("SELECT customer_id FROM raw.customers")}
        had_orders = {row[0] for row in raw.execute("SELECT DISTINCT customer_id FROM raw.orders")}
        sample_data.change_batch(raw, batch, fraction=0.05)
        after = {row[0] for row in raw.execute("SELECT customer_id FROM raw.customers")}
        gone = before - after
        assert not gone & had_orders
        returned |= (after - before) & deleted
        deleted |= gone
    assert deleted and returned
    assert max(returned) <= 120  # only loaded customers leave and come back
    # A returning customer has the e-mail address of the old key, and stays as they came back:
    # no moves, no orders (see sample_batch.sql for why).
    email = raw.execute("SELECT email FROM raw.customers WHERE customer_id = %s", (min(returned),)).fetchone()[0]
    assert email.endswith(f"{min(returned)}@example.com")
    changed, ordered = raw.execute(
        "SELECT count(*) FILTER (WHERE c.updated_at <> c.created_at),"
        " count(*) FILTER (WHERE EXISTS (SELECT FROM raw.orders o WHERE o.customer_id = c.customer_id))"
        " FROM raw.customers c WHERE c.customer_id = ANY(%s)",
        (sorted(returned),),
    ).fetchone()
    assert (changed, ordered) == (0, 0)
    # Customers who signed up in a batch do move and order later.
    new_moved, new_ordered = raw.execute(
        "SELECT count(*) FILTER (WHERE c.updated_at <> c.created_at),"
        " count(*) FILTER (WHERE EXISTS (SELECT FROM raw.orders o WHERE o.customer_id = c.customer_id))"
        " FROM raw.customers c WHERE c.customer_id > 120"
    ).fetchone()
    assert new_moved > 0 and new_ordered > 0


def test_late_orders_are_placed_before_their_batch_but_written_in_it(raw):
    sample_data.load(raw, 30000)
    sample_data.change_batch(raw, 1)
    late, early_customer = raw.execute(
        "SELECT count(*) FILTER (WHERE o.ordered_at < %(start)s AND o.created_at >= %(start)s),"
        " count(*) FILTER (WHERE c.created_at >= o.ordered_at)"
        " FROM raw.orders o JOIN raw.customers c USING (customer_id)",
        {"start": END_AT},
    ).fetchone()
    assert late > 0
    assert early_customer == 0


def test_load_refuses_a_raw_schema_with_rows_and_leaves_it_untouched(raw):
    sample_data.load(raw, 600)
    digest = sample_data.content_hash(raw)
    with pytest.raises(SampleDataError, match="already has rows"):
        sample_data.load(raw, 600)
    assert sample_data.content_hash(raw) == digest


def test_load_without_the_raw_schema_says_to_migrate(db):
    with pytest.raises(SampleDataError, match="weir migrate"):
        sample_data.load(db, 600)


def test_change_batches_refuse_an_empty_schema_a_repeat_and_going_back(raw):
    with pytest.raises(SampleDataError, match="load sample data before"):
        sample_data.change_batch(raw, 1)
    sample_data.load(raw, 600)
    sample_data.change_batch(raw, 2)
    digest = sample_data.content_hash(raw)
    for batch in (2, 1):
        with pytest.raises(SampleDataError, match=f"change batch {batch} starts at"):
            sample_data.change_batch(raw, batch)
    assert sample_data.content_hash(raw) == digest
    sample_data.change_batch(raw, 3)
    assert sample_data.content_hash(raw) != digest


@pytest.mark.parametrize(("batch", "fraction", "message"), [(0, 0.01, "numbered from 1"), (1, 0.0, "fraction"),
                                                            (1, 0.9, "fraction")])
def test_change_batch_arguments_are_checked(raw, batch, fraction, message):
    with pytest.raises(SampleDataError, match=message):
        sample_data.change_batch(raw, batch, fraction)


def test_progress_reports_each_step_with_its_rows(raw):
    seen = []
    sample_data.load(raw, 600, on_step=lambda name, rows, seconds: seen.append((name, rows)))
    names = [name for name, _ in seen]
    assert names[:3] == ["set_aside_keys", "save_definitions", "drop_keys"]
    assert ("order_items", 600) in seen and names[-1] == "analyze"


def test_a_database_error_names_the_generator_file_and_line_and_changes_nothing(raw):
    sample_data.load(raw, 600)
    digest = sample_data.content_hash(raw)
    raw.execute("ALTER TABLE raw.products RENAME COLUMN price_cents TO list_price")
    expected = r"^runner/sample/batch\.sql:\d+: column .*price_cents.* does not exist"
    with pytest.raises(SampleDataError, match=expected):
        sample_data.change_batch(raw, 1)
    raw.execute("ALTER TABLE raw.products RENAME COLUMN list_price TO price_cents")
    assert sample_data.content_hash(raw) == digest
