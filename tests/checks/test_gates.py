"""Gates and quarantine: checks run inside a model's build transaction, before it commits."""

from __future__ import annotations

import json
import re
from decimal import Decimal as D
from pathlib import Path

import psycopg
import pytest

from runner.build.graph import ModelGraph
from runner.build.report import BuildReport
from runner.build.run import build
from runner.db.connection import connect
from runner.errors import ProjectFileError
from runner.pipeline import run_pipeline
from runner.project import Project
from runner.project.gates import read_gates
from runner.project.models import read_models
from runner.project.settings import load_settings

RAW = """
CREATE SCHEMA raw;
CREATE TABLE raw.orders (
    order_id int PRIMARY KEY, customer text NOT NULL, amount numeric NOT NULL, updated_at timestamptz NOT NULL
);
CREATE INDEX ON raw.orders (updated_at);
CREATE TABLE raw.codes (code text PRIMARY KEY, label text NOT NULL);
INSERT INTO raw.orders VALUES
    (1, 'ada', 5.00, '2024-01-01 10:00'),
    (2, 'ada', 7.50, '2024-01-01 11:00'),
    (3, 'grace', 1.25, '2024-01-02 09:00');
INSERT INTO raw.codes VALUES ('a', 'Alpha');
"""

MODELS = {
    "marts/orders.sql": "-- weir: kind=table\nSELECT order_id, customer, amount, updated_at FROM raw.orders",
    "marts/fact_orders.sql": (
        "-- weir: kind=incremental, unique_key=order_id, watermark=updated_at, lookback=10 days\n"
        "SELECT order_id, customer, amount, updated_at\n"
        "FROM raw.orders\n"
        "WHERE updated_at > weir.since('marts.fact_orders')"
    ),
    "marts/per_customer.sql": (
        "-- weir: kind=table\nSELECT customer, sum(amount) AS amount FROM marts.orders GROUP BY customer"
    ),
    "marts/fact_per_customer.sql": (
        "-- weir: kind=table\nSELECT customer, sum(amount) AS amount FROM marts.fact_orders GROUP BY customer"
    ),
    "marts/codes.sql": "-- weir: kind=table\nSELECT code, label FROM raw.codes",
}

POSITIVE = (
    "-- weir: gate={model}\n-- A refund is its own row, never a negative order.\n"
    "SELECT *\nFROM {model}\nWHERE amount < 0\n"
)


def write(project: Path, relative: str, text: str) -> Path:
    """Write `relative` (e.g. models/marts/x.sql or checks/x.sql) in `project`."""
    path = project / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def warehouse(project: Path, db: psycopg.Connection, flush_statistics) -> Path:
    """A project with raw tables in the test database and models over them; no checks yet."""
    (project / "setup.cfg").write_text(
        "[weir]\nlock_timeout = 2s\nlock_retries = 1\nstatement_timeout = 60s\nlock_wait = 60s\n"
    )
    db.execute(RAW)
    flush_statistics(db)
    for relative, sql in MODELS.items():
        write(project, f"models/{relative}", sql)
    return project


def run(project: Path, dsn: str, **options) -> BuildReport:
    with connect(dsn, "weir build") as conn:
        return build(conn, Project.load(project), **options)


def by_model(report: BuildReport) -> dict:
    return {result.model: result for result in report.results}


def rows(db: psycopg.Connection, query: str) -> list[tuple]:
    return db.execute(query).fetchall()


# -- a failing gate keeps the previous good version ----------------------------------------------


