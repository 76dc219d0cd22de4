"""`weir run` runs the unit tests after migrating and before building: a failing one builds nothing."""

from __future__ import annotations

import json
from pathlib import Path

MODEL = "-- weir: kind=table\nSELECT s.id, s.amount * 2 AS doubled FROM raw.source AS s\n"
UNIT_TEST = """-- weir: model=marts.doubled

-- weir: given=raw.source
SELECT 1 AS id, 21 AS amount;

-- weir: expect
SELECT 1 AS id, 42 AS doubled;
"""


def make_project(project: Path, write_migration, write_files) -> None:
    write_migration(project, "0001_source", "CREATE SCHEMA raw;\n"
                    "CREATE TABLE raw.source (id int PRIMARY KEY, amount int NOT NULL);\n"
                    "INSERT INTO raw.source VALUES (1, 5);\n", "DROP SCHEMA raw CASCADE;\n")
    write_files(project, {"models/marts/doubled.sql": MODEL, "unit_tests/marts/doubled__twice.sql": UNIT_TEST})


def test_passing_unit_tests_let_the_build_go_on(project, db, dsn, write_migration, write_files, weir):
    make_project(project, write_migration, write_files)
    result = weir("run", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-3:] == ["migrate: 1 applied", "test:    1 pass", "build:   1 success"]
    assert db.execute("SELECT doubled FROM marts.doubled").fetchall() == [(10,)]


def test_a_failing_unit_test_stops_the_run_before_the_build(project, db, dsn, write_migration, write_files, weir,
                                                           tmp_path: Path):
    make_project(project, write_migration, write_files)
    model = project / "models" / "marts" / "doubled.sql"
    model.write_text(MODEL.replace("* 2", "+ 2"))
    junit = tmp_path / "run.xml"
    result = weir("run", "--project", str(project), "--dsn", dsn, "--json", "--junit", str(junit))
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "fail"
    results = document["results"]
    assert results["unit_tests"]["counts"] == {"pass": 0, "fail": 1, "error": 0}
    assert results["unit_tests"]["tests"][0]["differences"] == [
        "missing    (id=1, doubled=42)", "unexpected (id=1, doubled=23)"]
    assert results["build"] is None
    assert db.execute("SELECT to_regclass('marts.doubled')").fetchone() == (None,)
    assert '<testcase name="marts/doubled__twice" classname="marts.doubled"' in junit.read_text()


def test_a_failing_unit_test_in_text(project, db, dsn, write_migration, write_files, weir):
    make_project(project, write_migration, write_files)
    (project / "models" / "marts" / "doubled.sql").write_text(MODEL.replace("* 2", "+ 2"))
    result = weir("run", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-2:] == ["migrate: 1 applied", "test:    1 fail; nothing built"]
    assert "FAIL  marts/doubled__twice (marts.doubled" in result.stdout
    assert "    unexpected (id=1, doubled=23)" in result.stdout


def test_a_model_that_cannot_be_tested_stops_the_run_with_a_line_saying_why(
        project, db, dsn, write_migration, write_files, weir):
    make_project(project, write_migration, write_files)
    (project / "models" / "marts" / "doubled.sql").write_text(MODEL.replace("s.amount", "s.nope"))
    result = weir("run", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 1, result.output
    last = result.stdout.splitlines()[-1]
    assert last == ("test:    FAILED: the models do not build on the empty scratch database, so they cannot be"
                    " tested: models/marts/doubled.sql:2: column s.nope does not exist; nothing built")
    assert db.execute("SELECT to_regclass('marts.doubled')").fetchone() == (None,)


def test_json_of_weir_test_and_weir_run_is_valid(project, dsn, write_migration, write_files, weir, json_validator):
    make_project(project, write_migration, write_files)
    (project / "models" / "marts" / "doubled.sql").write_text(MODEL.replace("* 2", "+ 2"))
    tested = json.loads(weir("test", "--project", str(project), "--dsn", dsn, "--json").stdout)
    json_validator("test").validate(tested)
    assert (tested["status"], tested["exit_code"], tested["results"]["counts"]) == (
        "fail", 1, {"pass": 0, "fail": 1, "error": 0})
    ran = json.loads(weir("run", "--project", str(project), "--dsn", dsn, "--json").stdout)
    json_validator("run").validate(ran)
    unit_tests = ran["results"]["unit_tests"]
    assert unit_tests["counts"] == tested["results"]["counts"]
    assert unit_tests["tests"][0]["differences"] == tested["results"]["tests"][0]["differences"] == [
        "missing    (id=1, doubled=42)", "unexpected (id=1, doubled=23)"]
