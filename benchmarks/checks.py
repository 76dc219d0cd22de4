"""Run the example warehouse's checks by weir (1 and 2 threads) and as plain SQL through psql (the floor).

    .venv/bin/python benchmarks/checks.py SCALE [--dsn DSN] [--repeat 5] [--keep]

On one server (--dsn, $WEIR_BENCH_DSN, else the system PostgreSQL at 127.0.0.1:5432, else
the embedded one), a fresh database is migrated, loaded with SCALE order items by the
deterministic generator, built (runner.build.run, as `weir build`) and vacuumed. The check
library is installed and each method runs once untimed, so caches are warm, weir's history
tables exist and `--threads 2` knows which checks are long. Then, interleaved, --repeat
times each, as wall-clock seconds of a child process:

- floor: every check of checks/ in one file through `psql -X -q -f`, each wrapped the way
  weir counts violations: `SELECT count(*) FROM (<check>) AS violations;`
- `weir check --threads 1` and `weir check --threads 2`.

Every method must succeed (weir exits 0: every check passes) or its time is not counted.
Targets (issue 4): weir --threads 1 within 1.1x of the floor, --threads 2 below it. The
best of the runs is printed too: on a shared machine it is the less noisy comparison.

Then where weir's time goes: each `--threads 1` run's wall time against the time its checks
took by weir.check_result (the rest is process start, imports, reading the check files,
connections, the library's version check and writing history), and each check's time in
weir against the same SQL in psql with \timing, largest differences first. It measures,
it does not test: it exits 0 unless a step failed.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from common import ROOT, Server, compile_weir, find_server, fresh_database, median, results_table, timed, verdict
from psycopg import sql

from runner.build.run import build
from runner.checks.library import install
from runner.migrate import migrate
from runner.project import Project
from runner.project.checks import read_checks
from runner.project.settings import load_settings
from runner.sample import data as sample_data

BIN = Path(sys.executable).parent
DBNAME = "weir_bench_checks"
FLOOR = "psql -f (floor)"
ONE_THREAD, TWO_THREADS = "weir check --threads 1", "weir check --threads 2"
SEQUENTIAL_RATIO = 1.1
# Each check exactly as weir's first query counts it (runner/checks/query.py, _COUNT).
WRAPPED = "SELECT count(*) FROM (\n{sql}\n) AS violations;\n"
_TABLES = "SELECT schemaname, relname FROM pg_stat_user_tables WHERE schemaname IN ('raw', 'marts') ORDER BY 1, 2"
# Each check's seconds in the latest passing run of weir check --threads 1.
_LAST_RUN = """
SELECT r.check_name, r.seconds
FROM weir.check_result AS r
WHERE r.run_id = (SELECT max(run_id) FROM weir.check_run WHERE threads = 1 AND status = 'pass')
"""
_PSQL_TIME = re.compile(r"^Time: ([0-9.]+) ms", re.MULTILINE)
# Each method's client process CPU seconds per timed run: what the client itself costs,
# whatever else the machine is doing.
CLIENT_CPU: dict[str, list[float]] = {}


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, prepare the warehouse, time every method, print the table and the targets."""
    args = parse_args(argv)
    compile_weir()
    server = find_server(args.dsn)
    settings = load_settings(ROOT)
    checks = read_checks(settings.checks_dir, settings.root)
    print(f"{len(checks)} checks on {args.scale:,} order items, {args.repeat} runs each, on {server.description}")
    with fresh_database(server, DBNAME) as conninfo, tempfile.TemporaryDirectory(prefix="weir-bench-") as tmp:
        prepare(conninfo, args.scale)
        floor_file = Path(tmp) / "all_checks.sql"
        floor_file.write_text("".join(WRAPPED.format(sql=check.sql) for check in checks))
        methods = commands(server, conninfo, floor_file)
        for method, command in methods.items():  # warm-up, untimed
            if timed(f"{method} (warm-up)", command, conninfo) is None:
                return 1
        samples, outside = measure(methods, conninfo, args.repeat)
        medians = {method: median(values) for method, values in samples.items()}
        print()
        print(results_table(medians, FLOOR))
        print()
        report_targets(medians)
        report_best(samples)
        print()
        report_profile(server, conninfo, floor_file, checks, outside)
        if args.keep:
            input(f"database {DBNAME} kept until you press Enter: ")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scale", type=int, help="order items to load, e.g. 1000000")
    parser.add_argument("--dsn", help="server to measure on (default $WEIR_BENCH_DSN, local PostgreSQL, or embedded)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per method; the median is reported (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the database until Enter is pressed, to look at it")
    return parser.parse_args(argv)


def prepare(conninfo: str, scale: int) -> None:
    """Migrate, load `scale` order items, build every model, vacuum, and install the check library."""
    settings = load_settings(ROOT)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        migrate(conn, Project(settings))
        started = time.perf_counter()
        sample_data.load(conn, scale)
        print(f"loaded in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        report = build(conn, Project(settings))
        if not report.ok:
            raise SystemExit("weir build failed: " + "; ".join(report.errors))
        print(f"built in {time.perf_counter() - started:.1f} s", flush=True)
        # Settle the new rows (hint bits, visibility map, statistics) once, so neither method
        # pays for it and autovacuum does not start in the middle of a timed run.
        for schema, table in conn.execute(_TABLES).fetchall():
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(schema, table)))
        install(conn)


