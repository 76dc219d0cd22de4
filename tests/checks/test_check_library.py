"""The check library in schema weir: every function on tables built to pass and to fail it.

Cases live in tests/check_cases/*.yaml; each check runs in a READ ONLY transaction, as
`weir check` runs it, and its rows are compared as JSON objects.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql

from runner.checks.library import install, installed_version, library_sql, library_version
from runner.state.schema import STATE_SCHEMA_LOCK

CASES = Path(__file__).parent / "check_cases"

# Rows of a check as JSON objects, the way a user sees them: every column, by name.
AS_JSON = "SELECT coalesce(jsonb_agg(to_jsonb(v)), '[]') FROM ({}) AS v"
# How the runner counts violations.
COUNT = "SELECT count(*) FROM ({}) AS violations"

# Period d of a volume history starts (last - d + 1) periods before the period holding as_of.
LOAD_EVENTS = """
CREATE TABLE events (event_id bigint GENERATED ALWAYS AS IDENTITY, at {column} NOT NULL);
WITH h (d, n) AS ({counts}),
     p AS (
         SELECT h.n, weir.period_start(TIMESTAMP '2024-06-01 12:00', {period})
                     - ((SELECT max(d) FROM h) + 1 - h.d) * {period} AS start
         FROM h
     )
INSERT INTO events (at)
SELECT (p.start + ((p.start + {period}) - p.start) * ((i - 0.5) / p.n))::{column}
FROM p, generate_series(1, p.n) AS i
"""


def cases(name: str) -> list[Any]:
    """Load the cases of tests/check_cases/<name>.yaml as pytest params named by their id."""
    loaded = yaml.safe_load((CASES / name).read_text())
    return [pytest.param(case, id=case["id"]) for case in loaded]


def canonical(rows: list[dict]) -> list[str]:
    """Sort rows as JSON text, so rows compare as a multiset."""
    return sorted(json.dumps(row, sort_keys=True) for row in rows)


def read_only(conn: psycopg.Connection, query: str) -> list[dict]:
    """Run check `query` in a READ ONLY transaction; return its rows as dicts, checking the runner's count."""
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        rows = conn.execute(sql.SQL(AS_JSON).format(sql.SQL(query))).fetchone()[0]
        count = conn.execute(sql.SQL(COUNT).format(sql.SQL(query))).fetchone()[0]
    assert count == len(rows)
    return rows


@pytest.fixture
def library(db: psycopg.Connection) -> psycopg.Connection:
    """The test database with the check library installed, TimeZone UTC."""
    install(db)
    db.execute("SET TimeZone = 'UTC'")
    return db


@pytest.mark.parametrize("case", cases("row_checks.yaml") + cases("aggregate_checks.yaml") + cases("scd2_checks.yaml"))
def test_check_function(library: psycopg.Connection, case: dict) -> None:
    library.execute(case["setup"])
    rows = read_only(library, case["check"])
    assert canonical(rows) == canonical(case["expect"])


@pytest.mark.parametrize("case", cases("volume_anomaly.yaml"))
def test_volume_anomaly(library: psycopg.Connection, case: dict) -> None:
    library.execute(sql.SQL("SET TimeZone = {}").format(sql.Literal(case.get("timezone", "UTC"))))
    library.execute(
        sql.SQL(LOAD_EVENTS).format(
            column=sql.SQL(case.get("column", "timestamptz")),
            counts=sql.SQL(case["counts"]),
            period=sql.Literal(case.get("period", "1 day")) + sql.SQL("::interval"),
        )
    )
    if "setup" in case:
        library.execute(case["setup"])
    rows = read_only(library, case["check"])
    assert rows == case["expect"]


@pytest.mark.parametrize("case", cases("errors.yaml"))
def test_check_error(library: psycopg.Connection, case: dict) -> None:
    library.execute(case["setup"])
    with pytest.raises(psycopg.Error) as caught:
        read_only(library, case["check"])
    diag = caught.value.diag
    assert (diag.sqlstate, diag.message_primary, diag.message_hint) == (
        case["sqlstate"],
        case["message"],
        case.get("hint"),
    )


def test_the_load_helper_builds_the_history_it_describes(library: psycopg.Connection) -> None:
    counts = "SELECT d, 10 * d FROM generate_series(1, 3) AS d"
    library.execute(
        sql.SQL(LOAD_EVENTS).format(
            column=sql.SQL("timestamptz"), counts=sql.SQL(counts), period=sql.SQL("'1 day'::interval")
        )
    )
    per_day = library.execute("SELECT at::date::text, count(*) FROM events GROUP BY 1 ORDER BY 1").fetchall()
    assert per_day == [("2024-05-29", 10), ("2024-05-30", 20), ("2024-05-31", 30)]


