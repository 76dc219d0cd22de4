"""The example warehouse's unit tests: all pass, and each one fails when its model's logic is broken."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

# (model file, text in it, what to put there instead, the test that must then fail)
MUTATIONS = [
    ("staging/stg_order_items.sql", "i.quantity * i.unit_price_cents", "i.quantity + i.unit_price_cents",
     "staging/stg_order_items__line_total"),
    ("staging/stg_orders.sql", "AT TIME ZONE 'UTC'", "AT TIME ZONE 'Europe/Berlin'",
     "staging/stg_orders__utc_order_date"),
    ("staging/stg_customers.sql", "c.city,", "c.country AS city,", "staging/stg_customers__columns"),
    ("staging/stg_products.sql", "p.price_cents AS list_price_cents", "p.product_id AS list_price_cents",
     "staging/stg_products__renames"),
    ("staging/stg_products.sql", "p.category,", "coalesce(p.category, 'none') AS category,",
     "staging/stg_products__from_csv"),
    ("marts/dim_product.sql", "p.product_id AS product_key", "p.list_price_cents AS product_key",
     "marts/dim_product__keys_and_prices"),
    ("marts/dim_date.sql", "IN (6, 7) AS is_weekend", "IN (5, 6) AS is_weekend", "marts/dim_date__whole_years"),
    ("marts/fact_order_items.sql", "AND l.ordered_at >= c.valid_from", "AND l.ordered_at <= c.valid_from",
     "marts/fact_order_items__point_in_time"),
    ("marts/fact_order_items.sql", "o.updated_at > weir.since('marts.fact_order_items')",
     "o.updated_at > weir.since('marts.fact_order_items') + interval '1 day'",
     "marts/fact_order_items__incremental_run"),
    ("marts/agg_daily_sales.sql", "WHERE f.order_status <> 'cancelled') AS orders",
     "WHERE f.order_status = f.order_status) AS orders", "marts/agg_daily_sales__first_build"),
    ("marts/agg_daily_sales.sql", "WHERE changed.updated_at > weir.since('marts.agg_daily_sales')",
     "WHERE changed.updated_at > weir.since('marts.agg_daily_sales') + interval '2 days'",
     "marts/agg_daily_sales__changed_day"),
    ("marts/dim_customer.sql", "on_delete=close", "on_delete=ignore", "marts/dim_customer__hard_delete"),
    ("marts/agg_customers_by_region.sql", "WHERE c.is_current", "WHERE true", "marts/agg_customers_by_region__regions"),
    ("marts/dim_customer.sql", "    c.city,", "    upper(c.city) AS city,", "marts/dim_customer__moves"),
    ("marts/dim_customer.sql", "weir.mask_email(c.email) AS email", "c.email", "marts/dim_customer__masked_email"),
]


def test_every_example_unit_test_passes(example: Path, dsn, weir):
    result = weir("test", "--project", str(example), "--dsn", dsn, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "pass"
    names = {test["name"] for test in document["results"]["tests"]}
    assert len(names) >= 13
    tested = {test["model"] for test in document["results"]["tests"]}
    models = {f"{path.parent.name}.{path.stem}" for path in (example / "models").rglob("*.sql")}
    assert tested == models  # every model has a unit test


@pytest.mark.parametrize(("model", "original", "mutated", "failing"), MUTATIONS,
                         ids=[failing.split("/")[1] for _, _, _, failing in MUTATIONS])
def test_a_mutated_model_fails_its_unit_test(example: Path, dsn, weir, model, original, mutated, failing):
    path = example / "models" / model
    text = path.read_text()
    assert original in text
    path.write_text(text.replace(original, mutated))
    selector = model.removesuffix(".sql").replace("/", ".")
    result = weir("test", selector, "--project", str(example), "--dsn", dsn, "--json")
    assert result.exit_code == 1, result.output
    outcomes = {test["name"]: test["status"] for test in json.loads(result.stdout)["results"]["tests"]}
    assert outcomes[failing] == "fail", outcomes


def test_a_failure_prints_the_changed_columns_of_keyed_rows(example: Path, dsn, weir):
    path = example / "models" / "marts" / "fact_order_items.sql"
    path.write_text(path.read_text().replace("l.line_total_cents,", "l.line_total_cents * 2 AS line_total_cents,"))
    result = weir("test", "marts.fact_order_items", "--project", str(example), "--dsn", dsn)
    assert result.exit_code == 1
    assert "FAIL  marts/fact_order_items__point_in_time (marts.fact_order_items" in result.stdout
    assert "unit_tests/marts/fact_order_items__point_in_time.sql: 3 row(s) changed" in result.stdout
    changed = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("changed")]
    assert changed[:3] == [  # by key, so a diff reads top to bottom
        "changed    (order_item_id=1): line_total_cents: expected 1000, got 2000",
        "changed    (order_item_id=3): line_total_cents: expected 300, got 600",
        "changed    (order_item_id=5): line_total_cents: expected 700, got 1400",
    ]
    assert result.stdout.splitlines()[-1] == "unit tests: 2 fail"


def test_unkeyed_rows_are_shown_missing_and_unexpected(example: Path, dsn, weir):
    path = example / "models" / "staging" / "stg_order_items.sql"
    path.write_text(path.read_text().replace("i.quantity * i.unit_price_cents", "i.quantity + i.unit_price_cents"))
    result = weir("test", "stg_order_items", "--project", str(example), "--dsn", dsn)
    assert result.exit_code == 1
    assert ("missing    (order_item_id=1, order_id=10, quantity=3, unit_price_cents=250, line_total_cents=750)"
            in result.stdout)
    assert ("unexpected (order_item_id=1, order_id=10, quantity=3, unit_price_cents=250, line_total_cents=253)"
            in result.stdout)


def test_junit_has_a_testcase_per_unit_test(example: Path, dsn, weir, tmp_path: Path):
    report = tmp_path / "unit.xml"
    result = weir("test", "tag:products", "--project", str(example), "--dsn", dsn, "--junit", str(report))
    assert result.exit_code == 0, result.output
    xml = report.read_text()
    assert re.findall(r'<testcase name="([^"]+)"', xml) == [
        "marts/dim_product__keys_and_prices", "staging/stg_products__from_csv", "staging/stg_products__renames"]
    assert 'failures="0"' in xml


def test_nothing_real_is_touched(example: Path, db, dsn, weir):
    weir("migrate", "--project", str(example), "--dsn", dsn)
    db.execute("INSERT INTO raw.customers (customer_id, email, full_name, city, country)"
               " VALUES (1, 'ada@example.com', 'Ada', 'Berlin', 'DE')")
    before = db.execute("SELECT count(*) FROM pg_class").fetchone()
    result = weir("test", "--project", str(example), "--dsn", dsn)
    assert result.exit_code == 0, result.output
    assert db.execute("SELECT count(*) FROM pg_class").fetchone() == before
    assert db.execute("SELECT city FROM raw.customers").fetchall() == [("Berlin",)]


def test_an_ordered_test_names_the_position_that_differs(example: Path, dsn, weir):
    csv = example / "unit_tests" / "staging" / "stg_products__from_csv.raw.products.csv"
    csv.write_text(csv.read_text().replace("2599", "2598"))
    result = weir("test", "stg_products", "--project", str(example), "--dsn", dsn)
    assert result.exit_code == 1
    assert "unit_tests/staging/stg_products__from_csv.sql: 1 row(s) other than expected at their position" in (
        result.stdout)
    assert ("at row 1  expected (product_id=1, sku='SKU-1', product_name='Kettle', category='kitchen',"
            " list_price_cents=2599), got (product_id=1, sku='SKU-1', product_name='Kettle', category='kitchen',"
            " list_price_cents=2598)") in result.stdout
