"""runner.unittests.run on a real PostgreSQL: fixtures shadow inputs, real materializations, rows compared."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from runner.project import Project
from runner.unittests import UnitTestReport, run_unit_tests

_MIGRATION = """
CREATE SCHEMA raw;
CREATE TABLE raw.events (
    event_id bigint PRIMARY KEY,
    account_id bigint NOT NULL,
    kind text NOT NULL,
    amount numeric(10, 2) NOT NULL,
    happened_at timestamptz NOT NULL
);
CREATE TABLE raw.accounts (account_id bigint PRIMARY KEY, city text NOT NULL, updated_at timestamptz NOT NULL);
"""
_MODELS = {
    "models/staging/stg_events.sql": """-- weir: kind=view
SELECT e.event_id, e.account_id, e.amount * 100 AS amount_cents, e.happened_at, e.kind = 'refund' AS is_refund
FROM raw.events AS e
""",
    "models/marts/fact_events.sql": """-- weir: kind=incremental, unique_key=event_id, watermark=happened_at
-- weir: lookback=1 hour
SELECT s.event_id, s.account_id, s.amount_cents, s.happened_at
FROM staging.stg_events AS s
WHERE s.happened_at > weir.since('marts.fact_events') AND NOT s.is_refund
""",
    "models/marts/dim_account.sql": """-- weir: kind=scd2, natural_key=account_id, updated_at=updated_at
SELECT a.account_id, a.city, a.updated_at FROM raw.accounts AS a
""",
}


@pytest.fixture
def example(project: Path, write_migration: Callable[..., Path], write_files: Callable[..., None]) -> Path:
    """A project with a view, an incremental and an scd2 model, and no unit tests yet."""
    write_migration(project, "0001_raw", _MIGRATION, "DROP SCHEMA raw CASCADE;")
    write_files(project, _MODELS)
    return project


def _run(db: psycopg.Connection, root: Path, tests: dict[str, str], **options: Any) -> UnitTestReport:
    for name, text in tests.items():
        path = root / "unit_tests" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return run_unit_tests(db, Project.load(root), **options)


def _scratch_databases(db: psycopg.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT datname FROM pg_database WHERE datname LIKE 'weir\\_unit\\_%'")}


def test_view_fixture_takes_the_input_types_and_leaves_other_columns_null(db: psycopg.Connection,
                                                                          example: Path) -> None:
    before = _scratch_databases(db)  # another run's leftovers on a shared server are not this test's
    during: set[str] = set()
    report = _run(db, example, {"staging/stg_events__cents.sql": """-- weir: model=staging.stg_events
-- weir: given=raw.events
SELECT 1 AS event_id, '12.5' AS amount, 'refund' AS kind, '2024-01-01 10:00+01' AS happened_at
UNION ALL SELECT 2, '0.99', 'sale', '2024-01-01 09:00+00';

-- weir: expect
SELECT 1 AS event_id, 1250 AS amount_cents, true AS is_refund, '2024-01-01 09:00+00' AS happened_at,
       NULL AS account_id
UNION ALL SELECT 2, 99, false, '2024-01-01 09:00Z', NULL;
"""}, on_result=lambda result: during.update(_scratch_databases(db)))
    assert [(result.status, result.error) for result in report.results] == [("pass", None)]
    assert report.exit_code == 0
    ours = during - before
    assert ours and not ours & _scratch_databases(db)  # the scratch database existed, and is dropped


def test_a_wrong_value_is_shown_by_key_and_column(db: psycopg.Connection, example: Path) -> None:
    report = _run(db, example, {"marts/fact_events__first_build.sql": """-- weir: model=marts.fact_events
-- weir: given=staging.stg_events
SELECT 1 AS event_id, 7 AS account_id, 100 AS amount_cents, '2024-01-01' AS happened_at, false AS is_refund
UNION ALL SELECT 2, 7, 200, '2024-01-02', true
UNION ALL SELECT 3, 8, 300, '2024-01-03', false;

