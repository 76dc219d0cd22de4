"""Partitioned fact against the plain one: incremental build, and retention against DELETE.

    .venv/bin/python benchmarks/partitions.py SCALE [--dsn DSN] [--fraction 0.01]

On one server (--dsn, $WEIR_BENCH_DSN, else the system PostgreSQL at 127.0.0.1:5432, else
the embedded one) a database is migrated and loaded with SCALE order items and cloned twice:
one is built by the example project as it is, the other by a copy whose fact_order_items is
partitioned by month of order_date (its unique key gains order_date, which a line never
changes) and keeps 400 days. Then, on both, the same change batch and a timed incremental
`weir build`; then the oldest month goes: on the partitioned copy by `weir retain` (the
library call in this process, and the whole CLI), on the plain one by the DELETE of the same
rows through psql (the floor). Targets (issue 22): the partitioned incremental build no slower
than the plain one; retention within 1% of the DELETE's time. It measures, it does not test.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, timedelta
from pathlib import Path

import psycopg
from common import ROOT, compile_weir, database_conninfo, find_server, verdict
from psycopg import sql

from runner.migrate import migrate
from runner.project import Project
from runner.sample import data as sample_data

BIN = Path(sys.executable).parent
_OWNER = re.sub(r"[^a-z0-9]+", "_", ROOT.name.lower())
SOURCE_DB, PLAIN_DB, PARTITIONED_DB = (f"weir_bench_part_{kind}_{_OWNER}" for kind in ("source", "plain", "parted"))
FACT = "models/marts/fact_order_items.sql"
HEADER = "-- weir: kind=incremental, unique_key=order_item_id, watermark=updated_at, lookback=1 hour"
PARTITIONED_HEADER = ('-- weir: kind=incremental, unique_key="order_item_id order_date", watermark=updated_at,'
                      ' lookback=1 hour\n-- weir: partition_by="month(order_date)", retain="400 days"')


_MODEL_SECONDS = """
SELECT model, seconds FROM weir.build_result WHERE run_id = (SELECT max(run_id) FROM weir.build_result)
AND status = 'success' ORDER BY model
"""


def main() -> None:
    """Parse arguments, run the benchmark, print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scale", type=int, help="order items to load, e.g. 10000000")
    parser.add_argument("--dsn", help="server to use (an administrative connection); default $WEIR_BENCH_DSN")
    parser.add_argument("--fraction", type=float, default=0.01, help="share of rows the change batch touches")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()
    compile_weir()
    server = find_server(args.dsn)
    print(f"server: {server.description}; scale {args.scale:,} order items; change batch {args.fraction:.0%}")
    with tempfile.TemporaryDirectory() as temporary:
        partitioned_project = _partitioned_copy(Path(temporary))
        admin = psycopg.connect(server.conninfo, autocommit=True)
        try:
            for name in (SOURCE_DB, PLAIN_DB, PARTITIONED_DB):
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SOURCE_DB)))
            with psycopg.connect(database_conninfo(server.conninfo, SOURCE_DB), autocommit=True) as conn:
                migrate(conn, Project.load(ROOT))
                sample_data.load(conn, args.scale)
                conn.execute("VACUUM ANALYZE")
            for name in (PLAIN_DB, PARTITIONED_DB):
                admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(SOURCE_DB)))
            plain, parted = (database_conninfo(server.conninfo, name) for name in (PLAIN_DB, PARTITIONED_DB))
            results = _measure(server.psql, plain, parted, partitioned_project, args.fraction)
        finally:
            for name in (SOURCE_DB, PLAIN_DB, PARTITIONED_DB) if not args.keep else ():
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            admin.close()
    _print(results)


