"""`weir build --atomic` against `weir build`: a full build and an incremental one, and the release's lock window.

    .venv/bin/python benchmarks/atomic.py [SCALE] [--dsn DSN] [--fraction 0.01] [--repeat 3] [--keep]

On one server (--dsn, $WEIR_BENCH_DSN, else the system PostgreSQL at 127.0.0.1:5432, else
the embedded one), a database is migrated and loaded with SCALE order items (default
2,000,000) and vacuumed. Each repetition clones it twice (CREATE DATABASE ... TEMPLATE) and
times, as wall-clock seconds of a `weir` child process, on one copy `weir build --atomic`
and on the other `weir build`: a full build, then (after VACUUM ANALYZE and the same change
batch on both) an incremental one. Repetitions alternate which goes first. The lock window
is what the atomic build reports (first lock of its release to COMMIT). Both copies must
end with the same marts.

For the choice of how an incremental model takes part, it also times the alternative not
taken: copying the fact aside (CREATE TABLE AS, its key and indexes, ANALYZE), which an
atomic build would pay on every incremental build before applying the batch to the copy.

Target (issue 20): --atomic within 1.1x of the plain build, full and incremental.
It measures, it does not test: it exits 0 unless something failed to run.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from common import (
    ROOT,
    Server,
    compile_weir,
    create_database,
    database_conninfo,
    drop_database,
    find_server,
    median,
    verdict,
)
from psycopg import sql
from tabulate import tabulate

from runner.migrate import migrate
from runner.project import Project
from runner.sample import data as sample_data

BIN = Path(sys.executable).parent
_OWNER = re.sub(r"[^a-z0-9]+", "_", ROOT.name.lower())
SOURCE_DB = f"weir_bench_atomic_source_{_OWNER}"
ATOMIC_DB = f"weir_bench_atomic_{_OWNER}"
PLAIN_DB = f"weir_bench_atomic_plain_{_OWNER}"
RATIO = 1.1
MARTS = ["marts.dim_product", "marts.dim_date", "marts.fact_order_items", "marts.agg_daily_sales"]
_WINDOW = re.compile(r"lock window (\d+) ms")
_COPY = [
    "CREATE TABLE marts.fact_copy AS SELECT * FROM marts.fact_order_items",
    "ALTER TABLE marts.fact_copy ADD PRIMARY KEY (order_item_id)",
    "CREATE INDEX ON marts.fact_copy (updated_at)",
    "CREATE INDEX ON marts.fact_copy (order_date)",
    "ANALYZE marts.fact_copy",
]


def main() -> None:
    """Parse arguments, run the benchmark, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scale", type=int, nargs="?", default=2_000_000, help="order items to load")
    parser.add_argument("--dsn", help="server to use (an administrative connection); default $WEIR_BENCH_DSN")
    parser.add_argument("--fraction", type=float, default=0.01, help="share of rows the change batch touches")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions; the median is reported")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()
    compile_weir()
    server = find_server(args.dsn)
    print(f"server: {server.description}; scale {args.scale:,} order items; change batch {args.fraction:.0%}")
    for name in (SOURCE_DB, ATOMIC_DB, PLAIN_DB):
        drop_database(server, name)
    try:
        _load(server, args.scale)
        runs = [_measure(server, args.fraction, atomic_first=bool(repetition % 2)) for repetition in range(args.repeat)]
    finally:
        if not args.keep:
            for name in (SOURCE_DB, ATOMIC_DB, PLAIN_DB):
                drop_database(server, name)
    print(_report(runs))


def _load(server: Server, scale: int) -> None:
    create_database(server, SOURCE_DB)
    with psycopg.connect(database_conninfo(server.conninfo, SOURCE_DB), autocommit=True) as conn:
        migrate(conn, Project.load(ROOT))
        started = time.perf_counter()
        sample_data.load(conn, scale)
        print(f"loaded in {time.perf_counter() - started:.1f} s")
        conn.execute("VACUUM ANALYZE raw.customers, raw.products, raw.orders, raw.order_items")


