"""weir build: order, parallelism, skipping, failures, history, concurrent runs, ls and lineage."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from runner.build.report import BuildEvent, BuildReport
from runner.build.run import build, lineage, list_models
from runner.db.connection import connect
from runner.db.locking import run_lock
from runner.errors import ConfigError, LockHeld, ProjectFileError
from runner.project import Project

RAW = """
CREATE SCHEMA raw;
CREATE TABLE raw.customers (
    customer_id int PRIMARY KEY, name text NOT NULL, updated_at timestamptz NOT NULL
);
CREATE INDEX ON raw.customers (updated_at);
CREATE TABLE raw.orders (
    order_id int PRIMARY KEY, customer_id int NOT NULL, amount numeric NOT NULL,
    ordered_at timestamptz NOT NULL, updated_at timestamptz NOT NULL
);
CREATE INDEX ON raw.orders (updated_at);
-- No timestamp column: only the statistics counters and relfilenode show its changes.
CREATE TABLE raw.codes (code text PRIMARY KEY, label text NOT NULL);
INSERT INTO raw.customers VALUES (1, 'Ada', '2024-01-01'), (2, 'Grace', '2024-01-01');
INSERT INTO raw.orders VALUES
    (10, 1, 5.00, '2024-01-02 10:00', '2024-01-02 10:00'),
    (11, 1, 7.50, '2024-01-02 11:00', '2024-01-02 11:00'),
    (12, 2, 1.25, '2024-01-03 09:00', '2024-01-03 09:00');
