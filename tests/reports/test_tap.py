"""`weir check --tap`: TAP version 13 as pg_prove's readers take it, parsed back by a TAP parser."""

from __future__ import annotations

from tap.parser import Parser


def test_check_tap_parses_back_with_one_point_per_check(checked_project, dsn, weir) -> None:
    result = weir("check", "--project", str(checked_project), "--dsn", dsn, "--tap")
    assert result.exit_code == 2, result.output
    lines = list(Parser().parse_text(result.stdout))
    plan = [line for line in lines if line.category == "plan"]
    assert [(p.expected_tests) for p in plan] == [4]
    points = [line for line in lines if line.category == "test"]
    assert [(point.number, point.description, point.ok) for point in points] == [
        (1, "- all_good", True), (2, "- broken", False), (3, "- orders/few_orders", True),
        (4, "- orders/negative_amount", False)]
    failed = points[3]
    assert failed.yaml_block is not None, "the YAML block of a failure must parse"
    assert failed.yaml_block["message"] == "checks/orders/negative_amount.sql: FAIL 3 rows"
    assert failed.yaml_block["violations"] == 3
    assert "z1" in failed.yaml_block["rows"]
    diagnostics = [line.text for line in lines if line.category == "diagnostic"]
    assert "# checks/orders/few_orders.sql: WARN 2 rows (warn_if < 100)" in diagnostics


def test_tap_and_json_together_are_refused(checked_project, dsn, weir) -> None:
    result = weir("check", "--project", str(checked_project), "--dsn", dsn, "--tap", "--json")
    assert result.exit_code == 2
    assert "choose one" in result.output
