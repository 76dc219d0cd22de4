"""JUnit files from `weir check` and `weir run`, held to the schemas and readers CI systems use."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"


def assert_valid(junit_schemas, path: Path) -> None:
    for name, schema in junit_schemas.items():
        errors = [str(error.reason) for error in schema.iter_errors(str(path))]
        assert errors == [], f"{name}: {errors}"


def test_check_junit_is_valid_for_jenkins_and_ant_and_reads_back(checked_project, dsn, weir, junit_schemas,
                                                                   tmp_path) -> None:
    path = tmp_path / "checks.xml"
    result = weir("check", "--project", str(checked_project), "--dsn", dsn, "--junit", str(path))
    assert result.exit_code == 2, result.output
    assert_valid(junit_schemas, path)

    suites = list(JUnitXml.fromfile(str(path)))
    assert len(suites) == 1
    suite = suites[0]
    assert (suite.name, suite.tests, suite.failures, suite.errors, suite.skipped) == ("weir check", 4, 1, 1, 0)
    outcomes = {case.name: [type(outcome).__name__ for outcome in case.result] for case in suite}
    assert outcomes == {"all_good": [], "broken": ["Error"], "orders/few_orders": [],
                        "orders/negative_amount": ["Failure"]}
    failed = next(case for case in suite if case.name == "orders/negative_amount")
    failure = failed.result[0]
    assert isinstance(failure, Failure)
    assert failure.message == "checks/orders/negative_amount.sql: FAIL 3 rows"
    assert "z1" in failure.text and "-1.5" in failure.text  # the failing rows travel with the failure
    assert "checks/orders/few_orders.sql: WARN 2 rows" in ET.parse(path).getroot().find(".//system-out").text


def test_junit_converts_to_html(checked_project, dsn, weir, tmp_path) -> None:
    path = tmp_path / "checks.xml"
    weir("check", "--project", str(checked_project), "--dsn", dsn, "--junit", str(path))
    html = tmp_path / "checks.html"
    subprocess.run([sys.executable, "-m", "junit2htmlreport", str(path), str(html)], check=True,
                   capture_output=True)
    page = html.read_text()
    assert "orders/negative_amount" in page and "weir check" in page


def test_run_junit_has_a_suite_per_stage(project, dsn, weir, junit_schemas, write_migration, tmp_path) -> None:
    write_migration(project, "0001_orders", "CREATE TABLE orders (id int PRIMARY KEY, amount numeric);\n"
                    "INSERT INTO orders VALUES (1, 5), (2, -1);\n", "DROP TABLE orders;\n")
    (project / "models" / "marts").mkdir(parents=True)
    (project / "models" / "marts" / "big_orders.sql").write_text("SELECT id, amount FROM public.orders\n")
    (project / "checks").mkdir()
    (project / "checks" / "positive.sql").write_text("SELECT id FROM marts.big_orders WHERE amount < 0\n")
    path = tmp_path / "run.xml"
    result = weir("run", "--project", str(project), "--dsn", dsn, "--junit", str(path))
    assert result.exit_code == 1, result.output
    assert_valid(junit_schemas, path)
    suites = {suite.name: suite for suite in JUnitXml.fromfile(str(path))}
    assert list(suites) == ["weir migrate", "weir build", "weir check"]
    assert [case.name for case in suites["weir migrate"]] == ["0001_orders"]
    assert [case.name for case in suites["weir build"]] == ["marts.big_orders"]
    assert (suites["weir check"].tests, suites["weir check"].failures) == (1, 1)


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_run_that_stops_early_still_writes_its_junit(project, weir, junit_schemas, tmp_path, command) -> None:
    path = tmp_path / "early.xml"
    result = weir(command, "--project", str(project), "--dsn", UNREACHABLE, "--junit", str(path))
    assert result.exit_code == 2
    assert_valid(junit_schemas, path)
    [suite] = list(JUnitXml.fromfile(str(path)))
    [case] = list(suite)
    [error] = case.result
    assert isinstance(error, Error)
    assert error.message.startswith("cannot connect to nobody@127.0.0.1:1/none")


def test_the_schemas_refuse_what_weir_wrote_before(junit_schemas, tmp_path) -> None:
    """The old report (file on testcase, skipped on testsuites, output inside a testcase) fails both."""
    old = tmp_path / "old.xml"
    old.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<testsuites name="weir check" tests="1" failures="0" errors="0" skipped="0" time="0.1">'
        '<testsuite name="weir check" tests="1" failures="0" errors="0" skipped="0" time="0.1">'
        '<testcase classname="checks" name="x" file="checks/x.sql" time="0.1"><system-out>w</system-out></testcase>'
        "</testsuite></testsuites>\n"
    )
    for name, schema in junit_schemas.items():
        assert not schema.is_valid(str(old)), name


def test_values_xml_cannot_hold_are_replaced(project, db, dsn, weir, junit_schemas, tmp_path) -> None:
    (project / "checks").mkdir()
    (project / "checks" / "control.sql").write_text("SELECT E'bell\\x07 and <tag> & \"quote\"' AS text")
    path = tmp_path / "control.xml"
    weir("check", "--project", str(project), "--dsn", dsn, "--junit", str(path))
    assert_valid(junit_schemas, path)
    assert "bell\ufffd and <tag> & \"quote\"" in ET.parse(path).getroot().find(".//failure").text