INSERT INTO raw.codes VALUES ('a', 'Alpha'), ('b', 'Beta');
"""

MODELS = {
    "staging/stg_customers.sql": "SELECT customer_id, name, updated_at FROM raw.customers",
    "staging/stg_orders.sql": "-- weir: tags=orders\nSELECT * FROM raw.orders",
    "marts/customer_totals.sql": (
        "-- weir: kind=table, description=\"Spend per customer\"\n"
        "SELECT c.customer_id, c.name, coalesce(sum(o.amount), 0) AS total\n"
        "FROM staging.stg_customers AS c\n"
        "LEFT JOIN staging.stg_orders AS o USING (customer_id)\n"
        "GROUP BY c.customer_id, c.name"
    ),
    "marts/fact_orders.sql": (
        "-- weir: kind=incremental, unique_key=order_id, watermark=updated_at, tags=orders\n"
        "SELECT order_id, customer_id, amount, ordered_at, updated_at\n"
        "FROM staging.stg_orders\n"
        "WHERE updated_at > weir.since('marts.fact_orders')"
    ),
    "marts/daily.sql": (
        "-- weir: kind=table\n"
        "SELECT ordered_at::date AS day, sum(amount) AS amount FROM marts.fact_orders GROUP BY 1"
    ),
    "marts/dim_codes.sql": "-- weir: kind=table\nSELECT code, label FROM raw.codes",
}
ORDER = [
    "marts.dim_codes",
    "staging.stg_customers",
    "staging.stg_orders",
    "marts.customer_totals",
    "marts.fact_orders",
    "marts.daily",
]


def write_model(project: Path, relative: str, sql: str) -> Path:
    """Write models/<relative> in `project`."""
    path = project / "models" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sql)
    return path


@pytest.fixture
def warehouse(project: Path, db: psycopg.Connection, flush_statistics) -> Path:
    """A project with raw tables in the test database and models over them."""
    (project / "setup.cfg").write_text(
        "[weir]\nlock_timeout = 2s\nlock_retries = 1\nstatement_timeout = 60s\nlock_wait = 60s\n"
    )
    db.execute(RAW)
    flush_statistics(db)
    for relative, text in MODELS.items():
        write_model(project, relative, text)
    return project


def run(project: Path, dsn: str, **options) -> BuildReport:
    """Build `project` on `dsn`, on a connection named as `weir build` names its own."""
    with connect(dsn, "weir build") as conn:
        return build(conn, Project.load(project), **options)


def statuses(report: BuildReport) -> dict[str, str]:
    return {result.model: result.status for result in report.results}


# -- order, results, history ---------------------------------------------------------------------


def test_first_build_builds_everything_in_dependency_order(warehouse: Path, dsn: str, db) -> None:
    events: list[BuildEvent] = []
    report = run(warehouse, dsn, on_event=events.append)
    assert report.ok
    assert [result.model for result in report.results] == ORDER
    assert set(statuses(report).values()) == {"success"}
    started = [event.model for event in events if event.kind == "started"]
    finished = [event.model for event in events if event.kind == "finished"]
    assert started == finished == ORDER  # one thread: one at a time, in order
    assert db.execute("SELECT * FROM marts.customer_totals ORDER BY 1").fetchall() == [
        (1, "Ada", 12.5),
        (2, "Grace", 1.25),
    ]
    assert db.execute("SELECT count(*) FROM marts.fact_orders").fetchone()[0] == 3
    assert db.execute("SELECT day::text, amount FROM marts.daily ORDER BY 1").fetchall() == [
        ("2024-01-02", 12.5),
        ("2024-01-03", 1.25),
    ]
    fact = next(result for result in report.results if result.model == "marts.fact_orders")
    assert fact.inserted == 3 and fact.kind == "incremental"
    assert report.rows[0][:3] == ("marts.dim_codes", "table", "success")


def test_history_records_the_run_and_every_model(warehouse: Path, dsn: str, db) -> None:
    report = run(warehouse, dsn, select=["tag:orders+", "stg_customers"], exclude=["daily"], threads=2)
    assert report.ok, report.errors
    run_row = db.execute(
        "SELECT run_id, status, selectors, excludes, threads, full_refresh, finished_at IS NOT NULL, client"
        " FROM weir.build_run"
    ).fetchall()
    assert len(run_row) == 1
    run_id, status, selectors, excludes, threads, full_refresh, finished, client = run_row[0]
    assert (run_id, status, selectors, excludes, threads, full_refresh, finished) == (
        report.run_id, "success", ["tag:orders+", "stg_customers"], ["daily"], 2, False, True
    )
    assert client.startswith("weir build")
    rows = db.execute(
        "SELECT model, kind, status, inserted, error FROM weir.build_result WHERE run_id = %s ORDER BY model",
        (report.run_id,),
    ).fetchall()
    assert rows == [
        ("marts.customer_totals", "table", "success", 2, None),
        ("marts.fact_orders", "incremental", "success", 3, None),
        ("staging.stg_customers", "view", "success", 0, None),
        ("staging.stg_orders", "view", "success", 0, None),
    ]


# -- skipping ------------------------------------------------------------------------------------


def test_a_second_build_skips_everything(warehouse: Path, dsn: str, db) -> None:
    assert run(warehouse, dsn).ok
    before = db.execute("SELECT xmin::text, * FROM marts.customer_totals ORDER BY customer_id").fetchall()
    report = run(warehouse, dsn)
    assert report.ok
    assert set(statuses(report).values()) == {"skipped"}
    assert all(result.note.startswith("unchanged") for result in report.results)
    # Not rebuilt: the very same row versions are still there.
    assert db.execute("SELECT xmin::text, * FROM marts.customer_totals ORDER BY customer_id").fetchall() == before
    assert db.execute("SELECT count(*) FROM weir.build_result WHERE status = 'skipped'").fetchone()[0] == len(ORDER)


def test_an_insert_rebuilds_what_reads_it_and_nothing_else(warehouse: Path, dsn: str, db) -> None:
    assert run(warehouse, dsn).ok
    # No statistics flush: the indexed updated_at makes the insert visible at once.
    db.execute("INSERT INTO raw.orders VALUES (13, 2, 3.00, '2024-01-04 08:00', '2024-01-04 08:00')")
    report = run(warehouse, dsn)
    assert statuses(report) == {
        "marts.dim_codes": "skipped",
        "staging.stg_customers": "skipped",
        "staging.stg_orders": "skipped",
        "marts.customer_totals": "success",
        "marts.fact_orders": "success",
        "marts.daily": "success",
    }
    fact = next(result for result in report.results if result.model == "marts.fact_orders")
    assert (fact.inserted, fact.updated, fact.deleted) == (1, 0, 0)
    assert db.execute("SELECT total FROM marts.customer_totals WHERE customer_id = 2").fetchone()[0] == 4.25
    assert db.execute("SELECT count(*) FROM marts.daily").fetchone()[0] == 3


def test_an_update_of_an_indexed_timestamp_is_seen_without_statistics(warehouse: Path, dsn: str, db) -> None:
    assert run(warehouse, dsn).ok
    db.execute("UPDATE raw.customers SET name = 'Ada L.', updated_at = '2024-02-01' WHERE customer_id = 1")
    report = run(warehouse, dsn)
    assert statuses(report)["marts.customer_totals"] == "success"
    assert statuses(report)["marts.fact_orders"] == "skipped"
    assert db.execute("SELECT name FROM marts.customer_totals WHERE customer_id = 1").fetchone()[0] == "Ada L."


CHANGES_WITHOUT_A_TIMESTAMP = [
    "DELETE FROM raw.codes WHERE code = 'b'",
    "INSERT INTO raw.codes VALUES ('c', 'Gamma')",
    "UPDATE raw.codes SET label = 'ALPHA' WHERE code = 'a'",
    # Same row count: only the row versions tell.
    "DELETE FROM raw.codes WHERE code = 'b'; INSERT INTO raw.codes VALUES ('c', 'Gamma')",
]


@pytest.mark.parametrize("change", CHANGES_WITHOUT_A_TIMESTAMP)
def test_a_small_table_is_seen_exactly_without_waiting_for_statistics(warehouse: Path, dsn: str, db, change) -> None:
    without_tracking(db)
    assert run(warehouse, dsn).ok
    tokens = db.execute("SELECT inputs FROM weir.build_input WHERE model = 'marts.dim_codes'").fetchone()[0]
    assert "versions" in str(tokens)  # hashed row versions, not counters
    with db.transaction():
        db.execute(change)  # no statistics flush, and this session stays connected
    report = run(warehouse, dsn)
    assert statuses(report)["marts.dim_codes"] == "success"
    assert statuses(report)["marts.customer_totals"] == "skipped"


def without_tracking(db: psycopg.Connection) -> None:
    """Keep Weir's write-recording trigger off the test database's tables: the tokens of a table Weir may not alter."""
    db.execute(sql.SQL("ALTER DATABASE {} SET weir.track_writes = off").format(sql.Identifier(db.info.dbname)))


def without_hashing(db: psycopg.Connection) -> None:
    """Give every table of the test database the token of an untracked table too big to hash (0 bytes is the limit)."""
    without_tracking(db)
    db.execute(sql.SQL("ALTER DATABASE {} SET weir.token_hash_limit = 0").format(sql.Identifier(db.info.dbname)))


def test_a_large_table_is_seen_through_statistics_and_its_indexed_timestamp(
    warehouse: Path, dsn: str, db, flush_statistics
) -> None:
    without_hashing(db)
    assert run(warehouse, dsn).ok
    tokens = db.execute("SELECT inputs FROM weir.build_input WHERE model = 'marts.customer_totals'").fetchone()[0]
    assert "versions" not in str(tokens)  # counters and max(updated_at), not a hash
    assert statuses(run(warehouse, dsn))["marts.customer_totals"] == "skipped"
    db.execute("DELETE FROM raw.orders WHERE order_id = 12")  # a delete moves no timestamp
    flush_statistics(db)
    report = run(warehouse, dsn)
    assert statuses(report)["marts.customer_totals"] == "success"
    assert db.execute("SELECT total FROM marts.customer_totals WHERE customer_id = 2").fetchone()[0] == 0


def test_a_large_table_without_an_indexed_timestamp_is_never_skipped(warehouse: Path, dsn: str, db) -> None:
    without_hashing(db)
    assert run(warehouse, dsn).ok
    report = run(warehouse, dsn)
    assert statuses(report)["marts.dim_codes"] == "success"  # its counters alone could lag behind a change
    assert statuses(report)["marts.customer_totals"] == "skipped"


def test_truncate_is_seen_through_the_relfilenode(warehouse: Path, dsn: str, db) -> None:
    assert run(warehouse, dsn).ok
    db.execute("TRUNCATE raw.codes")
    report = run(warehouse, dsn)
    assert statuses(report)["marts.dim_codes"] == "success"
    assert db.execute("SELECT count(*) FROM marts.dim_codes").fetchone()[0] == 0


def test_a_source_behind_a_plain_view_is_followed(warehouse: Path, dsn: str, db, flush_statistics) -> None:
    db.execute("CREATE VIEW raw.code_view AS SELECT code, upper(label) AS label FROM raw.codes")
    write_model(warehouse, "marts/dim_codes.sql", "-- weir: kind=table\nSELECT code, label FROM raw.code_view")
    assert run(warehouse, dsn).ok
    db.execute("INSERT INTO raw.codes VALUES ('c', 'Gamma')")
    flush_statistics(db)
    assert statuses(run(warehouse, dsn))["marts.dim_codes"] == "success"
    # Redefining the view with the same tables is a change too.
    db.execute("CREATE OR REPLACE VIEW raw.code_view AS SELECT code, lower(label) AS label FROM raw.codes")
    assert statuses(run(warehouse, dsn))["marts.dim_codes"] == "success"
    assert db.execute("SELECT label FROM marts.dim_codes WHERE code = 'c'").fetchone()[0] == "gamma"
    assert statuses(run(warehouse, dsn))["marts.dim_codes"] == "skipped"


def test_a_dropped_relation_is_rebuilt(warehouse: Path, dsn: str, db) -> None:
    assert run(warehouse, dsn).ok
    db.execute("DROP TABLE marts.dim_codes")
    db.execute("DROP VIEW staging.stg_customers CASCADE")
    report = run(warehouse, dsn)
    assert report.ok
    assert statuses(report)["marts.dim_codes"] == "success"
    assert statuses(report)["staging.stg_customers"] == "success"
    assert db.execute("SELECT count(*) FROM marts.dim_codes").fetchone()[0] == 2


def test_a_model_reading_the_clock_is_never_skipped(warehouse: Path, dsn: str, db) -> None:
    write_model(warehouse, "marts/stamp.sql", "-- weir: kind=table\nSELECT clock_timestamp() AS built_at")
    assert run(warehouse, dsn).ok
    first = db.execute("SELECT built_at FROM marts.stamp").fetchone()[0]
    report = run(warehouse, dsn, select=["stamp"])
    assert statuses(report) == {"marts.stamp": "success"}
    assert db.execute("SELECT built_at FROM marts.stamp").fetchone()[0] > first


def test_a_model_calling_a_function_that_may_read_tables_is_never_skipped(warehouse: Path, dsn: str, db) -> None:
    db.execute(
        "CREATE FUNCTION raw.code_count() RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM raw.codes'"
    )
    db.execute("CREATE FUNCTION raw.twice(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT n * 2'")
    write_model(warehouse, "marts/counted.sql", "-- weir: kind=table\nSELECT raw.code_count() AS codes")
    write_model(warehouse, "marts/doubled.sql", "-- weir: kind=table\nSELECT raw.twice(21) AS answer, upper('x') AS x")
    assert run(warehouse, dsn).ok
    db.execute("INSERT INTO raw.codes VALUES ('c', 'Gamma')")  # seen only through code_count()
    report = run(warehouse, dsn, select=["counted", "doubled"])
    assert statuses(report) == {"marts.counted": "success", "marts.doubled": "skipped"}
    assert db.execute("SELECT codes FROM marts.counted").fetchone()[0] == 3


def test_changed_sql_rebuilds_the_model_and_what_reads_it(warehouse: Path, dsn: str, db) -> None:
    assert run(warehouse, dsn).ok
    write_model(
        warehouse,
        "staging/stg_orders.sql",
        "-- weir: tags=orders\n"
        "SELECT order_id, customer_id, amount * 2 AS amount, ordered_at, updated_at FROM raw.orders",
    )
    report = run(warehouse, dsn)
    assert report.ok
    assert statuses(report) == {
        "marts.dim_codes": "skipped",
        "staging.stg_customers": "skipped",
        "staging.stg_orders": "success",
        "marts.customer_totals": "success",
        "marts.fact_orders": "success",
        "marts.daily": "success",
    }
    # The incremental model read a view whose logic changed: rebuilt from scratch, not mixed.
    fact = next(result for result in report.results if result.model == "marts.fact_orders")
    assert "rebuilt from scratch because upstream staging.stg_orders was" in fact.note
    assert db.execute("SELECT sum(amount) FROM marts.fact_orders").fetchone()[0] == 27.5
    assert set(statuses(run(warehouse, dsn)).values()) == {"skipped"}


def test_full_refresh_builds_everything_again(warehouse: Path, dsn: str) -> None:
    assert run(warehouse, dsn).ok
    report = run(warehouse, dsn, full_refresh=True)
    assert report.ok and set(statuses(report).values()) == {"success"}


# -- failures ------------------------------------------------------------------------------------


def test_a_failure_skips_downstream_and_independent_models_go_on(warehouse: Path, dsn: str, db) -> None:
    write_model(
        warehouse,
        "marts/fact_orders.sql",
        "-- weir: kind=incremental, unique_key=order_id, watermark=updated_at\n"
        "SELECT order_id, customer_id, amount,\n"
        "       ordered_at, updated_at, no_such_column\n"
        "FROM staging.stg_orders WHERE updated_at > weir.since('marts.fact_orders')",
    )
    report = run(warehouse, dsn, threads=2)
    assert not report.ok
    assert statuses(report) == {
        "marts.dim_codes": "success",
        "staging.stg_customers": "success",
        "staging.stg_orders": "success",
        "marts.customer_totals": "success",
        "marts.fact_orders": "failed",
        "marts.daily": "upstream-failed",
    }
    failed = next(result for result in report.results if result.model == "marts.fact_orders")
    assert failed.error.startswith("models/marts/fact_orders.sql:3: column \"no_such_column\" does not exist")
    assert report.errors == [failed.error]
    daily = next(result for result in report.results if result.model == "marts.daily")
    assert daily.note == "not run: marts.fact_orders failed"
    assert report.counts() == {"success": 4, "skipped": 0, "failed": 1, "upstream-failed": 1}
    # Nothing of the failed model or its downstream exists; the run is recorded as failed.
    assert db.execute("SELECT to_regclass('marts.fact_orders'), to_regclass('marts.daily')").fetchone() == (None, None)
    assert db.execute("SELECT status FROM weir.build_run").fetchall() == [("failed",)]
    assert db.execute(
        "SELECT model, status, error IS NOT NULL FROM weir.build_result WHERE status <> 'success' ORDER BY model"
    ).fetchall() == [("marts.daily", "upstream-failed", False), ("marts.fact_orders", "failed", True)]

    # Fix the SQL and re-run: it picks up where it failed.
    write_model(warehouse, "marts/fact_orders.sql", MODELS["marts/fact_orders.sql"])
    again = run(warehouse, dsn, threads=2)
    assert again.ok
    assert statuses(again) == {
        "marts.dim_codes": "skipped",
        "staging.stg_customers": "skipped",
        "staging.stg_orders": "skipped",
        "marts.customer_totals": "skipped",
        "marts.fact_orders": "success",
        "marts.daily": "success",
    }
    assert db.execute("SELECT status FROM weir.build_run ORDER BY run_id").fetchall() == [("failed",), ("success",)]


def test_a_failure_at_run_time_rolls_the_model_back(warehouse: Path, dsn: str, db) -> None:
    assert run(warehouse, dsn).ok
    write_model(warehouse, "marts/dim_codes.sql", "-- weir: kind=table\nSELECT code, 1 / 0 AS label FROM raw.codes")
    report = run(warehouse, dsn)
    assert statuses(report)["marts.dim_codes"] == "failed"
    assert "division by zero" in report.errors[0]
    assert report.errors[0].startswith("models/marts/dim_codes.sql:")
    # The previous good version is still there.
    assert db.execute("SELECT count(*), min(label) FROM marts.dim_codes").fetchone() == (2, "Alpha")
    # A failed model is not "unchanged" next time: it is tried again.
    assert statuses(run(warehouse, dsn))["marts.dim_codes"] == "failed"


# -- selection and bad projects -------------------------------------------------------------------


def test_selection_builds_only_what_is_selected(warehouse: Path, dsn: str) -> None:
    report = run(warehouse, dsn, select=["+fact_orders"])
    assert [result.model for result in report.results] == ["staging.stg_orders", "marts.fact_orders"]
    assert statuses(report) == {"staging.stg_orders": "success", "marts.fact_orders": "success"}


def test_bad_selectors_and_bad_files_fail_before_any_database_work(warehouse: Path, dsn: str, db) -> None:
    with pytest.raises(ConfigError, match=r"no model named 'fact_order'; did you mean fact_orders or stg_orders\?"):
        run(warehouse, dsn, select=["fact_order"])
    write_model(warehouse, "marts/loop.sql", "-- weir: kind=table\nSELECT * FROM marts.loop2")
    write_model(warehouse, "marts/loop2.sql", "-- weir: kind=table\nSELECT * FROM marts.loop")
    with pytest.raises(ProjectFileError, match=r"^models/marts/loop\.sql:2: cycle: marts\.loop -> marts\.loop2"):
        run(warehouse, dsn)
    with pytest.raises(ConfigError, match="--threads 0"):
        run(warehouse, dsn, threads=0)
    assert db.execute("SELECT to_regnamespace('weir')").fetchone()[0] is None


def test_an_empty_project_builds_nothing(project: Path, dsn: str) -> None:
    report = run(project, dsn)
    assert report.ok and report.results == [] and report.rows == []


# -- parallelism and concurrent builds -------------------------------------------------------------

GATE = 4242  # an advisory lock the test holds to stop a model mid-build


def gated_model(project: Path, name: str) -> None:
    """Write a table model whose build waits for the test's advisory lock GATE (schema 'early': built first)."""
    write_model(
        project,
        f"early/{name}.sql",
        f"-- weir: kind=table\nSELECT 1 AS id FROM (SELECT pg_advisory_xact_lock_shared({GATE})) AS gate",
    )