def test_failing_gate_keeps_the_old_table_skips_downstream_and_builds_the_rest(
    warehouse, dsn, db, flush_statistics, weir
) -> None:
    write(warehouse, "checks/orders_positive.sql", POSITIVE.format(model="marts.orders"))
    assert run(warehouse, dsn).ok
    before = rows(db, "SELECT * FROM marts.orders ORDER BY order_id")
    db.execute("INSERT INTO raw.orders VALUES (4, 'grace', -3.00, '2024-01-03 08:00')")
    db.execute("INSERT INTO raw.codes VALUES ('b', 'Beta')")
    flush_statistics(db)

    report = run(warehouse, dsn)

    results = by_model(report)
    assert not report.ok
    assert results["marts.orders"].status == "failed"
    assert re.fullmatch(
        r'checks/orders_positive\.sql: gate failed: 1 row \(first rows: \{"amount": -3\.00, "customer": "grace",'
        r' "order_id": 4, "updated_at": "2024-01-0[23]T[0-9:+-]+"\}\); marts\.orders keeps its previous version',
        results["marts.orders"].error,
    )
    assert results["marts.per_customer"].status == "upstream-failed"
    assert results["marts.codes"].status == "success"  # independent of the failure, and its source changed
    assert rows(db, "SELECT * FROM marts.orders ORDER BY order_id") == before
    assert rows(db, "SELECT code FROM marts.codes ORDER BY code") == [("a",), ("b",)]
    recorded = rows(db, f"SELECT status, error FROM weir.build_result WHERE run_id = {report.run_id}"
                        " AND model = 'marts.orders'")
    assert recorded == [("failed", results["marts.orders"].error)]
    gate = rows(db, "SELECT build_run_id, model, check_name, status, violations, sample->0->>'order_id'"
                    " FROM weir.gate_result ORDER BY gate_result_id DESC LIMIT 1")
    assert gate == [(report.run_id, "marts.orders", "orders_positive", "fail", 1, "4")]
    shown = weir("status", "--project", str(warehouse), "--dsn", dsn, "--json")
    assert [(row["gate"], row["model"], row["status"], row["violations"], row["build run"])
            for row in json.loads(shown.stdout)["results"]["gates"]] == [("orders_positive", "marts.orders", "fail", 1,
                                                                report.run_id)]


def test_failing_gate_message_names_the_file_the_count_and_the_first_rows(warehouse, dsn, db, flush_statistics) -> None:
    write(warehouse, "checks/orders_positive.sql", POSITIVE.format(model="marts.orders"))
    db.execute("INSERT INTO raw.orders VALUES (4, 'grace', -3.00, '2024-01-03 08:00'),"
               " (5, 'ada', -1.00, '2024-01-03 09:00')")
    flush_statistics(db)

    error = by_model(run(warehouse, dsn))["marts.orders"].error

    assert error.startswith("checks/orders_positive.sql: gate failed: 2 rows (first rows: {")
    assert '"order_id": 4' in error and '"order_id": 5' in error
    assert error.endswith("; marts.orders keeps its previous version")
    assert db.execute("SELECT to_regclass('marts.orders')").fetchone()[0] is None  # never built: nothing to keep


def test_failing_gate_keeps_the_old_incremental_rows_and_watermark(warehouse, dsn, db, flush_statistics) -> None:
    write(warehouse, "checks/fact_positive.sql", POSITIVE.format(model="marts.fact_orders"))
    assert run(warehouse, dsn, select=["marts.fact_orders"]).ok
    state = "SELECT watermark, run_id FROM weir.model_state WHERE model = 'marts.fact_orders'"
    before_state = rows(db, state)
    before = rows(db, "SELECT * FROM marts.fact_orders ORDER BY order_id")
    db.execute("INSERT INTO raw.orders VALUES (4, 'grace', -3.00, '2024-01-05 08:00'),"
               " (5, 'ada', 2.00, '2024-01-05 09:00')")
    db.execute("UPDATE raw.orders SET amount = 9.99, updated_at = '2024-01-05 10:00' WHERE order_id = 1")
    flush_statistics(db)

    report = run(warehouse, dsn)

    results = by_model(report)
    assert results["marts.fact_orders"].status == "failed"
    assert results["marts.fact_per_customer"].status == "upstream-failed"
    assert results["marts.orders"].status == "success"
    assert rows(db, "SELECT * FROM marts.fact_orders ORDER BY order_id") == before
    assert rows(db, state) == before_state

    db.execute("UPDATE raw.orders SET amount = 3.00, updated_at = '2024-01-06 08:00' WHERE order_id = 4")
    flush_statistics(db)
    fixed = run(warehouse, dsn)
    assert fixed.ok, fixed.errors
    assert rows(db, "SELECT order_id, amount FROM marts.fact_orders ORDER BY order_id") == [
        (1, D("9.99")), (2, D("7.50")), (3, D("1.25")), (4, D("3.00")), (5, D("2.00")),
    ]
    assert str(rows(db, state)[0][0]).startswith("2024-01-06 08:00")