def test_every_check_runs_in_one_read_only_transaction(library: psycopg.Connection) -> None:
    library.execute(
        """
        CREATE SCHEMA raw;
        CREATE TABLE raw.customers (customer_id int PRIMARY KEY, email text);
        CREATE TABLE raw.orders (order_id int, customer_id int, status text, ordered_at timestamptz);
        INSERT INTO raw.customers VALUES (1, 'a@example.com'), (2, NULL);
        INSERT INTO raw.orders VALUES (10, 1, 'paid', now()), (11, 3, 'lost', now() - interval '2 days');
        """
    )
    checks = {
        "SELECT count(*) FROM weir.not_null(NULL::raw.customers, 'email')": 1,
        "SELECT count(*) FROM weir.unique_rows(NULL::raw.customers, 'email')": 0,
        "SELECT count(*) FROM weir.relationships(NULL::raw.orders, 'customer_id', 'raw.customers', 'customer_id')": 1,
        "SELECT count(*) FROM weir.accepted_values(NULL::raw.orders, 'status', ARRAY['paid'])": 1,
        "SELECT count(*) FROM weir.row_count_between('raw.orders', 3, NULL)": 1,
        "SELECT count(*) FROM weir.null_rate('raw.customers', 'email', 0.1)": 1,
        "SELECT count(*) FROM weir.freshness('raw.orders', 'ordered_at', '1 hour')": 0,
        "SELECT count(*) FROM weir.volume_anomaly('raw.orders', 'ordered_at')": 0,
        """SELECT count(*) FROM weir.expected_columns('raw.orders', '{"order_id": "bigint"}')""": 1,
    }
    library.execute("BEGIN READ ONLY")
    try:
        counts = {query: library.execute(query).fetchone()[0] for query in checks}
        assert library.execute("SHOW transaction_read_only").fetchone()[0] == "on"
    finally:
        library.execute("COMMIT")
    assert counts == checks


def test_every_function_is_stable_and_documented_with_an_example(library: psycopg.Connection) -> None:
    functions = library.execute(
        """
        SELECT p.oid::regprocedure::text, p.provolatile, coalesce(obj_description(p.oid, 'pg_proc'), '')
        FROM pg_proc AS p
        WHERE p.pronamespace = 'weir'::regnamespace
        """
    ).fetchall()
    library_functions = [f for f in functions if f[0] != "weir.check_library_version()"]
    assert len(library_functions) >= 25
    assert [name for name, volatility, _ in library_functions if volatility not in ("s", "i")] == []
    assert [name for name, _, comment in library_functions if "Example: SELECT" not in comment] == []


@pytest.mark.parametrize(
    ("call", "columns"),
    [
        ("weir.not_null(NULL::t, 'id')", ["id", "at"]),
        ("weir.unique_rows(NULL::t, ARRAY['id', 'at'])", ["id", "at"]),
        ("weir.relationships(NULL::t, 'id', 't', 'id')", ["id", "at"]),
        ("weir.accepted_values(NULL::t, 'id', ARRAY[1])", ["id", "at"]),
        ("weir.row_count_between('t', 1, 2)", ["relation", "row_count", "min_expected", "max_expected"]),
        ("weir.null_rate('t', 'id', 0)", ["relation", "column_name", "null_rate", "max_rate", "rows"]),
        ("weir.freshness('t', 'at', '1 day')", ["relation", "column_name", "newest", "age", "max_age"]),
        (
            "weir.volume_anomaly('t', 'at')",
            ["relation", "period_start", "observed", "expected", "low", "high", "reason"],
        ),
        (
            "weir.expected_columns('t', '{}')",
            ["relation", "column_name", "expected_type", "actual_type", "problem"],
        ),
    ],
)
def test_result_columns_are_the_contract(library: psycopg.Connection, call: str, columns: list[str]) -> None:
    library.execute("CREATE TABLE t (id int, at timestamptz)")
    cursor = library.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(sql.SQL(call)))
    assert [column.name for column in cursor.description] == columns


def test_install_twice_does_the_work_once(db: psycopg.Connection) -> None:
    assert installed_version(db) is None
    assert install(db) is True
    # A CREATE OR REPLACE would give the function's catalog row a new xmin.
    stamp = "SELECT xmin::text FROM pg_proc WHERE oid = 'weir.not_null(anyelement, text[])'::regprocedure"
    before = db.execute(stamp).fetchone()[0]
    assert install(db) is False
    assert db.execute(stamp).fetchone()[0] == before
    assert installed_version(db) == library_version()
    assert db.execute("SELECT weir.check_library_version()").fetchone()[0] == library_version()


