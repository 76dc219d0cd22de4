"""`weir lint --sarif`: Weir's refusals, squawk's and sqlfluff's findings as GitHub code scanning reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

GITHUB_RULES = json.loads((Path(__file__).parent / "schemas" / "sarif-github.schema.json").read_text())


@pytest.fixture
def linted(project: Path, write_migration) -> Path:
    """A project with one problem for each tool: a refused model, an unsafe migration, a style slip."""
    (project / "setup.cfg").write_text("[weir]\n\n[sqlfluff]\ndialect = postgres\ntemplater = raw\n"
                                       "rules = CP01\n")
    write_migration(project, "0001_t", "CREATE TABLE t (id int);\n", "DROP TABLE t;\n")
    write_migration(project, "0002_t_index", "-- index for lookups\nCREATE INDEX t_id ON t (id);\n",
                    "DROP INDEX t_id;\n")
    (project / "models" / "marts").mkdir(parents=True)
    (project / "models" / "marts" / "broken.sql").write_text('-- weir: materialized="table\nSELECT 1 AS a\n')
    (project / "checks").mkdir()
    (project / "checks" / "styled.sql").write_text("SELECT id from t WHERE id < 0\n")
    return project


def test_lint_sarif_holds_each_tools_findings_where_github_wants_them(linted: Path, weir, tmp_path) -> None:
    path = tmp_path / "lint.sarif"
    result = weir("lint", "--project", str(linted), "--sarif", str(path))
    assert result.exit_code == 2, result.output
    log = json.loads(path.read_text())
    Draft202012Validator(GITHUB_RULES, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(log)
    runs = {run["tool"]["driver"]["name"]: run for run in log["runs"]}
    assert list(runs) == ["weir", "squawk", "sqlfluff"]

    [refused] = runs["weir"]["results"]
    assert refused["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "models/marts/broken.sql"
    assert refused["locations"][0]["physicalLocation"]["region"]["startLine"] == 1

    squawked = [(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                 r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in runs["squawk"]["results"]]
    assert ("require-concurrent-index-creation", "migrations/0002_t_index.sql", 2) in squawked

    styled = [(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
               r["locations"][0]["physicalLocation"]["region"]) for r in runs["sqlfluff"]["results"]]
    assert ("CP01", "checks/styled.sql", {"startLine": 1, "startColumn": 11}) in styled
    for run in log["runs"]:
        declared = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
        assert all(declared[r["ruleIndex"]] == r["ruleId"] for r in run["results"])


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda log: log.update(version="2.0.0"), "another SARIF version"),
        (lambda log: log["runs"][1]["results"][0].pop("ruleId"), "a result without a rule"),
        (lambda log: log["runs"][1]["results"][0]["locations"][0]["physicalLocation"]["region"].update(startLine=0),
         "a 0-based line"),
        (lambda log: log["runs"][0]["tool"]["driver"].pop("name"), "a tool without a name"),
    ],
)
def test_github_rules_refuse_a_broken_log(linted: Path, weir, tmp_path, change, why) -> None:
    path = tmp_path / "lint.sarif"
    weir("lint", "--project", str(linted), "--sarif", str(path))
    log = json.loads(path.read_text())
    change(log)
    assert not Draft202012Validator(GITHUB_RULES).is_valid(log), why
