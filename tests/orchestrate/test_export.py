"""`weir dag airflow | dagster`: the graph mirrored, deterministic, --check-able; each task builds exactly its node."""

from __future__ import annotations

import ast
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from runner.build.graph import ModelGraph
from runner.project import Project

ROOT = Path(__file__).resolve().parents[2]
WEIR_BIN = Path(sys.executable).parent / "weir"


def assigned(text: str, name: str) -> Any:
    """Return the literal assigned to `name` at the top of a generated module."""
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is not assigned in the generated module")


@pytest.mark.parametrize("orchestrator", ["airflow", "dagster"])
def test_export_is_deterministic_and_check_names_a_stale_file(weir, tmp_path: Path, orchestrator: str) -> None:
    out = tmp_path / "dags" / f"weir_{orchestrator}.py"
    written = weir("--project", str(ROOT), "dag", orchestrator, "--out", str(out))
    assert written.exit_code == 0, written.output
    first = out.read_text()
    again = weir("--project", str(ROOT), "dag", orchestrator, "--out", str(out))
    assert again.exit_code == 0 and out.read_text() == first
    assert again.output.strip().endswith("is up to date")
    checked = weir("--project", str(ROOT), "dag", orchestrator, "--out", str(out), "--check")
    assert checked.exit_code == 0, checked.output
    compile(first, str(out), "exec")  # valid Python

    out.write_text(first.replace('"marts.dim_date"', '"marts.dim_dates"', 1))
    stale = weir("--project", str(ROOT), "dag", orchestrator, "--out", str(out), "--check")
    assert stale.exit_code == 1
    assert stale.output.strip() == (
        f"weir: {out} is out of date with the project; run weir dag {orchestrator} --out {out} and commit it"
    )
    assert "dim_dates" in out.read_text()  # --check writes nothing

    out.unlink()
    missing = weir("--project", str(ROOT), "dag", orchestrator, "--out", str(out), "--check")
    assert missing.exit_code == 1 and not out.exists()


@pytest.mark.parametrize("orchestrator", ["airflow", "dagster"])
def test_one_task_per_model_with_its_upstream_and_one_per_check(weir, tmp_path: Path, orchestrator: str) -> None:
    out = tmp_path / f"{orchestrator}.py"
    assert weir("--project", str(ROOT), "dag", orchestrator, "--out", str(out)).exit_code == 0
    text = out.read_text()
    project = Project.load(ROOT)
    graph = ModelGraph(project.models)
    models = assigned(text, "MODELS")
    assert list(models) == graph.order  # build order: each model after what it reads
    for name, (schedule, upstream) in models.items():
        assert schedule == "@daily"
        assert upstream == [model.qualified for model in graph.direct_upstream(name)]
    assert models["marts.fact_order_items"][1] == ["marts.dim_customer", "staging.stg_order_items",
                                                    "staging.stg_orders"]
    checks = assigned(text, "CHECKS")
    assert list(checks) == [check.name for check in project.checks]
    reads = checks["marts/fact_customer_version"]
    reads = reads[1] if orchestrator == "airflow" else reads
    assert reads == ["marts.dim_customer", "marts.fact_order_items"]
    raw = checks["raw/orders_not_null"]
    assert (raw[1] if orchestrator == "airflow" else raw) == []  # reads only sources: after the migrations


@pytest.mark.parametrize("orchestrator", ["airflow", "dagster"])
def test_models_with_an_sla_are_watched_and_those_without_are_not(weir, tmp_path: Path, orchestrator: str) -> None:
    project = tmp_path / "project"
    (project / "models" / "marts").mkdir(parents=True)
    (project / "setup.cfg").write_text("[weir]\n")
    (project / "models" / "marts" / "watched.sql").write_text(
        "-- weir: kind=table, sla=90 minutes, sla_column=loaded_at\nSELECT now() AS loaded_at\n")
    (project / "models" / "marts" / "unwatched.sql").write_text("-- weir: kind=view\nSELECT 1 AS one\n")
    out = tmp_path / f"{orchestrator}.py"
    assert weir("--project", str(project), "dag", orchestrator, "--out", str(out)).exit_code == 0
    text = out.read_text()
    assert assigned(text, "SLAS") == {"marts.watched": "1:30:00"}
    if orchestrator == "airflow":
        assert 'task_id="freshness"' in text and 'weir("freshness", *watched)' in text
    else:
        assert "[freshness_check(model) for model in SLAS]" in text

    (project / "models" / "marts" / "watched.sql").write_text("-- weir: kind=table\nSELECT now() AS loaded_at\n")
    assert weir("--project", str(project), "dag", orchestrator, "--out", str(out)).exit_code == 0
    assert assigned(out.read_text(), "SLAS") == {}


def test_retries_come_from_the_settings(weir, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "models" / "marts").mkdir(parents=True)
    (project / "setup.cfg").write_text("[weir]\nretry_tries = 4\nretry_base_delay = 2s\nretry_max_delay = 1min\n")
    (project / "models" / "marts" / "one.sql").write_text("-- weir: kind=view\nSELECT 1 AS one\n")
    out = tmp_path / "airflow.py"
    assert weir("--project", str(project), "dag", "airflow", "--out", str(out)).exit_code == 0
    arguments = ast.parse(out.read_text())
    default_args = next(node.value for node in arguments.body if isinstance(node, ast.Assign)
                        and getattr(node.targets[0], "id", "") == "DEFAULT_ARGS")
    shown = {ast.literal_eval(key): ast.unparse(value) for key, value in zip(default_args.keys, default_args.values,
                                                                            strict=True)}
    assert shown["retries"] == "3"
    assert shown["retry_delay"] == "timedelta(seconds=2.0)"
    assert shown["max_retry_delay"] == "timedelta(seconds=60.0)"
    assert shown["retry_exponential_backoff"] == "True"
    dagster = tmp_path / "dagster.py"
    assert weir("--project", str(project), "dag", "dagster", "--out", str(dagster)).exit_code == 0
    assert "max_retries=3,\n    delay=2.0,\n    backoff=dg.Backoff.EXPONENTIAL," in dagster.read_text()
    assert 'PROJECT_DIR = "project"' in dagster.read_text()  # found from the module, wherever it is


