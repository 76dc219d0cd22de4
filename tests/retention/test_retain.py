"""weir retain on a real server: whole partitions dropped, old rows deleted in batches, archives, history."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

SOURCE = """
CREATE SCHEMA raw;
CREATE TABLE raw.events (id int PRIMARY KEY, at timestamptz NOT NULL, amount int NOT NULL,
                         updated_at timestamptz NOT NULL DEFAULT now());
-- a row every 10 days from 2024-01-01 to 2024-06-19 (18 rows)
INSERT INTO raw.events (id, at, amount)
SELECT g, timestamptz '2024-01-01 06:00+00' + (g - 1) * interval '10 days', g FROM generate_series(1, 18) g;
"""
PARTITIONED = ('-- weir: kind=incremental, unique_key="id at", watermark=updated_at\n'
               '-- weir: partition_by="month(at)", retain="90 days"{archive}\n'
               "SELECT id, at, amount, updated_at FROM raw.events WHERE updated_at > weir.since('marts.fact')")
PLAIN = ('-- weir: kind=incremental, unique_key=id, watermark=updated_at, retain="90 days on at"{archive}\n'
         "SELECT id, at, amount, updated_at FROM raw.events WHERE updated_at > weir.since('marts.fact')")
AS_OF = "2024-06-10T15:30:00"  # cutoff: 2024-06-10 00:00 UTC - 90 days = 2024-03-12 00:00 UTC


@pytest.fixture
def built(tmp_path: Path, write_models, db: psycopg.Connection, dsn: str, weir):
    """built(model_sql) writes the one model, builds it over raw.events, and returns the project directory."""

    def build(model_sql: str) -> Path:
        db.execute(SOURCE)
        write_models(tmp_path, {"models/marts/fact.sql": model_sql})
        result = weir("build", "--project", str(tmp_path), "--dsn", dsn)
        assert result.exit_code == 0, result.output
        return tmp_path

    return build


def kept(db: psycopg.Connection, table: str = "marts.fact") -> list[int]:
    return [row[0] for row in db.execute(f"SELECT id FROM {table} ORDER BY id")]


def test_whole_expired_partitions_are_dropped_and_recorded(built, db: psycopg.Connection, dsn: str, weir) -> None:
    project = built(PARTITIONED.format(archive=""))
    dry = weir("retain", "--dry-run", "--as-of", AS_OF, "--project", str(project), "--dsn", dsn)
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines()[-1] == "dry run: would remove 6 row(s) from 1 model(s)"
    assert len(kept(db)) == 18

    done = weir("retain", "--as-of", AS_OF, "--project", str(project), "--dsn", dsn)
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[-1] == "retain run 1: removed 6 row(s) from 1 model(s)"
    header, _, row = done.stdout.splitlines()[:3]
    assert header.split()[-2:] == ["table", "locked"] and row.split()[-1] == "ms"
    assert float(row.split()[-2]) > 0
    # January (ids 1-4) and February (5-6) are wholly before 2024-03-12; March's rows before it stay
    assert kept(db) == list(range(7, 19))
    assert db.execute("SELECT to_regclass('marts.fact_p202401'), to_regclass('marts.fact_p202402')").fetchone() == (
        None, None)
    assert db.execute(
        "SELECT partition_name, rows_removed, cutoff = '2024-03-12 00:00+00' FROM weir.retention_step ORDER BY 1"
    ).fetchall() == [("fact_p202401", 4, True), ("fact_p202402", 2, True)]
    assert db.execute("SELECT status FROM weir.retention_run").fetchall() == [("success",)]

    again = weir("retain", "--as-of", AS_OF, "--project", str(project), "--dsn", dsn)
    assert again.stdout.splitlines()[-1] == "retain run 2: removed 0 row(s) from 1 model(s)"
    assert kept(db) == list(range(7, 19))


def test_partitions_are_archived_when_asked(built, db: psycopg.Connection, dsn: str, weir) -> None:
    project = built(PARTITIONED.format(archive=", retain_archive=true"))
    assert weir("retain", "--as-of", AS_OF, "--project", str(project), "--dsn", dsn).exit_code == 0
    assert kept(db) == list(range(7, 19))
    assert kept(db, "marts.fact__archive") == list(range(1, 7))


@pytest.mark.parametrize("archive", ["", ", retain_archive=true"])
def test_an_unpartitioned_model_loses_its_old_rows_in_batches(
    built, db: psycopg.Connection, dsn: str, weir, archive: str
) -> None:
    project = built(PLAIN.format(archive=archive))
    done = weir("retain", "--as-of", AS_OF, "--batch", "3", "--project", str(project), "--dsn", dsn)
    assert done.exit_code == 0, done.output
    # rows up to 2024-03-11 06:00: ids 1-8 (2024-03-11 is id 8)
    assert kept(db) == list(range(9, 19))
    assert db.execute("SELECT rows_removed FROM weir.retention_step ORDER BY finished_at").fetchall() == [
        (3,), (3,), (2,)]
    archived = db.execute("SELECT to_regclass('marts.fact__archive')").fetchone()[0]
    assert (archived is not None) == bool(archive)
    if archive:
        assert kept(db, "marts.fact__archive") == list(range(1, 9))


def test_models_without_retain_are_left_alone(tmp_path: Path, write_models, db, dsn: str, weir) -> None:
    db.execute(SOURCE)
    write_models(tmp_path, {"models/marts/fact.sql": "-- weir: kind=table\nSELECT * FROM raw.events"})
    assert weir("build", "--project", str(tmp_path), "--dsn", dsn).exit_code == 0
    done = weir("retain", "--project", str(tmp_path), "--dsn", dsn)
    assert done.stdout.splitlines()[-1] == "retain run 1: removed 0 row(s) from 0 model(s)"
    assert len(kept(db)) == 18


def test_a_partition_a_killed_run_detached_is_counted_dropped_and_recorded_by_the_next(
    built, db: psycopg.Connection, dsn: str, weir
) -> None:
    project = built(PARTITIONED.format(archive=""))
    first = weir("retain", "--as-of", AS_OF, "--project", str(project), "--dsn", dsn)
    assert first.exit_code == 0, first.output
    # What a run killed after its first transaction leaves: March (ids 7-10)
    # detached and renamed, its step recorded without rows (the kill test reaches this for real).
    db.execute("ALTER TABLE marts.fact DETACH PARTITION marts.fact_p202403")
    db.execute("ALTER TABLE marts.fact_p202403 RENAME TO fact_p202403__expired")
    db.execute("INSERT INTO weir.retention_run (as_of, status) VALUES (now(), 'failed')")
    db.execute("INSERT INTO weir.retention_step (retention_run_id, model, cutoff, partition_name, archived)"
               " VALUES (2, 'marts.fact', '2024-04-01', 'fact_p202403', false)")
    # A late March row brings March's partition back under the same name, already expired.
    db.execute("INSERT INTO raw.events (id, at, amount) VALUES (100, '2024-03-15 06:00+00', 100)")
    assert weir("build", "--project", str(project), "--dsn", dsn).exit_code == 0
    assert db.execute("SELECT count(*) FROM marts.fact_p202403").fetchone()[0] == 1
    # The model now asks for an archive: the waiting step's own record decides how it ends.
    (project / "models/marts/fact.sql").write_text(PARTITIONED.format(archive=", retain_archive=true"))

    # A month later March has expired whole (cutoff 2024-04-11): the waiting step is finished
    # first, which frees the `__expired` name the new partition is detached under.
    again = weir("retain", "--as-of", "2024-07-10", "--project", str(project), "--dsn", dsn)

    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[-1] == "retain run 3: removed 5 row(s) from 1 model(s)"
    assert kept(db) == list(range(11, 19))
    assert db.execute("SELECT to_regclass('marts.fact_p202403__expired')").fetchone()[0] is None
    assert kept(db, "marts.fact__archive") == [100]
    assert db.execute("SELECT partition_name, rows_removed, archived FROM weir.retention_step ORDER BY 1, 2"
                      ).fetchall() == [("fact_p202401", 4, False), ("fact_p202402", 2, False),
                                       ("fact_p202403", 1, True), ("fact_p202403", 4, False)]


def test_a_model_not_built_yet_has_nothing_to_remove(tmp_path: Path, write_models, db, dsn: str, weir) -> None:
    db.execute(SOURCE)
    write_models(tmp_path, {"models/marts/fact.sql": PARTITIONED.format(archive="")})
    for args in (("--dry-run",), ()):
        done = weir("retain", *args, "--as-of", AS_OF, "--project", str(tmp_path), "--dsn", dsn)
        assert done.exit_code == 0, done.output
        assert done.stdout.splitlines()[-1].endswith(" 0 row(s) from 1 model(s)")