def _partitioned_copy(directory: Path) -> Path:
    """Copy the example project with fact_order_items partitioned by month; return its directory."""
    project = directory / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".venv*", ".weir", ".git", "node_modules"))
    fact = project / FACT
    text = fact.read_text()
    assert HEADER in text, f"{FACT} no longer starts with {HEADER!r}: update benchmarks/partitions.py"
    fact.write_text(text.replace(HEADER, PARTITIONED_HEADER))
    return project


def _measure(psql: str, plain: str, parted: str, parted_project: Path, fraction: float) -> dict[str, float]:
    results: dict[str, float] = {}
    for conninfo, project in ((plain, ROOT), (parted, parted_project)):
        _weir("build", conninfo, project)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            sample_data.change_batch(conn, 1, fraction)
    for label, conninfo, project in (("plain incremental", plain, ROOT),
                                     ("partitioned incremental", parted, parted_project)):
        results[label] = _weir("build", conninfo, project)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            models = conn.execute(_MODEL_SECONDS).fetchall()
        print(f"  {label}: " + ", ".join(f"{model} {seconds:.3f}" for model, seconds in models))
    with psycopg.connect(parted, autocommit=True) as conn:
        first_month = conn.execute("SELECT date_trunc('month', min(order_date))::date FROM marts.fact_order_items"
                                   ).fetchone()[0]
        next_month = conn.execute("SELECT (%s::date + interval '1 month')::date", (first_month,)).fetchone()[0]
        rows = conn.execute("SELECT count(*) FROM marts.fact_order_items WHERE order_date < %s",
                            (next_month,)).fetchone()[0]
    as_of = next_month + timedelta(days=400)  # the cutoff: the start of the second month
    results["rows of the oldest month"] = rows
    started = time.perf_counter()
    subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", plain, "-c",
                    f"DELETE FROM marts.fact_order_items WHERE order_date < '{next_month}'"], check=True)
    results["DELETE through psql (floor)"] = time.perf_counter() - started
    results["weir retain (library)"] = _retain_in_process(parted, parted_project, as_of)
    with psycopg.connect(parted, autocommit=True) as conn:
        left = conn.execute("SELECT count(*) FROM marts.fact_order_items WHERE order_date < %s",
                            (next_month,)).fetchone()[0]
    if left:
        sys.exit(f"weir retain left {left} rows of the oldest month")
    return results


def _retain_in_process(conninfo: str, project_dir: Path, as_of: object) -> float:
    """Time `weir retain` as the library runs it in a warm process: the removal itself."""
    from datetime import datetime

    from runner.db.connection import connect
    from runner.retention import retain

    project = Project.load(project_dir)
    project.models  # noqa: B018 - read before timing
    when = datetime.combine(as_of, datetime.min.time(), tzinfo=UTC)  # type: ignore[arg-type]
    with connect(conninfo, "weir retain") as conn:
        started = time.perf_counter()
        report = retain(conn, project, select=("marts.fact_order_items",), as_of=when)
        seconds = time.perf_counter() - started
    (removed,) = report.removed
    print(f"  weir retain removed {removed.rows:,} rows in partitions {', '.join(removed.partitions)}")
    return seconds


def _weir(command: str, conninfo: str, project: Path) -> float:
    started = time.perf_counter()
    subprocess.run([str(BIN / "weir"), command, "--project", str(project), "--dsn", conninfo],
                   check=True, capture_output=True)
    return time.perf_counter() - started


def _print(results: dict[str, float]) -> None:
    for label, value in results.items():
        print(f"  {label:32} {value:,.3f}" if isinstance(value, float) else f"  {label:32} {value:,}")
    incremental = results["partitioned incremental"] / results["plain incremental"]
    retention = results["weir retain (library)"] / results["DELETE through psql (floor)"]
    print(f"partitioned / plain incremental build: {incremental:.2f}x (target <= 1.0: {verdict(incremental <= 1.0)})")
    print(f"retention / DELETE of the same rows: {retention:.2%} (target <= 1%: {verdict(retention <= 0.01)})")


if __name__ == "__main__":
    main()
