"""The example warehouse end to end: migrate, load sample data, build, apply change batches, build again."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from runner.build.report import BuildReport
from runner.build.run import build
from runner.db.connection import connect
from runner.migrate import migrate
from runner.project import Project
from runner.sample import data as sample_data

ROOT = Path(__file__).resolve().parent.parent
SCALE = 6000
MARTS = ("marts.dim_customer", "marts.dim_product", "marts.dim_date", "marts.fact_order_items",
         "marts.agg_daily_sales")

# Fact rows whose customer_key is not the one version of their customer valid at ordered_at.
# `extended`: a key's first version also covers the time before it (as the fact's join does).
_WRONG_VERSION = """
WITH versions AS (
    SELECT d.*, CASE WHEN %(extended)s AND d.valid_from = min(d.valid_from) OVER (PARTITION BY d.customer_id)
                     THEN '-infinity'::timestamptz ELSE d.valid_from END AS effective_from
    FROM marts.dim_customer AS d
)
SELECT count(*)
FROM marts.fact_order_items AS f
WHERE (
    SELECT count(*) FROM versions AS v
    WHERE v.customer_id = f.customer_id AND v.effective_from <= f.ordered_at
      AND (v.valid_to IS NULL OR f.ordered_at < v.valid_to)
) <> 1
OR NOT EXISTS (
    SELECT FROM versions AS v
    WHERE v.customer_key = f.customer_key AND v.customer_id = f.customer_id AND v.effective_from <= f.ordered_at
      AND (v.valid_to IS NULL OR f.ordered_at < v.valid_to)
)
"""
# The daily aggregate computed from scratch, to compare with the incrementally kept one.
_DAILY_FROM_SCRATCH = """
SELECT f.order_date, f.date_key,
       count(DISTINCT f.order_id) FILTER (WHERE f.order_status <> 'cancelled'),
       count(*) FILTER (WHERE f.order_status <> 'cancelled'),
       coalesce(sum(f.quantity) FILTER (WHERE f.order_status <> 'cancelled'), 0),
       coalesce(sum(f.line_total_cents) FILTER (WHERE f.order_status <> 'cancelled'), 0),
       count(DISTINCT f.order_id) FILTER (WHERE f.order_status = 'cancelled'),
       coalesce(sum(f.line_total_cents) FILTER (WHERE f.order_status = 'cancelled'), 0),
       max(f.updated_at)
FROM marts.fact_order_items AS f
GROUP BY f.order_date, f.date_key
"""
_DAILY_KEPT = """
SELECT sale_date, date_key, orders, order_lines, units, revenue_cents, cancelled_orders, cancelled_cents, updated_at
FROM marts.agg_daily_sales
"""
# The fact as the raw tables say it should be, except customer_key (checked on its own).
_FACT_FROM_RAW = """
SELECT i.order_item_id, i.order_id, o.customer_id, i.product_id, (o.ordered_at AT TIME ZONE 'UTC')::date,
       o.ordered_at, o.status, i.quantity, i.unit_price_cents, i.quantity * i.unit_price_cents,
       greatest(i.updated_at, o.updated_at)
FROM raw.order_items AS i JOIN raw.orders AS o USING (order_id)
"""
_FACT_KEPT = """
SELECT order_item_id, order_id, customer_id, product_key, order_date, ordered_at, order_status, quantity,
       unit_price_cents, line_total_cents, updated_at
FROM marts.fact_order_items
"""


@pytest.fixture
def warehouse(db: psycopg.Connection, dsn: str) -> tuple[psycopg.Connection, str]:
    """This test's database, migrated and loaded with SCALE order items, not yet built."""
    migrate(db, Project.load(ROOT))
    sample_data.load(db, SCALE)
    return db, dsn


def run_build(dsn: str, **options) -> dict[str, tuple[str, int, int, int]]:
    """Build the example models; return model -> (status, inserted, updated, deleted), failing on any error."""
    with connect(dsn, "weir build") as conn:
        report: BuildReport = build(conn, Project.load(ROOT), **options)
    assert report.ok, report.errors
    return {row[0]: (row[2], row[3], row[4], row[5]) for row in report.rows}


def differences(conn: psycopg.Connection, left: str, right: str) -> int:
    """Count the rows in one query's result but not the other's, both ways."""
    return conn.execute(f"SELECT count(*) FROM (({left}) EXCEPT ALL ({right})) AS a").fetchone()[0] + conn.execute(
        f"SELECT count(*) FROM (({right}) EXCEPT ALL ({left})) AS b"
    ).fetchone()[0]


def check_marts(conn: psycopg.Connection, extended: bool = False) -> None:
    """Assert what must hold after every build: facts mirror raw, keys point in time, the aggregate adds up."""
    facts, items, null_keys = conn.execute(
        "SELECT (SELECT count(*) FROM marts.fact_order_items), (SELECT count(*) FROM raw.order_items),"
        " (SELECT count(*) FROM marts.fact_order_items WHERE customer_key IS NULL)"
    ).fetchone()
    assert facts == items
    assert null_keys == 0
    assert differences(conn, _FACT_FROM_RAW, _FACT_KEPT) == 0
    assert conn.execute(_WRONG_VERSION, {"extended": extended}).fetchone()[0] == 0
    assert differences(conn, _DAILY_FROM_SCRATCH, _DAILY_KEPT) == 0
    uncovered = conn.execute(
        "SELECT count(*) FROM marts.fact_order_items f"
        " WHERE NOT EXISTS (SELECT FROM marts.dim_date d WHERE d.date_key = f.date_key AND d.date_day = f.order_date)"
        " OR NOT EXISTS (SELECT FROM marts.dim_product p WHERE p.product_key = f.product_key)"
    ).fetchone()[0]
    assert uncovered == 0