-- weir: expect
SELECT 1 AS event_id, 100 AS amount_cents
UNION ALL SELECT 2, 200
UNION ALL SELECT 3, 301;
"""})
    (result,) = report.results
    assert result.status == "fail" and report.exit_code == 1
    difference = result.difference
    assert difference is not None
    assert difference.key == ("event_id",)
    assert [(change.key, change.columns) for change in difference.changed] == [((3,), (("amount_cents", 301, 300),))]
    assert difference.missing == [(2, 200)]  # the refund is filtered out
    assert difference.unexpected == []


def test_incremental_run_applies_late_rows_and_updates_over_existing_rows(db: psycopg.Connection,
                                                                          example: Path) -> None:
    test = """-- weir: model=marts.fact_events
-- weir: watermark='2024-01-10 12:00+00'

-- weir: given=this
SELECT 1 AS event_id, 100 AS amount_cents, '2024-01-10 08:00+00' AS happened_at
UNION ALL SELECT 2, 200, '2024-01-10 11:40+00';

-- weir: given=staging.stg_events
SELECT 1 AS event_id, 999 AS amount_cents, '2024-01-10 08:00+00' AS happened_at, false AS is_refund
UNION ALL SELECT 2, 250, '2024-01-10 11:40+00', false
UNION ALL SELECT 3, 300, '2024-01-10 11:30+00', false
UNION ALL SELECT 4, 400, '2024-01-10 12:30+00', false;

-- weir: expect
SELECT 1 AS event_id, 100 AS amount_cents
UNION ALL SELECT 2, 250
UNION ALL SELECT 3, 300
UNION ALL SELECT 4, 400;
"""
    report = _run(db, example, {"marts/fact_events__late.sql": test})
    assert [(result.status, result.error) for result in report.results] == [("pass", None)]

    # a row changed before the watermark minus lookback is not read again: 999 never arrives
    wrong = test.replace("SELECT 1 AS event_id, 100 AS amount_cents\n", "SELECT 1 AS event_id, 999 AS amount_cents\n")
    report = _run(db, example, {"marts/fact_events__late.sql": wrong})
    difference = report.results[0].difference
    assert difference is not None
    assert [(change.key, change.columns) for change in difference.changed] == [((1,), (("amount_cents", 999, 100),))]


def test_duplicate_keys_in_an_incremental_batch_are_an_error_naming_the_model(db: psycopg.Connection,
                                                                              example: Path) -> None:
    report = _run(db, example, {"marts/fact_events__dupes.sql": """-- weir: model=marts.fact_events
-- weir: watermark='2024-01-01'
-- weir: given=staging.stg_events
SELECT 1 AS event_id, 100 AS amount_cents, '2024-01-02' AS happened_at, false AS is_refund
UNION ALL SELECT 1, 200, '2024-01-03', false;
-- weir: expect
SELECT 1 AS event_id;
"""})
    (result,) = report.results
    assert result.status == "error" and report.exit_code == 2
    assert result.error is not None and result.error.startswith("models/marts/fact_events.sql:")
    assert "event_id" in result.error


def test_scd2_snapshots_make_history_and_close_a_deleted_key(db: psycopg.Connection, example: Path) -> None:
    test = """-- weir: model=marts.dim_account
-- weir: given=raw.accounts, snapshot=1
SELECT 1 AS account_id, 'Berlin' AS city, '2024-01-01' AS updated_at
UNION ALL SELECT 2, 'Paris', '2024-01-01';

-- weir: given=raw.accounts, snapshot=2
SELECT 1 AS account_id, 'Hamburg' AS city, '2024-02-01' AS updated_at;

