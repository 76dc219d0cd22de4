"""Partitioned models on a real server: partitions made ahead, batches touching only theirs, rebuilds swapped."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

SOURCE = """
CREATE SCHEMA raw;
CREATE TABLE raw.events (id int PRIMARY KEY, at timestamptz NOT NULL, country text NOT NULL,
                         amount int NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
INSERT INTO raw.events (id, at, country, amount)
SELECT g, timestamptz '2024-01-15 12:00+00' + (g - 1) * interval '20 days', CASE g % 2 WHEN 0 THEN 'DE' ELSE 'NO' END, g
FROM generate_series(1, 5) g;
"""

FACT = ('-- weir: kind=incremental, unique_key="id at", watermark=updated_at\n'
        '-- weir: partition_by="month(at)", indexes="country"\n'
        "SELECT id, at, country, amount, updated_at FROM raw.events WHERE updated_at > weir.since('marts.fact')")


def partitions(db: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    return db.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = %s::regclass ORDER BY 1", (table,)).fetchall()


def test_an_incremental_fact_is_partitioned_by_month_with_partitions_ahead(
    tmp_path: Path, write_models, db: psycopg.Connection, dsn: str, weir, wait_until
) -> None:
    db.execute(SOURCE)
    write_models(tmp_path, {"models/marts/fact.sql": FACT})
    built = weir("build", "--project", str(tmp_path), "--dsn", dsn)
    assert built.exit_code == 0, built.output
    assert db.execute("SELECT relkind FROM pg_class WHERE oid = 'marts.fact'::regclass").fetchone() == ("p",)
    # rows from 2024-01-15 to 2024-04-04: January to April, and two months ahead
    names = [name for name, _ in partitions(db, "marts.fact")]
    assert names == [f"fact_p2024{month:02d}" for month in range(1, 7)]
    assert dict(partitions(db, "marts.fact"))["fact_p202401"] == (
        "FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00')")
    assert db.execute("SELECT count(*), sum(amount) FROM marts.fact").fetchone() == (5, 15)
    # the declared index is on the parent, so on every partition
    assert db.execute("SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'fact_p2024%%'"
                      " AND indexdef LIKE '%%(country)%%'").fetchone() == (6,)

    db.execute("INSERT INTO raw.events (id, at, country, amount) VALUES (6, '2024-09-02 08:00+00', 'DE', 100)")
    db.execute("UPDATE raw.events SET amount = 50, updated_at = now() WHERE id = 1")
    writes = "SELECT relname, n_tup_ins + n_tup_upd FROM pg_stat_user_tables WHERE relname LIKE 'fact_p%%'"
    wait_until(lambda: dict(db.execute(writes).fetchall()).get("fact_p202401") == 1)  # the first build's stats
    before = dict(db.execute(writes).fetchall())
    again = weir("build", "--project", str(tmp_path), "--dsn", dsn)
    assert again.exit_code == 0, again.output
    assert "new partition" in again.output
    assert [line.split()[3:5] for line in again.stdout.splitlines() if line.startswith("marts.fact ")] == [
        ["1", "1"]]  # inserted id 6, updated id 1
    names = [name for name, _ in partitions(db, "marts.fact")]
    assert names[-3:] == ["fact_p202409", "fact_p202410", "fact_p202411"]
    assert db.execute("SELECT sum(amount) FROM marts.fact").fetchone() == (164,)
    assert db.execute("SELECT tableoid::regclass::text FROM marts.fact WHERE id = 6").fetchone() == (
        "marts.fact_p202409",)
    # the batch wrote to the two partitions its rows fall in, and to no other
    wait_until(lambda: dict(db.execute(writes).fetchall()).get("fact_p202409") == 1)
    after = dict(db.execute(writes).fetchall())
    assert {name: count - before.get(name, 0) for name, count in after.items() if count != before.get(name, 0)} == {
        "fact_p202401": 1, "fact_p202409": 1}


def test_a_list_partitioned_batch_counts_new_and_changed_rows_per_partition_and_runs_without_jit(
    tmp_path: Path, write_models, db: psycopg.Connection, dsn: str, weir
) -> None:
    db.execute(SOURCE)
    write_models(tmp_path, {"models/marts/fact.sql": (
        '-- weir: kind=incremental, unique_key="country id", watermark=updated_at, partition_by="list(country)"\n'
        "SELECT country, id, amount, updated_at, current_setting('jit') AS jit FROM raw.events"
        " WHERE updated_at > weir.since('marts.fact')")})
    built = weir("build", "--project", str(tmp_path), "--dsn", dsn)
    assert built.exit_code == 0, built.output
    server_jit = db.execute("SELECT current_setting('jit')").fetchone()[0]
    assert db.execute("SELECT DISTINCT jit FROM marts.fact").fetchall() == [(server_jit,)]  # a rebuild keeps it
    db.execute("INSERT INTO raw.events (id, at, country, amount) VALUES (6, now(), 'SE', 6), (7, now(), 'DE', 7)")
    db.execute("UPDATE raw.events SET amount = 50, updated_at = now() WHERE id IN (1, 2)")  # one NO, one DE
    again = weir("build", "--project", str(tmp_path), "--dsn", dsn)
    assert again.exit_code == 0, again.output
    assert [line.split()[3:5] for line in again.stdout.splitlines() if line.startswith("marts.fact ")] == [
        ["2", "2"]]  # inserted 6 (a new partition) and 7, updated 1 and 2
    assert db.execute("SELECT id, amount, jit FROM marts.fact WHERE updated_at > now() - interval '1 hour'"
                      " AND (id > 5 OR amount = 50) ORDER BY id").fetchall() == [
        (1, 50, "off"), (2, 50, "off"), (6, 6, "off"), (7, 7, "off")]
    assert db.execute("SELECT country, count(*) FROM marts.fact GROUP BY 1 ORDER BY 1").fetchall() == [
        ("DE", 3), ("NO", 3), ("SE", 1)]


def test_a_date_column_is_partitioned_by_its_own_days_whatever_the_session_time_zone(
    tmp_path: Path, write_models, db: psycopg.Connection, dsn: str, weir
) -> None:
    db.execute(SOURCE)
    write_models(tmp_path, {"models/marts/fact.sql": (
        '-- weir: kind=incremental, unique_key="id day", watermark=updated_at, partition_by="month(day)"\n'
        "SELECT id, (at AT TIME ZONE 'UTC')::date AS day, amount, updated_at FROM raw.events"
        " WHERE updated_at > weir.since('marts.fact')")})
    assert weir("build", "--project", str(tmp_path), "--dsn", dsn).exit_code == 0
    # the last day of a month and the first of the next, in a session far east of UTC
    db.execute("INSERT INTO raw.events (id, at, country, amount) VALUES"
               " (6, '2024-07-31 12:00+00', 'DE', 6), (7, '2024-08-01 00:30+00', 'DE', 7)")
    db.execute("UPDATE raw.events SET amount = 50, updated_at = now() WHERE id = 1")
    again = weir("build", "--project", str(tmp_path), "--dsn", dsn, env={"PGTZ": "Pacific/Kiritimati"})
    assert again.exit_code == 0, again.output
    assert [line.split()[3:5] for line in again.stdout.splitlines() if line.startswith("marts.fact ")] == [
        ["2", "1"]]
    assert db.execute("SELECT id, tableoid::regclass::text FROM marts.fact WHERE id IN (1, 6, 7) ORDER BY id"
                      ).fetchall() == [(1, "marts.fact_p202401"), (6, "marts.fact_p202407"), (7, "marts.fact_p202408")]
    assert dict(partitions(db, "marts.fact"))["fact_p202408"] == "FOR VALUES FROM ('2024-08-01') TO ('2024-09-01')"


def test_a_full_rebuild_swaps_in_a_new_partitioned_table_named_after_the_model(
    tmp_path: Path, write_models, db: psycopg.Connection, dsn: str, weir
) -> None:
    db.execute(SOURCE)
    write_models(tmp_path, {"models/marts/by_country.sql": (
        '-- weir: kind=table, unique_key="country id", partition_by="list(country)"\n'
        "SELECT country, id, amount FROM raw.events")})
    for _ in range(2):
        built = weir("build", "--full-refresh", "--project", str(tmp_path), "--dsn", dsn)
        assert built.exit_code == 0, built.output
    names = [name for name, _ in partitions(db, "marts.by_country")]
    assert len(names) == 2 and all(name.startswith("by_country_p_") for name in names)
    assert db.execute("SELECT count(*) FROM pg_class WHERE relname LIKE '%%weir_new%%'").fetchone() == (0,)
    assert db.execute("SELECT country, count(*) FROM marts.by_country GROUP BY 1 ORDER BY 1").fetchall() == [
        ("DE", 2), ("NO", 3)]


def test_a_null_in_the_partition_column_fails_the_model_and_keeps_the_previous_version(
    tmp_path: Path, write_models, db: psycopg.Connection, dsn: str, weir
) -> None:
    db.execute(SOURCE)
    write_models(tmp_path, {"models/marts/t.sql": (
        '-- weir: kind=table, partition_by="day(at)"\nSELECT id, CASE WHEN id = 3 THEN NULL ELSE at END AS at'
        " FROM raw.events")})
    built = weir("build", "--project", str(tmp_path), "--dsn", dsn)
    assert built.exit_code == 1
    assert ("models/marts/t.sql:2: 1 row(s) have a NULL at, the partition column of marts.t, and no partition"
            " holds NULL; filter or coalesce them in the SELECT") in built.output
    assert db.execute("SELECT to_regclass('marts.t')").fetchone() == (None,)


@pytest.mark.parametrize(("header", "error"), [
    ('kind=table, unique_key=id, partition_by="month(at)"',
     "models/marts/t.sql:1: partition_by 'month(at)': unique_key (id) leaves out at"),
    ('kind=table, partition_by="week(at)"',
     "models/marts/t.sql:1: partition_by 'week(at)' is not day(col), month(col), year(col) or list(col)"),
    ('kind=view, partition_by="month(at)"',
     "models/marts/t.sql:1: partition_by is for kind=table or kind=incremental, not kind=view"),
    ('kind=incremental, unique_key=id, watermark=at, retain="400 days"',
     "models/marts/t.sql:1: retain '400 days' names no column and the model is not partitioned by day, month or year"),
    ('kind=incremental, unique_key=id, watermark=at, retain="forever on at"',
     "models/marts/t.sql:1: retain 'forever on at': 'forever' is not an interval"),
    ('kind=incremental, unique_key=id, watermark=at, retain_archive=true',
     "models/marts/t.sql:1: retain_archive needs retain"),
    ('kind=table, retain="400 days on at"', "models/marts/t.sql:1: retain is for kind=incremental, not kind=table"),
])
def test_partition_and_retention_directives_are_checked_when_the_project_is_read(
    tmp_path: Path, write_models, header: str, error: str, weir
) -> None:
    write_models(tmp_path, {"models/marts/t.sql": f"-- weir: {header}\nSELECT 1 AS id, now() AS at"})
    linted = weir("lint", "--project", str(tmp_path))
    assert linted.exit_code == 2
    assert error in linted.output
