"""`weir plan` on a generated project of many models: no change, then one model changed.

    .venv/bin/python benchmarks/plan.py [--models 1000] [--dsn DSN] [--repeat 3]

A fresh database on the benchmark server (benchmarks/common.py) gets 10 source tables and a
project of MODELS models in layers of 10 (each model a table reading one model of the layer
below, or a source), built once by `weir build`. Then, as wall-clock seconds of the CLI:
1. `weir plan` with nothing changed (every model unchanged), MODELS models surveyed;
2. `weir plan` after one model in the middle gains a column (a non-breaking change);
3. for reference, `weir --version`: what starting Python costs any command (the floor).
Targets (issue 20): a no-op plan within 1 s and a one-model change within 2 s at 1,000
models. It measures, it does not test: it exits 0 unless something failed to run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import psycopg
from common import find_server, fresh_database, median, timed
from psycopg import sql

WEIR = [sys.executable, "-m", "runner.cli"]
_SOURCE = "CREATE TABLE {} AS SELECT g AS id, g * 1.0 AS amount FROM generate_series(1, 100) g"


def write_project(root: Path, models: int) -> Path:
    """Write a project of `models` table models over public.s0..s9; return the middle model's file."""
    (root / "setup.cfg").write_text("[weir]\n")
    (root / "migrations").mkdir()
    for number in range(models):
        below = f"public.s{number % 10}" if number < 10 else f"layer.m{number - 10}"
        path = root / "models" / "layer" / f"m{number}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"-- weir: kind=table\nSELECT id, amount + {number} AS amount FROM {below}\n")
    return root / "models" / "layer" / f"m{models // 2}.sql"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--dsn")
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    server = find_server(arguments.dsn)
    print(f"{server.description}; {arguments.models} models (a shared machine: compare with the floor)")
    with tempfile.TemporaryDirectory() as directory, fresh_database(server, "weir_bench_plan") as conninfo:
        root = Path(directory)
        middle = write_project(root, arguments.models)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for number in range(10):
                conn.execute(sql.SQL(_SOURCE).format(sql.Identifier(f"s{number}")))
        project = ["--project", str(root), "--dsn", conninfo]
        if timed("weir build", [*WEIR, "build", *project], conninfo) is None:
            sys.exit(1)
        plan = [*WEIR, "plan", *project]
        floor = median([timed("weir --version", [*WEIR, "--version"]) for _ in range(arguments.repeat)])
        noop = median([timed("weir plan (no change)", plan, conninfo) for _ in range(arguments.repeat)])
        text = middle.read_text()
        middle.write_text(text.replace(" AS amount", " AS amount, 1 AS added"))
        one = median([timed("weir plan (one model)", plan, conninfo) for _ in range(arguments.repeat)])
        print(f"floor (weir --version)        {floor or 0:.2f} s")
        print(f"no-op weir plan               {noop or 0:.2f} s  (target <= 1 s)")
        print(f"one model changed, weir plan  {one or 0:.2f} s  (target <= 2 s)")


if __name__ == "__main__":
    main()