def test_independent_models_run_in_parallel_up_to_threads(project: Path, dsn: str, db) -> None:
    # early.gated waits for the gate; the others finish meanwhile, and the last one opens the gate.
    (project / "setup.cfg").write_text("[weir]\nstatement_timeout = 60s\n")  # a failure, not a hang
    gated_model(project, "gated")
    for name in ("b", "c", "d", "e"):
        write_model(project, f"free/{name}.sql", f"-- weir: kind=table\nSELECT '{name}' AS name")
    db.execute("SELECT pg_advisory_lock(%s)", (GATE,))
    in_flight: set[str] = set()
    most = 0
    finished_while_gated: list[str] = []

    def on_event(event: BuildEvent) -> None:
        nonlocal most
        if event.kind == "started":
            in_flight.add(event.model)
            most = max(most, len(in_flight))
        elif event.kind == "finished":
            in_flight.discard(event.model)
            if "early.gated" in in_flight:
                finished_while_gated.append(event.model)
            if len(finished_while_gated) == 4:
                db.execute("SELECT pg_advisory_unlock(%s)", (GATE,))

    report = run(project, dsn, threads=2, on_event=on_event)
    assert report.ok
    assert finished_while_gated == ["free.b", "free.c", "free.d", "free.e"]
    assert most == 2


