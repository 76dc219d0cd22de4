"""Column lineage on hard SELECTs, against results written by hand in hard_cases.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.lineage import Origin, analyze_select

CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "hard_cases.yaml").read_text())


def parse_origin(text: str) -> Origin:
    """Read "schema.table.column via step > step" (relation is all before the last dot, or "?" for unresolved)."""
    where, _, how = text.partition(" via ")
    relation, _, column = where.partition(".") if where.startswith("?.") else where.rpartition(".")
    return Origin(relation, column, tuple(step.strip() for step in how.split(" > ")) if how else ())


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_lineage_matches_what_was_worked_out_by_hand(case: dict[str, Any]) -> None:
    known: dict[str, list[str]] = case.get("columns") or {}
    found = analyze_select(case["sql"], known.get)
    expected = {column: sorted(map(parse_origin, origins)) for column, origins in case["lineage"].items()}
    assert {column: sorted(origins) for column, origins in found.lineage.items()} == expected
    assert list(found.columns) == list(expected)
    if "reads" in case:
        assert found.reads == {tuple(text.rsplit(".", 1)) for text in case["reads"]}
