"""Shadow a model's inputs with fixture tables, without touching the real ones.

Weir rewrites the model's relation references (found by pglast, runner.project.model_select)
to tables in the schema `weir_unit`, created inside the test's transaction and rolled back
with it. A schema first on the search_path could not do this: models name their inputs
schema-qualified (`FROM staging.stg_orders`), which no search_path shadows. The model itself is
built into weir_unit too, so an incremental or scd2 test writes no real table either.

A fixture table is `CREATE TABLE ... AS TABLE <input> WITH NO DATA`: the input's column names
and types from the catalog, without its NOT NULL constraints, so a fixture may give only the
columns a test cares about (the rest NULL). Given rows are cast to those types through text,
so untyped literals such as '2024-01-01 10:00+00' become what the real column holds.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from runner.db.statements import execute
from runner.errors import WeirError
from runner.project.model_select import found_in, match_relation
from runner.project.models import Model
from runner.project.sqlfile import column_name
from runner.project.unit_tests import Rows

SCHEMA = "weir_unit"
_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_QUALIFIED = re.compile(rf"{_NAME}(?:\s*\.\s*{_NAME})*")


class UnitTestError(WeirError):
    """A unit test that cannot run: a fixture names a column its relation lacks, an input is missing, ..."""


def fixture_name(relation: tuple[str, str]) -> str:
    """Return the weir_unit table standing in for `relation` ("schema", "name")."""
    schema, name = relation
    return f"{schema}__{name}" if schema else name


def fixture_model(model: Model) -> Model:
    """Return `model` reading fixture tables and building into weir_unit, its file lines kept for errors."""
    found = found_in(model.sql, model.display, model.sql_line)
    spans: list[tuple[int, int, str]] = []
    for reference in found.references:
        relation = match_relation(reference, model.relations)
        match = _QUALIFIED.match(model.sql, reference.location)
        if match is None:
            continue
        target = model.name if relation == (model.schema, model.name) else fixture_name(relation)
        spans.append((match.start(), match.end(), sql.Identifier(SCHEMA, target).as_string(None)))
    for start, end, named in found.since_calls:
        call = named if named != model.qualified else f"{SCHEMA}.{model.name}"
        text = "weir.since(" + sql.Literal(call).as_string(None) + ")"
        spans.append((start, end, text + "\n" * model.sql.count("\n", start, end)))
    parts, position = [], 0
    for start, end, text in sorted(spans):
        parts += [model.sql[position:start], text]
        position = end
    return replace(model, schema=SCHEMA, sql="".join(parts) + model.sql[position:])


def create_statements(model: Model) -> list[sql.Composable]:
    """Return the statements creating weir_unit and an empty fixture table per input of `model`."""
    statements: list[sql.Composable] = [sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA))]
    for relation in inputs_of(model):
        statements.append(sql.SQL("CREATE TABLE {} AS TABLE {} WITH NO DATA").format(
            sql.Identifier(SCHEMA, fixture_name(relation)), _identifier(relation)
        ))
    return statements


def inputs_of(model: Model) -> list[tuple[str, str]]:
    """Return the relations `model` reads, itself left out, sorted."""
    return sorted(relation for relation in model.relations if relation != (model.schema, model.name))


_COLUMNS = """
SELECT r.name, a.attname, format_type(a.atttypid, a.atttypmod)
FROM unnest(%s::text[]) AS r (name)
JOIN pg_attribute AS a ON a.attrelid = to_regclass(r.name)
WHERE a.attnum > 0 AND NOT a.attisdropped
ORDER BY r.name, a.attnum
"""


class Catalog:
    """The columns of the database's relations, each read once per run: every test of a run sees the same."""

    def __init__(self) -> None:
        self._columns: dict[tuple[str, str], list[str]] = {}

    def columns(self, conn: psycopg.Connection[Any], relations: list[tuple[str, str]], display: str,
                reader: str) -> dict[tuple[str, str], list[str]]:
        """Return each relation's columns, in order, as "name\ttype"; raise UnitTestError for a missing one."""
        missing = [relation for relation in relations if relation not in self._columns]
        if missing:
            names = {_identifier(relation).as_string(None): relation for relation in missing}
            for name, column, kind in execute(conn, _COLUMNS, (list(names),)).fetchall():
                self._columns.setdefault(names[name], []).append(f"{column}\t{kind}")
        for relation in relations:
            if relation not in self._columns:
                raise UnitTestError(
                    f"{display}:1: {reader} reads {'.'.join(part for part in relation if part)}, which the database"
                    " does not have; run weir test without --in-place, or build the models first"
                )
        return {relation: self._columns[relation] for relation in relations}


