"""Build the example warehouse by weir and by hand-written SQL in psql (the floor), fully and after a change batch.

    .venv/bin/python benchmarks/build.py SCALE [--dsn DSN] [--fraction 0.01] [--threads 1] [--repeat 1] [--keep]

On one server (--dsn, $WEIR_BENCH_DSN, else the system PostgreSQL at 127.0.0.1:5432, else
the embedded one): a fresh database is migrated and loaded with SCALE order items by the
deterministic generator and vacuumed. Each repetition clones it twice (CREATE DATABASE ...
TEMPLATE), so weir and the floor start from identical data, and times, as wall-clock
seconds of a child process:

1. full build: `weir build` on one copy, benchmarks/floor_build.sql on the other;
2. both settled as autovacuum would settle them (VACUUM ANALYZE), the same change batch
   on both; incremental build: `weir build` against benchmarks/floor_incremental.sql;
   and, for reference, the same floor file sent from Python by benchmarks/floor_psycopg.py
   on a third copy: what starting Python and psycopg costs any Python tool;
   and the same incremental build through the library in this warm process
   (`runner.build.build` on a connection it opens, the project already read), on a copy
   of weir's database taken just before: what an orchestrator calling Weir in-process pays;
3. a no-op `weir build` right after, which must skip every model.

Every `weir build` runs with --threads (default 1, as the floor runs one statement at a time).

The results of both are compared (they must be equal), and weir's peak RSS is the largest
of its build processes' (wait4's ru_maxrss). With --repeat N the median of N is reported.
Targets (issues 3 and 16): full build within 1.1x of the floor; incremental within 1.2x of
the floor, from the cold CLI within the floor + 0.25 s, through the warm library within
1.5x, and at least 10x faster than weir's full build; a no-op build within 0.3 s with every
model skipped; weir under 150 MB. It measures, it does not test: it exits 0 unless something failed to run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from common import ROOT, Server, compile_weir, create_database, database_conninfo, drop_database, find_server, verdict
from psycopg import sql

from runner.db.connection import redact
from runner.migrate import migrate
from runner.project import Project
from runner.sample import data as sample_data

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
# Named after the checkout, so benchmarks run from two worktrees on one server do not drop each other's.
_OWNER = re.sub(r"[^a-z0-9]+", "_", ROOT.name.lower())
SOURCE_DB = f"weir_bench_build_source_{_OWNER}"
WEIR_DB = f"weir_bench_build_{_OWNER}"
FLOOR_DB = f"weir_bench_build_floor_{_OWNER}"
PSYCOPG_FLOOR_DB = f"weir_bench_build_floor_psycopg_{_OWNER}"
LIBRARY_DB = f"weir_bench_build_library_{_OWNER}"
DATABASES = (SOURCE_DB, WEIR_DB, FLOOR_DB, PSYCOPG_FLOOR_DB, LIBRARY_DB)
STEPS = ("floor full", "weir full", "floor incremental", "psycopg floor incremental", "weir incremental",
         "library incremental", "weir no-op")
FULL_RATIO, INCREMENTAL_RATIO, SPEEDUP, NOOP_SECONDS, RSS_MB = 1.1, 1.2, 10.0, 0.3, 150.0
CLI_OVERHEAD, LIBRARY_RATIO = 0.25, 1.5
MARTS = ["marts.dim_customer", "marts.dim_product", "marts.dim_date", "marts.fact_order_items", "marts.agg_daily_sales"]
# Surrogate keys depend on insertion order and a deleted key's version closes at build time,
# neither of which weir and the floor share: compare without them.
_COMPARED = {
    "marts.dim_customer": "SELECT customer_id, email, full_name, city, country, created_at, updated_at,"
    " valid_from, is_current FROM marts.dim_customer",
    "marts.fact_order_items": "SELECT f.order_item_id, f.order_id, d.customer_id, d.valid_from, f.product_key,"
    " f.order_date, f.ordered_at, f.order_status, f.quantity, f.unit_price_cents, f.line_total_cents, f.date_key,"
    " f.updated_at FROM marts.fact_order_items f LEFT JOIN marts.dim_customer d USING (customer_key)",
}
_MODEL_SECONDS = """
SELECT r.model, r.status, r.seconds FROM weir.build_result AS r
WHERE r.run_id = (SELECT max(run_id) FROM weir.build_result) ORDER BY r.model
"""
_DIGEST = "SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0) FROM ({}) AS t"


@dataclass(frozen=True)
class Run:
    """One timed child process."""

    seconds: float
    max_rss_mb: float


def main() -> None:
    """Parse arguments, run the benchmark, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scale", type=int, help="order items to load, e.g. 1000000")
    parser.add_argument("--dsn", help="server to use (an administrative connection); default $WEIR_BENCH_DSN")
    parser.add_argument("--fraction", type=float, default=0.01, help="share of rows the change batch touches")
    parser.add_argument("--threads", type=int, default=1, help="weir build --threads for every weir build")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions; the median is reported")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()
    compile_weir()
    server = find_server(args.dsn)
    print(f"server: {server.description}; scale {args.scale:,} order items; change batch {args.fraction:.0%};"
          f" weir build --threads {args.threads}")
    with databases(server, args.keep):
        load_source(server, args.scale)
        runs = [
            measure(server, args.fraction, args.threads, weir_first=bool(repetition % 2))
            for repetition in range(args.repeat)
        ]
    print(report(runs))


