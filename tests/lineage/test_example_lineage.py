"""The example warehouse's column lineage, worked out by hand from models/ down to raw.* columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.catalog import read_catalog
from runner.errors import LineageError
from runner.lineage import Origin, catalog_columns, project_lineage, tree_lines
from runner.migrate import migrate
from runner.project import Project

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lineage():
    """The example warehouse's lineage from its SQL alone (no database)."""
    return project_lineage(Project.load(ROOT))


def test_fact_order_items_columns_come_down_to_raw_columns(lineage) -> None:
    fact = "marts.fact_order_items"
    # date_key = to_char(order_date)::integer; order_date = (raw.orders.ordered_at AT TIME ZONE 'UTC')::date
    assert lineage.upstream(fact, "date_key").sources() == (("raw.orders", "ordered_at"),)
    # updated_at = greatest(i.updated_at, o.updated_at) in both branches of changed_lines
    assert lineage.upstream(fact, "updated_at").sources() == (
        ("raw.order_items", "updated_at"), ("raw.orders", "updated_at"))
    # line_total_cents = stg_order_items' quantity * unit_price_cents
    assert lineage.upstream(fact, "line_total_cents").sources() == (
        ("raw.order_items", "quantity"), ("raw.order_items", "unit_price_cents"))
    assert lineage.upstream(fact, "order_status").sources() == (("raw.orders", "status"),)
    assert lineage.upstream(fact, "product_key").sources() == (("raw.order_items", "product_id"),)
    # customer_key: dim_customer's surrogate key, a number Weir assigns: nothing upstream of it
    assert lineage.upstream(fact, "customer_key").sources() == (("marts.dim_customer", "customer_key"),)


def test_fact_order_items_says_how_one_level_up(lineage) -> None:
    fact = "marts.fact_order_items"
    assert lineage.origins(fact, "date_key") == (
        Origin("staging.stg_orders", "order_date", ("cast:int4", "function:to_char", "cte:changed_lines", "union")),
    )
    assert lineage.origins(fact, "updated_at") == (
        Origin("staging.stg_order_items", "updated_at", ("cte:changed_lines", "union", "greatest")),
        Origin("staging.stg_orders", "updated_at", ("cte:changed_lines", "union", "greatest")),
    )
    assert lineage.origins("stg_orders", "order_date") == (
        Origin("raw.orders", "ordered_at", ("cast:date", "function:timezone")),
    )


def test_agg_daily_sales_columns_come_down_to_raw_columns(lineage) -> None:
    daily = "marts.agg_daily_sales"
    assert lineage.upstream(daily, "sale_date").sources() == (("raw.orders", "ordered_at"),)
    # revenue: sum(line_total_cents) FILTER (WHERE order_status <> 'cancelled')
    assert lineage.upstream(daily, "revenue_cents").sources() == (
        ("raw.order_items", "quantity"), ("raw.order_items", "unit_price_cents"), ("raw.orders", "status"))
    assert lineage.upstream(daily, "orders").sources() == (("raw.order_items", "order_id"), ("raw.orders", "status"))
    assert lineage.origins(daily, "units") == (
        Origin("marts.fact_order_items", "order_status",
               ("coalesce", "aggregate:sum:filter", "operator:<>", "subquery:f", "union")),
        Origin("marts.fact_order_items", "quantity", ("coalesce", "aggregate:sum", "subquery:f", "union")),
    )
    tree = lineage.upstream(daily, "updated_at")
    assert [(child.relation, child.column, child.how) for child in tree.children] == [
        ("marts.fact_order_items", "updated_at", ("aggregate:max", "subquery:f", "union"))]


def test_scd2_history_columns_come_from_updated_at(lineage) -> None:
    assert lineage.columns("marts.dim_customer")[0] == "customer_key"
    assert lineage.columns("marts.dim_customer")[-3:] == ("valid_from", "valid_to", "is_current")
    assert lineage.upstream("dim_customer", "valid_to").sources() == (("raw.customers", "updated_at"),)
    assert lineage.origins("dim_customer", "customer_key") == ()


def test_readers_are_the_models_and_checks_that_read_a_column(lineage) -> None:
    assert lineage.readers("raw.orders", "status") == (
        "staging.stg_orders", "check:raw/orders_not_null", "check:raw/orders_status_accepted",
        "check:raw/orders_without_items")
    assert lineage.readers("marts.fact_order_items", "date_key") == (
        "marts.agg_daily_sales", "check:marts/fact_order_items_not_null", "check:marts/fact_order_items_relationships")
    assert lineage.readers("raw.orders", "no_such_column") == ()


def test_unknown_model_or_column_names_what_exists_nearby(lineage) -> None:
    with pytest.raises(LineageError, match=r"no model named 'fact_order_item'; did you mean marts.fact_order_items"):
        lineage.upstream("fact_order_item", "date_key")
    with pytest.raises(LineageError, match=r"agg_daily_sales has no column 'revenue'; did you mean revenue_cents"):
        lineage.origins("agg_daily_sales", "revenue")


def test_select_star_over_a_source_expands_with_the_catalogs_columns(db, project, write_models) -> None:
    (project / "migrations" / "0001_events.sql").write_text(
        "CREATE SCHEMA raw;\nCREATE TABLE raw.events (id bigint, kind text, payload jsonb);\n")
    (project / "migrations" / "0001_events.rollback.sql").write_text("DROP SCHEMA raw CASCADE;\n")
    write_models(project, {
        "models/staging/stg_events.sql": "SELECT * FROM raw.events",
        "models/marts/kinds.sql": "SELECT e.kind, count(*) AS n FROM staging.stg_events AS e GROUP BY 1",
    })
    weir_project = Project.load(project)
    offline = project_lineage(weir_project)
    assert offline.columns("stg_events") == ("*",)
    assert offline.origins("stg_events", "kind") == (Origin("raw.events", "kind", ("star",)),)

    migrate(db, weir_project)
    online = project_lineage(weir_project, catalog_columns(read_catalog(db)))
    assert online.columns("stg_events") == ("id", "kind", "payload")
    assert online.upstream("kinds", "kind").sources() == (("raw.events", "kind"),)
    with pytest.raises(LineageError, match="has no column 'nope'; its columns: id, kind, payload"):
        online.origins("stg_events", "nope")


def test_a_diamond_is_one_shared_subtree_drawn_once(project, write_models) -> None:
    write_models(project, {
        "models/staging/base.sql": "SELECT id, amount FROM raw.payments",
        "models/marts/doubled.sql": "SELECT id, amount * 2 AS amount FROM staging.base",
        "models/marts/halved.sql": "SELECT id, amount / 2 AS amount FROM staging.base",
        "models/marts/both.sql":
            "SELECT d.amount + h.amount AS total FROM marts.doubled AS d JOIN marts.halved AS h USING (id)",
    })
    lineage = project_lineage(Project.load(project))
    assert lineage.sources("both", "total") == (("raw.payments", "amount"),)
    assert tree_lines(lineage.upstream("both", "total")) == [
        "marts.both.total",
        "├── marts.doubled.amount  (operator:+)",
        "│   └── staging.base.amount  (operator:*)",
        "│       └── raw.payments.amount  (copy)",
        "└── marts.halved.amount  (operator:+)",
        "    └── staging.base.amount  (operator:/)  [upstream shown above]",
    ]