def test_install_replaces_another_version(db: psycopg.Connection) -> None:
    install(db)
    db.execute("COMMENT ON FUNCTION weir.check_library_version() IS 'sha256:older'")
    assert install(db) is True
    assert installed_version(db) == library_version()


def test_the_file_also_installs_from_psql_style_execution(db: psycopg.Connection) -> None:
    db.execute(library_sql())
    db.execute(library_sql())
    assert installed_version(db) == "installed by hand"
    assert install(db) is True


def test_a_second_installer_waits_for_the_first_then_finds_it_done(
    wait_until, db: psycopg.Connection, dsn: str
) -> None:
    waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = %s"
    with psycopg.connect(dsn, autocommit=True) as first, psycopg.connect(dsn, autocommit=True) as second:
        results: list[bool | BaseException] = []

        def run_second() -> None:
            try:
                results.append(install(second))
            except BaseException as error:  # reported by the assertion below
                results.append(error)

        with first.transaction():
            assert install(first) is True  # holds the lock until this block commits
            thread = threading.Thread(target=run_second)
            thread.start()
            wait_until(lambda: db.execute(waiting, (STATE_SCHEMA_LOCK & 0xFFFFFFFF,)).fetchone()[0] == 1)
        thread.join()
    assert results == [False]
    assert installed_version(db) == library_version()


@pytest.mark.parametrize("start", ["fresh database", "older version installed"])
def test_concurrent_installs_do_not_collide(db: psycopg.Connection, dsn: str, start: str) -> None:
    if start == "older version installed":
        install(db)
        db.execute("COMMENT ON FUNCTION weir.check_library_version() IS 'sha256:older'")
    barrier = threading.Barrier(4)
    results: list[bool | BaseException] = []

    def run() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            barrier.wait()
            try:
                results.append(install(conn))
            except BaseException as error:  # reported by the assertion below
                results.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [False, False, False, True]
    assert installed_version(db) == library_version()


SCD2_CHECKS = {
    "checks/one_current.sql": "SELECT * FROM weir.scd2_one_current(NULL::marts.dim_customer, 'customer_id')\n",
    "checks/no_overlaps.sql": "SELECT * FROM weir.scd2_overlaps(NULL::marts.dim_customer, 'customer_id')\n",
    "checks/no_gaps.sql": "SELECT * FROM weir.scd2_gaps(NULL::marts.dim_customer, ARRAY['customer_id'])\n",
}


def test_scd2_checks_on_a_history_weir_built(project: Path, db: psycopg.Connection, dsn: str, weir,
                                              write_files) -> None:
    write_files(project, {
        "models/marts/dim_customer.sql": "-- weir: kind=scd2, natural_key=customer_id, updated_at=updated_at\n"
                                         "SELECT id AS customer_id, city, updated_at FROM raw.customers\n",
        **SCD2_CHECKS,
    })
    db.execute("CREATE SCHEMA raw; CREATE TABLE raw.customers (id int PRIMARY KEY, city text, updated_at timestamptz)")
    db.execute("INSERT INTO raw.customers VALUES (1, 'Oslo', '2024-01-01'), (2, 'Rome', '2024-01-01')")
    where = ("--project", str(project), "--dsn", dsn)
    assert weir("build", *where).exit_code == 0
    db.execute("UPDATE raw.customers SET city = 'Bergen', updated_at = '2024-02-01' WHERE id = 1")
    db.execute("DELETE FROM raw.customers WHERE id = 2")
    assert weir("build", *where).exit_code == 0
    good = weir("check", *where)
    assert good.exit_code == 0, good.output
    assert good.stdout.splitlines()[-1].startswith("3 checks in ")

    # 2 comes back, changed after its deletion: a gap in its history, as designed, and no_gaps says so
    db.execute("INSERT INTO raw.customers VALUES (2, 'Rome', clock_timestamp())")
    assert weir("build", *where).exit_code == 0
    gap = weir("check", "--select", "no_gaps", *where)
    assert gap.exit_code == 1
    assert "checks/no_gaps.sql: FAIL 2 rows" in gap.stdout

    # history broken behind the constraints' back: two current versions, overlapping
    db.execute("DROP INDEX marts.dim_customer_current")
    db.execute("UPDATE marts.dim_customer SET valid_to = NULL WHERE customer_id = 1")
    broken = weir("check", "--select", "one_current", "--select", "no_overlaps", *where)
    assert broken.exit_code == 1
    assert "checks/one_current.sql: FAIL 2 rows" in broken.stdout
    assert "checks/no_overlaps.sql: FAIL 2 rows" in broken.stdout
