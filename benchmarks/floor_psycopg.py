"""Run one of the floor's SQL files the way psql does, but from Python through psycopg.

    .venv/bin/python benchmarks/floor_psycopg.py FILE CONNINFO

The thinnest Python client of the same SQL: start Python, import psycopg, connect, send
each statement as psql would (its `\\gset` and `:'name'` variables done the same way, in
the client). benchmarks/build.py times it beside psql to show what any Python tool pays
before its first query, which no change to Weir can win back.

It knows only what the floor files use: `--` comment lines, a statement ending with `;`
at the end of a line, and a query ending with `\\gset` whose one row sets variables.
"""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg
from psycopg import sql


def statements(text: str) -> list[tuple[str, bool]]:
    """Split a floor file into (statement, sets_variables) pairs, in order."""
    found, lines = [], []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("--"):
            continue
        if line.rstrip().endswith("\\gset"):
            found.append(("\n".join([*lines, line.rstrip()[: -len("\\gset")]]), True))
            lines = []
            continue
        lines.append(line)
        if line.rstrip().endswith(";"):
            found.append(("\n".join(lines), False))
            lines = []
    return found


def run(path: Path, conninfo: str) -> None:
    """Send every statement of `path` on one autocommit connection, as psql -f does."""
    variables: dict[str, str] = {}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for statement, sets_variables in statements(path.read_text()):
            for name, value in variables.items():
                statement = statement.replace(f":'{name}'", sql.Literal(value).as_string(conn))
            cursor = conn.execute(statement)
            if sets_variables:
                names = [column.name for column in cursor.description]
                variables.update(zip(names, map(str, cursor.fetchone()), strict=True))


if __name__ == "__main__":
    run(Path(sys.argv[1]), sys.argv[2])
