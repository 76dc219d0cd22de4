"""kill -9 at every statement of `weir retain`, then a re-run: the rows kept are those of an uninterrupted run.

Every point is tried, before the statement reaches the server and while it runs: retention
of a small project sends few statements. The re-run must leave each model (and its archive)
with exactly the rows an uninterrupted run leaves, and the history must add up to what was
removed: a removal is recorded in its own transaction, never twice, never lost.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

SOURCE = """
CREATE SCHEMA raw;
CREATE TABLE raw.events (id int PRIMARY KEY, at timestamptz NOT NULL, amount int NOT NULL,
                         updated_at timestamptz NOT NULL DEFAULT now());
INSERT INTO raw.events (id, at, amount)
SELECT g, timestamptz '2024-01-01 06:00+00' + (g - 1) * interval '10 days', g FROM generate_series(1, 18) g;
"""
MODELS = {
    "models/marts/by_month.sql": (
        '-- weir: kind=incremental, unique_key="id at", watermark=updated_at\n'
        '-- weir: partition_by="month(at)", retain="90 days", retain_archive=true\n'
        "SELECT id, at, amount, updated_at FROM raw.events WHERE updated_at > weir.since('marts.by_month')"),
    "models/marts/dropped.sql": (
        '-- weir: kind=incremental, unique_key="id at", watermark=updated_at\n'
        '-- weir: partition_by="month(at)", retain="90 days"\n'
        "SELECT id, at, amount, updated_at FROM raw.events WHERE updated_at > weir.since('marts.dropped')"),
    "models/marts/plain.sql": (
        '-- weir: kind=incremental, unique_key=id, watermark=updated_at, retain="90 days on at"\n'
        "SELECT id, at, amount, updated_at FROM raw.events WHERE updated_at > weir.since('marts.plain')"),
}
RETAIN = ("retain", "--as-of", "2024-06-10", "--batch", "3")


def kept(dsn: str) -> dict[str, list[int]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = ("marts.by_month", "marts.by_month__archive", "marts.dropped", "marts.plain")
        found = {table: [row[0] for row in conn.execute(f"SELECT id FROM {table} ORDER BY id")]  # noqa: S608
                 for table in tables if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0]}
        removed = conn.execute("SELECT model, sum(rows_removed)::int FROM weir.retention_step GROUP BY 1 ORDER BY 1")
        found["history"] = [total for _, total in removed.fetchall()]
        # a partition detached by a killed run is counted, dropped and recorded by the re-run
        found["left detached"] = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname LIKE '%\\_\\_expired'").fetchone()[0]
        found["steps not counted"] = conn.execute(
            "SELECT count(*) FROM weir.retention_step WHERE rows_removed IS NULL").fetchone()[0]
        return found


def detached_not_counted(dsn: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('weir.retention_step') IS NULL").fetchone()[0]:
            return False
        return bool(conn.execute("SELECT count(*) FROM weir.retention_step WHERE rows_removed IS NULL").fetchone()[0])


def test_retain_killed_anywhere_then_rerun_keeps_what_an_uninterrupted_run_keeps(
        tmp_path: Path, write_files, databases, weir_process, count_statements, record_trial) -> None:
    write_files(tmp_path, MODELS)
    built = databases.create()
    with psycopg.connect(databases.dsn(built), autocommit=True) as conn:
        conn.execute(SOURCE)
    assert weir_process(databases.dsn(built), "build", project=tmp_path).returncode == 0

    uninterrupted = databases.create(template=built)
    finished = weir_process(databases.dsn(uninterrupted), *RETAIN, project=tmp_path)
    assert finished.returncode == 0, finished.stderr
    expected = kept(databases.dsn(uninterrupted))
    assert expected["marts.plain"] == list(range(9, 19)) and expected["marts.by_month__archive"] == list(range(1, 7))
    assert expected["marts.dropped"] == list(range(7, 19)) and expected["history"] == [6, 6, 8]
    assert expected["left detached"] == expected["steps not counted"] == 0
    statements = count_statements(finished)

    killed_between = 0  # trials killed after a partition was detached and before it was dropped
    for point in range(1, statements + 1):
        for mode in ("before", "during"):
            name = databases.create(template=built)
            dsn = databases.dsn(name)
            killed = weir_process(dsn, *RETAIN, kill_at=point, mode=mode, project=tmp_path)
            assert killed.returncode in (-9, 0), killed.stderr
            killed_between += detached_not_counted(dsn)
            rerun = weir_process(dsn, *RETAIN, project=tmp_path)
            assert rerun.returncode == 0, rerun.stderr
            assert kept(dsn) == expected, f"killed at statement {point} ({mode})"
            databases.drop(name)
            record_trial("kill", command="retain", state="built", statement=point, of=statements, mode=mode,
                         killed=killed.returncode == -9)
    assert killed_between >= 2, "no trial was killed between detaching a partition and dropping it"
