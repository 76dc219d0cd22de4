"""Model files: headers, the one-SELECT rule, relation extraction, and the bad-file corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runner.build.graph import ModelGraph
from runner.errors import ProjectFileError
from runner.project.models import Model, clock_calls, read_models, relation_lines, with_since
from runner.project.sqlfile import checksum

BAD_MODELS = yaml.safe_load((Path(__file__).parent / "models_fixtures" / "bad_models.yml").read_text())


@pytest.fixture
def one_model(write_models):
    """one_model(root, sql, path="models/marts/m.sql") writes one model file and returns what read_models makes."""

    def one_model(root: Path, sql: str, path: str = "models/marts/m.sql") -> Model:
        models = read_models(write_models(root, {path: sql}), root)
        assert len(models) == 1
        return models[0]

    return one_model


@pytest.mark.parametrize("case", BAD_MODELS, ids=[case["id"] for case in BAD_MODELS])
def test_bad_model_files_are_reported_with_path_and_line(tmp_path: Path, case: dict, write_models) -> None:
    models_dir = write_models(tmp_path, case["files"])
    with pytest.raises(ProjectFileError) as raised:
        ModelGraph(read_models(models_dir, tmp_path))
    message = str(raised.value)
    assert message.startswith(case["error"]) or (case["error"] in message and not case["error"].startswith("models/"))
    assert "\n" not in message
    assert ProjectFileError.exit_code == 2


def test_a_file_that_is_not_utf8_is_reported(tmp_path: Path, write_models) -> None:
    models_dir = write_models(tmp_path, {"models/marts/m.sql": b"SELECT '\xff' AS x\n"})
    with pytest.raises(ProjectFileError, match=r"^models/marts/m\.sql:1: not UTF-8 text .*; save it as UTF-8$"):
        read_models(models_dir, tmp_path)


def test_a_missing_models_directory_has_no_models(tmp_path: Path) -> None:
    assert read_models(tmp_path / "models", tmp_path) == []


def test_other_files_and_hidden_directories_are_ignored(tmp_path: Path, write_models) -> None:
    models_dir = write_models(
        tmp_path,
        {
            "models/README.md": "# models",
            "models/marts/notes.txt": "not SQL",
            "models/.scratch/deep/x.sql": "DROP TABLE everything",
            "models/marts/.m.sql.swp": "junk",
            "models/marts/m.sql": "SELECT 1 AS id",
        },
    )
    assert [model.qualified for model in read_models(models_dir, tmp_path)] == ["marts.m"]


def test_a_model_carries_its_header_sql_and_checksum(tmp_path: Path, one_model) -> None:
    text = (
        "-- Daily sales.\n"
        "-- weir: kind=incremental, unique_key=\"day store_id\", watermark=updated_at, lookback=2 days\n"
        '-- weir: tags="daily finance", description="Sales per day, per store"\n'
        "\n"
        "/* the select */\n"
        "SELECT day, store_id, sum(amount) AS amount, max(updated_at) AS updated_at  -- per day\n"
        "FROM raw.sales\n"
        "GROUP BY 1, 2 ; -- done\n"
    )
    model = one_model(tmp_path, text, "models/marts/agg_sales.sql")
    assert (model.schema, model.name, model.qualified) == ("marts", "agg_sales", "marts.agg_sales")
    assert model.display == "models/marts/agg_sales.sql"
    assert model.kind == "incremental"
    assert model.unique_key == ("day", "store_id")
    assert model.watermark == "updated_at"
    assert model.lookback == "2 days"
    assert model.full_refresh_on_change is True
    assert model.surrogate_key is None
    assert model.directives["watermark"].line == 2
    assert model.tags == frozenset({"daily", "finance"})
    assert model.description == "Sales per day, per store"
    assert model.sql_line == 6
    assert model.sql == (
        "SELECT day, store_id, sum(amount) AS amount, max(updated_at) AS updated_at  -- per day\n"
        "FROM raw.sales\n"
        "GROUP BY 1, 2"
    )
    assert model.file_checksum == checksum(text)
    assert model.relations == frozenset({("raw", "sales")})


def test_defaults_are_a_view_without_tags_or_description(tmp_path: Path, one_model) -> None:
    model = one_model(tmp_path, "select 1 as id")
    assert (model.kind, model.tags, model.description, model.directives) == ("view", frozenset(), None, {})
    assert model.sql == "select 1 as id"
    assert (model.unique_key, model.indexes, model.watermark, model.lookback) == ((), (), None, None)
    assert (model.natural_key, model.updated_at, model.check_cols, model.surrogate_key) == ((), None, (), None)
    assert (model.on_delete, model.full_refresh_on_change) == ("close", True)


def test_an_scd2_header_becomes_typed_fields_with_columns_as_postgresql_names_them(tmp_path: Path, one_model) -> None:
    text = (
        '-- weir: kind=scd2, natural_key="Customer_ID region", check_cols="city \\"Tier\\"",'
        ' surrogate_key=Dim_Key\n'
        '-- weir: on_delete=IGNORE, full_refresh_on_change=off, indexes="valid_from; region \\"Tier\\""\n'
        'SELECT 1 AS customer_id, 2 AS region, 3 AS city, 4 AS "Tier"\n'
    )
    model = one_model(tmp_path, text)
    assert model.kind == "scd2"
    assert model.natural_key == ("customer_id", "region")
    assert model.check_cols == ("city", "Tier")
    assert model.updated_at is None
    assert model.surrogate_key == "dim_key"
    assert model.on_delete == "ignore"
    assert model.full_refresh_on_change is False
    assert [index.columns for index in model.indexes] == [("valid_from",), ("region", "Tier")]


def test_updated_at_is_one_column(tmp_path: Path, one_model) -> None:
    model = one_model(tmp_path, "-- weir: kind=scd2, natural_key=id, updated_at=Changed\nSELECT 1 AS id, 2 AS changed")
    assert (model.updated_at, model.check_cols) == ("changed", ())


@pytest.mark.parametrize(
    "sql",
    [
        "VALUES (1, 'a'), (2, 'b')",
        "SELECT 1 AS id UNION ALL SELECT 2",
        "(SELECT 1 AS id) EXCEPT (SELECT 2)",
        "TABLE raw.orders",
        "WITH x AS (SELECT 1 AS id) SELECT * FROM x",
    ],
)
def test_values_set_operations_and_table_count_as_one_select(tmp_path: Path, sql: str, one_model) -> None:
    assert one_model(tmp_path, sql + ";\n").sql == sql


def test_crlf_files_are_read(tmp_path: Path, one_model) -> None:
    model = one_model(tmp_path, "-- weir: kind=table\r\nSELECT 1 AS id\r\nFROM raw.t;\r\n")
    assert model.kind == "table"
    assert model.sql_line == 2
    assert model.relations == frozenset({("raw", "t")})


# -- relations -------------------------------------------------------------------------------

RELATIONS = [
    ("schema-qualified", "SELECT * FROM raw.orders", {("raw", "orders")}),
    ("unqualified source", "SELECT * FROM orders", {("", "orders")}),
    ("quoted names keep their case", 'SELECT * FROM "Raw"."Orders"', {("Raw", "Orders")}),
    ("unquoted names fold to lower case", "SELECT * FROM RAW.Orders", {("raw", "orders")}),
    ("catalog-qualified", "SELECT * FROM db.raw.orders", {("raw", "orders")}),
    (
        "joins of every kind",
        "SELECT * FROM raw.a JOIN raw.b USING (id) LEFT JOIN raw.c ON true CROSS JOIN raw.d FULL JOIN raw.e USING (id)",
        {("raw", "a"), ("raw", "b"), ("raw", "c"), ("raw", "d"), ("raw", "e")},
    ),
    (
        "subqueries in FROM, WHERE, SELECT list and LATERAL",
        "SELECT (SELECT max(x) FROM raw.s1) FROM (SELECT * FROM raw.s2) AS t, "
        "LATERAL (SELECT * FROM raw.s3 WHERE s3.id = t.id) AS l "
        "WHERE t.id IN (SELECT id FROM raw.s4) AND EXISTS (SELECT FROM raw.s5)",
        {("raw", "s1"), ("raw", "s2"), ("raw", "s3"), ("raw", "s4"), ("raw", "s5")},
    ),
    ("set operations", "SELECT id FROM raw.a UNION SELECT id FROM raw.b", {("raw", "a"), ("raw", "b")}),
    ("functions are not relations", "SELECT * FROM generate_series(1, 3) AS g, raw.a", {("raw", "a")}),
    ("no relations at all", "SELECT 1 AS id", set()),
    ("CTE names are not relations", "WITH o AS (SELECT * FROM raw.orders) SELECT * FROM o", {("raw", "orders")}),
    (
        "a CTE shadows a table of the same name, but not a schema-qualified one",
        "WITH orders AS (SELECT * FROM raw.orders) SELECT * FROM orders JOIN public.orders USING (id)",
        {("raw", "orders"), ("public", "orders")},
    ),
    (
        "a non-recursive CTE does not see itself: its own name inside is a table",
        "WITH orders AS (SELECT * FROM orders) SELECT * FROM orders",
        {("", "orders")},
    ),
    (
        "a CTE sees the CTEs before it, not the ones after",
        "WITH a AS (SELECT * FROM b), b AS (SELECT * FROM a) SELECT * FROM a, b",
        {("", "b")},
    ),
    (
        "a recursive CTE sees itself and its siblings",
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT * FROM t",
        set(),
    ),
    (
        "a nested WITH is scoped to its subquery",
        "SELECT * FROM (WITH inner_cte AS (SELECT * FROM raw.a) SELECT * FROM inner_cte) AS s "
        "JOIN inner_cte USING (id)",
        {("raw", "a"), ("", "inner_cte")},
    ),
    (
        "a CTE defined inside another CTE is not visible to the outer query",
        "WITH outer_cte AS (WITH hidden AS (SELECT * FROM raw.a) SELECT * FROM hidden) "
        "SELECT * FROM outer_cte, hidden",
        {("raw", "a"), ("", "hidden")},
    ),
    (
        "an inner CTE shadows an outer one",
        "WITH x AS (SELECT * FROM raw.a) SELECT * FROM (WITH x AS (SELECT * FROM raw.b) SELECT * FROM x) s, x",
        {("raw", "a"), ("raw", "b")},
    ),
    (
        "outer CTEs are visible in subqueries and in set operation branches",
        "WITH x AS (SELECT * FROM raw.a) SELECT * FROM x WHERE id IN (SELECT id FROM x) UNION SELECT * FROM x",
        {("raw", "a")},
    ),
    ("TABLESAMPLE", "SELECT * FROM raw.big TABLESAMPLE SYSTEM (1)", {("raw", "big")}),
]


@pytest.mark.parametrize(("sql", "expected"), [case[1:] for case in RELATIONS], ids=[case[0] for case in RELATIONS])
def test_relations_are_found_with_the_postgresql_parser(tmp_path: Path, sql: str, expected: set, one_model) -> None:
    assert one_model(tmp_path, sql).relations == frozenset(expected)


def test_unqualified_names_resolve_to_the_only_model_with_that_name(tmp_path: Path, write_models) -> None:
    models_dir = write_models(
        tmp_path,
        {
            "models/staging/stg_orders.sql": "SELECT * FROM raw.orders",
            "models/staging/customers.sql": "SELECT * FROM raw.customers",
            "models/marts/customers.sql": "SELECT * FROM staging.customers",
            "models/marts/fact.sql": "SELECT * FROM stg_orders JOIN customers USING (id) JOIN products USING (id)",
        },
    )
    models = {model.qualified: model for model in read_models(models_dir, tmp_path)}
    # stg_orders: one model has that name; customers: two do, so it is a source via search_path.
    assert models["marts.fact"].relations == frozenset(
        {("staging", "stg_orders"), ("", "customers"), ("", "products")}
    )
    assert models["marts.customers"].relations == frozenset({("staging", "customers")})


def test_models_come_back_sorted_by_relation(tmp_path: Path, write_models) -> None:
    models_dir = write_models(
        tmp_path, {f"models/{schema}/{name}.sql": "SELECT 1" for schema, name in [("b", "a"), ("a", "z"), ("a", "b")]}
    )
    assert [model.qualified for model in read_models(models_dir, tmp_path)] == ["a.b", "a.z", "b.a"]


def test_relation_lines_point_at_each_first_reference(tmp_path: Path, one_model) -> None:
    model = one_model(
        tmp_path,
        "-- weir: kind=table\n\nSELECT *\nFROM raw.a\nJOIN b USING (id)\nJOIN raw.a AS again USING (id)\n",
    )
    assert relation_lines(model) == {("raw", "a"): 4, ("", "b"): 5}


def test_relation_lines_count_characters_not_bytes(tmp_path: Path, one_model) -> None:
    # The parser counts bytes: forty two-byte letters would push raw.a two lines down.
    model = one_model(tmp_path, "SELECT '" + "é" * 40 + "' AS a\nFROM\nraw.a\n, raw.b\n, raw.c\n")
    assert relation_lines(model) == {("raw", "a"): 3, ("raw", "b"): 4, ("raw", "c"): 5}


def test_with_since_puts_the_value_in_place_of_the_models_own_calls(tmp_path: Path, one_model) -> None:
    model = one_model(
        tmp_path,
        "-- weir: kind=incremental, unique_key=id, watermark=at\n"
        "SELECT id, at FROM raw.a WHERE at > weir.since('marts.m')\n"
        "AND at > weir.since(\n  'marts.m'\n) AND at > weir.since('marts.other')\n"
        "AND note <> 'weir.since(''marts.m'')'",
    )
    assert with_since(model, "2024-01-01 00:00:00+00") == (
        "SELECT id, at FROM raw.a WHERE at > '2024-01-01 00:00:00+00'::timestamptz\n"
        "AND at > '2024-01-01 00:00:00+00'::timestamptz\n\n AND at > weir.since('marts.other')\n"
        "AND note <> 'weir.since(''marts.m'')'"
    )
    assert with_since(model, "-infinity").count("'-infinity'::timestamptz") == 2


def test_clock_calls_are_found(tmp_path: Path, one_model) -> None:
    clocked = one_model(
        tmp_path, "SELECT now() AS a, CURRENT_DATE AS b, pg_catalog.random() AS c, localtimestamp(2) AS d"
    )
    assert clock_calls(clocked) == ["CURRENT_DATE", "LOCALTIMESTAMP", "now()", "random()"]
    plain = one_model(tmp_path / "other", "SELECT current_user AS u, weir.since('marts.x') AS s, 1 AS n")
    assert clock_calls(plain) == []


def test_scd2_and_incremental_headers_that_are_valid(tmp_path: Path, write_models) -> None:
    models_dir = write_models(
        tmp_path,
        {
            "models/dims/dim_customer.sql": (
                "-- weir: kind=scd2, natural_key=customer_id, updated_at=updated_at, on_delete=ignore\n"
                "-- weir: surrogate_key=customer_key, full_refresh_on_change=false, tags=dims\n"
                "SELECT customer_id, city, updated_at FROM raw.customers"
            ),
            "models/dims/dim_product.sql": (
                '-- weir: kind=scd2, natural_key=product_id, check_cols="price name"\n'
                "SELECT product_id, name, price FROM raw.products"
            ),
            "models/marts/fact.sql": (
                "-- weir: kind=incremental, unique_key=id, watermark=updated_at, lookback=6 hours 30 minutes\n"
                "SELECT id, updated_at FROM raw.orders WHERE updated_at > weir.since('marts.fact')"
            ),
            "models/marts/table.sql": "-- weir: kind=table, unique_key=id\nSELECT 1 AS id",
        },
    )
    models = {model.qualified: model for model in read_models(models_dir, tmp_path)}
    assert [models[name].kind for name in sorted(models)] == ["scd2", "scd2", "incremental", "table"]
    assert models["dims.dim_product"].check_cols == ("price", "name")
    customer = models["dims.dim_customer"]
    assert (customer.on_delete, customer.surrogate_key) == ("ignore", "customer_key")
    assert customer.full_refresh_on_change is False
    assert models["marts.fact"].lookback == "6 hours 30 minutes"
    assert models["marts.fact"].relations == frozenset({("raw", "orders")})