def test_a_gate_that_cannot_run_fails_its_model_with_the_line(warehouse, dsn, db) -> None:
    write(warehouse, "checks/orders_bad_sql.sql",
          "-- weir: gate=marts.orders\nSELECT *\nFROM marts.orders\nWHERE amount_cents < 0\n")
    report = run(warehouse, dsn, select=["marts.orders"])
    result = by_model(report)["marts.orders"]
    assert result.status == "failed"
    assert result.error.startswith(
        'checks/orders_bad_sql.sql:4: gate could not run: column "amount_cents" does not exist'
    )
    assert rows(db, "SELECT status, violations FROM weir.gate_result") == [("error", None)]


# -- passing and warning gates -------------------------------------------------------------------


def test_passing_gate_lets_the_model_commit_and_is_recorded_with_it(warehouse, dsn, db) -> None:
    write(warehouse, "checks/orders_positive.sql", POSITIVE.format(model="marts.orders"))
    report = run(warehouse, dsn)
    assert report.ok
    result = by_model(report)["marts.orders"]
    assert (result.status, result.inserted) == ("success", 3)
    assert "1 gate passed" in result.note
    assert rows(db, "SELECT count(*) FROM marts.orders") == [(3,)]
    assert rows(db, "SELECT build_run_id, check_name, status, violations FROM weir.gate_result") == [
        (report.run_id, "orders_positive", "pass", 0)
    ]


def test_library_function_gate_runs_in_the_build(warehouse, dsn, db) -> None:
    write(warehouse, "checks/orders_not_null.sql",
          "-- weir: gate=marts.orders\nSELECT * FROM weir.not_null(NULL::marts.orders, 'customer')\n")
    write(warehouse, "models/marts/orders.sql",
          "-- weir: kind=table\nSELECT order_id, nullif(customer, 'grace') AS customer, amount, updated_at"
          " FROM raw.orders")
    report = run(warehouse, dsn, select=["marts.orders"])
    error = by_model(report)["marts.orders"].error
    assert error.startswith('checks/orders_not_null.sql: gate failed: 1 row (first rows: {')
    assert '"order_id": 3' in error


def test_warn_gate_only_notes(warehouse, dsn, db) -> None:
    write(warehouse, "checks/orders_small.sql",
          "-- weir: gate=marts.orders, severity=warn\nSELECT * FROM marts.orders WHERE amount < 2\n")
    report = run(warehouse, dsn)
    assert report.ok
    result = by_model(report)["marts.orders"]
    assert result.status == "success"
    assert 'checks/orders_small.sql: gate warns: 1 row (first rows: {' in result.note
    assert rows(db, "SELECT count(*) FROM marts.orders") == [(3,)]
    assert rows(db, "SELECT status, violations FROM weir.gate_result") == [("warn", 1)]


def test_error_gate_below_its_threshold_passes(warehouse, dsn, db, flush_statistics) -> None:
    write(warehouse, "checks/orders_small.sql",
          '-- weir: gate=marts.orders, error_if="> 1"\nSELECT * FROM marts.orders WHERE amount < 6\n')
    first = run(warehouse, dsn, select=["marts.orders"])
    assert by_model(first)["marts.orders"].status == "failed"
    assert "gate failed: 2 rows, error_if > 1 (first rows:" in by_model(first)["marts.orders"].error
    db.execute("UPDATE raw.orders SET amount = 6 WHERE order_id = 1")
    flush_statistics(db)
    assert run(warehouse, dsn, select=["marts.orders"]).ok


def test_adding_a_gate_to_an_unchanged_model_runs_it_at_the_next_build(warehouse, dsn, db) -> None:
    assert run(warehouse, dsn).ok
    assert by_model(run(warehouse, dsn))["marts.orders"].status == "skipped"
    write(warehouse, "checks/orders_small.sql",
          "-- weir: gate=marts.orders\nSELECT * FROM marts.orders WHERE amount < 2\n")
    report = run(warehouse, dsn)
    assert by_model(report)["marts.orders"].status == "failed"
    assert by_model(report)["marts.codes"].status == "skipped"


