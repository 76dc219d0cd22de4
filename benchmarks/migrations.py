"""Apply 500 small migrations with weir, with the yoyo CLI, and as one file through psql (the floor).

    .venv/bin/python benchmarks/migrations.py [--dsn DSN] [--count 500] [--repeat 3]

Each run gets a fresh database on the same server; the median of --repeat runs is
reported with its ratio to the floor. Targets (issue 2): weir within 2.0x of the floor
and faster than the yoyo CLI. It measures, it does not test: it always exits 0.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from common import Server, compile_weir, find_server, fresh_database, median, results_table, timed, verdict
from psycopg.conninfo import conninfo_to_dict

BIN = Path(sys.executable).parent
FLOOR = "psql -1 -f (floor)"
TARGET_RATIO = 2.0

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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="server to measure on (default $WEIR_BENCH_DSN, local PostgreSQL, or embedded)")
    parser.add_argument("--count", type=int, default=500, help="number of migrations (default 500)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per method; the median is reported (default 3)")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
