"""`weir lineage MODEL.COLUMN` through the CLI: the tree, --json, the catalog with --dsn, and bad names."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_column_tree_is_printed_down_to_source_columns(weir) -> None:
    result = weir("lineage", "agg_daily_sales.revenue_cents", "--project", str(REPO))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "marts.agg_daily_sales.revenue_cents",
        "├── marts.fact_order_items.line_total_cents  (coalesce > aggregate:sum > subquery:f > union)",
        "│   └── staging.stg_order_items.line_total_cents  (cte:changed_lines > union)",
        "│       ├── raw.order_items.quantity  (operator:*)",
        "│       └── raw.order_items.unit_price_cents  (operator:*)",
        "└── marts.fact_order_items.order_status"
        "  (coalesce > aggregate:sum:filter > operator:<> > subquery:f > union)",
        "    └── staging.stg_orders.order_status  (cte:changed_lines > union)",
        "        └── raw.orders.status  (copy)",
    ]


def test_column_tree_as_json(weir) -> None:
    result = weir("lineage", "marts.fact_order_items.date_key", "--json", "--project", str(REPO))
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["sources"] == ["raw.orders.ordered_at"]
    (order_date,) = document["upstream"]
    assert (order_date["relation"], order_date["column"]) == ("staging.stg_orders", "order_date")
    assert order_date["how"] == ["cast:int4", "function:to_char", "cte:changed_lines", "union"]
    assert order_date["upstream"] == [{"relation": "raw.orders", "column": "ordered_at",
                                       "how": ["cast:date", "function:timezone"], "upstream": []}]


def test_model_names_still_list_models_up_and_downstream(weir) -> None:
    result = weir("lineage", "marts.fact_order_items", "--project", str(REPO))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == ["downstream:", "  marts.agg_daily_sales"]


def test_unknown_column_or_model_is_one_line_and_exit_2(weir) -> None:
    column = weir("lineage", "agg_daily_sales.revenue", "--project", str(REPO))
    assert column.exit_code == 2
    assert column.stderr == "weir: marts.agg_daily_sales has no column 'revenue'; did you mean revenue_cents?\n"
    model = weir("lineage", "staging.stg_order.order_id", "--project", str(REPO))
    assert model.exit_code == 2
    assert model.stderr.count("\n") == 1 and "staging.stg_order.order_id" in model.stderr


def test_with_a_database_star_over_a_source_uses_its_catalog(project, db, dsn, weir, write_models) -> None:
    (project / "migrations" / "0001_events.sql").write_text("CREATE TABLE public.events (id bigint, kind text);\n")
    (project / "migrations" / "0001_events.rollback.sql").write_text("DROP TABLE public.events;\n")
    write_models(project, {"models/staging/stg_events.sql": "SELECT * FROM events"})
    assert weir("migrate", "--project", str(project), "--dsn", dsn).exit_code == 0

    offline = weir("lineage", "stg_events.id", "--project", str(project))
    assert offline.exit_code == 0, offline.output
    assert offline.stdout.splitlines() == ["staging.stg_events.id", "└── events.id  (star)"]
    missing = weir("lineage", "stg_events.nope", "--project", str(project), "--dsn", dsn)
    assert missing.exit_code == 2
    assert "staging.stg_events has no column 'nope'; its columns: id, kind" in missing.stderr
    online = weir("lineage", "stg_events.kind", "--project", str(project), "--dsn", dsn)
    assert online.exit_code == 0, online.output
    assert online.stdout.splitlines() == ["staging.stg_events.kind", "└── events.kind  (copy)"]


def test_an_unreachable_database_is_one_line_and_exit_2(weir) -> None:
    result = weir("lineage", "stg_orders.order_id", "--project", str(REPO),
                  "--dsn", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("weir: ")
