"""Time column lineage of a generated project: MODELS models of COLUMNS columns each, no database.

    .venv/bin/python benchmarks/lineage.py [--models 200] [--columns 30] [--repeat 3]

Writes a project to a temporary directory: a tenth of the models are staging models over
source tables (`SELECT *` over a source whose columns come from a columns_of callback, as
from the catalog), the rest read two earlier models through a CTE, a join, an aggregate
or a window function, an expression mixing both, and `SELECT *` over a model. Prints the
seconds to load the project (parsing every model once, as every command does) and the
seconds of `project_lineage`, then of the sources and upstream tree of every model column.
The docs target (issue 17) is 15 s for all of `weir docs` on such a project: lineage
should be a small part of it. It measures, it does not test.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def write_project(root: Path, models: int, columns: int) -> dict[str, list[str]]:
    """Write the generated project's models; return the source tables' columns."""
    (root / "setup.cfg").write_text("[weir]\n")
    (root / "migrations").mkdir()
    names = [f"c{i:02d}" for i in range(columns)]
    sources: dict[str, list[str]] = {}
    staging = max(1, models // 10)
    for number in range(models):
        if number < staging:
            sources[f"raw.t{number}"] = ["id", *names[1:]]
            path, sql = root / "models" / "staging" / f"m{number}.sql", f"SELECT * FROM raw.t{number}\n"
        else:
            left, right = f"m{number - 1}", f"m{number // 2}"
            left_schema = "staging" if number - 1 < staging else "marts"
            right_schema = "staging" if number // 2 < staging else "marts"
            listed = ",\n    ".join(
                f"a.{name} + coalesce(b.{name}, 0) AS {name}" if position % 3 == 0 else
                f"sum(a.{name}) OVER (PARTITION BY a.id ORDER BY b.{name}) AS {name}" if position % 3 == 1 else
                f"a.{name}" for position, name in enumerate(names[1:])
            )
            sql = (
                f"WITH a AS (SELECT * FROM {left_schema}.{left}),\n"
                f"b AS (SELECT id, {', '.join(names[1:])} FROM {right_schema}.{right} WHERE c01 > 0)\n"
                f"SELECT a.id,\n    {listed}\nFROM a LEFT JOIN b ON a.id = b.id\n"
            )
            path = root / "models" / "marts" / f"m{number}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
    return sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--columns", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()

    from runner.lineage import project_lineage
    from runner.project import Project

    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        sources = write_project(root, arguments.models, arguments.columns)
        for run in range(arguments.repeat):
            started = time.perf_counter()
            project = Project.load(root)
            _ = project.models
            loaded = time.perf_counter()
            lineage = project_lineage(project, sources.get)
            analyzed = time.perf_counter()
            pairs = [(model, column) for model in lineage.models for column in lineage.columns(model)]
            for model, column in pairs:
                lineage.sources(model, column)
                lineage.upstream(model, column)
            finished = time.perf_counter()
            print(f"run {run + 1}: load {loaded - started:.2f} s, lineage of {len(lineage.models)} models"
                  f" {analyzed - loaded:.2f} s, sources and upstream trees of {len(pairs)} columns"
                  f" {finished - analyzed:.2f} s")


if __name__ == "__main__":
    main()