def test_replacing_an_outdated_rejected_table_waits_for_its_reader_only_as_long_as_lock_timeout(
    warehouse, dsn, db, flush_statistics
) -> None:
    # statement_timeout ends a wait without lock_timeout: the test fails rather than hangs.
    (warehouse / "setup.cfg").write_text("[weir]\nlock_timeout = 100ms\nlock_retries = 0\nstatement_timeout = 20s\n")
    db.execute(BAD_ROWS)
    flush_statistics(db)
    write(warehouse, "checks/orders_quarantine.sql", QUARANTINE.format(model="marts.orders"))
    assert run(warehouse, dsn, select=["marts.orders"]).ok
    # New columns: the rebuilt table's __rejected no longer fits and is replaced, in the same transaction.
    write(warehouse, "models/marts/orders.sql",
          "-- weir: kind=table\nSELECT order_id, customer, amount, updated_at, 1 AS v FROM raw.orders")
    with psycopg.connect(dsn, autocommit=True, application_name="long report") as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM marts.orders__rejected")
        pid = reader.info.backend_pid
        result = by_model(run(warehouse, dsn, select=["marts.orders"]))["marts.orders"]
        reader.execute("ROLLBACK")
    assert result.status == "failed"
    assert re.fullmatch(
        r"models/marts/orders\.sql:2: could not replace marts\.orders__rejected in 1 tries of lock_timeout=100ms:"
        rf" pid {pid} \(long report, .*\) holds a lock on marts\.orders__rejected;"
        r" marts\.orders keeps its previous version: re-run when that transaction ends, or raise lock_timeout"
        r" or lock_retries in \[weir\]",
        result.error,
    ), result.error
    new_column = "SELECT count(*) FROM pg_attribute WHERE attrelid = 'marts.orders'::regclass AND attname = 'v'"
    assert rows(db, new_column) == [(0,)]  # the previous version stays
    assert rows(db, "SELECT count(*) FROM marts.orders__rejected") == [(3,)]


# -- declarations checked when the project is read -----------------------------------------------

def run_offline(project: Path, dsn: str) -> BuildReport:
    """Build `project` on a closed connection: only an error raised before any database work gets out."""
    conn = connect(dsn)
    conn.close()
    return build(conn, Project.load(project))


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (
            "-- weir: tags=x\n-- weir: gate=marts.order\nSELECT * FROM marts.orders WHERE amount < 0\n",
            "checks/bad.sql:2: gate=marts.order names no model; did you mean marts.orders",
        ),
        (
            "-- weir: gate=marts.orders\nSELECT o.*\nFROM marts.orders AS o\n"
            "JOIN raw.codes AS c ON c.code = o.customer\n",
            "checks/bad.sql:4: gate=marts.orders reads raw.codes; a gate runs inside its model's build and may"
            " read only marts.orders",
        ),
        (
            "-- weir: gate=marts.orders\nSELECT *\nFROM marts.fact_orders\n",
            "checks/bad.sql:3: gate=marts.orders reads marts.fact_orders;",
        ),
        (
            "-- weir: gate=marts.orders\nSELECT * FROM weir.relationships(\n"
            "    NULL::marts.orders, 'customer', 'raw.customers', 'customer')\n",
            "checks/bad.sql:2: gate=marts.orders reads raw.customers;",
        ),
        (
            "-- weir: gate=marts.orders\nSELECT * FROM weir.not_null(NULL::marts.codes, 'code')\n",
            "checks/bad.sql:2: gate=marts.orders reads marts.codes;",
        ),
        (
            "-- weir: gate=marts.orders\nSELECT 1 WHERE false\n",
            "checks/bad.sql:2: a gate checks its model, and this check reads no relation",
        ),
    ],
    ids=["unknown-model", "joins-a-source", "other-model", "library-parent", "library-other-model", "reads-nothing"],
)
def test_invalid_gate_declarations_are_project_errors_before_any_database_work(warehouse, dsn, check, message) -> None:
    write(warehouse, "checks/bad.sql", check)
    with pytest.raises(ProjectFileError) as raised:
        run_offline(warehouse, dsn)
    assert str(raised.value).startswith(message)


