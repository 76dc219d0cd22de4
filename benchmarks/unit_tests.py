"""Run 100 unit tests with `weir test` on the embedded server, and time it.

    .venv/bin/python benchmarks/unit_tests.py [--tests 100] [--dsn DSN] [--repeat 3]

The example warehouse is copied to a temporary directory and its unit tests (every model,
incremental runs and scd2 snapshots included) are copied round-robin until there are
--tests of them. `weir test` then runs as a child process, as a user runs it, against the
embedded server of this checkout (.weir/, started first and not timed) unless --dsn names
another. The wall-clock time covers everything the command does: starting Python, reading the
project, creating the scratch database, applying the migrations, building the models on its
empty tables, running each test in its own rolled-back transaction, and dropping the database.
The floor is the same command with one unit test: what the fixed part costs.

Target (issue 19): 100 unit tests in at most 5 s on the embedded server. It measures, it does
not test: it exits 0 unless something failed to run (or a test did not pass).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, compile_weir, verdict

from runner.db import embedded

TARGET_SECONDS = 5.0
WEIR = str(Path(sys.executable).parent / "weir")


def copy_project(destination: Path, tests: int) -> None:
    """Copy the example's migrations and models, and its unit tests (with their CSVs) round-robin up to `tests`."""
    (destination / "setup.cfg").write_text("[weir]\n")
    for directory in ("migrations", "models"):
        shutil.copytree(ROOT / directory, destination / directory)
    originals = sorted((ROOT / "unit_tests").rglob("*.sql"))
    for number in range(tests):
        source = originals[number % len(originals)]
        relative = source.relative_to(ROOT / "unit_tests")
        target = destination / "unit_tests" / relative.parent / f"{relative.stem}_{number:03d}.sql"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text())
        for csv in source.parent.glob(f"{source.stem}.*.csv"):  # its fixtures: <test>.<schema>.<relation>.csv
            shutil.copy(csv, target.parent / f"{target.stem}{csv.name.removeprefix(source.stem)}")


def run_weir_test(project: Path, dsn: str) -> tuple[float, dict[str, int], float]:
    """Run `weir test --json` on `project`; return its wall-clock seconds, counts and the tests' own seconds."""
    started = time.perf_counter()
    done = subprocess.run([WEIR, "--project", str(project), "--dsn", dsn, "test", "--json"],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"weir test failed (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    results = json.loads(done.stdout)["results"]
    return seconds, results["counts"], sum(test["seconds"] for test in results["tests"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tests", type=int, default=100)
    parser.add_argument("--dsn", help="Server to run on. Default: this checkout's embedded server.")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    compile_weir()
    dsn = options.dsn or embedded.start(ROOT / ".weir").conninfo()
    with tempfile.TemporaryDirectory(prefix="weir-unit-bench-") as scratch:
        project, one = Path(scratch) / "project", Path(scratch) / "one"
        project.mkdir()
        one.mkdir()
        copy_project(project, options.tests)
        copy_project(one, 1)
        run_weir_test(project, dsn)  # warm the server's caches and the file system's
        walls: list[float] = []
        floors: list[float] = []
        own: list[float] = []
        counts: dict[str, int] = {}
        for _ in range(options.repeat):
            wall, counts, tests_seconds = run_weir_test(project, dsn)
            walls.append(wall)
            own.append(tests_seconds)
            floors.append(run_weir_test(one, dsn)[0])
    wall, floor, tests_only = statistics.median(walls), statistics.median(floors), statistics.median(own)
    where = "the embedded server" if options.dsn is None else "--dsn"
    print(f"{options.tests} unit tests on {where} (median of {options.repeat}; the machine may be shared):")
    print(f"  weir test, all of it:          {wall:.2f} s  ({counts})")
    print(f"  weir test with one unit test:  {floor:.2f} s  (start, scratch database, migrations, models)")
    print(f"  the tests themselves:          {tests_only:.2f} s  ({tests_only / options.tests * 1000:.1f} ms a test)")
    print(f"target: {options.tests} unit tests in <= {TARGET_SECONDS:.0f} s: {verdict(wall <= TARGET_SECONDS)}")


if __name__ == "__main__":
    main()
