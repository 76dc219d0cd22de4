"""`weir check` through the CLI: output, exit codes, JUnit file, and `weir status`."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest


def test_check_prints_failing_rows_exits_1_and_status_shows_the_latest_results(project, db, dsn, weir):
    db.execute("CREATE TABLE customers (id int PRIMARY KEY, email text)")
    db.execute("INSERT INTO customers VALUES (1, 'a@example.com'), (2, NULL)")
    checks = project / "checks"
    checks.mkdir()
    (checks / "customers_have_email.sql").write_text("SELECT id, email FROM customers WHERE email IS NULL\n")
    (checks / "ids_positive.sql").write_text("SELECT id FROM customers WHERE id <= 0\n")
    junit = project / "checks.xml"
    result = weir("check", "--project", str(project), "--dsn", dsn, "--junit", str(junit))
    assert result.exit_code == 1
    assert "checks/customers_have_email.sql: FAIL 1 row" in result.stdout
    assert "NULL" in result.stdout
    cases = ElementTree.parse(junit).getroot().iter("testcase")
    assert sorted((case.get("name"), case.find("failure") is not None) for case in cases) == [
        ("customers_have_email", True), ("ids_positive", False)]
    status = weir("status", "--project", str(project), "--dsn", dsn)
    assert status.exit_code == 0, status.output
    lines = status.stdout.splitlines()
    assert any(line.startswith("customers_have_email") and " fail " in line for line in lines)
    assert any(line.startswith("ids_positive") and " pass " in line for line in lines)


def test_a_check_that_cannot_run_exits_2(project, dsn, weir):
    checks = project / "checks"
    checks.mkdir()
    (checks / "broken.sql").write_text("SELECT * FROM no_such_table\n")
    result = weir("check", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 2
    assert 'checks/broken.sql:1: ERROR relation "no_such_table" does not exist' in result.stdout


def test_failing_rows_with_infinite_timestamps_are_shown_not_an_error(project, db, dsn, weir):
    db.execute("CREATE TABLE versions (id int, valid_from timestamptz, valid_on date)")
    db.execute("INSERT INTO versions VALUES (1, '-infinity', 'infinity')")
    checks = project / "checks"
    checks.mkdir()
    (checks / "no_infinite_starts.sql").write_text("SELECT * FROM versions WHERE valid_from = '-infinity'\n")
    result = weir("check", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 1, result.output
    assert "checks/no_infinite_starts.sql: FAIL 1 row" in result.stdout
    assert "-infinity" in result.stdout and "infinity" in result.stdout


def test_a_bad_selector_is_reported_before_connecting(project, weir):
    checks = project / "checks"
    checks.mkdir()
    (checks / "positive.sql").write_text("SELECT 1 WHERE false\n")
    unreachable = "host=/nonexistent-weir-socket-dir dbname=x connect_timeout=1"
    result = weir("check", "--project", str(project), "--dsn", unreachable, "--select", "positve")
    assert result.exit_code == 2
    assert result.stderr == "weir: --select 'positve': no check named 'positve'; did you mean positive?\n"


BAD_GATES = {
    "names-no-model": (
        "-- weir: gate=marts.ordres\nSELECT * FROM marts.orders WHERE order_id IS NULL\n",
        "checks/gate.sql:1: gate=marts.ordres names no model; did you mean marts.orders?",
    ),
    "reads-another-relation": (
        "-- weir: gate=marts.orders\nSELECT o.*\nFROM marts.orders AS o JOIN raw.codes AS c ON c.code = o.order_id\n",
        "checks/gate.sql:3: gate=marts.orders reads raw.codes; a gate runs inside its model's build and may read"
        " only marts.orders: drop the gate directive to make it a plain check, or check only the model",
    ),
}


@pytest.mark.parametrize("command", ["check", "build", "run"])
@pytest.mark.parametrize("gate", BAD_GATES.values(), ids=BAD_GATES.keys())
def test_every_command_that_uses_gates_refuses_a_bad_gate_as_lint_does_before_running_anything(
    project, db, dsn, weir, write_files, command, gate
):
    text, message = gate
    write_files(project, {"models/marts/orders.sql": "SELECT 1 AS order_id\n", "checks/gate.sql": text})
    lint = weir("lint", "--project", str(project))
    assert lint.exit_code == 2
    assert lint.stdout.splitlines()[0] == message
    result = weir(command, "--project", str(project), "--dsn", dsn)
    assert (result.exit_code, result.stderr) == (2, f"weir: {message}\n")
    assert db.execute("SELECT to_regnamespace('weir') IS NULL AND to_regnamespace('marts') IS NULL").fetchone()[0]
