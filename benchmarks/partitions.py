"""Partitioned fact against the plain one: incremental build, and retention against DELETE.

    .venv/bin/python benchmarks/partitions.py SCALE [--dsn DSN] [--fraction 0.01] [--runs 3] [--reuse]

On one server (--dsn, $WEIR_BENCH_DSN, else the system PostgreSQL at 127.0.0.1:5432, else
the embedded one) a database is migrated and loaded with SCALE order items (with --reuse it
is kept, and a later run with the same SCALE starts from it: a 10M load takes minutes;
--drop-source drops it) and cloned twice: one is built by the example project as it is, the
other by a copy whose fact_order_items is partitioned by month of order_date (its unique key
gains order_date, which a line never changes) and keeps 400 days. Then RUNS times: the same
change batch on both and a timed incremental `weir build` of each (the whole CLI, one
process each, the first of the two alternating); then RUNS times the oldest month goes: on
the plain copy by the DELETE of its rows through psql (the floor), on the partitioned one by
`weir retain` (the library call in a warm process: what removing a month costs, not
Python's start), with where its time went: the transaction that takes the month out of the
model (DETACH, the only one that locks the table), and around it the run's bookkeeping
before and the exact count and DROP of the detached rows after. The VACUUM that frees the
DELETE's dead rows is timed too, as the DROP frees the partition's files. Medians are
printed with the load average of the machine. Targets (issue 22): the partitioned
incremental build no slower than the plain one; the month out of the model within 1% of the
DELETE's time. It measures, it does not test.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from common import ROOT, compile_weir, database_conninfo, find_server, verdict
from psycopg import sql

from runner.migrate import migrate
from runner.project import Project
from runner.retention import Removed
from runner.sample import data as sample_data

BIN = Path(sys.executable).parent
_OWNER = re.sub(r"[^a-z0-9]+", "_", ROOT.name.lower())
PLAIN_DB, PARTITIONED_DB = (f"weir_bench_part_{kind}_{_OWNER}" for kind in ("plain", "parted"))
FACT = "models/marts/fact_order_items.sql"
HEADER = "-- weir: kind=incremental, unique_key=order_item_id, watermark=updated_at, lookback=1 hour"
PARTITIONED_HEADER = ('-- weir: kind=incremental, unique_key="order_item_id order_date", watermark=updated_at,'
                      ' lookback=1 hour\n-- weir: partition_by="month(order_date)", retain="400 days"')
_MODEL_SECONDS = """
SELECT model, seconds FROM weir.build_result WHERE run_id = (SELECT max(run_id) FROM weir.build_result)
AND status = 'success' ORDER BY model
"""
_FACT_MODELS = ("marts.fact_order_items", "marts.agg_daily_sales")


def main() -> None:
    """Parse arguments, run the benchmark, print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scale", type=int, help="order items to load, e.g. 10000000")
    parser.add_argument("--dsn", help="server to use (an administrative connection); default $WEIR_BENCH_DSN")
    parser.add_argument("--fraction", type=float, default=0.01, help="share of rows each change batch touches")
    parser.add_argument("--runs", type=int, default=3, help="incremental builds and months removed (median of)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the loaded database and start from it next time (drop it with --drop-source)")
    parser.add_argument("--drop-source", action="store_true", help="drop the kept loaded database and stop")
    parser.add_argument("--keep", action="store_true", help="keep the two built databases afterwards")
    args = parser.parse_args()
    compile_weir()
    server = find_server(args.dsn)
    source = f"weir_bench_part_source_{args.scale}_{_OWNER}"
    admin = psycopg.connect(server.conninfo, autocommit=True)
    if args.drop_source:
        _drop(admin, source)
        return
    print(f"server: {server.description}; scale {args.scale:,} order items; change batch {args.fraction:.0%};"
          f" {args.runs} runs")
    with tempfile.TemporaryDirectory() as temporary:
        partitioned_project = _partitioned_copy(Path(temporary))
        try:
            for name in (PLAIN_DB, PARTITIONED_DB):
                _drop(admin, name)
            _load(admin, server.conninfo, source, args.scale, reuse=args.reuse)
            for name in (PLAIN_DB, PARTITIONED_DB):
                admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(source)))
            plain, parted = (database_conninfo(server.conninfo, name) for name in (PLAIN_DB, PARTITIONED_DB))
            results = _measure(server.psql, plain, parted, partitioned_project, args.fraction, args.runs)
        finally:
            for name in (PLAIN_DB, PARTITIONED_DB) if not args.keep else ():
                _drop(admin, name)
            if not args.reuse:
                _drop(admin, source)
            admin.close()
    _print(results)


