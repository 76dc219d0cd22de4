"""Rewriting a SELECT's relation names by the parser's positions (an atomic build's models read what it built aside)."""

from __future__ import annotations

import pytest

from runner.project.model_select import renamed_names, renamed_relations

ASIDE = {("marts", "fact"): ("marts", "fact__weir_new"), ("marts", "Dim"): ("marts", "Dim__weir_new")}
RELATIONS = frozenset({("marts", "fact"), ("marts", "Dim"), ("raw", "orders")})


@pytest.mark.parametrize(("written", "rewritten"), [
    # an alias is kept; a name without one gets the old name as its alias, so `fact.x` still resolves
    ("SELECT f.x FROM marts.fact AS f", 'SELECT f.x FROM "marts"."fact__weir_new" AS f'),
    ("SELECT fact.x FROM marts.fact", 'SELECT fact.x FROM "marts"."fact__weir_new" AS "fact"'),
    # quoted names, spaces around the dot, other relations and CTEs of the same name left alone
    ('SELECT * FROM marts . "Dim" JOIN raw.orders o ON true',
     'SELECT * FROM "marts"."Dim__weir_new" AS "Dim" JOIN raw.orders o ON true'),
    ("WITH fact AS (SELECT 1) SELECT * FROM fact, marts.fact m",
     'WITH fact AS (SELECT 1) SELECT * FROM fact, "marts"."fact__weir_new" m'),
    # a name in a string, a comment or a column is not a relation
    ("SELECT 'marts.fact' AS t, fact -- marts.fact\nFROM raw.orders",
     "SELECT 'marts.fact' AS t, fact -- marts.fact\nFROM raw.orders"),
    # a subquery's reference too; a name split over lines keeps its line breaks (error lines still map)
    ("SELECT * FROM (SELECT * FROM marts\n.fact) AS s",
     'SELECT * FROM (SELECT * FROM "marts"."fact__weir_new" AS "fact"\n) AS s'),
])
def test_relations_built_aside_replace_their_names_by_position(written: str, rewritten: str) -> None:
    assert renamed_relations(written, "models/marts/x.sql", 1, RELATIONS, ASIDE) == rewritten


def test_an_unqualified_name_resolved_to_a_relation_is_rewritten() -> None:
    assert renamed_relations("SELECT * FROM fact", "m.sql", 1, frozenset({("marts", "fact")}), ASIDE) == (
        'SELECT * FROM "marts"."fact__weir_new" AS "fact"')


def test_nothing_aside_leaves_the_text_as_it_is() -> None:
    assert renamed_relations("SELECT * FROM marts.fact", "m.sql", 1, RELATIONS, {}) == "SELECT * FROM marts.fact"


@pytest.mark.parametrize(("written", "rewritten"), [
    ("SELECT * FROM weir.unique_rows(NULL::marts.x, 'id')",
     'SELECT * FROM weir.unique_rows(NULL::"marts"."x__weir_new", \'id\')'),
    ("SELECT * FROM weir.row_count_between('marts.x', 1, 9)",
     "SELECT * FROM weir.row_count_between('\"marts\".\"x__weir_new\"', 1, 9)"),
    ("SELECT 'Marts.X'::regclass", "SELECT '\"marts\".\"x__weir_new\"'::regclass"),
    ("SELECT '\"marts\".\"x\"'::regclass", "SELECT '\"marts\".\"x__weir_new\"'::regclass"),
    ("SELECT NULL::marts.\n  x", 'SELECT NULL::"marts"."x__weir_new"\n'),
])
def test_row_types_and_qualified_strings_naming_a_relation_aside_are_rewritten(written: str, rewritten: str) -> None:
    assert renamed_names(written, {("marts", "x"): ("marts", "x__weir_new")}) == rewritten


@pytest.mark.parametrize("written", [
    "SELECT 'x', 'marts.y', 'marts.x.z', 'a marts.x', NULL::marts.y, 1::int",
    "SELECT E'marts.x', $$marts.x$$ -- 'marts.x'",
    "SELECT * FROM weir.unique_rows(NULL::\"Marts\".x, 'marts.X x')",
])
def test_other_strings_and_types_are_left_alone(written: str) -> None:
    assert renamed_names(written, {("marts", "x"): ("marts", "x__weir_new")}) == written