def test_a_second_build_waits_for_the_first_and_is_told_who(warehouse: Path, dsn: str, db) -> None:
    gated_model(warehouse, "slow")
    db.execute("SELECT pg_advisory_lock(%s)", (GATE,))
    first_is_building = threading.Event()
    reports: dict[str, BuildReport] = {}
    waiting: list[str] = []

    def first_events(event: BuildEvent) -> None:
        if event.kind == "started" and event.model == "early.slow":
            first_is_building.set()

    def first() -> None:
        reports["first"] = run(warehouse, dsn, on_event=first_events)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert first_is_building.wait(60)

        def second_events(event: BuildEvent) -> None:
            if event.kind == "waiting":
                waiting.append(event.message)
                db.execute("SELECT pg_advisory_unlock(%s)", (GATE,))  # let the first build finish

        reports["second"] = run(warehouse, dsn, on_event=second_events)
    finally:
        thread.join(120)
    assert len(waiting) == 1
    assert waiting[0].startswith("waiting up to 60s for the weir:build lock, held by pid ")
    assert "weir build" in waiting[0]
    assert reports["first"].ok and reports["second"].ok
    assert set(statuses(reports["first"]).values()) == {"success"}
    assert set(statuses(reports["second"]).values()) == {"skipped"}
    assert db.execute("SELECT status FROM weir.build_run ORDER BY run_id").fetchall() == [("success",)] * 2


