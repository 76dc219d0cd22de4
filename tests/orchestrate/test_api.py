"""runner.api: the warm library builds, checks and runs a selection on a held connection, returning typed results."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg

from runner import api

ROOT = Path(__file__).resolve().parents[2]


def readme_example() -> str:
    """Return the python block of the README's "The library, warm" section."""
    section = ROOT.joinpath("README.md").read_text().split("### The library, warm", 1)[1].split("\n### ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "README's warm library section has no python example"
    return found.group(1)


def test_the_readme_example_then_exactly_one_model_on_the_same_connection(
    weir, db: psycopg.Connection, dsn: str, capsys
) -> None:
    assert weir("--dsn", dsn, "--project", str(ROOT), "migrate").exit_code == 0
    assert weir("--dsn", dsn, "--project", str(ROOT), "sample", "load", "--scale", "1000").exit_code == 0
    code = readme_example()
    code = code.replace('"path/to/project"', repr(str(ROOT))).replace(
        '"postgresql://deploy@db.internal/warehouse"', repr(dsn))
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "[('staging.stg_orders', 'success'), ('marts.dim_date', 'success')] pass"

    project = api.load_project(ROOT)
    with api.connect(project, dsn) as conn:
        report = api.build(conn, project, select=["marts.dim_customer"])  # reads stg_customers, not built yet
        assert isinstance(report, api.BuildReport) and not report.ok
        assert [(r.model, r.status) for r in report.results] == [("marts.dim_customer", "failed")]
        assert api.build(conn, project, select=["staging.stg_customers"]).ok
        report = api.build(conn, project, select=["marts.dim_customer"])
        assert [(r.model, r.status) for r in report.results] == [("marts.dim_customer", "success")]
        again = api.build(conn, project, select=["marts.dim_customer"])  # same connection, same project
        assert [(r.model, r.status) for r in again.results] == [("marts.dim_customer", "skipped")]
        checks = api.check(conn, project, select=["marts/dim_customer_versions_overlap"])
        assert isinstance(checks.results[0], api.CheckResult)
        assert (checks.results[0].name, checks.results[0].status, checks.exit_code) == (
            "marts/dim_customer_versions_overlap", "pass", 0)
    assert db.execute("SELECT to_regclass('marts.fact_order_items')").fetchone()[0] is None


def test_run_is_weir_run_on_a_held_connection(weir, db: psycopg.Connection, dsn: str) -> None:
    project = api.load_project(ROOT)
    with api.connect(project, dsn) as conn:
        api.migrate(conn, project)
        assert weir("--dsn", dsn, "--project", str(ROOT), "sample", "load", "--scale", "1000").exit_code == 0
        report = api.run(conn, project)
    assert isinstance(report, api.PipelineReport)
    assert report.migrations == [] and report.build is not None and report.checks is not None
    assert report.build.counts()["success"] == len(project.models)
    assert report.exit_code == 0, report.summary()