def _task_command(path: Path, *args: str) -> str:
    """Return the shell command the generated Airflow DAG gives a task, from its own WEIR, PROJECT and weir()."""
    tree = ast.parse(path.read_text())
    names = ("WEIR", "PROJECT_DIR", "PROJECT")
    wanted = [
        node for node in tree.body
        if (isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in names)
        or (isinstance(node, ast.FunctionDef) and node.name == "weir")
    ]
    namespace: dict[str, Any] = {"os": os, "shlex": shlex, "Path": Path, "__file__": str(path)}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), "generated", "exec"), namespace)
    return str(namespace["weir"](*args))


def test_a_model_task_builds_exactly_its_model(
    weir, tmp_path: Path, db: psycopg.Connection, dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIR_BIN", str(WEIR_BIN))  # what a worker's environment would say
    out = tmp_path / "airflow.py"
    assert weir("--project", str(ROOT), "dag", "airflow", "--out", str(out)).exit_code == 0
    env = {**os.environ, "WEIR_DSN": dsn}
    for key in ("DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"):
        env.pop(key, None)

    def task(*args: str) -> subprocess.CompletedProcess[str]:
        command = _task_command(out, *args)
        return subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, cwd=tmp_path)

    assert _task_command(out, "migrate") == shlex.join([str(WEIR_BIN), "--project", str(ROOT), "migrate"])
    assert task("migrate").returncode == 0
    assert weir("--dsn", dsn, "--project", str(ROOT), "sample", "load", "--scale", "1000").exit_code == 0
    built = task("build", "--select", "staging.stg_orders")
    assert built.returncode == 0, built.stderr
    db.execute("SET search_path TO public")
    relations = [row[0] for row in db.execute(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname IN ('staging', 'marts') AND c.relkind IN ('r', 'v', 'm', 'p') ORDER BY 1")]
    assert relations == ["staging.stg_orders"]
    results = db.execute("SELECT model, status FROM weir.build_result ORDER BY model").fetchall()
    assert results == [("staging.stg_orders", "success")]

    again = task("build", "--select", "staging.stg_orders")  # a retry of the same task: idempotent
    assert again.returncode == 0
    assert db.execute("SELECT status FROM weir.build_result ORDER BY run_id DESC LIMIT 1").fetchone()[0] == "skipped"

    downstream = task("build", "--select", "marts.dim_date")  # reads stg_orders, built above
    assert downstream.returncode == 0, downstream.stderr
    assert db.execute("SELECT count(*) FROM weir.build_result WHERE model = 'marts.dim_date'").fetchone()[0] == 1
    assert db.execute("SELECT to_regclass('marts.dim_customer')").fetchone()[0] is None

    check = task("check", "--select", "marts/dim_date_key_unique")
    assert check.returncode == 0, check.stdout + check.stderr
    assert db.execute("SELECT array_agg(DISTINCT check_name) FROM weir.check_result").fetchone()[0] == [
        "marts/dim_date_key_unique"]


def test_a_bad_model_file_is_one_line_and_writes_nothing(weir, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "models" / "marts").mkdir(parents=True)
    (project / "setup.cfg").write_text("[weir]\n")
    (project / "models" / "marts" / "one.sql").write_text("-- weir: kind=sideways\nSELECT 1 AS one\n")
    out = tmp_path / "airflow.py"
    result = weir("--project", str(project), "dag", "airflow", "--out", str(out))
    assert result.exit_code == 2
    assert result.output.startswith("weir: models/marts/one.sql:1: ") and len(result.output.splitlines()) == 1
    assert not out.exists()


def test_models_on_another_schedule_get_a_dag_and_a_job_of_their_own() -> None:
    from runner.orchestrate import CheckTask, ModelTask, Plan
    from runner.orchestrate import airflow as airflow_export
    from runner.orchestrate import dagster as dagster_export
    from runner.project.settings import Retries

    plan = Plan(
        models=(ModelTask("staging.a", "view", (), "@daily", ()),
                ModelTask("marts.b", "table", ("staging.a",), "0 */4 * * *", ("marts/b_ok",))),
        checks=(CheckTask("marts/b_ok", ("marts.b",), "error"), CheckTask("raw/x", (), "warn")),
        default_schedule="@daily",
        retries=Retries(3, 1.0, 8.0),
    )
    text = airflow_export.render(plan, "..")
    assert assigned(text, "MODELS") == {"staging.a": ("@daily", []), "marts.b": ("0 */4 * * *", ["staging.a"])}
    assert assigned(text, "CHECKS") == {"marts/b_ok": ("0 */4 * * *", ["marts.b"]), "raw/x": ("@daily", [])}
    dags = [ast.unparse(node) for node in ast.parse(text).body
            if isinstance(node, ast.Assign) and "weir_dag(" in ast.unparse(node.value)]
    assert dags == ["dag = weir_dag('weir', '@daily')", "dag_0_4 = weir_dag('weir_0_4', '0 */4 * * *')"]
    assert airflow_export.render(plan, "..") == text  # the same plan, the same text
    module = dagster_export.render(plan, "..")
    assert assigned(module, "SCHEDULES") == {"weir": "@daily", "weir_0_4": "0 */4 * * *"}
    assert assigned(module, "CHECKS") == {"marts/b_ok": ["marts.b"], "raw/x": []}