def _drop(admin: psycopg.Connection[Any], name: str) -> None:
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _load(admin: psycopg.Connection[Any], conninfo: str, source: str, scale: int, *, reuse: bool) -> None:
    """Create `source`, migrated and loaded with `scale` order items, unless `reuse` finds it loaded already."""
    exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (source,)).fetchone()
    if reuse and exists:
        with psycopg.connect(database_conninfo(conninfo, source), autocommit=True) as conn:
            if conn.execute("SELECT to_regclass('weir.sample_loaded') IS NOT NULL").fetchone()[0]:
                print(f"  reusing {source}")
                return
    _drop(admin, source)
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(source)))
    started = time.perf_counter()
    with psycopg.connect(database_conninfo(conninfo, source), autocommit=True) as conn:
        migrate(conn, Project.load(ROOT))
        sample_data.load(conn, scale)
        conn.execute("VACUUM ANALYZE")
        conn.execute("CREATE TABLE weir.sample_loaded ()")  # the load finished: safe to reuse
    print(f"  loaded {source} in {time.perf_counter() - started:.0f} s")


def _partitioned_copy(directory: Path) -> Path:
    """Copy the example project with fact_order_items partitioned by month; return its directory."""
    project = directory / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".venv*", ".weir", ".git", "node_modules"))
    fact = project / FACT
    text = fact.read_text()
    assert HEADER in text, f"{FACT} no longer starts with {HEADER!r}: update benchmarks/partitions.py"
    fact.write_text(text.replace(HEADER, PARTITIONED_HEADER))
    return project