def test_a_build_gives_up_after_lock_wait(warehouse: Path, dsn: str, db) -> None:
    (warehouse / "setup.cfg").write_text("[weir]\nlock_wait = 0\n")
    with run_lock(db, "weir:build", "1s"):
        with pytest.raises(LockHeld, match=r"the weir:build lock is still held after 0, by pid \d+"):
            run(warehouse, dsn)


def test_a_run_killed_midway_is_marked_interrupted(warehouse: Path, dsn: str, db) -> None:
    assert run(warehouse, dsn).ok
    db.execute("UPDATE weir.build_run SET status = 'running', finished_at = NULL")  # as a SIGKILL leaves it
    assert run(warehouse, dsn).ok
    assert db.execute("SELECT status FROM weir.build_run ORDER BY run_id").fetchall() == [
        ("interrupted",),
        ("success",),
    ]


# -- ls and lineage --------------------------------------------------------------------------------


def test_list_models_shows_kind_upstream_and_last_build(warehouse: Path, dsn: str) -> None:
    project = Project.load(warehouse)
    with connect(dsn) as conn:
        before = list_models(conn, project)
    assert [row[:3] for row in before] == [
        ("marts.dim_codes", "table", ""),
        ("staging.stg_customers", "view", ""),
        ("staging.stg_orders", "view", ""),
        ("marts.customer_totals", "table", "staging.stg_customers, staging.stg_orders"),
        ("marts.fact_orders", "incremental", "staging.stg_orders"),
        ("marts.daily", "table", "marts.fact_orders"),
    ]
    assert all(row[3] is None for row in before)
    assert run(warehouse, dsn, select=["dim_codes"]).ok
    with connect(dsn) as conn:
        after = {row[0]: row[3] for row in list_models(conn, project)}
    assert after["marts.dim_codes"] is not None and after["marts.daily"] is None