-- weir: expect
SELECT 2 AS account_id, 'Paris' AS city, '2024-01-01' AS valid_from, now() AS valid_to, false AS is_current
UNION ALL SELECT 1, 'Berlin', '2024-01-01', '2024-02-01', false
UNION ALL SELECT 1, 'Hamburg', '2024-02-01', NULL, true;
"""
    report = _run(db, example, {"marts/dim_account__history.sql": test})
    assert [(result.status, result.error) for result in report.results] == [("pass", None)]

    (root := example / "models" / "marts" / "dim_account.sql").write_text(
        root.read_text().replace("updated_at=updated_at", "updated_at=updated_at, on_delete=ignore")
    )
    report = _run(db, example, {})
    difference = report.results[0].difference
    assert difference is not None
    assert difference.key == ("account_id", "valid_from")
    (change,) = difference.changed
    assert change.key[0] == 2 and [column for column, _, _ in change.columns] == ["valid_to", "is_current"]


def test_ordered_rows_out_of_order_fail(db: psycopg.Connection, example: Path, write_files: Callable[..., None]
                                        ) -> None:
    write_files(example, {"models/staging/stg_sorted.sql": "-- weir: kind=table\n"
                          "SELECT e.event_id FROM raw.events AS e ORDER BY e.event_id DESC\n"})
    text = """-- weir: model=staging.stg_sorted
-- weir: ordered=true
-- weir: given=raw.events
SELECT 1 AS event_id UNION ALL SELECT 2 UNION ALL SELECT 3;
-- weir: expect
SELECT 3 AS event_id UNION ALL SELECT 2 UNION ALL SELECT 1;
"""
    assert _run(db, example, {"staging/stg_sorted__desc.sql": text}).exit_code == 0
    report = _run(db, example, {"staging/stg_sorted__desc.sql": text.replace("SELECT 3 AS event_id UNION ALL SELECT 2",
                                                                            "SELECT 2 AS event_id UNION ALL SELECT 3")})
    difference = report.results[0].difference
    assert difference is not None
    assert difference.order == [(1, (2,), (3,)), (2, (3,), (2,))]


def test_a_fixture_column_the_input_lacks_is_an_error_at_its_line(db: psycopg.Connection, example: Path) -> None:
    report = _run(db, example, {"staging/stg_events__typo.sql": """-- weir: model=staging.stg_events

-- weir: given=raw.events
SELECT 1 AS event_id, 2 AS amonut;
-- weir: expect
SELECT 1 AS event_id;
"""})
    (result,) = report.results
    assert result.status == "error"
    assert result.error is not None
    assert result.error.startswith("unit_tests/staging/stg_events__typo.sql:3: raw.events has no column 'amonut';")


def test_in_place_leaves_the_real_tables_and_schemas_as_they_were(db: psycopg.Connection, dsn: str,
                                                                  example: Path) -> None:
    from runner.build.run import build
    from runner.migrate import migrate

    migrate(db, Project.load(example))
    assert build(db, Project.load(example)).ok
    db.execute("INSERT INTO raw.events VALUES (42, 1, 'sale', 1.00, '2024-01-01')")
    report = _run(db, example, {"staging/stg_events__one.sql": """-- weir: model=staging.stg_events
-- weir: given=raw.events
SELECT 1 AS event_id, 5 AS amount;
-- weir: expect
SELECT 1 AS event_id, 500 AS amount_cents;
"""}, in_place=True)
    assert [(result.status, result.error) for result in report.results] == [("pass", None)]
    assert db.execute("SELECT event_id FROM raw.events").fetchall() == [(42,)]
    assert db.execute("SELECT to_regnamespace('weir_unit')").fetchone() == (None,)


def test_a_json_column_is_compared_as_its_text(db: psycopg.Connection, example: Path,
                                               write_files: Callable[..., None]) -> None:
    write_files(example, {"models/staging/stg_payload.sql": "-- weir: kind=view\n"
                          "SELECT e.event_id, json_build_object('kind', e.kind) AS payload FROM raw.events AS e\n"})
    text = """-- weir: model=staging.stg_payload
