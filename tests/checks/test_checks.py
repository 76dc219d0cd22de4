"""Running checks on a real PostgreSQL: statuses, exit codes, read-only runs, timeouts, threads, history."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from runner.checks import CheckReport, CheckResult, run_checks
from runner.db.connection import connect
from runner.errors import CheckError, ConfigError, ProjectFileError
from runner.project import Project
from runner.state.checks import latest_results


def checks_project(project: Path, files: dict[str, str], **weir: str) -> Project:
    """Write checks/<name>.sql files (and extra [weir] settings) and return the project."""
    if weir:
        (project / "setup.cfg").write_text(
            "[weir]\n" + "".join(f"{key} = {value}\n" for key, value in weir.items())
        )
    for name, text in files.items():
        path = project / "checks" / f"{name}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return Project.load(project)


def by_name(report: CheckReport) -> dict[str, CheckResult]:
    return {result.name: result for result in report.results}


def rows_of(count: int) -> str:
    """A SELECT returning `count` violations."""
    return f"SELECT g AS id, 'row ' || g AS label FROM generate_series(1, {count}) AS g ORDER BY g"


# Header, rows the check returns -> status, all in one run of real checks.
THRESHOLD_TABLE = [
    ("", 0, "pass"),
    ("", 1, "fail"),
    ("severity=error", 3, "fail"),
    ("severity=warn", 0, "pass"),
    ("severity=warn", 3, "warn"),
    ('error_if="> 10"', 10, "pass"),
    ('error_if="> 10"', 11, "fail"),
    ('warn_if="> 0", error_if="> 10"', 0, "pass"),
    ('warn_if="> 0", error_if="> 10"', 5, "warn"),
    ('warn_if="> 0", error_if="> 10"', 12, "fail"),
    ('warn_if=">= 2"', 1, "pass"),
    ('warn_if=">= 2"', 2, "warn"),
    ('error_if="= 0"', 0, "fail"),
    ('error_if="= 0"', 1, "pass"),
    ('error_if="!= 4"', 4, "pass"),
    ('error_if="!= 4"', 5, "fail"),
    ('severity=warn, warn_if="> 2"', 2, "pass"),
    ('severity=warn, warn_if="> 2"', 3, "warn"),
]


def test_thresholds_and_severities(project: Path, db: psycopg.Connection) -> None:
    files = {
        f"t{number:02d}": (f"-- weir: {header}\n" if header else "") + rows_of(count)
        for number, (header, count, _) in enumerate(THRESHOLD_TABLE)
    }
    report = run_checks(db, checks_project(project, files))
    got = {result.name: (result.status, result.count) for result in report.results}
    expected = {
        f"t{number:02d}": (status, count) for number, (_, count, status) in enumerate(THRESHOLD_TABLE)
    }
    assert got == expected
    assert report.exit_code == 1


@pytest.mark.parametrize(
    ("statuses", "exit_code"),
    [
        ((), 0),
        (("pass",), 0),
        (("pass", "warn"), 0),
        (("pass", "warn", "fail"), 1),
        (("error",), 2),
        (("pass", "error"), 2),
        (("fail", "error"), 2),
        (("warn", "fail", "error"), 2),
    ],
)
def test_exit_codes(project: Path, db: psycopg.Connection, statuses: tuple[str, ...], exit_code: int) -> None:
    make = {
        "pass": "SELECT 1 AS x WHERE false",
        "warn": "-- weir: severity=warn\nSELECT 1 AS x",
        "fail": "SELECT 1 AS x",
        "error": "SELECT x FROM raw.no_such_table",
    }
    settings = checks_project(project, {status: make[status] for status in statuses})
    report = run_checks(db, settings)
    assert [result.status for result in report.results] == sorted(statuses)
    assert report.exit_code == exit_code


def test_a_check_that_cannot_run_is_an_error_not_a_failure(project: Path, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE orders (id int, amount numeric)")
    settings = checks_project(
        project,
        {
            "missing_table": "-- weir: severity=warn\nSELECT *\nFROM raw.nope\n",
            "missing_column": "SELECT id,\n       amout\nFROM orders\nWHERE amount < 0\n",
            "bad_cast": "SELECT 'x'::int AS n",
        },
    )
    results = by_name(run_checks(db, settings))
    for result in results.values():
        assert (result.status, result.count, result.rows) == ("error", None, ())
    # Even a warn check that cannot run is an error: its result is unknown, not a warning.
    assert results["missing_table"].error == (
        'checks/missing_table.sql:3: relation "raw.nope" does not exist;'
        " fix the name, or create it first (weir migrate, weir build)"
    )
    assert results["missing_column"].error.startswith('checks/missing_column.sql:2: column "amout" does not exist;')
    assert results["bad_cast"].error.startswith(
        'checks/bad_cast.sql:1: invalid input syntax for type integer: "x"; fix the check\'s SQL'
    )


def test_checks_run_read_only_and_write_nothing(project: Path, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE audit (note text)")
    db.execute("CREATE SEQUENCE counter")
    db.execute(
        "CREATE FUNCTION sneaky() RETURNS SETOF int LANGUAGE plpgsql AS"
        " $$ BEGIN INSERT INTO audit VALUES ('written'); RETURN; END $$"
    )
    settings = checks_project(
        project,
        {
            "writes": "SELECT * FROM sneaky()",
            "sequence": "SELECT nextval('counter') AS n",
            "read_write": "SELECT set_config('transaction_read_only', 'off', true) AS setting",
        },
    )
    results = by_name(run_checks(db, settings))
    assert {name: result.status for name, result in results.items()} == dict.fromkeys(results, "error")
    assert results["writes"].error.startswith(
        "checks/writes.sql:1: cannot execute INSERT in a read-only transaction;"
        " a check only reads: move the change to a migration or a model"
    )
    assert "read-only transaction" in results["sequence"].error
    assert db.execute("SELECT count(*) FROM audit").fetchone()[0] == 0
    assert db.execute("SELECT last_value, is_called FROM counter").fetchone() == (1, False)


def test_a_setting_changed_by_one_check_does_not_reach_the_next(project: Path, db: psycopg.Connection) -> None:
    settings = checks_project(
        project,
        {
            # One thread, one connection: a_changes runs before b_sees.
            "a_changes": "SELECT 1 WHERE set_config('search_path', 'nowhere', false) IS NULL",
            "b_sees": "SELECT current_setting('search_path') AS path WHERE current_setting('search_path') = 'nowhere'",
        },
    )
    report = run_checks(db, settings, threads=1)
    assert [(result.name, result.status) for result in report.results] == [("a_changes", "pass"), ("b_sees", "pass")]


def test_a_slow_check_is_cancelled_at_check_timeout(project: Path, db: psycopg.Connection) -> None:
    settings = checks_project(
        project,
        {"slow": "-- weir: severity=warn\nSELECT 1 AS x FROM pg_sleep(30)", "quick": "SELECT 1 WHERE false"},
        check_timeout="200ms",
    )
    report = run_checks(db, settings, threads=2)
    results = by_name(report)
    assert results["slow"].status == "error"
    assert results["slow"].error == (
        "checks/slow.sql:2: ran longer than check_timeout (200ms) and was cancelled;"
        " make the check faster or raise [weir] check_timeout in setup.cfg"
    )
    assert results["slow"].seconds < 20
    assert results["quick"].status == "pass"
    assert report.exit_code == 2


def test_check_timeout_must_be_a_duration(project: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[weir\] check_timeout = 'soon' is not a duration; use a number"):
        checks_project(project, {"a": "SELECT 1"}, check_timeout="soon")  # refused when setup.cfg is read


def test_only_show_rows_are_fetched_and_the_count_is_complete(project: Path, db: psycopg.Connection) -> None:
    settings = checks_project(
        project,
        {
            "default_show": rows_of(25),
            "show_two": "-- weir: show=2\n" + rows_of(25),
            "show_none": "-- weir: show=0\n" + rows_of(25),
            "fewer_than_show": rows_of(3),
        },
    )
    results = by_name(run_checks(db, settings))
    assert {name: (result.count, len(result.rows)) for name, result in results.items()} == {
        "default_show": (25, 10),
        "show_two": (25, 2),
        "show_none": (25, 0),
        "fewer_than_show": (3, 3),
    }
    shown = results["show_two"]
    assert shown.columns == ("id", "label")
    assert shown.rows == ((1, "row 1"), (2, "row 2"))
    assert shown.sample == ({"id": 1, "label": "row 1"}, {"id": 2, "label": "row 2"})


def test_awkward_sql_survives_being_wrapped(project: Path, db: psycopg.Connection) -> None:
    settings = checks_project(
        project,
        {
            "percent_and_braces": "SELECT '%s {x} %%' AS text WHERE '100%' LIKE '%\\%'  -- trailing comment",
            "same_column_twice": "SELECT 1 AS id, 2 AS id;  -- two columns named id",
            "values_list": "VALUES (1, 'a'), (2, 'b')",
            "ordered_limited": "SELECT g FROM generate_series(1, 100) AS g ORDER BY g DESC LIMIT 3",
            "column_named_violations": "SELECT 1 AS violations",
        },
    )
    results = by_name(run_checks(db, settings))
    assert results["percent_and_braces"].rows == (("%s {x} %%",),)
    assert results["same_column_twice"].columns == ("id", "id")
    assert results["same_column_twice"].rows == ((1, 2),)
    assert results["values_list"].count == 2
    assert results["ordered_limited"].rows == ((100,), (99,), (98,))
    assert results["column_named_violations"].sample == ({"violations": 1},)


def test_two_threads_give_the_same_results_as_one(project: Path, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE orders AS SELECT g AS id, (g % 7) - 1 AS amount FROM generate_series(1, 5000) AS g")
    files = {
        "negative": "SELECT id, amount FROM orders WHERE amount < 0 ORDER BY id",
        "zero": "-- weir: severity=warn\nSELECT id FROM orders WHERE amount = 0 ORDER BY id",
        "big": '-- weir: error_if="> 1000"\nSELECT id FROM orders WHERE amount > 3 ORDER BY id',
        "none": "SELECT id FROM orders WHERE amount > 100",
        "broken": "SELECT nope FROM orders",
        "dup": "SELECT amount, count(*) AS n FROM orders GROUP BY amount HAVING count(*) > 1 ORDER BY amount",
    }
    settings = checks_project(project, files)
    one = run_checks(db, settings, threads=1)
    two = run_checks(db, settings, threads=2)

    def essence(report: CheckReport) -> list[tuple]:
        return [(r.name, r.status, r.count, r.columns, r.rows, r.sample, r.error) for r in report.results]

    assert essence(one) == essence(two)
    assert [result.status for result in two.results] == ["fail", "error", "fail", "fail", "pass", "warn"]
    assert one.exit_code == two.exit_code == 2


def test_results_arrive_through_the_callback(project: Path, db: psycopg.Connection) -> None:
    settings = checks_project(project, {"a": "SELECT 1", "b": "SELECT 1 WHERE false", "c": "SELECT nope"})
    seen: list[CheckResult] = []
    report = run_checks(db, settings, threads=3, on_result=seen.append)
    assert sorted(result.name for result in seen) == ["a", "b", "c"]
    assert sorted(seen, key=lambda result: result.name) == report.results


def test_history_is_appended_per_run_with_a_sample(project: Path, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE customers (id int, email text)")
    db.execute("INSERT INTO customers SELECT g, CASE WHEN g % 2 = 0 THEN NULL ELSE 'c' || g END"
               " FROM generate_series(1, 6) AS g")
    settings = checks_project(
        project,
        {
            "emails": "-- weir: show=2\nSELECT id, email FROM customers WHERE email IS NULL ORDER BY id",
            "ids": "SELECT id FROM customers WHERE id IS NULL",
            "broken": "SELECT * FROM nowhere",
        },
    )
    first = run_checks(db, settings, select=["emails", "ids", "broken"])
    db.execute("UPDATE customers SET email = 'fixed' WHERE email IS NULL")
    second = run_checks(db, settings, threads=2)
    assert second.run_id > first.run_id

    runs = db.execute(
        "SELECT run_id, status, selectors, threads, checks, passed, warned, failed, errored, finished_at IS NOT NULL"
        " FROM weir.check_run ORDER BY run_id"
    ).fetchall()
    assert runs == [
        (first.run_id, "error", ["emails", "ids", "broken"], 1, 3, 1, 0, 1, 1, True),
        (second.run_id, "error", [], 2, 3, 2, 0, 0, 1, True),
    ]
    results = db.execute(
        "SELECT run_id, check_name, path, status, severity, violations, sample, error IS NOT NULL, seconds >= 0"
        " FROM weir.check_result ORDER BY run_id, check_name"
    ).fetchall()
    assert results == [
        (first.run_id, "broken", "checks/broken.sql", "error", "error", None, None, True, True),
        (first.run_id, "emails", "checks/emails.sql", "fail", "error", 3, [{"id": 2, "email": None},
                                                                          {"id": 4, "email": None}], False, True),
        (first.run_id, "ids", "checks/ids.sql", "pass", "error", 0, None, False, True),
        (second.run_id, "broken", "checks/broken.sql", "error", "error", None, None, True, True),
        (second.run_id, "emails", "checks/emails.sql", "pass", "error", 0, None, False, True),
        (second.run_id, "ids", "checks/ids.sql", "pass", "error", 0, None, False, True),
    ]
    assert db.execute("SELECT error FROM weir.check_result WHERE check_name = 'broken' LIMIT 1").fetchone()[0] == (
        'checks/broken.sql:1: relation "nowhere" does not exist;'
        " fix the name, or create it first (weir migrate, weir build)"
    )


def test_latest_results_show_each_checks_last_state(project: Path, db: psycopg.Connection) -> None:
    assert latest_results(db) == []
    db.execute("CREATE TABLE t (x int)")
    db.execute("INSERT INTO t VALUES (-1)")
    settings = checks_project(project, {"positive": "SELECT x FROM t WHERE x < 0", "other": "SELECT 1 WHERE false"})
    run_checks(db, settings)
    db.execute("DELETE FROM t")
    last = run_checks(db, settings, select=["positive"])
    latest = latest_results(db)
    assert [(row.check, row.status, row.violations, row.run_id) for row in latest] == [
        ("other", "pass", 0, last.run_id - 1),
        ("positive", "pass", 0, last.run_id),
    ]
    assert latest[0].row[:3] == ("other", "pass", 0)
    assert latest[0].path == "checks/other.sql"


def test_a_bad_selector_or_file_fails_before_touching_the_database(project: Path, db: psycopg.Connection) -> None:
    settings = checks_project(project, {"orders/positive": "SELECT 1"})
    with pytest.raises(ConfigError, match=r"^--select 'positve': no check named 'positve'; did you mean positive\?$"):
        run_checks(db, settings, select=["positve"])
    with pytest.raises(ConfigError, match=r"^--threads 0: use 1 or more$"):
        run_checks(db, settings, threads=0)
    (project / "checks" / "broken.sql").write_text("-- weir: severity=fatal\nSELECT 1\n")
    with pytest.raises(ProjectFileError, match=r"^checks/broken\.sql:1: severity 'fatal' is not error or warn"):
        run_checks(db, Project.load(project))
    assert db.execute("SELECT to_regnamespace('weir')").fetchone() == (None,)


def test_concurrent_first_runs_both_create_the_history_once(project: Path, dsn: str, db: psycopg.Connection) -> None:
    settings = checks_project(project, {"a": "SELECT 1 WHERE false"})

    def check_once(_: int) -> CheckReport:
        with connect(dsn, "weir check") as conn:
            return run_checks(conn, settings)

    with ThreadPoolExecutor(max_workers=4) as pool:
        reports = list(pool.map(check_once, range(4)))
    assert [report.exit_code for report in reports] == [0, 0, 0, 0]
    assert db.execute("SELECT count(*) FROM weir.check_result").fetchone()[0] == 4


def test_a_role_that_cannot_create_the_history_gets_a_check_error(
    project: Path, dsn: str, db: psycopg.Connection
) -> None:
    role = f"weir_reader_{db.info.backend_pid}"
    db.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    # PUBLIC has no CREATE on a database unless granted; make sure of it.
    db.execute(sql.SQL("REVOKE CREATE ON DATABASE {} FROM PUBLIC").format(sql.Identifier(db.info.dbname)))
    try:
        settings = checks_project(project, {"a": "SELECT 1 WHERE false"})
        with connect(f"{dsn} user={role}") as conn, pytest.raises(CheckError) as raised:
            run_checks(conn, settings)
        message = str(raised.value)
        assert message.startswith("cannot ") and "permission denied" in message and "grant" in message
        assert raised.value.exit_code == 2
    finally:
        db.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_check_whose_connection_dies_is_an_error_and_the_run_goes_on(project: Path, db: psycopg.Connection) -> None:
    settings = checks_project(
        project,
        {
            # One thread: b_after needs a new connection after a_dies kills the first.
            "a_dies": "SELECT 1 AS x WHERE pg_terminate_backend(pg_backend_pid())",
            "b_after": "SELECT 1 AS x",
        },
        # A lost connection is retried (runner.db.retry): this one is lost on every try.
        retry_tries="2", retry_base_delay="10ms", retry_max_delay="10ms",
    )
    report = run_checks(db, settings, threads=1)
    results = by_name(report)
    assert results["a_dies"].status == "error"
    assert results["a_dies"].error.startswith("checks/a_dies.sql:1: ")
    assert results["a_dies"].error.endswith(
        "; the connection was lost; check the server and run the check again"
        " (gave up after 2 tries; the last retry was after a server shut down)"
    )
    assert (results["b_after"].status, results["b_after"].count) == ("fail", 1)
    assert report.exit_code == 2