def test_quarantine_on_a_view_is_a_project_error(warehouse, dsn) -> None:
    write(warehouse, "models/staging/stg_orders.sql", "SELECT * FROM raw.orders")
    write(warehouse, "checks/bad.sql",
          "-- weir: gate=staging.stg_orders, quarantine=true\nSELECT * FROM staging.stg_orders WHERE amount < 0\n")
    with pytest.raises(ProjectFileError, match=r"^checks/bad.sql:1: quarantine=true on staging.stg_orders, a view"):
        run_offline(warehouse, dsn)


def test_valid_gates_are_read_quarantine_first(warehouse) -> None:
    write(warehouse, "checks/a_plain.sql", POSITIVE.format(model="marts.orders"))
    write(warehouse, "checks/z_quarantine.sql",
          "-- weir: gate=marts.orders, quarantine=true\nSELECT * FROM orders WHERE amount = 0\n")
    write(warehouse, "checks/library.sql",
          "-- weir: gate=marts.orders\nSELECT * FROM weir.row_count_between('marts.orders'::regclass, 1, 10)\n"
          "UNION ALL SELECT * FROM weir.row_count_between('marts.orders', 1, 10)\n")
    write(warehouse, "checks/plain_check.sql", "SELECT * FROM raw.orders WHERE amount < 0\n")
    settings = load_settings(warehouse)
    gates = read_gates(settings, ModelGraph(read_models(settings.models_dir, settings.root)).models.values())
    assert {model: [check.name for check in checks] for model, checks in gates.items()} == {
        "marts.orders": ["z_quarantine", "a_plain", "library"]
    }


# -- quarantine ----------------------------------------------------------------------------------

BAD_ROWS = """
INSERT INTO raw.orders VALUES
    (4, 'grace', -3.00, '2024-01-03 08:00'),
    (5, 'ada', 0.00, '2024-01-03 09:00'),
    (6, 'grace', 4.00, '2024-01-03 10:00'),
    (7, 'ada', -8.00, '2024-01-03 11:00');
"""
QUARANTINE = (
    "-- weir: gate={model}, quarantine=true\n"
    '-- weir: description="amount is not positive"\n'
    "SELECT * FROM {model} WHERE amount <= 0\n"
)


@pytest.mark.parametrize("unique_key", [False, True], ids=["rows-matched-whole", "rows-matched-by-key"])
def test_quarantine_moves_bad_rows_of_a_table_and_accounts_for_every_row(
    warehouse, dsn, db, unique_key, flush_statistics
) -> None:
    if unique_key:
        write(warehouse, "models/marts/orders.sql",
              "-- weir: kind=table, unique_key=order_id\nSELECT order_id, customer, amount, updated_at FROM raw.orders")
    write(warehouse, "checks/orders_quarantine.sql", QUARANTINE.format(model="marts.orders"))
    db.execute(BAD_ROWS)
    flush_statistics(db)

    report = run(warehouse, dsn)

    result = by_model(report)["marts.orders"]
    assert report.ok, report.errors
    assert result.inserted == 4  # loaded; the 3 others are in __rejected
    assert "checks/orders_quarantine.sql: quarantined 3 rows to marts.orders__rejected" in result.note
    assert rows(db, "SELECT order_id FROM marts.orders ORDER BY 1") == [(1,), (2,), (3,), (6,)]
    assert rows(db, "SELECT order_id, amount, rejected_reason, rejected_by_check, rejected_run_id"
                    " FROM marts.orders__rejected ORDER BY 1") == [
        (4, D("-3.00"), "amount is not positive", "orders_quarantine", report.run_id),
        (5, D("0.00"), "amount is not positive", "orders_quarantine", report.run_id),
        (7, D("-8.00"), "amount is not positive", "orders_quarantine", report.run_id),
    ]
    assert rows(db, "SELECT count(*) FROM marts.orders__rejected WHERE rejected_at IS NULL") == [(0,)]
    per_customer = rows(db, "SELECT customer, amount FROM marts.per_customer ORDER BY 1")
    assert per_customer == [("ada", D("12.50")), ("grace", D("5.25"))]
    assert rows(db, "SELECT status, violations, rejected FROM weir.gate_result") == [("quarantined", 3, 3)]

    # A rebuilt table's __rejected describes the new version: not accumulated across builds.
    db.execute("UPDATE raw.orders SET amount = 1 WHERE order_id = 5")
    flush_statistics(db)
    second = run(warehouse, dsn)
    assert second.ok
    loaded = rows(db, "SELECT count(*) FROM marts.orders")[0][0]
    rejected = rows(db, "SELECT order_id, rejected_run_id FROM marts.orders__rejected ORDER BY 1")
    assert rejected == [(4, second.run_id), (7, second.run_id)]
    assert loaded + len(rejected) == rows(db, "SELECT count(*) FROM raw.orders")[0][0] == 7