def _measure(
    psql: str, plain: str, parted: str, parted_project: Path, fraction: float, runs: int
) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    for conninfo, project in ((plain, ROOT), (parted, parted_project)):
        _weir("build", conninfo, project)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    for run in range(1, runs + 1):
        for conninfo in (plain, parted):
            with psycopg.connect(conninfo, autocommit=True) as conn:
                sample_data.change_batch(conn, run, fraction)
                conn.execute("VACUUM ANALYZE")
        pair = [("plain", plain, ROOT), ("partitioned", parted, parted_project)]
        for label, conninfo, project in pair if run % 2 else pair[::-1]:  # neither always goes first
            with psycopg.connect(conninfo, autocommit=True) as conn:
                # Each starts just after a checkpoint, so neither pays for one that the batch's
                # or the other build's WAL set off (max_wal_size is 1 GB; the server logged
                # checkpoints 13 s apart), nor writes full pages where the other did not.
                conn.execute("CHECKPOINT")
            results.setdefault(f"{label} incremental build", []).append(_weir("build", conninfo, project))
            with psycopg.connect(conninfo, autocommit=True) as conn:
                for model, seconds in conn.execute(_MODEL_SECONDS).fetchall():
                    if model in _FACT_MODELS:
                        results.setdefault(f"  {label} {model}", []).append(float(seconds))
                # The upsert left dead rows: a month's partition crosses autovacuum's threshold
                # (20% of its rows) where the whole plain table does not, and an autovacuum
                # starting during the other build would be timed there. Vacuumed now, it has
                # nothing to do.
                conn.execute("VACUUM ANALYZE")
        print(f"  run {run}: load {_load_average()}; " + ", ".join(
            f"{label.strip()} {values[-1]:.3f}" for label, values in results.items()))
    with psycopg.connect(parted, autocommit=True) as conn:
        first: date = conn.execute("SELECT date_trunc('month', min(order_date))::date FROM marts.fact_order_items"
                                   ).fetchone()[0]
    for run in range(runs):
        month = _add_months(first, run)
        next_month = _add_months(first, run + 1)
        with psycopg.connect(parted, autocommit=True) as conn:
            rows = conn.execute("SELECT count(*) FROM marts.fact_order_items WHERE order_date < %s",
                                (next_month,)).fetchone()[0]
        results.setdefault("rows of the oldest month", []).append(rows)
        started = time.perf_counter()
        subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", plain, "-c",
                        f"DELETE FROM marts.fact_order_items WHERE order_date < '{next_month}'"], check=True)
        results.setdefault("DELETE through psql (floor)", []).append(time.perf_counter() - started)
        started = time.perf_counter()  # what frees the DELETE's dead rows, as DROP frees a partition's files
        subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", plain, "-c",
                        "VACUUM marts.fact_order_items"], check=True)
        results.setdefault("  VACUUM after it", []).append(time.perf_counter() - started)
        as_of = next_month + timedelta(days=400)  # the cutoff: the start of the next month
        seconds, removed = _retain_in_process(parted, parted_project, as_of)
        results.setdefault("weir retain (library), whole call", []).append(seconds)
        results.setdefault("  the month leaves the model (DETACH...COMMIT)", []).append(removed.locked_seconds)
        results.setdefault("  before it: state, run record, listing", []).append(
            seconds - removed.locked_seconds - removed.dropped_seconds)
        results.setdefault("  after it: exact count(*) of the partition", []).append(removed.count_seconds)
        results.setdefault("  after it: DROP, step completed, commit", []).append(
            removed.dropped_seconds - removed.count_seconds)
        if removed.rows != rows:
            sys.exit(f"weir retain removed {removed.rows} rows of {month:%Y-%m}, which holds {rows}")
        print(f"  month {month:%Y-%m}: load {_load_average()}; {rows:,} rows; DELETE"
              f" {results['DELETE through psql (floor)'][-1]:.3f} s, weir retain {seconds:.4f} s"
              f" (the month out of the model in {removed.locked_seconds:.4f} s)")
    return results


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _retain_in_process(conninfo: str, project_dir: Path, as_of: date) -> tuple[float, Removed]:
    """Time `weir retain` as the library runs it in a warm process: the removal itself."""
    from runner.db.connection import connect
    from runner.retention import retain

    project = Project.load(project_dir)
    project.models  # noqa: B018 - read before timing
    when = datetime.combine(as_of, datetime.min.time(), tzinfo=UTC)
    with connect(conninfo, "weir retain") as conn:
        started = time.perf_counter()
        report = retain(conn, project, select=("marts.fact_order_items",), as_of=when)
        seconds = time.perf_counter() - started
    (removed,) = report.removed
    return seconds, removed


def _weir(command: str, conninfo: str, project: Path) -> float:
    started = time.perf_counter()
    subprocess.run([str(BIN / "weir"), command, "--project", str(project), "--dsn", conninfo],
                   check=True, capture_output=True)
    return time.perf_counter() - started


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _print(results: dict[str, list[float]]) -> None:
    medians = {label: statistics.median(values) for label, values in results.items()}
    for label, values in results.items():
        shown = ", ".join(f"{value:,.4f}" if isinstance(value, float) else f"{value:,}" for value in values)
        median = medians[label]
        print(f"  {label:46} median {median:,.4f}   ({shown})" if isinstance(values[0], float)
              else f"  {label:46} median {median:,.0f}   ({shown})")
    incremental = medians["partitioned incremental build"] / medians["plain incremental build"]
    delete = medians["DELETE through psql (floor)"]
    removal = medians["  the month leaves the model (DETACH...COMMIT)"] / delete
    whole = medians["weir retain (library), whole call"]
    print(f"load average now: {_load_average()}")
    print(f"partitioned / plain incremental build: {incremental:.2f}x (target <= 1.0: {verdict(incremental <= 1.0)})")
    print(f"the month out of the model / DELETE of the same rows: {removal:.2%}"
          f" (target <= 1%: {verdict(removal <= 0.01)})")
    print(f"whole weir retain / DELETE: {whole / delete:.1%}; / DELETE + VACUUM:"
          f" {whole / (delete + medians['  VACUUM after it']):.1%}")

if __name__ == "__main__":
    main()
