"""The exports under the real packages: the Airflow DAG loads in a DagBag and dag.test() runs it, the
Dagster module loads as Definitions and materialize() runs every asset and check, on the example warehouse.

Slow and heavy: `make orchestrators` creates .venv-airflow/ and .venv-dagster/ (each with Weir
installed editable) and runs these tests with .venv's pytest, which runs each orchestrator
in its own environment as a child process; `make test` leaves this folder out.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from runner.project import Project

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RUFF = Path(sys.executable).parent / "ruff"
PROJECT = Project.load(ROOT)
MODELS = len(PROJECT.models)  # the example's, whatever it holds today
CHECKS = len(PROJECT.checks)
WATCHED = sorted(model.qualified for model in PROJECT.models if model.sla is not None)  # setup.cfg: every model


def orchestrator_python(venv: str) -> Path:
    """Return the python of an orchestrator's environment, which make orchestrators creates."""
    python = ROOT / venv / "bin" / "python"
    assert python.exists(), f"{python} is missing: run make orchestrators"
    return python


def warehouse(weir, dsn: str, project: Path = ROOT) -> None:
    """Migrate the test database and load the example's sample data at scale 1000."""
    assert weir("--dsn", dsn, "--project", str(project), "migrate").exit_code == 0
    loaded = weir("--dsn", dsn, "--project", str(project), "sample", "load", "--scale", "1000")
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
    warehouse(weir, dsn)

    report = airflow_run(weir, dsn, ROOT, tmp_path)

    ruff_clean(tmp_path / "dags" / "weir_airflow.py")
    assert (tmp_path / "airflow-home" / "airflow.db").exists()  # Airflow's metadata stayed in the test's directory

    assert report["import_errors"] == {}
    assert report["dag_ids"] == ["weir"] and report["schedule"] == "@daily"
    upstream = report["upstream"]
    assert len(upstream) == 1 + MODELS + CHECKS + 1
    assert upstream["migrate"] == []
    assert len(WATCHED) == MODELS and upstream["freshness"] == WATCHED
    assert upstream["staging.stg_orders"] == ["migrate"]
    assert upstream["marts.fact_order_items"] == ["marts.dim_customer", "staging.stg_order_items",
                                                  "staging.stg_orders"]
    assert upstream["check.marts.fact_customer_version"] == ["marts.dim_customer", "marts.fact_order_items"]
    assert upstream["check.raw.orders_not_null"] == ["migrate"]
    assert report["retries"]["marts.fact_order_items"] == 9 and report["retries"]["check.raw.orders_not_null"] == 0
    assert report["run_state"] == "success"
    assert set(report["states"].values()) == {"success"} and len(report["states"]) == 1 + MODELS + CHECKS + 1
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
    assert len(report["checks"]) == CHECKS + len(WATCHED)
    assert "marts/fact_order_items:marts_fact_customer_version" in report["checks"]
    assert "marts/fact_order_items:freshness" in report["checks"]
    assert "weir/migrations:raw_orders_not_null" in report["checks"]
    assert report["schedules"] == {"weir_schedule": "@daily"}
    assert report["success"] is True
    assert report["materialized"] == report["assets"]
    assert len(report["evaluations"]) == CHECKS + len(WATCHED)
    assert all(evaluation["passed"] for evaluation in report["evaluations"].values())
    models, checks = built_and_checked(db)
    assert len(models) == MODELS and {status for _, status in models} == {"success"}
    assert len(checks) == CHECKS and {status for _, status in checks} <= {"pass", "warn"}

    # Materialized again, every asset is a no-op: each model is skipped, nothing fails.
    again = run_report([str(python), str(HERE / "run_dagster.py"), str(module)], env, tmp_path)
    assert again["success"] is True and again["materialized"] == report["assets"]
    models, _ = built_and_checked(db)
    assert {status for _, status in models} == {"skipped"}


def broken_example(tmp_path: Path) -> tuple[Path, Path]:
    """Copy the example with one more model that fails when built, and an on_failure command
    appending each alert it receives to a file; return the project and that file."""
    example = tmp_path / "example"
    for directory in ("migrations", "models", "checks", "seeds", "unit_tests"):
        shutil.copytree(ROOT / directory, example / directory)
    received = tmp_path / "alerts.jsonl"
    setup = (ROOT / "setup.cfg").read_text()
    sinks = f"[weir]\non_failure = cat >> {shlex.quote(str(received))}; echo >> {shlex.quote(str(received))}\n"
    # A task of the broken model is not tried again: one alert per failure, and no waiting.
    setup = setup.replace("\nretry_tries = 10\n", "\nretry_tries = 1\n")
    (example / "setup.cfg").write_text(setup.replace("[weir]\n", sinks, 1))
    (example / "models" / "marts" / "broken.sql").write_text("-- weir: kind=table\nSELECT 1 / 0 AS one\n")
    return example, received


def alerts_received(received: Path) -> list[tuple[str, str, str]]:
    """Return (command, kind, model) of every event the on_failure command received."""
    return [(document["command"], event["kind"], event["model"])
            for document in alert_documents(received) for event in document["events"]]