def test_lineage_lists_upstream_and_downstream(warehouse: Path) -> None:
    project = Project.load(warehouse)
    assert lineage(project, "fact_orders") == (["staging.stg_orders"], ["marts.daily"])
    downstream = ["marts.customer_totals", "marts.fact_orders", "marts.daily"]
    assert lineage(project, "staging.stg_orders") == ([], downstream)
    with pytest.raises(ConfigError, match="no model named 'nope'"):
        lineage(project, "nope")


KILLABLE_BUILD = """
import sys
from pathlib import Path

from runner.build.run import build
from runner.db.connection import connect
from runner.project import Project


def on_event(event):
    if event.kind == "started":
        print(event.model, flush=True)


build(connect(sys.argv[1], "weir build"), Project.load(Path(sys.argv[2])), on_event=on_event)
"""


def test_a_build_killed_with_sigkill_is_finished_by_the_next_one(warehouse: Path, dsn: str, db) -> None:
    gated_model(warehouse, "slow")
    db.execute("SELECT pg_advisory_lock(%s)", (GATE,))
    process = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_BUILD, dsn, str(warehouse)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert process.stdout.readline().strip() == "early.slow"  # it is building, stuck at the gate
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        process.stdout.close()
    db.execute("SELECT pg_advisory_unlock(%s)", (GATE,))
    # The killed build's lock died with its connection: the next build neither waits long nor fails.
    report = run(warehouse, dsn)
    assert report.ok
    assert set(statuses(report).values()) == {"success"}
    assert db.execute("SELECT status FROM weir.build_run ORDER BY run_id").fetchall() == [
        ("interrupted",),
        ("success",),
    ]
    assert db.execute("SELECT count(*) FROM early.slow").fetchone()[0] == 1
    assert set(statuses(run(warehouse, dsn)).values()) == {"skipped"}