-- weir: given=raw.events
SELECT 1 AS event_id, 'sale' AS kind;
-- weir: expect
SELECT 1 AS event_id, '{"kind" : "sale"}' AS payload;
"""
    assert [result.status for result in _run(db, example, {"staging/stg_payload__json.sql": text}).results] == ["pass"]
    report = _run(db, example, {"staging/stg_payload__json.sql": text.replace('"sale"}', '"refund"}')})
    difference = report.results[0].difference
    assert difference is not None
    assert difference.missing == [(1, '{"kind" : "refund"}')]
    assert difference.unexpected == [(1, '{"kind" : "sale"}')]


def test_without_a_watermark_the_highest_existing_row_is_the_stored_one(db: psycopg.Connection,
                                                                        example: Path) -> None:
    text = """-- weir: model=marts.fact_events
-- weir: given=this
SELECT 1 AS event_id, 100 AS amount_cents, '2024-01-10 12:00+00' AS happened_at;

-- weir: given=staging.stg_events
SELECT 2 AS event_id, 200 AS amount_cents, '2024-01-10 10:59+00' AS happened_at, false AS is_refund
UNION ALL SELECT 3, 300, '2024-01-10 11:01+00', false;

-- weir: expect
SELECT 1 AS event_id UNION ALL SELECT 3;
"""
    report = _run(db, example, {"marts/fact_events__default_watermark.sql": text})
    assert [(result.status, result.error) for result in report.results] == [("pass", None)]


def test_a_csv_next_to_the_test_gives_rows_and_a_ragged_row_is_an_error_at_its_line(db: psycopg.Connection,
                                                                                    example: Path) -> None:
    text = """-- weir: model=staging.stg_events
-- weir: given=raw.events
SELECT 3 AS event_id, 1 AS amount;
-- weir: expect
SELECT 1 AS event_id, 1250 AS amount_cents, true AS is_refund, NULL AS happened_at
UNION ALL SELECT 2, 99, false, '2024-01-01 09:00+00'
UNION ALL SELECT 3, 100, NULL, NULL;
"""
    csv_path = example / "unit_tests" / "staging" / "stg_events__csv.raw.events.csv"
    csv_path.parent.mkdir(parents=True)
    csv_path.write_text('event_id,amount,kind,happened_at\n1,12.5,refund,\n2,0.99,"sale",2024-01-01 10:00+01\n')
    report = _run(db, example, {"staging/stg_events__csv.sql": text})
    assert [(result.status, result.error) for result in report.results] == [("pass", None)]

    csv_path.write_text("event_id,amount\n1,12.5\n2\n")
    (result,) = _run(db, example, {}).results
    assert result.status == "error"
    assert result.error == (
        "unit_tests/staging/stg_events__csv.raw.events.csv:3: 1 fields, the header has 2;"
        " give every row one value per column (an empty one is NULL)"
    )


def test_an_expected_column_the_model_lacks_is_an_error_at_the_expect_line(db: psycopg.Connection,
                                                                           example: Path) -> None:
    (result,) = _run(db, example, {"staging/stg_events__no_such.sql": """-- weir: model=staging.stg_events
-- weir: given=raw.events
SELECT 1 AS event_id;

-- weir: expect
SELECT 1 AS event_id, 5 AS amount;
"""}).results
    assert result.status == "error"
    assert result.error is not None
    assert result.error.startswith("unit_tests/staging/stg_events__no_such.sql:5: staging.stg_events has no column"
                                   " 'amount'; expect only its columns: event_id, account_id, amount_cents,")


def test_a_fixture_value_of_the_wrong_type_is_an_error_at_its_given(db: psycopg.Connection, example: Path) -> None:
    (result,) = _run(db, example, {"staging/stg_events__bad_value.sql": """-- weir: model=staging.stg_events
-- weir: given=raw.events
SELECT 1 AS event_id, 'two' AS amount;
-- weir: expect
SELECT 1 AS event_id;
"""}).results
    assert result.status == "error"
    assert result.error == ('unit_tests/staging/stg_events__bad_value.sql:2: rows for raw.events:'
                            ' invalid input syntax for type numeric: "two"')
