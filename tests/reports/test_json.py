"""Every --json document: one versioned envelope, held to the JSON Schemas shipped in the package."""

from __future__ import annotations

import json

import pytest

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"


def test_check_json_is_valid_and_samples_keep_column_order(checked_project, db, dsn, weir, json_validator) -> None:
    result = weir("check", "--project", str(checked_project), "--dsn", dsn, "--json")
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    json_validator("check").validate(document)
    assert (document["weir_json"], document["command"], document["status"], document["exit_code"]) == (
        1, "check", "error", 2)
    assert document["target"] == f"{db.info.user}@{db.info.host}:{db.info.port}/{db.info.dbname}"
    assert document["started"] <= document["finished"]
    checks = {check["name"]: check for check in document["results"]["checks"]}
    failed = checks["orders/negative_amount"]
    assert failed["columns"] == ["zeta", "id", "amount"]
    assert [list(row) for row in failed["sample"]] == [["zeta", "id", "amount"]] * 3  # not jsonb's key order
    assert failed["sample"][0] == {"zeta": "z1", "id": 1, "amount": -1.5}


def test_status_json_is_valid(project, dsn, weir, json_validator, write_migration) -> None:
    write_migration(project, "0001_t", "CREATE TABLE t (id int);\n", "DROP TABLE t;\n")
    write_migration(project, "0002_u", "CREATE TABLE u (id int);\n", "DROP TABLE u;\n")
    assert weir("migrate", "--project", str(project), "--dsn", dsn, "--to", "1").exit_code == 0
    result = weir("status", "--project", str(project), "--dsn", dsn, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    json_validator("status").validate(document)
    assert [(row["id"], row["state"]) for row in document["results"]["migrations"]] == [
        ("0001_t", "applied"), ("0002_u", "pending")]


def test_run_json_is_valid(project, dsn, weir, json_validator, write_migration) -> None:
    write_migration(project, "0001_orders", "CREATE TABLE orders (id int PRIMARY KEY, amount numeric);\n"
                    "INSERT INTO orders VALUES (1, 5);\n", "DROP TABLE orders;\n")
    (project / "models" / "marts").mkdir(parents=True)
    (project / "models" / "marts" / "all_orders.sql").write_text("SELECT id, amount FROM public.orders\n")
    (project / "checks").mkdir()
    (project / "checks" / "positive.sql").write_text("SELECT id FROM marts.all_orders WHERE amount < 0\n")
    result = weir("run", "--project", str(project), "--dsn", dsn, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    json_validator("run").validate(document)
    results = document["results"]
    assert [step["id"] for step in results["migrations"]["applied"]] == ["0001_orders"]
    assert [(model["model"], model["status"]) for model in results["build"]["models"]] == [
        ("marts.all_orders", "success")]
    assert results["checks"]["counts"]["pass"] == 1


@pytest.mark.parametrize("command", ["check", "status", "run"])
def test_a_command_that_stops_early_prints_the_envelope_with_its_error(project, weir, json_validator,
                                                                      command) -> None:
    result = weir(command, "--project", str(project), "--dsn", UNREACHABLE, "--json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    json_validator(command).validate(document)
    assert (document["status"], document["results"], document["target"]) == ("error", None, None)
    assert document["error"].startswith("cannot connect to nobody@127.0.0.1:1/none")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda d: d.update(weir_json=2), "another version"),
        (lambda d: d.pop("results"), "no results"),
        (lambda d: d.update(status="maybe"), "an unknown status"),
        (lambda d: d["results"]["checks"][0].update(violations=-1), "a negative count"),
        (lambda d: d.update(started="yesterday"), "a time that is not ISO 8601"),
    ],
)
def test_the_schema_refuses_a_broken_document(checked_project, dsn, weir, json_validator, change, why) -> None:
    document = json.loads(weir("check", "--project", str(checked_project), "--dsn", dsn, "--json").stdout)
    change(document)
    assert not json_validator("check").is_valid(document), why
