"""Breaking or additive: each kind of contract change, from two real schemas (cases in contract_changes.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from runner.catalog import read_catalog
from runner.docs.contracts import BREAKING, classify, classify_change, typescript

SPEC: dict[str, Any] = yaml.safe_load((Path(__file__).parent / "contract_changes.yaml").read_text())
CASES: list[dict[str, Any]] = SPEC["cases"]


def _contracts(db: psycopg.Connection, schema_sql: str) -> str:
    """Return TYPE-CONTRACTS.ts of schema shop made by `schema_sql`, then drop the schema."""
    db.execute("CREATE SCHEMA shop;\n" + SPEC["base"] + schema_sql)
    try:
        return typescript(read_catalog(db, ["shop"]))
    finally:
        db.execute("DROP SCHEMA shop CASCADE")


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_each_kind_of_change_is_classified(db: psycopg.Connection, case: dict[str, Any]) -> None:
    before, after = _contracts(db, case["before"]), _contracts(db, case["after"])
    assert [str(change) for change in classify(before, after)] == case["changes"]


def test_from_nothing_everything_is_added_and_to_nothing_everything_removed(db: psycopg.Connection) -> None:
    ts = _contracts(db, "CREATE TABLE shop.a (id integer); CREATE VIEW shop.b AS SELECT 1 AS x;")
    assert [str(change) for change in classify("", ts)] == ["additive: ShopA added", "additive: ShopB added"]
    assert [str(change) for change in classify(ts, "")] == ["breaking: ShopA removed", "breaking: ShopB removed"]


def test_changes_carry_kind_entity_and_field(db: psycopg.Connection) -> None:
    before = _contracts(db, "CREATE TABLE shop.t (id integer PRIMARY KEY, code text NOT NULL);")
    after = _contracts(db, "CREATE TABLE shop.t (id integer PRIMARY KEY, code text);")
    first = classify(before, after)[0]
    assert (first.kind, first.entity, first.field) == (BREAKING, "ShopT", "code")


def test_the_summary_weir_docs_check_prints(db: psycopg.Connection) -> None:
    before = _contracts(db, "CREATE TABLE shop.t (id integer PRIMARY KEY, code text NOT NULL);")
    after = _contracts(db, "CREATE TABLE shop.t (id integer PRIMARY KEY, code text, note text);")
    assert classify_change(before, after) == "\n".join([
        "1 breaking, 4 additive change(s) to the contracts",
        "  breaking: ShopT.code now allows null",
        "  additive: ShopT.note added (nullable field: string | null)",
        "  additive: CreateShopTDTO.code now optional",
        "  additive: CreateShopTDTO.note added (optional)",
        "  additive: UpdateShopTDTO.note added (optional)",
    ])
    assert classify_change(before, before) == "no change to the contracts"
