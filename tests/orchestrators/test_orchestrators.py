"""The exports under the real packages: the Airflow DAG loads in a DagBag and dag.test() runs it, the
Dagster module loads as Definitions and materialize() runs every asset and check, on the example warehouse.

Slow and heavy: `make orchestrators` creates .venv-airflow/ and .venv-dagster/ (each with Weir
installed editable) and runs these tests with .venv's pytest, which runs each orchestrator
in its own environment as a child process; `make test` leaves this folder out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from runner.project import Project

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RUFF = Path(sys.executable).parent / "ruff"
PROJECT = Project.load(ROOT)
MODELS = len(PROJECT.models)  # the example's, whatever it holds today
CHECKS = len(PROJECT.checks)


def orchestrator_python(venv: str) -> Path:
    """Return the python of an orchestrator's environment, which make orchestrators creates."""
    python = ROOT / venv / "bin" / "python"
    assert python.exists(), f"{python} is missing: run make orchestrators"
    return python


def warehouse(weir, dsn: str) -> None:
    """Migrate the test database and load the example's sample data at scale 1000."""
    assert weir("--dsn", dsn, "--project", str(ROOT), "migrate").exit_code == 0
    loaded = weir("--dsn", dsn, "--project", str(ROOT), "sample", "load", "--scale", "1000")
    assert loaded.exit_code == 0, loaded.output