def test_quarantine_over_incremental_batches_never_duplicates_a_rejected_key(
    warehouse, dsn, db, flush_statistics
) -> None:
    write(warehouse, "checks/fact_quarantine.sql", QUARANTINE.format(model="marts.fact_orders"))
    db.execute(BAD_ROWS)
    flush_statistics(db)
    first = run(warehouse, dsn, select=["marts.fact_orders"])
    assert first.ok, first.errors
    assert rows(db, "SELECT order_id FROM marts.fact_orders__rejected ORDER BY 1") == [(4,), (5,), (7,)]

    # Batch 2, inside the 10-day lookback: 4 and 7 come back unchanged and still bad; 5 is
    # fixed; 3 turns bad; 8 is new and bad, 9 new and good.
    db.execute("""
        UPDATE raw.orders SET amount = 2.00, updated_at = '2024-01-04 08:00' WHERE order_id = 5;
        UPDATE raw.orders SET amount = -1.00, updated_at = '2024-01-04 09:00' WHERE order_id = 3;
        INSERT INTO raw.orders VALUES (8, 'ada', -2.00, '2024-01-04 10:00'), (9, 'ada', 3.00, '2024-01-04 11:00');
    """)
    flush_statistics(db)
    second = run(warehouse, dsn, select=["marts.fact_orders"])

    assert second.ok, second.errors
    note = by_model(second)["marts.fact_orders"].note
    assert "quarantined 4 rows to marts.fact_orders__rejected" in note  # 3, 4, 7 and 8 were in the batch
    assert "1 earlier rejected key now loaded" in note  # 5
    assert rows(db, "SELECT order_id FROM marts.fact_orders ORDER BY 1") == [(1,), (2,), (5,), (6,), (9,)]
    assert rows(db, "SELECT order_id, amount, rejected_run_id FROM marts.fact_orders__rejected ORDER BY 1") == [
        (3, D("-1.00"), second.run_id), (4, D("-3.00"), second.run_id),
        (7, D("-8.00"), second.run_id), (8, D("-2.00"), second.run_id),
    ]
    loaded = rows(db, "SELECT count(*) FROM marts.fact_orders")[0][0]
    rejected = rows(db, "SELECT count(*) FROM marts.fact_orders__rejected")[0][0]
    assert loaded + rejected == rows(db, "SELECT count(*) FROM raw.orders")[0][0] == 9
    # The watermark covers the rejected rows too: they were processed and are accounted for.
    watermark = rows(db, "SELECT watermark FROM weir.model_state WHERE model = 'marts.fact_orders'")[0][0]
    assert str(watermark).startswith("2024-01-04 11:00")

    # A full refresh rebuilds __rejected with the model: still every row, once.
    third = run(warehouse, dsn, select=["marts.fact_orders"], full_refresh=True)
    assert third.ok
    assert rows(db, "SELECT order_id FROM marts.fact_orders__rejected ORDER BY 1") == [(3,), (4,), (7,), (8,)]
    assert rows(db, "SELECT count(*) FROM marts.fact_orders")[0][0] == 5