def _measure(server: Server, fraction: float, atomic_first: bool) -> dict[str, float]:
    """Clone the source twice; build fully and incrementally, atomic and not; return the seconds."""
    for name in (ATOMIC_DB, PLAIN_DB):
        drop_database(server, name)
        create_database(server, name, template=SOURCE_DB)
    sides = (("atomic", ATOMIC_DB), ("plain", PLAIN_DB))
    dsns = {side: database_conninfo(server.conninfo, name) for side, name in sides}
    order = ("atomic", "plain") if atomic_first else ("plain", "atomic")
    results: dict[str, float] = {}
    for kind in ("full", "incremental"):
        if kind == "incremental":
            for side in order:
                with psycopg.connect(dsns[side], autocommit=True) as conn:
                    conn.execute("VACUUM ANALYZE")
                    sample_data.change_batch(conn, 1, fraction)
        for side in order:
            seconds, window = _build(server, dsns[side], side == "atomic")
            results[f"{side} {kind}"] = seconds
            if window is not None:
                results[f"window {kind}"] = window
    results["copy fact aside"] = _copy_seconds(dsns["plain"])
    differing = _differing(dsns["atomic"], dsns["plain"])
    if differing:
        sys.exit(f"the atomic and the plain build differ in {', '.join(differing)}")
    print("  " + ", ".join(f"{step} {seconds:.3f} s" for step, seconds in results.items()))
    return results


def _build(server: Server, conninfo: str, atomic: bool) -> tuple[float, float | None]:
    """Run `weir build` (with --atomic or not) as a child process; return its seconds and lock window."""
    _checkpoint(server)
    command = [str(BIN / "weir"), "build", "--project", str(ROOT), "--dsn", conninfo,
               "--atomic" if atomic else "--no-atomic"]
    started = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        sys.exit(f"weir build failed (exit {finished.returncode}):\n{finished.stdout[-2000:]}{finished.stderr[-2000:]}")
    found = _WINDOW.search(finished.stdout)
    return seconds, (int(found.group(1)) / 1000 if found else None)


def _copy_seconds(conninfo: str) -> float:
    """Time copying the fact aside with its key and indexes (the alternative to a held increment); drop the copy."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        started = time.perf_counter()
        with conn.transaction():
            for statement in _COPY:
                conn.execute(statement)
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE marts.fact_copy")
    return seconds


def _differing(left: str, right: str) -> list[str]:
    digests = []
    for conninfo in (left, right):
        with psycopg.connect(conninfo, autocommit=True) as conn:
            digests.append([conn.execute(sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(md5(t::text), '' ORDER BY md5(t::text)), '')) FROM {} AS t"
            ).format(sql.Identifier(*name.split(".")))).fetchone() for name in MARTS])
    return [name for name, a, b in zip(MARTS, *digests, strict=True) if a != b]


def _report(runs: list[dict[str, float]]) -> str:
    def seconds(step: str) -> float:
        return median([run.get(step) for run in runs]) or 0.0

    rows = []
    for kind in ("full", "incremental"):
        atomic, plain = seconds(f"atomic {kind}"), seconds(f"plain {kind}")
        ratio = atomic / plain if plain else float("inf")
        rows.append([f"{kind} build", f"{atomic:.3f}", f"{plain:.3f}", f"{ratio:.2f}x", f"<= {RATIO}x",
                     verdict(ratio <= RATIO)])
    for kind in ("full", "incremental"):
        rows.append([f"lock window, {kind} (ms)", f"{seconds(f'window {kind}') * 1000:.0f}", "", "", "", ""])
    rows.append(["copying the fact aside (s)", f"{seconds('copy fact aside'):.3f}", "", "", "", ""])
    headers = [f"step (median of {len(runs)})", "--atomic s", "plain s", "ratio", "target", "verdict"]
    return tabulate(rows, headers=headers, tablefmt="simple")


def _checkpoint(server: Server) -> None:
    try:
        with psycopg.connect(server.conninfo, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.errors.InsufficientPrivilege:
        pass


if __name__ == "__main__":
    main()