def run_report(command: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run a child that prints `REPORT {json}` and return that JSON; fail with its output otherwise."""
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    lines = [line for line in done.stdout.splitlines() if line.startswith("REPORT ")]
    output = f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    assert done.returncode == 0 and lines, f"{command} exited {done.returncode}:\n{output}"
    return dict(json.loads(lines[-1].removeprefix("REPORT ")))


def child_env(dsn: str, **extra: str) -> dict[str, str]:
    """The environment of an orchestrator's process: the test database as WEIR_DSN, nothing else to connect to."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "WEIR_PROJECT")}
    return {**env, "WEIR_DSN": dsn, **extra}


def ruff_clean(path: Path) -> None:
    """The generated file passes ruff check with its default settings plus the project's rules, and ruff format."""
    assert RUFF.exists(), f"{RUFF} is missing: make orchestrators installs the lint tools"
    for command in ([str(RUFF), "check", "--isolated", "--select", "E,F,W,I,B,UP", str(path)],
                    [str(RUFF), "format", "--isolated", "--check", str(path)]):
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def built_and_checked(db: psycopg.Connection) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Return each model's latest build status and each check's latest status, as Weir recorded them."""
    models = db.execute(
        "SELECT DISTINCT ON (model) model, status FROM weir.build_result ORDER BY model, run_id DESC").fetchall()
    checks = db.execute(
        "SELECT DISTINCT ON (check_name) check_name, status FROM weir.check_result"
        " ORDER BY check_name, run_id DESC").fetchall()
    return models, checks


@pytest.mark.slow
def test_airflow_dag_loads_and_runs_the_warehouse(weir, db: psycopg.Connection, dsn: str, tmp_path: Path) -> None:
    python = orchestrator_python(".venv-airflow")
    warehouse(weir, dsn)
    dags = tmp_path / "dags"
    assert weir("--project", str(ROOT), "dag", "airflow", "--out", str(dags / "weir_airflow.py")).exit_code == 0
    ruff_clean(dags / "weir_airflow.py")
    home = tmp_path / "airflow-home"
    env = child_env(dsn, AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False",
                    AIRFLOW__CORE__DAGS_FOLDER=str(dags), WEIR_BIN=str(python.parent / "weir"))
    migrated = subprocess.run([str(python.parent / "airflow"), "db", "migrate"], env=env, capture_output=True,
                              text=True, timeout=600)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    assert (home / "airflow.db").exists()  # Airflow's metadata stayed in the test's directory

    report = run_report([str(python), str(HERE / "run_airflow_dag.py"), str(dags)], env, tmp_path)

    assert report["import_errors"] == {}
    assert report["dag_ids"] == ["weir"] and report["schedule"] == "@daily"
    upstream = report["upstream"]
    assert len(upstream) == 1 + MODELS + CHECKS
    assert upstream["migrate"] == []
    assert upstream["staging.stg_orders"] == ["migrate"]
    assert upstream["marts.fact_order_items"] == ["marts.dim_customer", "staging.stg_order_items",
                                                  "staging.stg_orders"]
    assert upstream["check.marts.fact_customer_version"] == ["marts.dim_customer", "marts.fact_order_items"]
    assert upstream["check.raw.orders_not_null"] == ["migrate"]
    assert report["retries"]["marts.fact_order_items"] == 9 and report["retries"]["check.raw.orders_not_null"] == 0
    assert report["run_state"] == "success"
    assert set(report["states"].values()) == {"success"} and len(report["states"]) == 1 + MODELS + CHECKS
    models, checks = built_and_checked(db)
    assert len(models) == MODELS and {status for _, status in models} == {"success"}
    assert len(checks) == CHECKS and {status for _, status in checks} <= {"pass", "warn"}


@pytest.mark.slow
def test_dagster_definitions_materialize_every_asset_and_check(
    weir, db: psycopg.Connection, dsn: str, tmp_path: Path
) -> None:
    python = orchestrator_python(".venv-dagster")
    warehouse(weir, dsn)
    module = tmp_path / "defs" / "weir_dagster.py"
    assert weir("--project", str(ROOT), "dag", "dagster", "--out", str(module)).exit_code == 0
    ruff_clean(module)
    env = child_env(dsn, DAGSTER_HOME=str(tmp_path / "dagster-home"))
    (tmp_path / "dagster-home").mkdir()

    report = run_report([str(python), str(HERE / "run_dagster.py"), str(module)], env, tmp_path)

    assert report["is_definitions"] is True
    assert len(report["assets"]) == 1 + MODELS and "weir/migrations" in report["assets"]
    assert len(report["checks"]) == CHECKS
    assert "marts/fact_order_items:marts_fact_customer_version" in report["checks"]
    assert "weir/migrations:raw_orders_not_null" in report["checks"]
    assert report["schedules"] == {"weir_schedule": "@daily"}
    assert report["success"] is True
    assert report["materialized"] == report["assets"]
    assert len(report["evaluations"]) == CHECKS
    assert all(evaluation["passed"] for evaluation in report["evaluations"].values())
    models, checks = built_and_checked(db)
    assert len(models) == MODELS and {status for _, status in models} == {"success"}
    assert len(checks) == CHECKS and {status for _, status in checks} <= {"pass", "warn"}

    # Materialized again, every asset is a no-op: each model is skipped, nothing fails.
    again = run_report([str(python), str(HERE / "run_dagster.py"), str(module)], env, tmp_path)
    assert again["success"] is True and again["materialized"] == report["assets"]
    models, _ = built_and_checked(db)
    assert {status for _, status in models} == {"skipped"}


@pytest.mark.slow
def test_a_second_schedule_is_a_second_dag_and_job(tmp_path: Path) -> None:
    from dataclasses import replace

    from runner.orchestrate import airflow, dagster, plan_of

    plan = plan_of(PROJECT)
    hourly = {"marts.agg_daily_sales"}  # as if its header said schedule="@hourly"
    plan = replace(plan, models=tuple(replace(task, schedule="@hourly") if task.model in hourly else task
                                      for task in plan.models))
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "weir_airflow.py").write_text(airflow.render(plan, str(ROOT)))
    ruff_clean(dags / "weir_airflow.py")
    airflow_python = orchestrator_python(".venv-airflow")
    env = child_env("", AIRFLOW_HOME=str(tmp_path / "airflow-home"), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    report = run_report([str(airflow_python), str(HERE / "run_airflow_dag.py"), str(dags), "--load-only"], env,
                        tmp_path)
    assert report["import_errors"] == {}
    assert report["schedules"] == {"weir": "@daily", "weir_hourly": "@hourly"}
    assert report["tasks"]["weir_hourly"] == ["check.reconciliation.daily_sales_vs_fact", "marts.agg_daily_sales",
                                              "migrate"]
    assert "marts.agg_daily_sales" not in report["tasks"]["weir"]

    module = tmp_path / "weir_dagster.py"
    module.write_text(dagster.render(plan, str(ROOT)))
    ruff_clean(module)
    loaded = subprocess.run(
        [str(orchestrator_python(".venv-dagster")), "-c",
         "import importlib.util, sys; spec = importlib.util.spec_from_file_location('m', sys.argv[1]);"
         " m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m);"
         " print(sorted((s.name, s.cron_schedule, s.job_name) for s in m.defs.schedules))", str(module)],
        env=child_env(""), capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.strip() == (
        "[('weir_hourly_schedule', '@hourly', 'weir_hourly'), ('weir_schedule', '@daily', 'weir')]")
