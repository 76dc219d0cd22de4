"""An incremental build through the warm library (runner.api) against the hand-written SQL floor in psql.

    .venv/bin/python benchmarks/warm_library.py [SCALE] [--dsn DSN] [--fraction 0.01] [--repeat 3] [--keep]

What an orchestrator's long-lived worker pays: this process has imported Weir, read the
project (runner.api.load_project) and holds a connection (runner.api.connect) before the
clock starts, and it built the warehouse fully through the same library first. The floor is
benchmarks/build.py's: the same incremental statements (benchmarks/floor_incremental.sql)
through psql, on a copy built by benchmarks/floor_build.sql. Each repetition clones the
loaded source (SCALE order items, default 1M) twice, builds both fully (not timed), settles
both (VACUUM ANALYZE), applies the same change batch to both, and then times the two
incremental builds back to back, alternating which goes first. The marts must come out
equal. Target (issue 21): the warm library within 1.15x of the floor, the median of the
repetitions' own ratios. It measures, it does not test: it exits 0 unless something failed to run.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from statistics import median

import psycopg
from build import HERE, checkpoint, load_source, same_results, timed
from common import ROOT, Server, compile_weir, create_database, database_conninfo, drop_database, find_server, verdict

from runner import api
from runner.sample import data as sample_data

_OWNER = re.sub(r"[^a-z0-9]+", "_", ROOT.name.lower())
SOURCE_DB = f"weir_bench_warm_source_{_OWNER}"
LIBRARY_DB = f"weir_bench_warm_library_{_OWNER}"
FLOOR_DB = f"weir_bench_warm_floor_{_OWNER}"
RATIO = 1.15


def main() -> None:
    """Parse arguments, run the benchmark, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scale", type=int, nargs="?", default=1_000_000, help="order items to load (default 1M)")
    parser.add_argument("--dsn", help="server to use (an administrative connection); default $WEIR_BENCH_DSN")
    parser.add_argument("--fraction", type=float, default=0.01, help="share of rows the change batch touches")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions; the median ratio is reported")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()
    compile_weir()
    server = find_server(args.dsn)
    print(f"server: {server.description}; scale {args.scale:,} order items; change batch {args.fraction:.0%}")
    project = api.load_project(ROOT)
    project.gates  # noqa: B018 - every model and check file read now, once, as a worker would at start
    for name in (SOURCE_DB, LIBRARY_DB, FLOOR_DB):
        drop_database(server, name)
    try:
        _load(server, args.scale)
        pairs = [measure(server, project, args.fraction, library_first=bool(i % 2)) for i in range(args.repeat)]
    finally:
        if not args.keep:
            for name in (SOURCE_DB, LIBRARY_DB, FLOOR_DB):
                drop_database(server, name)
    print(report(pairs))


def _load(server: Server, scale: int) -> None:
    # load_source creates the database itself under its own name: point it at ours.
    import build

    build.SOURCE_DB = SOURCE_DB
    load_source(server, scale)


def measure(server: Server, project: api.Project, fraction: float, library_first: bool) -> tuple[float, float]:
    """Clone the source twice, build both fully, change both; return (library, floor) incremental seconds."""
    for name in (LIBRARY_DB, FLOOR_DB):
        drop_database(server, name)
        create_database(server, name, template=SOURCE_DB)
    library_dsn, floor_dsn = (database_conninfo(server.conninfo, name) for name in (LIBRARY_DB, FLOOR_DB))
    floor = [server.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", floor_dsn, "-f"]
    with api.connect(project, library_dsn, "weir warm worker") as conn:
        _require(api.build(conn, project))
        timed(server, [*floor, str(HERE / "floor_build.sql")], floor_dsn)
        for conninfo in (library_dsn, floor_dsn):
            with psycopg.connect(conninfo, autocommit=True) as other:
                other.execute("VACUUM ANALYZE")
                sample_data.change_batch(other, 1, fraction)

        def library() -> float:
            checkpoint(server)
            started = time.perf_counter()
            report = api.build(conn, project)
            seconds = time.perf_counter() - started
            _require(report)
            return seconds

        def psql() -> float:
            return timed(server, [*floor, str(HERE / "floor_incremental.sql")], floor_dsn).seconds

        if library_first:
            library_seconds = library()
            floor_seconds = psql()
        else:
            floor_seconds = psql()
            library_seconds = library()
    differing = same_results(library_dsn, floor_dsn)
    if differing:
        sys.exit(f"the library and the floor built different marts: {', '.join(differing)}")
    print(f"  library incremental {library_seconds:.3f} s, floor incremental {floor_seconds:.3f} s"
          f" ({library_seconds / floor_seconds:.2f}x)")
    return library_seconds, floor_seconds


def _require(report: api.BuildReport) -> None:
    if not report.ok:
        sys.exit(f"the library build failed: {report.errors}")


def report(pairs: list[tuple[float, float]]) -> str:
    """Return the table: median seconds of each side and the median of the repetitions' ratios."""
    from tabulate import tabulate

    ratio = median(library / floor for library, floor in pairs)
    rows = [["incremental, warm library", f"{median(p[0] for p in pairs):.3f}", f"{median(p[1] for p in pairs):.3f}",
             f"{ratio:.2f}x", f"<= {RATIO}x", verdict(ratio <= RATIO)]]
    headers = [f"step (median of {len(pairs)})", "library s", "floor s", "ratio", "target", "verdict"]
    return tabulate(rows, headers=headers, tablefmt="simple") + "\n\nthe library and the floor built identical marts."


if __name__ == "__main__":
    main()
