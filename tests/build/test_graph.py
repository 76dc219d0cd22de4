"""The model graph: edges, sources, cycles, build order, up/downstream and selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.build.graph import ModelGraph
from runner.errors import ConfigError, ProjectFileError
from runner.project.models import read_models

# raw.* -> staging views -> dims/facts -> agg, plus an unrelated island.
WAREHOUSE = {
    "models/staging/stg_customers.sql": "-- weir: tags=staging\nSELECT * FROM raw.customers",
    "models/staging/stg_orders.sql": "-- weir: tags=staging\nSELECT * FROM raw.orders",
    "models/staging/stg_products.sql": "-- weir: tags=staging\nSELECT * FROM raw.products",
    "models/marts/dim_customer.sql": (
        "-- weir: kind=scd2, natural_key=customer_id, updated_at=updated_at, tags=\"dims daily\"\n"
        "SELECT * FROM staging.stg_customers"
    ),
    "models/marts/dim_product.sql": "-- weir: kind=table, tags=dims\nSELECT * FROM stg_products",
    "models/marts/fact_order_items.sql": (
        "-- weir: kind=incremental, unique_key=id, watermark=updated_at, tags=daily\n"
        "SELECT * FROM staging.stg_orders o\n"
        "JOIN marts.dim_customer c USING (customer_id)\n"
        "JOIN marts.dim_product p USING (product_id)\n"
        "JOIN raw.order_items i USING (order_id)"
    ),
    "models/marts/agg_daily_sales.sql": (
        "-- weir: kind=incremental, unique_key=day, watermark=updated_at\n"
        "SELECT * FROM marts.fact_order_items JOIN marts.agg_daily_sales USING (day)"
    ),
    "models/other/island.sql": "SELECT 1 AS id",
}


@pytest.fixture
def graph(tmp_path: Path, write_models) -> ModelGraph:
    """The graph of a small warehouse."""
    return ModelGraph(read_models(write_models(tmp_path, WAREHOUSE), tmp_path))


def names(models) -> list[str]:
    return [model.qualified for model in models]


def test_build_order_puts_every_model_after_what_it_reads(graph: ModelGraph) -> None:
    order = names(graph.in_order())
    assert sorted(order) == sorted(graph.models)
    for model in graph.in_order():
        for upstream in graph.direct_upstream(model.qualified):
            assert order.index(upstream.qualified) < order.index(model.qualified)
    # Deterministic: ties broken by name.
    assert order == [
        "other.island",
        "staging.stg_customers",
        "marts.dim_customer",
        "staging.stg_orders",
        "staging.stg_products",
        "marts.dim_product",
        "marts.fact_order_items",
        "marts.agg_daily_sales",
    ]


def test_edges_and_sources(graph: ModelGraph) -> None:
    assert names(graph.direct_upstream("marts.fact_order_items")) == [
        "marts.dim_customer",
        "staging.stg_orders",
        "marts.dim_product",
    ]
    assert graph.sources("marts.fact_order_items") == [("raw", "order_items")]
    # An unqualified name that one model builds is an edge; a self-read is neither edge nor source.
    assert names(graph.direct_upstream("dim_product")) == ["staging.stg_products"]
    assert names(graph.direct_upstream("agg_daily_sales")) == ["marts.fact_order_items"]
    assert graph.sources("agg_daily_sales") == []
    assert names(graph.direct_downstream("staging.stg_orders")) == ["marts.fact_order_items"]


def test_upstream_and_downstream_are_transitive(graph: ModelGraph) -> None:
    assert names(graph.upstream("agg_daily_sales")) == [
        "staging.stg_customers",
        "marts.dim_customer",
        "staging.stg_orders",
        "staging.stg_products",
        "marts.dim_product",
        "marts.fact_order_items",
    ]
    assert names(graph.downstream("stg_customers")) == [
        "marts.dim_customer",
        "marts.fact_order_items",
        "marts.agg_daily_sales",
    ]
    assert graph.upstream("island") == graph.downstream("island") == []


@pytest.mark.parametrize(
    ("selectors", "excludes", "expected"),
    [
        ((), (), "all"),
        (("dim_product",), (), ["marts.dim_product"]),
        (("marts.dim_product",), (), ["marts.dim_product"]),
        (("+dim_product",), (), ["staging.stg_products", "marts.dim_product"]),
        (("dim_product+",), (), ["marts.dim_product", "marts.fact_order_items", "marts.agg_daily_sales"]),
        (
            ("+dim_product+",),
            (),
            ["staging.stg_products", "marts.dim_product", "marts.fact_order_items", "marts.agg_daily_sales"],
        ),
        (("tag:dims",), (), ["marts.dim_customer", "marts.dim_product"]),
        (("tag:daily",), (), ["marts.dim_customer", "marts.fact_order_items"]),
        (("+tag:dims",), (), ["staging.stg_customers", "marts.dim_customer", "staging.stg_products",
                               "marts.dim_product"]),
        (("path:models/staging",), (), ["staging.stg_customers", "staging.stg_orders", "staging.stg_products"]),
        (("path:./models/staging/",), (), ["staging.stg_customers", "staging.stg_orders", "staging.stg_products"]),
        (("path:models/marts/dim_product.sql",), (), ["marts.dim_product"]),
        (("path:models/other",), (), ["other.island"]),
        (("island dim_product",), (), ["other.island", "marts.dim_product"]),
        (("island", "dim_product"), (), ["other.island", "marts.dim_product"]),
        ((), ("path:models/staging", "tag:dims"), ["other.island", "marts.fact_order_items",
                                                  "marts.agg_daily_sales"]),
        (("stg_orders+",), ("agg_daily_sales",), ["staging.stg_orders", "marts.fact_order_items"]),
        (("tag:staging",), ("stg_orders+",), ["staging.stg_customers", "staging.stg_products"]),
    ],
)
def test_selection(graph: ModelGraph, selectors: tuple, excludes: tuple, expected: list | str) -> None:
    selected = names(graph.select(selectors, excludes))
    assert selected == (names(graph.in_order()) if expected == "all" else expected)


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("dim_prodcut", "--select 'dim_prodcut': no model named 'dim_prodcut'; did you mean dim_product"),
        ("marts.fact_orderitems", "no model named 'marts.fact_orderitems'; did you mean marts.fact_order_items?"),
        ("+nothing_like_it+", "--select '+nothing_like_it+': no model named 'nothing_like_it'; run weir ls"),
        ("tag:dimz", "--select 'tag:dimz': no model has tag 'dimz'; did you mean tag:dims?"),
        ("path:models/stagin", "no model file under 'models/stagin' (paths are relative to the project root);"
                               " did you mean path:models/staging?"),
        ("+", "--select '+': empty selector"),
    ],
)
def test_unknown_selectors_name_close_matches(graph: ModelGraph, selector: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        graph.select([selector])
    assert message in str(raised.value)
    assert ConfigError.exit_code == 2


def test_unknown_exclude_is_an_error_too(graph: ModelGraph) -> None:
    with pytest.raises(ConfigError, match=r"^--exclude 'isle': no model named 'isle'; did you mean island\?$"):
        graph.select((), ["isle"])


def test_a_name_in_two_schemas_must_be_qualified(tmp_path: Path, write_models) -> None:
    graph = ModelGraph(
        read_models(
            write_models(tmp_path, {"models/a/orders.sql": "SELECT 1 AS id", "models/b/orders.sql": "SELECT 2 AS id"}),
            tmp_path,
        )
    )
    with pytest.raises(ConfigError, match=r"'orders' is ambiguous: a\.orders, b\.orders; write it as schema\.name"):
        graph.select(["orders"])
    assert names(graph.select(["b.orders"])) == ["b.orders"]


def test_a_model_built_twice_is_refused_by_the_graph(tmp_path: Path, write_models) -> None:
    model = read_models(write_models(tmp_path, {"models/a/x.sql": "SELECT 1"}), tmp_path)[0]
    with pytest.raises(ProjectFileError, match=r"^models/a/x\.sql:1: builds a\.x, which models/a/x\.sql builds too"):
        ModelGraph([model, model])


def test_a_self_cycle_through_an_unqualified_name(tmp_path: Path, write_models) -> None:
    # x reads y, y reads x unqualified: the cycle error names the first file and the reading line.
    models_dir = write_models(
        tmp_path,
        {
            "models/s/x.sql": "-- weir: kind=table\n\nSELECT *\nFROM s.y",
            "models/s/y.sql": "-- weir: kind=table\nSELECT * FROM x",
            "models/s/z.sql": "-- weir: kind=table\nSELECT * FROM s.x",
        },
    )
    with pytest.raises(ProjectFileError) as raised:
        ModelGraph(read_models(models_dir, tmp_path))
    assert str(raised.value) == "models/s/x.sql:4: cycle: s.x -> s.y -> s.x; break it (models/s/y.sql:2 reads s.x)"
