"""Load a 1M-row CSV seed with `weir seed` and with `psql \\copy` of the same file (the floor).

    .venv/bin/python benchmarks/seeds.py [ROWS] [--dsn DSN] [--repeat 3]

On one server (--dsn, $WEIR_BENCH_DSN, else the system PostgreSQL at 127.0.0.1:5432, else
the embedded one), in a fresh database, a deterministic CSV of ROWS rows (default
1,000,000; an integer, a code, an amount, a date, a timestamp and a flag per row, about
60 MB) is written to a scratch project as seeds/bench/rows.csv, without a types file, so
weir infers its types. Each method runs once untimed (caches warm, weir's state table
made), then, interleaved, --repeat times each, as wall-clock seconds of a child process:

- floor: `psql -X -q -c "\\copy bench.rows_floor FROM 'rows.csv' (FORMAT csv, HEADER true)"`
  into an empty table of the same column types, created (untimed) before each run;
- `weir seed --force`: the whole command: start (Python, psycopg: about 0.3 s), read the
  project, infer types, COPY into a new table (checksumming the bytes on their way),
  ANALYZE, swap it in and record it;
- `load_seeds()` in-process: the same load through the library on an open connection, as a
  warm caller (an orchestrator's worker) runs it: the load path without process start.

Target (issue 19): weir within 1.2x of the floor, judged on the whole command. The best of the runs is printed too: on a
shared machine it is the less noisy comparison. It measures, it does not test: it exits 0
unless a step failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from common import Server, compile_weir, find_server, fresh_database, median, results_table, timed, verdict

from runner.build.seeds import load_seeds
from runner.project import Project

BIN = Path(sys.executable).parent
DBNAME = "weir_bench_seeds"
FLOOR = "psql \\copy (floor)"
WEIR = "weir seed --force"
LIBRARY = "load_seeds() in-process"
TARGET_RATIO = 1.2
FLOOR_TABLE = """
DROP TABLE IF EXISTS bench.rows_floor;
CREATE TABLE bench.rows_floor (id integer, code text, amount numeric, day date, at timestamptz, flag boolean)
"""


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, write the CSV, time both methods, print the table and the target."""
    args = parse_args(argv)
    compile_weir()
    server = find_server(args.dsn)
    with fresh_database(server, DBNAME) as conninfo, tempfile.TemporaryDirectory(prefix="weir-bench-") as tmp:
        project = Path(tmp)
        csv_path = write_project(project, args.rows)
        size = csv_path.stat().st_size / 1e6
        print(f"a seed of {args.rows:,} rows ({size:.0f} MB), {args.repeat} runs each, on {server.description}")
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA bench")
        methods = {FLOOR: floor_command(server, conninfo, csv_path),
                   WEIR: [str(BIN / "weir"), "--project", str(project), "--dsn", conninfo, "seed", "--force"]}
        samples: dict[str, list[float | None]] = {method: [] for method in [*methods, LIBRARY]}
        weir_project = Project.load(project)
        for run in range(args.repeat + 1):  # the first round warms up, untimed
            for method, command in methods.items():
                if method == FLOOR:
                    with psycopg.connect(conninfo, autocommit=True) as conn:
                        conn.execute(FLOOR_TABLE)
                seconds = timed(method, command, conninfo)
                if seconds is None:
                    return 1
                if run:
                    samples[method].append(seconds)
            with psycopg.connect(conninfo, autocommit=True) as conn:
                started = time.perf_counter()
                load_seeds(conn, weir_project.seeds, weir_project.settings.timeouts, force=True)
                if run:
                    samples[LIBRARY].append(time.perf_counter() - started)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            counts = conn.execute("SELECT (SELECT count(*) FROM bench.rows), (SELECT count(*) FROM bench.rows_floor)"
                                  ).fetchone()
        if counts != (args.rows, args.rows):
            print(f"row counts differ from {args.rows:,}: weir {counts[0]:,}, psql {counts[1]:,}", file=sys.stderr)
            return 1
        medians = {method: median(values) for method, values in samples.items()}
        print()
        print(results_table(medians, FLOOR))
        print()
        floor, weir = medians[FLOOR], medians[WEIR]
        met = None if floor is None or weir is None else weir <= TARGET_RATIO * floor
        ratio = f"{weir / floor:.2f}x" if floor and weir else "-"
        print(f"target: weir seed within {TARGET_RATIO}x of psql \\copy: {ratio}, {verdict(met)}")
        best = {method: min(value for value in values if value is not None) for method, values in samples.items()}
        print(f"best runs: psql {best[FLOOR]:.3f} s, weir seed {best[WEIR]:.3f} s ({best[WEIR] / best[FLOOR]:.2f}x),"
              f" in-process {best[LIBRARY]:.3f} s ({best[LIBRARY] / best[FLOOR]:.2f}x)")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", type=int, nargs="?", default=1_000_000, help="rows in the seed (default 1,000,000)")
    parser.add_argument("--dsn", help="server to measure on (default: $WEIR_BENCH_DSN, 127.0.0.1:5432, embedded)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each method (default 3)")
    return parser.parse_args(argv)


def write_project(project: Path, rows: int) -> Path:
    """Write a Weir project holding one seed, bench.rows, of `rows` deterministic rows; return the CSV's path."""
    (project / "setup.cfg").write_text("[weir]\n")
    path = project / "seeds" / "bench" / "rows.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write("id,code,amount,day,at,flag\n")
        for start in range(0, rows, 10_000):
            file.write("".join(
                f"{n},C{n % 9973:05d},{n % 100_000 / 100:.2f},2024-{n % 12 + 1:02d}-{n % 28 + 1:02d},"
                f"2024-{n % 12 + 1:02d}-{n % 28 + 1:02d} {n % 24:02d}:{n % 60:02d}:00+00,"
                f"{'true' if n % 3 else 'false'}\n"
                for n in range(start, min(start + 10_000, rows))
            ))
    return path


def floor_command(server: Server, conninfo: str, csv_path: Path) -> list[str]:
    """Return psql loading the file into the floor's table with \\copy, as a user would by hand."""
    copy = f"\\copy bench.rows_floor FROM '{csv_path}' WITH (FORMAT csv, HEADER true)"
    return [server.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", copy]


if __name__ == "__main__":
    sys.exit(main())