@contextmanager
def databases(server: Server, keep: bool) -> Iterator[None]:
    """Drop leftovers of an earlier run first, and the benchmark's databases at the end unless `keep`."""
    for name in DATABASES:
        drop_database(server, name)
    try:
        yield
    finally:
        if not keep:
            for name in DATABASES:
                drop_database(server, name)


def load_source(server: Server, scale: int) -> None:
    """Create the source database: the raw schema migrated and loaded with `scale` order items."""
    create_database(server, SOURCE_DB)
    with psycopg.connect(database_conninfo(server.conninfo, SOURCE_DB), autocommit=True) as conn:
        migrate(conn, Project.load(ROOT))
        started = time.perf_counter()
        sample_data.load(conn, scale)
        seconds = time.perf_counter() - started
        print(f"loaded in {seconds:.1f} s ({scale / seconds:,.0f} order items/s)")
        # Settle the new rows (hint bits, visibility map) once, so neither side pays for it.
        conn.execute("VACUUM ANALYZE raw.customers, raw.products, raw.orders, raw.order_items")


def measure(server: Server, fraction: float, threads: int, weir_first: bool) -> dict[str, object]:
    """Clone the source twice, build fully and incrementally both ways; return every measurement.

    Whichever of a pair runs second may pay for the first's writes still being flushed, so
    repetitions alternate which goes first.
    """
    for name in (WEIR_DB, FLOOR_DB):
        drop_database(server, name)
        create_database(server, name, template=SOURCE_DB)
    weir_dsn, floor_dsn = (database_conninfo(server.conninfo, name) for name in (WEIR_DB, FLOOR_DB))
    weir = weir_command(weir_dsn, threads)
    floor = [server.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", floor_dsn, "-f"]
    results: dict[str, object] = {}

    def pair(kind: str, floor_file: str) -> None:
        runs = {"weir": lambda: timed(server, weir, weir_dsn),
                "floor": lambda: timed(server, [*floor, str(HERE / floor_file)], floor_dsn)}
        for side in ("weir", "floor") if weir_first else ("floor", "weir"):
            results[f"{side} {kind}"] = runs[side]()
        results[f"models {kind}"] = model_seconds(weir_dsn)

    pair("full", "floor_build.sql")
    for conninfo in (weir_dsn, floor_dsn):
        with psycopg.connect(conninfo, autocommit=True) as conn:
            # What autovacuum does soon after a build from scratch (a full ANALYZE, and a VACUUM
            # of the new tables), done now: left to itself it lands inside one side's timed
            # incremental build or the other's, at 10M by seconds.
            conn.execute("VACUUM ANALYZE")
            sample_data.change_batch(conn, 1, fraction)
    for copy, original in ((PSYCOPG_FLOOR_DB, FLOOR_DB), (LIBRARY_DB, WEIR_DB)):
        drop_database(server, copy)
        create_database(server, copy, template=original)
    psycopg_floor_dsn = database_conninfo(server.conninfo, PSYCOPG_FLOOR_DB)
    library_dsn = database_conninfo(server.conninfo, LIBRARY_DB)
    pair("incremental", "floor_incremental.sql")
    results["psycopg floor incremental"] = timed(
        server, [sys.executable, str(HERE / "floor_psycopg.py"), str(HERE / "floor_incremental.sql"),
                 psycopg_floor_dsn], psycopg_floor_dsn)
    results["library incremental"] = library_build(server, library_dsn, threads)
    results["weir no-op"] = timed(server, weir, weir_dsn)
    results["models no-op"] = model_seconds(weir_dsn)
    results["same results"] = same_results(weir_dsn, floor_dsn) + [
        f"{name} (psycopg floor)" for name in same_results(psycopg_floor_dsn, floor_dsn)] + [
        f"{name} (library)" for name in same_results(library_dsn, floor_dsn)]
    print("  " + ", ".join(f"{step} {results[step].seconds:.3f} s" for step in STEPS))
    return results


def weir_command(conninfo: str, threads: int) -> list[str]:
    """Return the command that runs `weir build` on `conninfo`."""
    return [str(BIN / "weir"), "build", "--project", str(ROOT), "--dsn", conninfo, "--threads", str(threads)]


_PROJECT = Project.load(ROOT)


def library_build(server: Server, conninfo: str, threads: int) -> Run:
    """Build through the library in this process, warm: modules imported and the project read before timing."""
    from runner.build.run import build
    from runner.db.connection import connect

    _PROJECT.gates  # noqa: B018 - reads every model and check file now, not while timed
    checkpoint(server)
    started = time.perf_counter()
    with connect(conninfo, "weir build") as conn:
        report = build(conn, _PROJECT, threads=threads)
    seconds = time.perf_counter() - started
    if not report.ok:
        sys.exit(f"the library build failed: {[result.error for result in report.results if result.error]}")
    return Run(seconds, 0.0)


def timed(server: Server, command: list[str], conninfo: str) -> Run:
    """Run `command` to completion; return its seconds and peak RSS, or exit if it fails."""
    checkpoint(server)
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            output.seek(0)
            text = output.read().decode(errors="replace").strip().splitlines()[-10:]
            sys.exit(f"{command[0]} failed (exit {process.returncode}):\n    " + redact("\n    ".join(text), conninfo))
    return Run(seconds, usage.ru_maxrss / 1024)  # Linux reports kilobytes


def model_seconds(conninfo: str) -> dict[str, str]:
    """Return what weir's last build recorded per model: its seconds, or its status when not built."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(_MODEL_SECONDS).fetchall()
    return {model: f"{seconds:.3f}" if status == "success" else status for model, status, seconds in rows}


def checkpoint(server: Server) -> None:
    """Flush dirty buffers before a timed step, so no step pays for the one before it."""
    try:
        with psycopg.connect(server.conninfo, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.errors.InsufficientPrivilege:
        pass


def same_results(weir_dsn: str, floor_dsn: str) -> list[str]:
    """Return the marts whose contents differ between weir's database and the floor's."""
    digests = []
    for conninfo in (weir_dsn, floor_dsn):
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SET TimeZone = 'UTC'")
            digests.append({
                name: conn.execute(sql.SQL(_DIGEST).format(sql.SQL(_COMPARED.get(name, f"SELECT * FROM {name}"))))
                .fetchone()
                for name in MARTS
            })
    return [name for name in MARTS if digests[0][name] != digests[1][name]]


def report(runs: list[dict[str, object]]) -> str:
    """Return the table of median seconds, median ratios (of each run's own pair) and targets."""
    from statistics import median

    from tabulate import tabulate

    def seconds(step: str) -> float:
        return median(run[step].seconds for run in runs)

    def ratio(numerator: str, denominator: str) -> float:
        return median(run[numerator].seconds / run[denominator].seconds for run in runs)

    full_ratio = ratio("weir full", "floor full")
    incremental_ratio = ratio("weir incremental", "floor incremental")
    speedup = ratio("weir full", "weir incremental")
    noop = seconds("weir no-op")
    cli_overhead = median(run["weir incremental"].seconds - run["floor incremental"].seconds for run in runs)
    library_ratio = ratio("library incremental", "floor incremental")
    all_skipped = all(status == "skipped" for run in runs for status in run["models no-op"].values())
    peak = max(run[step].max_rss_mb for run in runs for step in ("weir full", "weir incremental", "weir no-op"))
    rows = [
        ["full build", f"{seconds('weir full'):.3f}", f"{seconds('floor full'):.3f}", f"{full_ratio:.2f}x",
         f"<= {FULL_RATIO}x", verdict(full_ratio <= FULL_RATIO)],
        ["incremental build", f"{seconds('weir incremental'):.3f}", f"{seconds('floor incremental'):.3f}",
         f"{incremental_ratio:.2f}x", f"<= {INCREMENTAL_RATIO}x", verdict(incremental_ratio <= INCREMENTAL_RATIO)],
        ["incremental, cold CLI - floor", f"{cli_overhead:+.3f}", "", "", f"<= +{CLI_OVERHEAD} s",
         verdict(cli_overhead <= CLI_OVERHEAD)],
        ["incremental, warm library", f"{seconds('library incremental'):.3f}", f"{seconds('floor incremental'):.3f}",
         f"{library_ratio:.2f}x", f"<= {LIBRARY_RATIO}x", verdict(library_ratio <= LIBRARY_RATIO)],
        ["full / incremental", "", "", f"{speedup:.1f}x", f">= {SPEEDUP}x", verdict(speedup >= SPEEDUP)],
        ["no-op build", f"{noop:.3f}", "", "", f"<= {NOOP_SECONDS} s",
         verdict(noop <= NOOP_SECONDS and all_skipped)],
        ["weir peak RSS (MB)", f"{peak:.0f}", "", "", f"< {RSS_MB:.0f} MB", verdict(peak < RSS_MB)],
    ]
    headers = [f"step (median of {len(runs)})", "weir s", "floor s", "ratio", "target", "verdict"]
    table = tabulate(rows, headers=headers, tablefmt="simple")
    differing = sorted({name for run in runs for name in run["same results"]})
    same = "identical" if not differing else "DIFFERENT " + ", ".join(differing)
    last = runs[-1]
    models = tabulate(
        [[model, seconds, last["models incremental"].get(model, "")] for model, seconds in last["models full"].items()],
        headers=["model (last run)", "full s", "incremental s"],
        tablefmt="simple",
    )
    python = (
        f"For reference, the floor's incremental SQL sent from Python through psycopg"
        f" (benchmarks/floor_psycopg.py) took {seconds('psycopg floor incremental'):.3f} s,"
        f" {ratio('psycopg floor incremental', 'floor incremental'):.2f}x psql's: where a Python tool starts"
        " before any work of its own."
    )
    skipped = "every model skipped" if all_skipped else "NOT every model skipped: " + ", ".join(
        sorted({model for run in runs for model, status in run["models no-op"].items() if status != "skipped"}))
    return f"{table}\n\n{python}\n\nweir and the floor built {same} marts; the no-op build: {skipped}.\n\n{models}"


if __name__ == "__main__":
    main()