def _identifier(relation: tuple[str, str]) -> sql.Identifier:
    return sql.Identifier(*[part for part in relation if part])


_COLUMNS_HERE = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""


def columns_of(conn: psycopg.Connection[Any], table: str) -> list[str]:
    """Return the columns of weir_unit.`table`, in order, as "name\ttype"."""
    rows = execute(conn, _COLUMNS_HERE, (sql.Identifier(SCHEMA, table).as_string(None),)).fetchall()
    return [f"{name}\t{kind}" for name, kind in rows]


def typed_select(
    rows: Rows, columns: list[str], display: str, what: str, relation: str
) -> sql.Composed:
    """Return a SELECT of `rows`, each column cast through text to the type the target has."""
    types = dict(column.split("\t", 1) for column in columns)
    casts = []
    for name in rows.columns:
        if name not in types:
            raise UnitTestError(
                f"{display}:{rows.line}: {relation} has no column {name!r}; {what} only its columns:"
                f" {', '.join(types)}"
            )
        casts.append(sql.SQL("g.{}::text::{}").format(sql.Identifier(name), sql.SQL(types[name])))
    return sql.SQL("SELECT {} FROM ({}) AS g ({})").format(
        sql.SQL(", ").join(casts),
        sql.SQL(rows.sql),  # the user's own SELECT, from their file
        sql.SQL(", ").join(sql.Identifier(name) for name in rows.columns),
    )


def fill_statement(table: str, rows: Rows, columns: list[str], display: str, relation: str) -> sql.Composable | None:
    """Return the INSERT of the fixture `rows` into weir_unit.`table`, typed as its columns; None for no rows."""
    if not rows.sql:
        return None
    return sql.SQL("INSERT INTO {} ({}) {}").format(
        sql.Identifier(SCHEMA, table), sql.SQL(", ").join(sql.Identifier(name) for name in rows.columns),
        typed_select(rows, columns, display, "give", relation),
    )


def csv_fixtures(test_path: Path, display: str, model: Model) -> list[tuple[tuple[str, str], str, Rows]]:
    """Return the CSV files next to a test as fixture rows: (relation, the CSV's display, rows).

    `<test stem>.<schema>.<relation>.csv` holds rows for that input: a header row of column
    names, then one line per row, an empty field being NULL. Every value is text, cast to the
    input's column type like any given value.
    """
    found = []
    prefix = test_path.stem + "."
    for path in sorted(test_path.parent.glob(f"{test_path.stem}.*.csv")):
        shown = str(Path(display).parent / path.name)
        written = path.name[len(prefix):-len(".csv")]
        relation = tuple(written.split(".", 1))
        if len(relation) != 2 or relation not in model.relations:
            reads = ", ".join(sorted(".".join(part for part in pair if part) for pair in model.relations))
            raise UnitTestError(f"{shown}:1: {model.qualified} does not read {written}; name the CSV"
                                f" {test_path.stem}.<schema>.<relation>.csv for one of: {reads}")
        found.append(((relation[0], relation[1]), shown, _csv_rows(path, shown)))
    return found


def _csv_rows(path: Path, shown: str) -> Rows:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise UnitTestError(f"{shown}:{line}: not UTF-8 ({exc.reason}); save the CSV as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header or not all(name.strip() for name in header):
        raise UnitTestError(f"{shown}:1: the first row must name the columns, each one; e.g. order_id,status")
    columns = tuple(column_name(name.strip()) for name in header)
    rows = []
    for row in reader:
        if not row:
            continue
        if len(row) != len(columns):
            raise UnitTestError(f"{shown}:{reader.line_num}: {len(row)} fields, the header has {len(columns)};"
                                " give every row one value per column (an empty one is NULL)")
        rows.append("(" + ", ".join("NULL" if value == "" else sql.Literal(value).as_string(None) for value in row)
                    + ")")
    body = "VALUES " + ",\n".join(rows) if rows else ""
    return Rows(body, 1, columns, True)