def test_quarantine_with_an_explicit_error_threshold_fails_when_too_many_rows_are_bad(
    warehouse, dsn, db, flush_statistics
) -> None:
    write(warehouse, "checks/orders_quarantine.sql",
          '-- weir: gate=marts.orders, quarantine=true, error_if="> 2"\nSELECT * FROM marts.orders WHERE amount <= 0\n')
    assert run(warehouse, dsn, select=["marts.orders"]).ok
    db.execute(BAD_ROWS)
    flush_statistics(db)
    report = run(warehouse, dsn, select=["marts.orders"])
    error = by_model(report)["marts.orders"].error
    assert error.startswith("checks/orders_quarantine.sql: gate failed: 3 rows, error_if > 2: too many to quarantine")
    assert rows(db, "SELECT count(*) FROM marts.orders") == [(3,)]
    assert rows(db, "SELECT count(*) FROM marts.orders__rejected") == [(0,)]


def test_quarantine_refuses_a_check_that_does_not_return_the_models_columns(warehouse, dsn, db) -> None:
    write(warehouse, "checks/orders_quarantine.sql",
          "-- weir: gate=marts.orders, quarantine=true\nSELECT order_id, amount FROM marts.orders WHERE amount <= 0\n")
    # No row is bad, but the columns are checked at every build: the mistake shows at once.
    report = run(warehouse, dsn, select=["marts.orders"])
    error = by_model(report)["marts.orders"].error
    assert error.startswith(
        "checks/orders_quarantine.sql:2: quarantine=true moves the rows the check returns out of marts.orders,"
        " so they must be its rows as they are, but the check returns (order_id integer, amount numeric)"
        " and marts.orders has (order_id integer, customer text, amount numeric, updated_at timestamp with time"
        " zone); write SELECT * FROM marts.orders WHERE <bad condition>"
    )
    assert db.execute("SELECT to_regclass('marts.orders')").fetchone()[0] is None


def test_quarantine_refuses_rows_the_check_changed(warehouse, dsn, db, flush_statistics) -> None:
    write(warehouse, "checks/orders_quarantine.sql",
          "-- weir: gate=marts.orders, quarantine=true\n"
          "SELECT order_id, customer, -amount AS amount, updated_at FROM marts.orders WHERE amount < 0\n")
    db.execute(BAD_ROWS)
    flush_statistics(db)
    error = by_model(run(warehouse, dsn, select=["marts.orders"]))["marts.orders"].error
    assert error.startswith("checks/orders_quarantine.sql:2: quarantine=true: 2 of the rows the check returned"
                            " are not rows of marts.orders as built")
    assert db.execute("SELECT to_regclass('marts.orders')").fetchone()[0] is None


# -- weir run ------------------------------------------------------------------------------------


def test_weir_run_with_a_gate_keeps_the_good_version_and_converges(
    project, db, dsn, write_migration, flush_statistics
) -> None:
    write_migration(project, "0001_source",
                    "CREATE TABLE source (id int PRIMARY KEY, amount int NOT NULL);\n"
                    "INSERT INTO source VALUES (1, 10), (2, 5);\n",
                    "DROP TABLE source;\n")
    write(project, "models/marts/amounts.sql", "-- weir: kind=table\nSELECT id, amount FROM source\n")
    write(project, "models/marts/total.sql", "-- weir: kind=table\nSELECT sum(amount) AS total FROM marts.amounts\n")
    write(project, "checks/amounts_positive.sql",
          "-- weir: gate=marts.amounts\nSELECT * FROM marts.amounts WHERE amount <= 0\n")
    settings = load_settings(project)

    first = run_pipeline(db, Project(settings))
    assert first.exit_code == 0
    assert [result.status for result in first.build.results] == ["success", "success"]

    db.execute("INSERT INTO source VALUES (3, -7)")
    flush_statistics(db)
    second = run_pipeline(db, Project(settings))
    assert second.exit_code == 1
    assert [(result.model, result.status) for result in second.build.results] == [
        ("marts.amounts", "failed"), ("marts.total", "upstream-failed")
    ]
    assert second.build.results[0].error.startswith("checks/amounts_positive.sql: gate failed: 1 row")
    # The check stage sees the version the gate kept: it passes.
    assert [(result.name, result.status) for result in second.checks.results] == [("amounts_positive", "pass")]
    assert rows(db, "SELECT total FROM marts.total") == [(15,)]

    db.execute("UPDATE source SET amount = 7 WHERE id = 3")
    flush_statistics(db)
    third = run_pipeline(db, Project(settings))
    assert third.exit_code == 0
    assert rows(db, "SELECT total FROM marts.total") == [(22,)]