def test_build_then_change_batch_then_build_touches_only_what_changed(warehouse):
    conn, dsn = warehouse
    first = run_build(dsn)
    assert {model: result[0] for model, result in first.items()} == dict.fromkeys(first, "success")
    assert first["marts.fact_order_items"][1] == SCALE
    check_marts(conn)

    conn.execute(
        "CREATE TABLE public.before_items AS SELECT order_item_id FROM raw.order_items;"
        " CREATE TABLE public.before_orders AS SELECT order_id, status FROM raw.orders"
    )
    claimed = {step.name: step.rows for step in sample_data.change_batch(conn, 1)}
    second = run_build(dsn)
    check_marts(conn)

    # Views over unchanged SQL are skipped; the fact takes the new lines and re-states only the
    # lines of orders whose status changed; dim_customer opens and closes exactly the changed keys.
    assert {second[f"staging.{name}"][0] for name in ("stg_customers", "stg_orders", "stg_order_items")} == {"skipped"}
    status_changed_lines = conn.execute(
        "SELECT count(*) FROM raw.order_items i JOIN public.before_orders b USING (order_id)"
        " JOIN raw.orders o USING (order_id) WHERE o.status <> b.status"
    ).fetchone()[0]
    assert second["marts.fact_order_items"] == ("success", claimed["new_order_items"], status_changed_lines, 0)
    assert status_changed_lines > 0
    assert second["marts.dim_customer"] == (
        "success",
        claimed["new_customers"] + claimed["returning_customers"] + claimed["moved_customers"],
        claimed["moved_customers"],
        claimed["deleted_customers"],
    )
    changed_days = conn.execute(
        "SELECT count(DISTINCT f.order_date) FROM marts.fact_order_items f"
        " WHERE f.order_item_id NOT IN (SELECT order_item_id FROM public.before_items)"
        " OR f.order_id IN (SELECT b.order_id FROM public.before_orders b JOIN raw.orders o USING (order_id)"
        "                   WHERE o.status <> b.status)"
    ).fetchone()[0]
    _, inserted, updated, _ = second["marts.agg_daily_sales"]
    assert inserted + updated == changed_days
    assert inserted >= 1  # the batch's own day is new

    # A third build with nothing changed does nothing at all.
    third = run_build(dsn)
    assert {result[0] for result in third.values()} == {"skipped"}, third


def test_incremental_builds_equal_a_rebuild_from_scratch(warehouse):
    conn, dsn = warehouse
    run_build(dsn)
    for batch in (1, 2, 3):
        sample_data.change_batch(conn, batch, fraction=0.03)
        run_build(dsn)
        check_marts(conn)
    kept = sample_data.content_hash(conn, ["marts.fact_order_items", "marts.agg_daily_sales"])
    rebuilt = run_build(dsn, full_refresh=True, select=["marts.fact_order_items+"])
    assert rebuilt["marts.fact_order_items"][:2] == ("success", conn.execute(
        "SELECT count(*) FROM raw.order_items").fetchone()[0])
    assert sample_data.content_hash(conn, ["marts.fact_order_items", "marts.agg_daily_sales"]) == kept


def test_several_batches_between_builds_still_find_one_version_per_fact(warehouse):
    conn, dsn = warehouse
    run_build(dsn)
    for batch in (1, 2, 3, 4):
        sample_data.change_batch(conn, batch, fraction=0.1)
    run_build(dsn)
    # Customers who signed up and moved between two builds start their history at the move;
    # their earlier orders belong to that first version.
    check_marts(conn, extended=True)
    moved_before_seen = conn.execute(
        "SELECT count(*) FROM marts.fact_order_items f JOIN marts.dim_customer d USING (customer_key)"
        " WHERE f.ordered_at < d.valid_from"
    ).fetchone()[0]
    assert moved_before_seen > 0
    # Customers leave, come back, move and order across many builds; every build succeeds.
    for batch in range(5, 13):
        sample_data.change_batch(conn, batch, fraction=0.03)
        run_build(dsn)
        check_marts(conn, extended=True)
    # Returning keys: a current version opened where a deletion (closed at real build time,
    # after every simulated instant) ended the previous one.
    returned = conn.execute(
        "SELECT count(*) FROM marts.dim_customer d JOIN marts.dim_customer o USING (customer_id)"
        " WHERE d.is_current AND o.valid_to = d.valid_from AND o.valid_to > '2024-12-31'"
    ).fetchone()[0]
    assert returned > 0


def test_every_mart_is_commented_and_the_dimension_keeps_history(warehouse):
    conn, dsn = warehouse
    run_build(dsn)
    for batch in (1, 2):
        sample_data.change_batch(conn, batch)
        run_build(dsn)
    for relation in MARTS:
        comment = conn.execute("SELECT obj_description(%s::regclass, 'pg_class')", (relation,)).fetchone()[0]
        assert comment, relation
    versions, keys, current, closed = conn.execute(
        "SELECT count(*), count(DISTINCT customer_id), count(*) FILTER (WHERE is_current),"
        " count(*) FILTER (WHERE valid_to IS NOT NULL) FROM marts.dim_customer"
    ).fetchone()
    assert versions > keys  # moves made second versions
    assert closed > 0
    assert current == conn.execute("SELECT count(*) FROM raw.customers").fetchone()[0]
