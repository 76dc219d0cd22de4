"""Apply 500 small migrations, then one 20 MB migration, with weir and through psql (the floor).

    .venv/bin/python benchmarks/migrations.py [--dsn DSN] [--count 500] [--repeat 3]
                                              [--big-statements 150000] [--big-repeat 1]

500 small migrations: weir, the yoyo CLI, and every forward file concatenated into one
file for `psql -1 -f`. Targets (issues 2 and 15): weir within 2.0x of the floor, faster
than yoyo, each migration still in its own transaction with its record.
One big migration: a ~20 MB file of 150,000 statements, applied by weir and by
`psql -1 -f` on the same file. Targets (issue 15): weir within 1.5x of the floor, under
200 MB peak RSS. Each run gets a fresh database on the same server; medians of the runs
are reported with their ratio to the floor. It measures, it does not test: it exits 0.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from common import (
    Measured,
    Server,
    compile_weir,
    find_server,
    fresh_database,
    measured,
    median,
    results_table,
    timed,
    verdict,
)
from psycopg.conninfo import conninfo_to_dict

BIN = Path(sys.executable).parent
FLOOR = "psql -1 -f (floor)"
TARGET_RATIO = 2.0
BIG_TARGET_RATIO = 1.5
BIG_TARGET_RSS_MB = 200

FORWARD = """\
-- Benchmark migration {number}: a small table with an index.
CREATE TABLE bench_{number} (
    id bigint PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX bench_{number}_name_idx ON bench_{number} (name);
"""
ROLLBACK = "DROP TABLE bench_{number};\n"
BIG_TABLE = "CREATE TABLE big_events (id bigint PRIMARY KEY, kind text NOT NULL, payload text NOT NULL);\n"
BIG_ROW = ("INSERT INTO big_events (id, kind, payload) VALUES ({number}, 'kind_{kind}',"
           " 'payload for event number {number:09d}, padded to make a realistic row');\n")
_COUNT_TABLES = "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'bench\\_%'"


def write_project(directory: Path, count: int) -> Path:
    """Write a Weir project with `count` migrations (and rollbacks) into `directory`; return it."""
    (directory / "setup.cfg").write_text("[weir]\n")
    migrations = directory / "migrations"
    migrations.mkdir()
    for number in range(1, count + 1):
        stem = f"{number:04d}_bench_{number}"
        (migrations / f"{stem}.sql").write_text(FORWARD.format(number=number))
        (migrations / f"{stem}.rollback.sql").write_text(ROLLBACK.format(number=number))
    return directory


def write_floor_file(project: Path) -> Path:
    """Concatenate every forward migration into one file for psql; return its path."""
    forwards = sorted(p for p in (project / "migrations").glob("*.sql") if not p.name.endswith(".rollback.sql"))
    floor = project / "all_forward.sql"
    floor.write_text("\n".join(p.read_text() for p in forwards))
    return floor


def write_big_project(directory: Path, statements: int) -> Path:
    """Write a project whose one migration creates a table and inserts `statements - 1` rows; return it.

    150,000 statements make about 20 MB, the size of a data migration or a schema dump.
    """
    directory.mkdir()
    (directory / "setup.cfg").write_text("[weir]\n")
    migrations = directory / "migrations"
    migrations.mkdir()
    with (migrations / "0001_big.sql").open("w") as big:
        big.write(BIG_TABLE)
        for number in range(1, statements):
            big.write(BIG_ROW.format(number=number, kind=number % 17))
    (migrations / "0001_big.rollback.sql").write_text("DROP TABLE big_events;\n")
    return directory


def yoyo_url(conninfo: str) -> str:
    """Return yoyo's URL for `conninfo`; every libpq parameter (a socket host too) rides in the query."""
    params = conninfo_to_dict(conninfo)
    dbname = params.pop("dbname")
    return f"postgresql+psycopg:///{dbname}?{urlencode(params)}"


def commands(server: Server, project: Path, floor_file: Path) -> dict[str, Callable[[str], list[str]]]:
    """Return, for each method, the command line that applies every migration to a database."""
    return {
        "weir migrate": lambda conninfo: [str(BIN / "weir"), "migrate", "--project", str(project), "--dsn", conninfo],
        "yoyo apply": lambda conninfo: [
            str(BIN / "yoyo"), "apply", "--batch", "--no-config-file",
            "--database", yoyo_url(conninfo), str(project / "migrations"),
        ],
        FLOOR: lambda conninfo: [
            server.psql, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-f", str(floor_file),
        ],
    }


def count_tables(conninfo: str) -> int:
    """Return how many benchmark tables the database holds."""
    with psycopg.connect(conninfo) as conn:
        return conn.execute(_COUNT_TABLES).fetchone()[0]


def measure_once(server: Server, method: str, command: Callable[[str], list[str]], count: int) -> float | None:
    """Apply every migration with `command` into a fresh database; return seconds, or None if it failed."""
    with fresh_database(server, "weir_bench_migrations") as conninfo:
        seconds = timed(method, command(conninfo), conninfo)
        if seconds is not None and count_tables(conninfo) != count:
            print(f"  {method} exited 0 but did not create {count} tables", file=sys.stderr)
            return None
    return seconds


def measure(server: Server, project: Path, floor_file: Path, count: int, repeat: int) -> dict[str, float | None]:
    """Run each method `repeat` times, interleaved so drift on the server hits all alike; return medians."""
    methods = commands(server, project, floor_file)
    samples: dict[str, list[float | None]] = {method: [] for method in methods}
    for round_number in range(1, repeat + 1):
        for method, command in methods.items():
            seconds = measure_once(server, method, command, count)
            samples[method].append(seconds)
            shown = f"{seconds:.3f} s" if seconds is not None else "failed"
            print(f"  round {round_number}/{repeat}  {method:<20} {shown}", flush=True)
    return {method: median(values) for method, values in samples.items()}


def report_targets(medians: dict[str, float | None]) -> None:
    """Print whether weir met its targets against the floor and yoyo."""
    weir, yoyo, floor = medians["weir migrate"], medians["yoyo apply"], medians[FLOOR]
    if weir is None or yoyo is None or floor is None:
        print(f"target: weir <= {TARGET_RATIO:.1f}x floor: {verdict(None)}")
        print(f"target: weir faster than yoyo: {verdict(None)}")
        return
    ratio = weir / floor
    print(f"target: weir <= {TARGET_RATIO:.1f}x floor: {ratio:.2f}x, {verdict(ratio <= TARGET_RATIO)}")
    print(f"target: weir faster than yoyo: {yoyo / weir:.2f}x yoyo's speed, {verdict(weir < yoyo)}")


def measure_big(server: Server, project: Path, statements: int, repeat: int) -> dict[str, list[Measured | None]]:
    """Apply the big migration with weir and with psql `repeat` times each, interleaved; return every run."""
    big_file = project / "migrations" / "0001_big.sql"
    methods = {
        "weir migrate": lambda conninfo: [str(BIN / "weir"), "migrate", "--project", str(project), "--dsn", conninfo],
        FLOOR: lambda conninfo: [server.psql, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-d", conninfo,
                                 "-f", str(big_file)],
    }
    runs: dict[str, list[Measured | None]] = {method: [] for method in methods}
    for round_number in range(1, repeat + 1):
        for method, command in methods.items():
            with fresh_database(server, "weir_bench_big_migration") as conninfo:
                run = measured(method, command(conninfo), conninfo)
                if run is not None and count_rows(conninfo) != statements - 1:
                    print(f"  {method} exited 0 but did not insert {statements - 1} rows", file=sys.stderr)
                    run = None
            runs[method].append(run)
            shown = f"{run.seconds:.3f} s, peak RSS {run.peak_rss_mb:.0f} MB" if run else "failed"
            print(f"  round {round_number}/{repeat}  {method:<20} {shown}", flush=True)
    return runs


def count_rows(conninfo: str) -> int:
    """Return how many rows the big migration's table holds."""
    with psycopg.connect(conninfo) as conn:
        return conn.execute("SELECT count(*) FROM big_events").fetchone()[0]


def report_big_targets(runs: dict[str, list[Measured | None]]) -> tuple[float | None, float | None]:
    """Print whether weir met its big-file targets; return its ratio to the floor and its peak RSS."""
    weir = median([run.seconds if run else None for run in runs["weir migrate"]])
    floor = median([run.seconds if run else None for run in runs[FLOOR]])
    peaks = [run.peak_rss_mb for run in runs["weir migrate"] if run]
    ratio = weir / floor if weir is not None and floor else None
    peak = max(peaks) if peaks and weir is not None else None
    shown = f"{ratio:.2f}x, " if ratio is not None else ""
    print(f"target: weir <= {BIG_TARGET_RATIO:.1f}x floor: {shown}"
          f"{verdict(None if ratio is None else ratio <= BIG_TARGET_RATIO)}")
    shown = f"{peak:.0f} MB, " if peak is not None else ""
    print(f"target: weir peak RSS <= {BIG_TARGET_RSS_MB} MB: {shown}"
          f"{verdict(None if peak is None else peak <= BIG_TARGET_RSS_MB)}")
    return ratio, peak


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="server to measure on (default $WEIR_BENCH_DSN, local PostgreSQL, or embedded)")
    parser.add_argument("--count", type=int, default=500, help="number of migrations (default 500)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per method; the median is reported (default 3)")
    parser.add_argument("--big-statements", type=int, default=150_000,
                        help="statements in the big migration, about 140 bytes each (default 150000; 0 skips it)")
    parser.add_argument("--big-repeat", type=int, default=1, help="runs per method of the big migration (default 1)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    compile_weir()
    server = find_server(args.dsn)
    print(f"{args.count} migrations, {args.repeat} runs each, on {server.description}")
    with tempfile.TemporaryDirectory(prefix="weir-bench-") as tmp:
        project = write_project(Path(tmp), args.count)
        medians = measure(server, project, write_floor_file(project), args.count, args.repeat)
    print()
    print(results_table(medians, FLOOR))
    print()
    report_targets(medians)
    weir, floor = medians["weir migrate"], medians[FLOOR]
    small_ratio = weir / floor if weir is not None and floor else None
    big_ratio = peak = None
    if args.big_statements:
        print()
        print(f"one migration of {args.big_statements} statements, {args.big_repeat} run(s) each")
        with tempfile.TemporaryDirectory(prefix="weir-bench-big-") as tmp:
            project = write_big_project(Path(tmp) / "big", args.big_statements)
            size = (project / "migrations" / "0001_big.sql").stat().st_size / 1e6
            print(f"  the file: {size:.1f} MB")
            runs = measure_big(server, project, args.big_statements, args.big_repeat)
        print()
        big_ratio, peak = report_big_targets(runs)
    print()
    print(f"ratios to psql -1 -f: {args.count} migrations {_shown(small_ratio, 'x')} (target {TARGET_RATIO:.1f}x);"
          f" big migration {_shown(big_ratio, 'x')} (target {BIG_TARGET_RATIO:.1f}x),"
          f" weir peak RSS {_shown(peak, ' MB', 0)} (target {BIG_TARGET_RSS_MB} MB)")
    return 0


def _shown(value: float | None, unit: str, decimals: int = 2) -> str:
    return "not measured" if value is None else f"{value:.{decimals}f}{unit}"


if __name__ == "__main__":
    sys.exit(main())
