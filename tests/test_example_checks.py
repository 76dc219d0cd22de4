"""The example warehouse's checks (checks/): all pass on built sample data, and each breakage fails the right ones."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import psycopg
import pytest

from runner.build.run import build
from runner.checks import CheckReport, run_checks
from runner.db.connection import connect
from runner.migrate import migrate
from runner.project import Project
from runner.project.checks import read_checks
from runner.project.settings import Settings, load_settings
from runner.sample import data as sample_data

ROOT = Path(__file__).resolve().parent.parent
SCALE = 3000
LIBRARY_FUNCTIONS = (
    "not_null", "unique_rows", "relationships", "accepted_values", "row_count_between", "null_rate",
    "freshness", "volume_anomaly", "expected_columns",
)

# The first fact row (and its customer), the one each breakage below aims at.
_FIRST_FACT = (
    "SELECT order_item_id, customer_id, customer_key FROM marts.fact_order_items ORDER BY order_item_id LIMIT 1"
)


@pytest.fixture
def settings() -> Settings:
    """The repository's own project settings: its migrations, models and checks."""
    return load_settings(ROOT)


@pytest.fixture
def warehouse(db: psycopg.Connection, dsn: str, settings: Settings) -> psycopg.Connection:
    """This test's database, migrated, loaded with SCALE order items and built."""
    migrate(db, Project(settings))
    sample_data.load(db, SCALE)
    build_all(dsn, settings)
    return db


def build_all(dsn: str, settings: Settings) -> None:
    """Build every model of the example warehouse, as `weir build` does."""
    with connect(dsn, "weir build") as conn:
        report = build(conn, Project(settings))
    assert report.ok, report.errors


def not_passing(report: CheckReport) -> dict[str, str]:
    """Return {check: status} of every check that did not pass."""
    return {result.name: result.status for result in report.results if result.status != "pass"}


def first_fact(conn: psycopg.Connection) -> tuple[int, int, int]:
    return conn.execute(_FIRST_FACT).fetchone()


def test_the_examples_use_every_library_function_and_describe_themselves(settings):
    checks = read_checks(settings.checks_dir, settings.root)
    text = "\n".join(check.sql for check in checks)
    unused = [name for name in LIBRARY_FUNCTIONS if not re.search(rf"\bweir\.{name}\(", text)]
    assert unused == []
    assert [check.name for check in checks if not check.description or not check.tags] == []
    tags = set().union(*(check.tags for check in checks))
    assert {"raw", "marts", "reconciliation", "scd2"} <= tags
    assert {check.severity for check in checks} == {"error", "warn"}


def test_every_example_check_passes_on_the_built_sample_data(warehouse, dsn, settings):
    report = run_checks(warehouse, Project(settings), threads=2)
    assert not_passing(report) == {}
    assert report.exit_code == 0
    assert len(report.results) == len(list(settings.checks_dir.rglob("*.sql")))
    # Not vacuous: the checks saw the whole fact and a rollup with revenue in it.
    counts = warehouse.execute(
        "SELECT (SELECT count(*) FROM marts.fact_order_items), (SELECT sum(revenue_cents) FROM marts.agg_daily_sales)"
    ).fetchone()
    assert counts[0] == SCALE and counts[1] > 0


def test_every_example_check_passes_after_change_batches(warehouse, dsn, settings):
    for batch in (1, 2, 3):
        sample_data.change_batch(warehouse, batch)
        build_all(dsn, settings)
    moved = warehouse.execute("SELECT count(*) FROM marts.dim_customer WHERE NOT is_current").fetchone()[0]
    assert moved > 0  # the SCD2 checks saw closed versions
    report = run_checks(warehouse, Project(settings))
    assert not_passing(report) == {}
    assert report.exit_code == 0


def test_a_change_batch_not_yet_built_fails_the_freshness_and_reconciliation_checks(warehouse, dsn, settings):
    sample_data.change_batch(warehouse, 1)
    report = run_checks(warehouse, Project(settings))
    assert not_passing(report) == {
        "marts/fact_order_items_freshness": "fail",
        "reconciliation/revenue_raw_vs_fact": "fail",
        "reconciliation/customers_raw_vs_dim": "fail",
    }
    assert report.exit_code == 1


def test_a_deleted_customer_version_fails_the_checks_that_join_to_it(warehouse, dsn, settings):
    _, _, customer_key = first_fact(warehouse)
    warehouse.execute("DELETE FROM marts.dim_customer WHERE customer_key = %s", (customer_key,))
    report = run_checks(warehouse, Project(settings))
    assert not_passing(report) == {
        "marts/fact_order_items_relationships": "fail",
        "marts/fact_customer_version": "fail",
        "reconciliation/customers_raw_vs_dim": "fail",
    }
    assert report.exit_code == 1
    by_name = {result.name: result for result in report.results}
    problems = {row[by_name["marts/fact_customer_version"].columns.index("problem")]
                for row in by_name["marts/fact_customer_version"].rows}
    assert problems == {"no such customer version"}


