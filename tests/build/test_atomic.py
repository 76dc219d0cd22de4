"""Atomic builds (`--atomic`) on the example warehouse: readers see one version of the marts, never two.

Real PostgreSQL throughout; where a test must catch the build at its release, it holds a
lock the release needs and polls pg_locks until the build waits for it (no sleeps).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from runner.build.graph import ModelGraph
from runner.build.report import BuildEvent
from runner.build.run import build
from runner.checks.library import install_library
from runner.db.connection import connect
from runner.migrate import migrate
from runner.project import Project
from runner.sample import data as sample_data

ROOT = Path(__file__).resolve().parents[2]
SCALE = 4000
# Every line's total is in the daily rollup once: as revenue, or as cancelled.
TOTALS = """
SELECT (SELECT coalesce(sum(line_total_cents), 0) FROM marts.fact_order_items),
       (SELECT coalesce(sum(revenue_cents + cancelled_cents), 0) FROM marts.agg_daily_sales),
       (SELECT count(*) FILTER (WHERE order_status <> 'cancelled') FROM marts.fact_order_items),
       (SELECT coalesce(sum(order_lines), 0) FROM marts.agg_daily_sales)
"""
SHADOWS = r"""
SELECT count(*) FROM pg_class WHERE relname LIKE '%\_\_weir\_%' AND relkind IN ('r', 'p', 'v', 'm')
"""
MARTS = ("marts.dim_customer", "marts.dim_product", "marts.dim_date", "marts.fact_order_items",
         "marts.agg_daily_sales", "marts.agg_customers_by_region")
# Waiting for a lock on the relation: the build's release, caught at its swap.
WAITING_ON = """
SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass AND pid <> pg_backend_pid()
"""
WAITING_QUERY = """
SELECT a.query FROM pg_locks AS l JOIN pg_stat_activity AS a USING (pid)
WHERE NOT l.granted AND l.relation = %s::regclass
"""


@pytest.fixture
def warehouse(db: psycopg.Connection, dsn: str) -> tuple[psycopg.Connection, str]:
    """The example warehouse migrated, loaded, built once, and changed by a batch since."""
    migrate(db, Project.load(ROOT))
    sample_data.load(db, SCALE)
    with connect(dsn, "weir build") as conn:
        assert build(conn, Project.load(ROOT)).ok
    sample_data.change_batch(db, 1)
    return db, dsn


def versions(conn: psycopg.Connection) -> dict[str, Any]:
    """Each mart's relfilenode (a view: its definition) and a digest of its rows."""
    found = {}
    for name in MARTS:
        node = conn.execute("SELECT relfilenode, relkind FROM pg_class WHERE oid = %s::regclass", (name,)).fetchone()
        rows = conn.execute(f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {name} AS t")
        found[name] = (node, rows.fetchone()[0])
    return found


def test_a_reader_never_sees_two_versions_during_an_atomic_build(warehouse, wait_until):
    conn, dsn = warehouse
    before = conn.execute(TOTALS).fetchone()
    stop, seen, disagreed = threading.Event(), [], []

    def read() -> None:
        with psycopg.connect(dsn, autocommit=True) as reader:
            while not stop.is_set():
                fact, rollup, lines, rollup_lines = reader.execute(TOTALS).fetchone()
                seen.append((fact, lines))
                if fact != rollup or lines != rollup_lines:
                    disagreed.append((fact, rollup, lines, rollup_lines))

    # A lock on a table the release swaps holds the build at its release while the reader reads on.
    holder = psycopg.connect(dsn)
    holder.execute("SELECT count(*) FROM marts.dim_product")
    events: list[BuildEvent] = []
    reader = threading.Thread(target=read)
    reader.start()
    outcome: dict[str, Any] = {}

    def run() -> None:
        with connect(dsn, "weir build") as build_conn:
            outcome["report"] = build(build_conn, Project.load(ROOT), atomic=True, on_event=events.append)

    builder = threading.Thread(target=run)
    try:
        builder.start()
        wait_until(lambda: conn.execute(WAITING_ON, ("marts.dim_product",)).fetchone()[0], what="the release waits")
        at_release = len(seen)
        wait_until(lambda: len(seen) >= at_release + 20, what="20 reads during the release")
        during = conn.execute(TOTALS).fetchone()
        assert during == before  # nothing released yet, though fact and rollup are built
        holder.rollback()
        builder.join()
        read = len(seen)
        wait_until(lambda: len(seen) > read + 1, what="reads after the release")
    finally:
        holder.close()
        stop.set()
        reader.join()
    report = outcome["report"]
    assert report.ok, report.errors
    assert report.lock_window is not None and report.lock_window > 0
    assert [event for event in events if event.kind == "released"]
    built = {result.model: result for result in report.results}
    assert built["marts.fact_order_items"].inserted + built["marts.fact_order_items"].updated > 0
    after = conn.execute(TOTALS).fetchone()
    assert after != before and after[0] == after[1]
    assert disagreed == []
    assert len(seen) > 40 and seen[0] == (before[0], before[2]) and seen[-1] == (after[0], after[2])
    assert conn.execute(SHADOWS).fetchone()[0] == 0


def test_a_failure_in_the_last_model_releases_nothing(warehouse, tmp_path, weir):
    conn, dsn = warehouse
    project = tmp_path / "project"
    for part in ("migrations", "models", "checks", "seeds"):
        shutil.copytree(ROOT / part, project / part)
    shutil.copy(ROOT / "setup.cfg", project / "setup.cfg")
    order = [model.qualified for model in ModelGraph(Project.load(project).models).select((), ())]
    assert order[-1] == "marts.dim_product"
    path = project / "models" / "marts" / "dim_product.sql"
    path.write_text(path.read_text().replace("FROM staging.stg_products AS p", "FROM staging.stg_products AS p\n"
                                             "WHERE 1 / (p.product_id - p.product_id) = 1"))
    before = versions(conn)
    result = weir("--project", str(project), "--dsn", dsn, "build", "--atomic")
    assert result.exit_code == 1, result.output
    assert "models/marts/dim_product.sql:" in result.output and "division by zero" in result.output
    assert "nothing released (--atomic)" in result.output
    assert versions(conn) == before
    assert conn.execute(SHADOWS).fetchone()[0] == 0
    table = [line.split() for line in result.output.splitlines() if line.startswith(("marts.", "staging."))]
    rows = {words[0]: words[2] for words in table}
    assert rows.pop("marts.dim_product") == "failed"
    assert set(rows.values()) == {"upstream-failed"} and len(rows) == 9


def test_a_release_that_deadlocks_with_a_reader_tries_again(warehouse, wait_until):
    conn, dsn = warehouse
    # The reader holds dim_product; the release swaps dim_date first, then waits for dim_product;
    # the reader then asks for dim_date. Only the build looks for the deadlock in time.
    holder = psycopg.connect(dsn)
    holder.execute("SET deadlock_timeout = '1min'")
    holder.execute("SELECT count(*) FROM marts.dim_product")
    events: list[BuildEvent] = []
    outcome: dict[str, Any] = {}

    def run() -> None:
        with connect(dsn, "weir build") as build_conn:
            outcome["report"] = build(build_conn, Project.load(ROOT), atomic=True, on_event=events.append)

    builder = threading.Thread(target=run)
    builder.start()
    try:
        wait_until(lambda: conn.execute(WAITING_ON, ("marts.dim_product",)).fetchone()[0], what="the release waits")
        dates = holder.execute("SELECT count(*) FROM marts.dim_date").fetchone()
        holder.commit()
    finally:
        holder.close()
        builder.join()
    assert dates[0] > 0
    report = outcome["report"]
    assert report.ok, report.errors
    retried = [event.message for event in events if event.kind == "retrying"]
    assert len(retried) == 1 and retried[0].startswith("release: deadlock detected; trying again (try 2 of ")


@pytest.mark.parametrize("phase", ["shadow build", "release"])
def test_killed_during_an_atomic_build_then_rerun_converges_with_no_shadows(warehouse, wait_until, phase):
    conn, dsn = warehouse
    before = versions(conn)
    # Shadow build: a lock on a source only the last model reads; release: one on a table it swaps.
    locked = "raw.products" if phase == "shadow build" else "marts.dim_product"
    holder = psycopg.connect(dsn)
    holder.execute(f"LOCK TABLE {locked} IN {'ACCESS EXCLUSIVE' if phase == 'shadow build' else 'ACCESS SHARE'} MODE")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "runner.cli", "--project", str(ROOT), "--dsn", dsn, "build",
                                "--atomic"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: conn.execute(WAITING_ON, (locked,)).fetchone()[0], what=f"the build waits at its {phase}")
        if phase == "shadow build":  # dim_product, built aside from it, is the last model
            assert "dim_product__weir_new" in conn.execute(WAITING_QUERY, (locked,)).fetchone()[0]
            assert conn.execute(SHADOWS).fetchone()[0] == 0  # not visible outside the build's transaction
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        holder.close()
    assert process.returncode == -9
    wait_until(lambda: conn.execute(
        "SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ).fetchone()[0], what="the killed build's session to end")
    assert versions(conn) == before
    assert conn.execute(SHADOWS).fetchone()[0] == 0
    with connect(dsn, "weir build") as build_conn:
        report = build(build_conn, Project.load(ROOT), atomic=True)
    assert report.ok, report.errors
    fact, rollup, lines, rollup_lines = conn.execute(TOTALS).fetchone()
    assert fact == rollup and lines == rollup_lines
    assert conn.execute(
        "SELECT (SELECT count(*) FROM raw.order_items) = (SELECT count(*) FROM marts.fact_order_items)"
    ).fetchone()[0]
    assert conn.execute(SHADOWS).fetchone()[0] == 0
    with connect(dsn, "weir build") as build_conn:  # converged: nothing left to do
        again = build(build_conn, Project.load(ROOT), atomic=True)
    assert {result.status for result in again.results} == {"skipped"}


def _example_copy(tmp_path: Path, settings: str) -> Path:
    """A copy of the example project whose setup.cfg [weir] section ends with `settings`."""
    project = tmp_path / "project"
    for part in ("migrations", "models", "checks", "seeds"):
        shutil.copytree(ROOT / part, project / part)
    (project / "setup.cfg").write_text((ROOT / "setup.cfg").read_text().replace("[weir]\n", f"[weir]\n{settings}\n"))
    return project


def test_the_atomic_setting_makes_it_the_default_and_no_atomic_turns_it_off(warehouse, tmp_path, weir):
    conn, dsn = warehouse
    project = _example_copy(tmp_path, "atomic = true")
    metrics = tmp_path / "weir.prom"
    result = weir("--project", str(project), "--dsn", dsn, "build", "--log-format", "json", "--metrics", str(metrics))
    assert result.exit_code == 0, result.output
    released = [line for line in result.output.splitlines() if '"event": "released"' in line]
    assert len(released) == 1 and '"lock_window_ms": ' in released[0]
    assert "\nweir_release_lock_window_seconds " in metrics.read_text()
    assert "released atomically, lock window " in result.output
    sample_data.change_batch(conn, 2)
    plain = weir("--project", str(project), "--dsn", dsn, "build", "--no-atomic")
    assert plain.exit_code == 0, plain.output
    assert "released atomically" not in plain.output
    assert [line.split()[2] for line in plain.output.splitlines() if line.startswith("marts.fact_order_items")] == [
        "success"]


def test_a_malformed_atomic_setting_is_refused_naming_it(tmp_path, weir):
    project = _example_copy(tmp_path, "atomic = sometimes")
    result = weir("--project", str(project), "ls")
    assert result.exit_code == 2
    assert result.output.strip().endswith(
        "setup.cfg: [weir] atomic = sometimes is not true or false; write atomic = true or false")


def test_a_partitioned_model_is_refused_with_atomic_before_anything_runs(project, dsn, db, write_models, weir):
    write_models(project, {"models/marts/events.sql": '-- weir: kind=table, partition_by="list(country)"\n'
                                                      "SELECT 1 AS id, 'de' AS country\n"})
    result = weir("--project", str(project), "--dsn", dsn, "build", "--atomic")
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "weir: models/marts/events.sql:1: --atomic does not build partitioned models yet (marts.events);"
        " build it without --atomic, or leave it out with --exclude")
    assert db.execute("SELECT to_regnamespace('marts') IS NULL AND to_regnamespace('weir') IS NULL").fetchone()[0]


# `weir run --atomic`: the checks run against what the run built aside, before anything is released.
LAST_CHECKS = """
SELECT r.check_name, r.status, r.violations FROM weir.check_result AS r
WHERE r.run_id = (SELECT max(run_id) FROM weir.check_run)
"""
PRICES = "SELECT string_agg(DISTINCT list_price_cents::text, ', ') FROM marts.dim_product"
DIGEST = "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM marts.dim_product AS t"


def _run_copy(tmp_path: Path, check: str, severity: str = "error") -> Path:
    """A copy of the example project with one more check, checks/marts/new_data.sql, of `severity`."""
    project = _example_copy(tmp_path, "")
    (project / "checks" / "marts" / "new_data.sql").write_text(f"-- weir: severity={severity}\n{check}\n")
    return project


@pytest.mark.parametrize("kind", ["relation", "library"])
def test_run_atomic_a_check_failing_on_the_new_data_releases_nothing(warehouse, tmp_path, weir, kind):
    conn, dsn = warehouse
    sample_data.change_batch(conn, 2, 0.3)  # reprices some of the 40 products: dim_product's rows change
    if kind == "relation":  # reads dim_product in FROM: fails when its rows change
        digest = conn.execute(DIGEST).fetchone()[0]
        check = f"SELECT 1 WHERE ({DIGEST}) <> '{digest}'"
    else:  # the check library, given the row type: fails when a price the live dim_product lacks appears
        prices = conn.execute(PRICES).fetchone()[0]
        check = f"SELECT * FROM weir.accepted_values(NULL::marts.dim_product, 'list_price_cents', ARRAY[{prices}])"
    install_library(conn)
    assert conn.execute(f"SELECT count(*) FROM ({check}) AS c").fetchone()[0] == 0  # passes on the live marts
    project = _run_copy(tmp_path, check)
    before = versions(conn)
    result = weir("--project", str(project), "--dsn", dsn, "run", "--atomic")
    assert result.exit_code == 1, result.output
    failed = [line for line in result.output.splitlines() if "nothing released (--atomic)" in line]
    assert len(failed) == 1 and "checks/marts/new_data.sql: check failed on this run's new versions" in failed[0]
    assert versions(conn) == before
    assert conn.execute(SHADOWS).fetchone()[0] == 0
    recorded = {name: (status, count) for name, status, count in conn.execute(LAST_CHECKS)}
    assert recorded.pop("marts/new_data")[0] == "fail"
    assert recorded and {status for status, _ in recorded.values()} <= {"pass", "warn"}
    # Every model of the build is recorded as not released, the check as what failed.
    statuses = {model: status for model, status in conn.execute(
        "SELECT model, status FROM weir.build_result WHERE run_id = (SELECT max(run_id) FROM weir.build_run)")}
    assert set(statuses.values()) == {"upstream-failed"}, statuses
    # Without the check, the same run releases the new versions.
    (project / "checks" / "marts" / "new_data.sql").unlink()
    again = weir("--project", str(project), "--dsn", dsn, "run", "--atomic")
    assert again.exit_code == 0, again.output
    assert versions(conn)["marts.dim_product"][1] != before["marts.dim_product"][1]


def test_run_atomic_a_failing_warn_check_does_not_stop_the_release(warehouse, tmp_path, weir):
    conn, dsn = warehouse
    sample_data.change_batch(conn, 2, 0.3)
    digest = conn.execute(DIGEST).fetchone()[0]
    project = _run_copy(tmp_path, f"SELECT 1 WHERE ({DIGEST}) <> '{digest}'", severity="warn")
    before = versions(conn)
    result = weir("--project", str(project), "--dsn", dsn, "run", "--atomic")
    assert result.exit_code == 0, result.output
    assert "released atomically, lock window " in result.output
    assert versions(conn)["marts.dim_product"][1] != before["marts.dim_product"][1]
    assert dict((name, status) for name, status, _ in conn.execute(LAST_CHECKS))["marts/new_data"] == "warn"
    assert conn.execute(SHADOWS).fetchone()[0] == 0


def test_run_atomic_passing_checks_release_and_are_recorded_once(warehouse, tmp_path, weir):
    conn, dsn = warehouse
    # A library check naming the relation in a string: it reads the dim_product built aside.
    check = "SELECT * FROM weir.row_count_between('marts.dim_product', 1, 100000000)"
    project = _run_copy(tmp_path, check)
    runs = conn.execute("SELECT count(*) FROM weir.check_run").fetchone()[0] if conn.execute(
        "SELECT to_regclass('weir.check_run')").fetchone()[0] else 0
    result = weir("--project", str(project), "--dsn", dsn, "run", "--atomic")
    assert result.exit_code == 0, result.output
    assert "released atomically" in result.output and "check:   " in result.output
    assert conn.execute("SELECT count(*) FROM weir.check_run").fetchone()[0] == runs + 1
    recorded = {name: status for name, status, _ in conn.execute(LAST_CHECKS)}
    assert recorded["marts/new_data"] == "pass"
    assert len(recorded) == len(Project.load(project).checks)
    assert conn.execute(SHADOWS).fetchone()[0] == 0