def commands(server: Server, conninfo: str, floor_file: Path) -> dict[str, list[str]]:
    """Return, for each method, the command line that runs every check once."""
    weir = [str(BIN / "weir"), "check", "--project", str(ROOT), "--dsn", conninfo]
    return {
        FLOOR: [server.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-f", str(floor_file)],
        ONE_THREAD: [*weir, "--threads", "1"],
        TWO_THREADS: [*weir, "--threads", "2"],
    }


def measure(
    methods: dict[str, list[str]], conninfo: str, repeat: int
) -> tuple[dict[str, list[float | None]], list[float]]:
    """Run each method `repeat` times, interleaved so drift on the server hits all alike.

    Return every method's seconds per run, and for each `--threads 1` run the seconds it
    spent outside its checks (wall time minus the sum of weir.check_result.seconds).
    """
    samples: dict[str, list[float | None]] = {method: [] for method in methods}
    outside: list[float] = []
    for round_number in range(1, repeat + 1):
        for method, command in methods.items():
            before = _children_cpu()
            seconds = timed(method, command, conninfo)
            samples[method].append(seconds)
            CLIENT_CPU.setdefault(method, []).append(_children_cpu() - before)
            shown = f"{seconds:.3f} s" if seconds is not None else "failed"
            print(f"  round {round_number}/{repeat}  {method:<24} {shown}", flush=True)
            if method == ONE_THREAD and seconds is not None:
                outside.append(seconds - sum(weir_check_seconds(conninfo).values()))
    return samples, outside


def _children_cpu() -> float:
    """Return the user + system CPU seconds of every child process that has ended so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def weir_check_seconds(conninfo: str) -> dict[str, float]:
    """Return each check's seconds in the latest passing `weir check --threads 1` run."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return {name: float(seconds) for name, seconds in conn.execute(_LAST_RUN).fetchall()}


def floor_check_seconds(server: Server, conninfo: str, floor_file: Path, checks: list) -> dict[str, float] | None:
    """Run the floor once with psql's \\timing and return each check's seconds, or None if it failed."""
    command = [server.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", "\\timing on",
               "-f", str(floor_file)]
    result = subprocess.run(command, capture_output=True, text=True)
    times = [float(ms) / 1000 for ms in _PSQL_TIME.findall(result.stdout)]
    if result.returncode != 0 or len(times) != len(checks):
        return None
    return {check.name: seconds for check, seconds in zip(checks, times, strict=True)}


def report_targets(medians: dict[str, float | None]) -> None:
    """Print whether weir met its targets against the floor."""
    floor, one, two = medians[FLOOR], medians[ONE_THREAD], medians[TWO_THREADS]
    if floor is None or one is None:
        print(f"target: --threads 1 <= {SEQUENTIAL_RATIO:.1f}x floor: {verdict(None)}")
    else:
        ratio = one / floor
        met = verdict(ratio <= SEQUENTIAL_RATIO)
        print(f"target: --threads 1 <= {SEQUENTIAL_RATIO:.1f}x floor: {ratio:.2f}x, {met}")
    if floor is None or two is None:
        print(f"target: --threads 2 below the floor: {verdict(None)}")
    else:
        print(f"target: --threads 2 below the floor: {two / floor:.2f}x, {verdict(two < floor)}")


def report_best(samples: dict[str, list[float | None]]) -> None:
    """Print each method's fastest run, and the median of its ratios to the floor run of the same round.

    Both are steadier than medians on a busy machine: load that comes and goes slows a
    round's runs alike, and the fastest run is the one it disturbed least.
    """
    best = {method: min(values) if values and None not in values else None for method, values in samples.items()}
    floor = best[FLOOR]
    shown = [f"{method} {seconds:.3f} s" + (f" ({seconds / floor:.2f}x)" if floor else "")
             for method, seconds in best.items() if seconds is not None]
    print("best of the runs: " + ", ".join(shown))
    paired = []
    for method, values in samples.items():
        ratios = [value / base for value, base in zip(values, samples[FLOOR], strict=True) if value and base]
        if method != FLOOR and ratios:
            paired.append(f"{method} {statistics.median(ratios):.2f}x")
    print("median of per-round ratios to the floor: " + ", ".join(paired))


def report_profile(server: Server, conninfo: str, floor_file: Path, checks: list, outside: list[float]) -> None:
    """Print where `weir check --threads 1` spends its time, and how each check compares with psql."""
    startup = median([timed("weir --version", [str(BIN / "weir"), "--version"]) for _ in range(3)])
    print("where weir check --threads 1 spends its time:")
    print("  client process CPU (user + system) per run, median: " + ", ".join(
        f"{method} {statistics.median(values):.3f} s" for method, values in CLIENT_CPU.items()))
    if outside:
        print(f"  outside the checks, per run: median {statistics.median(outside):.3f} s,"
              f" min {min(outside):.3f} s, max {max(outside):.3f} s")
    if startup is not None:
        print(f"  of which process start and CLI import (weir --version, median of 3): {startup:.3f} s")
    weir = weir_check_seconds(conninfo)
    floor = floor_check_seconds(server, conninfo, floor_file, checks)
    if floor is None:
        print("  per check: the floor with \\timing failed to run")
        return
    print(f"  inside the checks: weir {sum(weir.values()):.3f} s, the same SQL in psql {sum(floor.values()):.3f} s"
          " (one run each, back to back)")
    by_difference = sorted(weir, key=lambda name: -abs(weir[name] - floor[name]))
    print("  largest per-check differences (weir - psql): " + ", ".join(
        f"{name} {weir[name] - floor[name]:+.3f} s" for name in by_difference[:5]))
    print("  slowest checks in psql: " + ", ".join(
        f"{name} {floor[name]:.2f} s" for name in sorted(floor, key=lambda name: -floor[name])[:5]))


if __name__ == "__main__":
    sys.exit(main())