def test_a_fact_row_pointing_at_another_customers_version_fails(warehouse, dsn, settings):
    item, customer_id, _ = first_fact(warehouse)
    warehouse.execute(
        "UPDATE marts.fact_order_items SET customer_key = ("
        " SELECT customer_key FROM marts.dim_customer WHERE customer_id <> %s ORDER BY customer_key LIMIT 1)"
        " WHERE order_item_id = %s",
        (customer_id, item),
    )
    report = run_checks(warehouse, Project(settings))
    assert not_passing(report) == {"marts/fact_customer_version": "fail"}
    result = next(result for result in report.results if result.name == "marts/fact_customer_version")
    assert result.count == 1
    assert result.sample[0]["order_item_id"] == item
    assert result.sample[0]["problem"] == "version of another customer"


def test_an_overlapping_customer_version_fails_the_scd2_checks(warehouse, dsn, settings):
    _, customer_id, _ = first_fact(warehouse)
    # A closed version inside the current one's validity: two versions valid at once.
    warehouse.execute(
        "INSERT INTO marts.dim_customer (customer_id, email, full_name, city, country, created_at, updated_at,"
        " valid_from, valid_to)"
        " SELECT customer_id, email, full_name, city, country, created_at, updated_at,"
        " valid_from + interval '1 day', valid_from + interval '2 days'"
        " FROM marts.dim_customer WHERE customer_id = %s AND is_current",
        (customer_id,),
    )
    report = run_checks(warehouse, Project(settings))
    assert not_passing(report) == {
        "marts/dim_customer_versions_overlap": "fail",
        "marts/fact_customer_version": "fail",
    }
    overlap = next(result for result in report.results if result.name == "marts/dim_customer_versions_overlap")
    assert overlap.count == 1 and overlap.sample[0]["customer_id"] == customer_id


def test_a_price_changed_in_the_fact_fails_the_revenue_reconciliations(warehouse, dsn, settings):
    item, _, _ = first_fact(warehouse)
    warehouse.execute(
        "UPDATE marts.fact_order_items"
        " SET unit_price_cents = unit_price_cents + 1, line_total_cents = quantity * (unit_price_cents + 1)"
        " WHERE order_item_id = %s",
        (item,),
    )
    report = run_checks(warehouse, Project(settings))
    assert not_passing(report) == {
        "reconciliation/revenue_raw_vs_fact": "fail",
        "reconciliation/daily_sales_vs_fact": "fail",
    }
    assert report.exit_code == 1
    revenue = next(result for result in report.results if result.name == "reconciliation/revenue_raw_vs_fact")
    assert revenue.count == 1 and revenue.sample[0]["difference_cents"] > 0


def test_an_unknown_status_in_raw_fails_the_accepted_values_check(warehouse, dsn, settings):
    warehouse.execute("ALTER TABLE raw.orders DROP CONSTRAINT orders_status_check")
    # updated_at set by hand (an old order's, moved a microsecond) so the marts stay fresh.
    warehouse.execute(
        "UPDATE raw.orders SET status = 'returned', updated_at = updated_at + interval '1 microsecond'"
        " WHERE order_id = 1"
    )
    report = run_checks(warehouse, Project(settings))
    assert not_passing(report) == {"raw/orders_status_accepted": "fail"}
    assert report.exit_code == 1


def test_an_order_without_items_warns_and_many_fail(warehouse, dsn, settings):
    insert_orders = (
        "INSERT INTO raw.orders (customer_id, status, ordered_at, created_at, updated_at)"
        " SELECT 1, 'delivered', at, at, at FROM (SELECT timestamptz '2023-06-01 12:00+00' AS at) AS t,"
        " generate_series(1, %s)"
    )
    warehouse.execute(insert_orders, (1,))
    report = run_checks(warehouse, Project(settings))
    assert not_passing(report) == {"raw/orders_without_items": "warn"}
    assert report.exit_code == 0
    warehouse.execute(insert_orders, (100,))
    report = run_checks(warehouse, Project(settings), select=["raw/orders_without_items"])
    assert not_passing(report) == {"raw/orders_without_items": "fail"}
    assert report.results[0].count == 101 and report.exit_code == 1


def test_an_example_check_with_a_typo_exits_2(warehouse, dsn, tmp_path, weir):
    (tmp_path / "setup.cfg").write_text("[weir]\n")
    shutil.copytree(ROOT / "checks", tmp_path / "checks")
    misspelt = tmp_path / "checks" / "raw" / "customers_email_unique.sql"
    misspelt.write_text(misspelt.read_text().replace("'email'", "'emial'"))
    result = weir("check", "--project", str(tmp_path), "--dsn", dsn)
    assert result.exit_code == 2, result.output
    assert 'checks/raw/customers_email_unique.sql:5: ERROR column "emial" does not exist in raw.customers' in (
        result.stdout
    )
    # A typo in the SQL itself is caught before anything runs.
    misspelt.write_text(misspelt.read_text().replace("SELECT *", "SELEC *"))
    result = weir("check", "--project", str(tmp_path), "--dsn", dsn)
    assert result.exit_code == 2
    assert "checks/raw/customers_email_unique.sql:5: " in result.output
