"""Time `weir docs` on a generated project of MODELS models of COLUMNS columns each, against a psql floor.

    .venv/bin/python benchmarks/docs.py [--models 200] [--columns 30] [--dsn DSN] [--repeat 1]

The project (in a temporary directory): one migration making 10 source tables of COLUMNS
described columns, then models in layers -- a quarter views over the sources, a half tables
joining two of the layer below, a quarter incremental tables -- each with COLUMNS columns,
each column described beside the SELECT, and a not_null check per ten models.

Timed, as wall-clock seconds of a child process on one server (--dsn, $WEIR_BENCH_DSN, else
the system PostgreSQL at 127.0.0.1:5432, else the embedded one):
1. `weir docs --scratch-server SERVER --out DIR`: a throwaway database, every migration and
   model built with no data, the catalog read, nine files written, the database dropped;
2. the floor: psql creating a database, running the same migration and one CREATE VIEW or
   CREATE TABLE AS per model (no bookkeeping, no docs), and dropping it.
Target (issue 17): `weir docs` within 15 s at 200 models x 30 columns. It measures, it does
not test: it exits 0 unless something failed to run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import compile_weir, find_server, median, results_table, timed, verdict

from runner.db.connection import redact

BIN = Path(sys.executable).parent
SOURCES = 10
TARGET_SECONDS = 15.0


def write_project(root: Path, models: int, columns: int) -> tuple[str, list[str]]:
    """Write the generated project under `root`; return its migration and each model's DDL for the floor."""
    root.mkdir()
    (root / "setup.cfg").write_text("[weir]\n")
    (root / "migrations").mkdir()
    migration = ["CREATE SCHEMA src;"]
    for table in range(SOURCES):
        cols = ",\n    ".join(["id bigint PRIMARY KEY", "updated_at timestamptz NOT NULL DEFAULT now()"]
                              + [f"c{n:02} text" for n in range(2, columns)])
        migration.append(f"CREATE TABLE src.t{table:02} (\n    {cols}\n);")
        migration.append(f"COMMENT ON TABLE src.t{table:02} IS 'Source table {table}.';")
        migration += [f"COMMENT ON COLUMN src.t{table:02}.{name} IS 'Column {name} of source {table}.';"
                      for name in ["id", "updated_at"] + [f"c{n:02}" for n in range(2, columns)]]
    migration_sql = "\n".join(migration) + "\n"
    (root / "migrations" / "0001_sources.sql").write_text(migration_sql)
    (root / "migrations" / "0001_sources.rollback.sql").write_text("DROP SCHEMA src CASCADE;\n")
    floor = []
    built: list[str] = []
    for number in range(models):
        schema = "staging" if number < models // 4 else "marts"
        name = f"m{number:03}"
        if schema == "staging":
            kind, header = "view", "-- weir: kind=view"
            source, other = f"src.t{number % SOURCES:02}", None
        else:
            incremental = number >= models * 3 // 4
            kind = "incremental" if incremental else "table"
            header = (f"-- weir: kind={kind}, unique_key=id"
                      + (", watermark=updated_at, lookback=1 hour" if incremental else ""))
            source, other = built[number - models // 4], built[(number * 7) % len(built)]
        select = ["a.id, -- the row", "a.updated_at, -- when it changed"]
        select += [f"{'b' if other and n % 2 else 'a'}.c{n:02}, -- column {n}" for n in range(2, columns)]
        select[-1] = select[-1].replace(", --", " --")
        join = f"\nLEFT JOIN {other} AS b ON a.id = b.id" if other else ""
        where = f"\nWHERE a.updated_at > weir.since('marts.{name}')" if kind == "incremental" else ""
        text = (f"{header}\n-- weir: description=\"Generated model {number}.\"\nSELECT\n    "
                + "\n    ".join(select) + f"\nFROM {source} AS a{join}{where};\n")
        path = root / "models" / schema / f"{name}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        plain = text.replace(f"weir.since('marts.{name}')", "'-infinity'::timestamptz")
        body = plain.split("\n", 2)[2].rstrip().rstrip(";")
        floor.append(f"CREATE SCHEMA IF NOT EXISTS {schema};\n"
                     + (f"CREATE VIEW {schema}.{name} AS {body};" if kind == "view"
                        else f"CREATE TABLE {schema}.{name} AS {body};"))
        built.append(f"{schema}.{name}")
    checks = root / "checks"
    checks.mkdir()
    for number in range(0, models, 10):
        relation = built[number]
        (checks / f"not_null_{number:03}.sql").write_text(
            f"SELECT * FROM weir.not_null(NULL::{relation}, ARRAY['id', 'updated_at']);\n")
    return migration_sql, floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--columns", type=int, default=30)
    parser.add_argument("--dsn")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    compile_weir()
    server = find_server(args.dsn)
    print(f"server: {redact(server.description, server.conninfo)}; the machine may be shared with other work")
    with tempfile.TemporaryDirectory(prefix="weir-bench-docs-") as directory:
        root = Path(directory)
        migration, floor = write_project(root / "project", args.models, args.columns)
        floor_file = root / "floor.sql"
        floor_file.write_text("DROP DATABASE IF EXISTS weir_bench_docs_floor;\nCREATE DATABASE weir_bench_docs_floor;\n"
                              "\\c weir_bench_docs_floor\n" + migration + "\n".join(floor)
                              + "\n\\c postgres\nDROP DATABASE weir_bench_docs_floor;\n")
        samples: dict[str, list[float | None]] = {"weir docs": [], "psql floor": []}
        for _ in range(args.repeat):
            samples["weir docs"].append(timed("weir docs", [
                str(BIN / "weir"), "--project", str(root / "project"), "docs", "--scratch-server", server.conninfo,
                "--out", str(root / "out")], server.conninfo))
            samples["psql floor"].append(timed("psql floor", [
                server.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", server.conninfo, "-f", str(floor_file)],
                server.conninfo))
        medians = {method: median(values) for method, values in samples.items()}
        files = sorted(path.name for path in (root / "out").iterdir()) if (root / "out").is_dir() else []
        sizes = sum((root / "out" / name).stat().st_size for name in files)
    print(f"{args.models} models x {args.columns} columns: {len(files)} files, {sizes / 1024:.0f} KiB")
    print(results_table(medians, "psql floor"))
    seconds = medians["weir docs"]
    met = None if seconds is None else seconds <= TARGET_SECONDS
    print(f"target weir docs <= {TARGET_SECONDS:.0f} s: {verdict(met)}")


if __name__ == "__main__":
    main()