def alert_documents(received: Path) -> list[dict[str, Any]]:
    """Return every payload the on_failure command received."""
    return [json.loads(line) for line in received.read_text().splitlines() if line.strip()]


def airflow_run(weir, dsn: str, example: Path, tmp_path: Path) -> dict[str, Any]:
    """Export the example's DAG, migrate Airflow's metadata, run the DAG once with dag.test(); return its report."""
    python = orchestrator_python(".venv-airflow")
    dags = tmp_path / "dags"
    assert weir("--project", str(example), "dag", "airflow", "--out", str(dags / "weir_airflow.py")).exit_code == 0
    home = tmp_path / "airflow-home"
    env = child_env(dsn, AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False",
                    AIRFLOW__CORE__DAGS_FOLDER=str(dags), WEIR_BIN=str(python.parent / "weir"))
    migrated = subprocess.run([str(python.parent / "airflow"), "db", "migrate"], env=env, capture_output=True,
                              text=True, timeout=600)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    return run_report([str(python), str(HERE / "run_airflow_dag.py"), str(dags)], env, tmp_path)


@pytest.mark.slow
def test_airflow_failures_and_sla_breaches_reach_weirs_alert_sinks(
    weir, db: psycopg.Connection, dsn: str, tmp_path: Path
) -> None:
    example, received = broken_example(tmp_path)
    warehouse(weir, dsn, example)

    report = airflow_run(weir, dsn, example, tmp_path)

    assert report["run_state"] == "failed"
    assert report["states"]["marts.broken"] == "failed"
    assert report["states"]["marts.dim_product"] == "success"
    assert report["states"]["freshness"] == "failed"  # it ran after the failure, and found the breach
    events = alerts_received(received)
    assert ("build", "model-failed", "marts.broken") in events
    assert ("freshness", "sla-breach", "marts.broken") in events
    assert not [event for event in events if event[2] not in ("marts.broken", None)]


@pytest.mark.slow
def test_an_airflow_task_that_fails_without_weir_alerting_is_sent_by_its_failure_callback(
    weir, db: psycopg.Connection, dsn: str, tmp_path: Path
) -> None:
    example, received = broken_example(tmp_path)
    (example / "models" / "marts" / "broken.sql").unlink()
    # Not a timestamp: weir freshness stops with exit 2, a project error it does not alert for.
    (example / "models" / "marts" / "stamped.sql").write_text("-- weir: kind=table, sla_column=one\nSELECT 1 AS one\n")
    warehouse(weir, dsn, example)

    report = airflow_run(weir, dsn, example, tmp_path)

    assert report["states"]["freshness"] == "failed"
    assert {state for task, state in report["states"].items() if task != "freshness"} == {"success"}
    (alerted,) = alert_documents(received)
    (event,) = alerted["events"]
    assert (alerted["command"], event["kind"], event["severity"]) == ("alert", "task-failed", "error")
    assert event["message"].startswith("Airflow task weir.freshness failed for good: ")
    assert event["message"].endswith("non-zero exit code 2.")


@pytest.mark.slow
def test_dagster_failures_and_sla_breaches_reach_weirs_alert_sinks(
    weir, db: psycopg.Connection, dsn: str, tmp_path: Path
) -> None:
    python = orchestrator_python(".venv-dagster")
    example, received = broken_example(tmp_path)
    warehouse(weir, dsn, example)
    module = tmp_path / "defs" / "weir_dagster.py"
    assert weir("--project", str(example), "dag", "dagster", "--out", str(module)).exit_code == 0
    env = child_env(dsn, DAGSTER_HOME=str(tmp_path / "dagster-home"))
    (tmp_path / "dagster-home").mkdir()

    report = run_report([str(python), str(HERE / "run_dagster.py"), str(module)], env, tmp_path)

    assert report["success"] is False
    assert "marts/broken" not in report["materialized"] and "marts/dim_product" in report["materialized"]
    assert report["evaluations"]["marts/dim_product:freshness"]["passed"] is True
    events = alerts_received(received)
    assert ("dagster marts.broken", "model-failed", "marts.broken") in events
    assert not [event for event in events if event[2] not in ("marts.broken", None)]

    # A day and three hours later, nothing has been built since: every freshness check breaches and alerts.
    moment = db.execute("SELECT (now() + interval '27 hours')::text").fetchone()[0]
    db.execute(sql.SQL("ALTER DATABASE {} SET weir.now = {}").format(sql.Identifier(db.info.dbname),
                                                                      sql.Literal(moment)))
    received.write_text("")
    late = run_report([str(python), str(HERE / "run_dagster.py"), str(module), "--checks-only"], env, tmp_path)
    assert late["materialized"] == []
    assert late["evaluations"]["marts/dim_product:freshness"]["passed"] is False
    breaches = {model for command, kind, model in alerts_received(received) if kind == "sla-breach"}
    assert "marts.dim_product" in breaches and "marts.fact_order_items" in breaches


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
    assert report["tasks"]["weir_hourly"] == ["check.reconciliation.daily_sales_vs_fact", "freshness",
                                              "marts.agg_daily_sales", "migrate"]
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
