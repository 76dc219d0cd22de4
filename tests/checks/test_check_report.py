"""Check reports from real runs: the text a person reads, JSON parsed back, JUnit XML parsed back."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from runner.checks import CheckReport, run_checks
from runner.checks.report import json_results, render_text, shorten, write_junit
from runner.project import Project

CHECKS = {
    "all_good": "SELECT 1 AS x WHERE false",
    "orders/negative_amount": (
        '-- weir: description="Order amounts are positive"\n'
        "SELECT id, amount, note, email FROM orders WHERE amount < 0 ORDER BY id"
    ),
    "orders/few_orders": '-- weir: severity=warn, warn_if="< 100"\nSELECT id FROM orders ORDER BY id LIMIT 2',
    "broken": "SELECT *\nFROM missing_table",
}


@pytest.fixture
def report(project: Path, db: psycopg.Connection) -> CheckReport:
    """A real run with one check of each status: pass, warn, fail (25 rows) and error."""
    db.execute(
        "CREATE TABLE orders AS SELECT g AS id, -g * 1.5 AS amount,"
        " repeat('long text ', 10) || E'\\nsecond line' AS note, NULL::text AS email"
        " FROM generate_series(1, 25) AS g"
    )
    for name, text in CHECKS.items():
        path = project / "checks" / f"{name}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return run_checks(db, Project.load(project), threads=2)


def test_text_report_shows_file_count_and_first_rows(report: CheckReport) -> None:
    text = render_text(report)
    blocks = text.split("\n\n")
    assert blocks[0].splitlines()[0] == "checks/orders/few_orders.sql: WARN 2 rows (warn_if < 100)"
    failure = blocks[1].splitlines()
    assert failure[0] == "checks/orders/negative_amount.sql: FAIL 25 rows"
    assert failure[1] == "  Order amounts are positive"
    assert re.match(r"^\s+id\s+amount\s+note\s+email$", failure[2])
    assert failure[4].split() == ["1", "-1.5", "long", "text", "long", "text", "long", "text", "long", "te...", "NULL"]
    assert len(failure) == 2 + 2 + 10 + 1
    assert failure[-1] == "  first 10 of 25 rows"
    assert blocks[2] == (
        'checks/broken.sql:2: ERROR relation "missing_table" does not exist;'
        " fix the name, or create it first (weir migrate, weir build)"
    )
    assert "all_good" not in text  # passing checks stay quiet
    assert re.fullmatch(r"4 checks in \d+\.\d\d s: 1 pass, 1 warn, 1 fail, 1 error", blocks[3])


def test_text_report_of_a_clean_run_is_the_summary(project: Path, db: psycopg.Connection) -> None:
    (project / "checks").mkdir()
    (project / "checks" / "fine.sql").write_text("SELECT 1 WHERE false")
    text = render_text(run_checks(db, Project.load(project)))
    assert re.fullmatch(r"1 check in \d+\.\d\d s: 1 pass, 0 warn, 0 fail, 0 error", text)


def test_json_report_parses_back(report: CheckReport) -> None:
    document = json.loads(json.dumps(json_results(report)))
    assert (document["run_id"], report.status, report.exit_code) == (report.run_id, "error", 2)
    assert document["counts"] == {"pass": 1, "warn": 1, "fail": 1, "error": 1}
    checks = {check["name"]: check for check in document["checks"]}
    assert list(checks) == ["all_good", "broken", "orders/few_orders", "orders/negative_amount"]
    failed = checks["orders/negative_amount"]
    assert (failed["status"], failed["violations"], failed["path"], failed["severity"]) == (
        "fail", 25, "checks/orders/negative_amount.sql", "error"
    )
    assert failed["columns"] == ["id", "amount", "note", "email"]
    assert len(failed["sample"]) == 10
    assert failed["sample"][0] == {
        "id": 1, "amount": -1.5, "note": "long text " * 10 + "\nsecond line", "email": None
    }
    assert checks["broken"]["violations"] is None
    assert checks["broken"]["error"].startswith('checks/broken.sql:2: relation "missing_table" does not exist')
    assert checks["orders/few_orders"]["threshold"] == "warn_if < 100"
    assert checks["all_good"]["sample"] == []


def test_junit_report_parses_back(report: CheckReport, tmp_path: Path) -> None:
    path = tmp_path / "checks.xml"
    write_junit(report, path)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    assert {key: suite.get(key) for key in ("tests", "failures", "errors", "skipped")} == {
        "tests": "4", "failures": "1", "errors": "1", "skipped": "0"
    }
    assert float(suite.get("time")) >= 0
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == ["all_good", "broken", "orders/few_orders", "orders/negative_amount"]
    for case in cases.values():
        assert float(case.get("time")) >= 0
    assert cases["orders/negative_amount"].get("classname") == "checks.orders"
    assert list(cases["all_good"]) == []
    failure = cases["orders/negative_amount"].find("failure")
    assert failure.get("message") == "checks/orders/negative_amount.sql: FAIL 25 rows"
    assert "first 10 of 25 rows" in failure.text and "-1.5" in failure.text and "NULL" in failure.text
    error = cases["broken"].find("error")
    assert error.get("message").startswith('checks/broken.sql:2: relation "missing_table" does not exist')
    assert cases["orders/few_orders"].find("failure") is None
    assert list(cases["orders/few_orders"]) == []  # a warning passes; its rows are the suite's output
    assert "checks/orders/few_orders.sql: WARN 2 rows" in suite.find("system-out").text
    assert root.findall(".//skipped") == []


def test_junit_survives_characters_xml_cannot_hold(project: Path, db: psycopg.Connection, tmp_path: Path) -> None:
    (project / "checks").mkdir()
    (project / "checks" / "control.sql").write_text("SELECT E'bell\\x07 and <tag> & \"quote\"' AS text")
    path = tmp_path / "control.xml"
    write_junit(run_checks(db, Project.load(project)), path)
    failure = ET.parse(path).getroot().find(".//failure")
    assert "bell\ufffd and <tag> & \"quote\"" in failure.text


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "NULL"),
        (True, "true"),
        (Decimal("123456789012345678901234567890123456789012.5"), "123456789012345678901234567890123456789012.5"),
        (12345678.125, "12345678.125"),
        ("a" * 40, "a" * 40),
        ("a" * 41, "a" * 37 + "..."),
        ("two\nlines\tand tab", "two\\nlines\\tand tab"),
        (b"\x00\xff", "\\x00ff"),
        ({"k": [1, None]}, '{"k": [1, null]}'),
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02 03:04:05+00:00"),
    ],
)
def test_values_are_shortened_sensibly(value: object, shown: str) -> None:
    assert shorten(value) == shown
