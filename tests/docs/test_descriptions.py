"""Column descriptions read from the comments beside a model's SELECT list."""

from __future__ import annotations

import pytest

from runner.docs.descriptions import column_comments
from runner.docs.mermaid import attribute_type, node_id


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT a, -- the a\n  b -- the b\nFROM t", {"a": "the a", "b": "the b"}),
        ("SELECT\n  -- above c\n  c,\n  d AS e /* block\n comment */\nFROM t", {"c": "above c", "e": "block comment"}),
        ("SELECT x.a::int, -- cast\n count(*) -- how many\nFROM x GROUP BY 1", {"a": "cast", "count": "how many"}),
        ("WITH q AS (SELECT 1 AS a -- inner, not an output\n) SELECT q.a -- outer\nFROM q", {"a": "outer"}),
        ("SELECT a -- first branch\nFROM t UNION ALL SELECT b -- second\nFROM u", {"a": "first branch"}),
        ("SELECT f(a, -- inside a call\n b) AS g FROM t", {"g": "inside a call"}),
        ("SELECT a, b FROM t -- after FROM\nWHERE a > 1", {}),
        ("SELECT * FROM t", {}),
        ("SELECT 'ééé' AS a, -- accentué\n  b -- after non-ASCII text\nFROM t",
         {"a": "accentué", "b": "after non-ASCII text"}),
    ],
)
def test_comments_beside_the_select_list_describe_their_column(sql: str, expected: dict[str, str]) -> None:
    assert column_comments(sql) == expected


@pytest.mark.parametrize(
    ("sql_type", "word"),
    [("numeric(12,2)", "numeric_12_2"), ("timestamp with time zone", "timestamp_with_time_zone"),
     ("text[]", "text_array"), ('"Odd Type"', "Odd_Type"), ("character varying(80)[]", "character_varying_80_array")],
)
def test_types_become_one_mermaid_word(sql_type: str, word: str) -> None:
    assert attribute_type(sql_type) == word


def test_node_ids_keep_schema_and_name_apart() -> None:
    assert node_id("raw.orders") == "raw__orders"
    assert node_id("a-b.c d") == "a_b__c_d"
