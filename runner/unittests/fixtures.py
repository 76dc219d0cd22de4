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
from runner.project.model_header import column_name
from runner.project.model_select import found_in, match_relation
from runner.project.models import Model
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


def create_fixtures(conn: psycopg.Connection[Any], model: Model, display: str) -> dict[tuple[str, str], list[str]]:
    """Create an empty fixture table per input of `model`; return each one's columns as "name type"."""
    statements = [sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA))]
    inputs = sorted(relation for relation in model.relations if relation != (model.schema, model.name))
    for relation in inputs:
        statements.append(sql.SQL("CREATE TABLE {} AS TABLE {} WITH NO DATA").format(
            sql.Identifier(SCHEMA, fixture_name(relation)), sql.Identifier(*[part for part in relation if part])
        ))
    try:
        execute(conn, sql.SQL(";\n").join(statements))
    except psycopg.errors.UndefinedTable as exc:
        raise UnitTestError(
            f"{display}:1: {model.qualified} reads a relation missing from the database ({exc.diag.message_primary});"
            " run weir test without --in-place, or build the models first"
        ) from None
    found = columns_of(conn, [fixture_name(relation) for relation in inputs])
    return {relation: found.get(fixture_name(relation), []) for relation in inputs}


_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute AS a JOIN pg_class AS c ON c.oid = a.attrelid
WHERE c.relnamespace = %s::regnamespace AND c.relname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""


def columns_of(conn: psycopg.Connection[Any], tables: list[str]) -> dict[str, list[str]]:
    """Return the columns of each weir_unit table in `tables`, in order, as "name\ttype"; one query for all."""
    columns: dict[str, list[str]] = {}
    for table, name, kind in execute(conn, _COLUMNS, (SCHEMA, tables)).fetchall():
        columns.setdefault(table, []).append(f"{name}\t{kind}")
    return columns


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


def fill(conn: psycopg.Connection[Any], table: str, rows: Rows, columns: list[str], display: str,
         relation: str) -> None:
    """Insert the fixture `rows` into weir_unit.`table`, typed as its columns."""
    if not rows.sql:
        return
    select = typed_select(rows, columns, display, "give", relation)
    statement = sql.SQL("INSERT INTO {} ({}) {}").format(
        sql.Identifier(SCHEMA, table), sql.SQL(", ").join(sql.Identifier(name) for name in rows.columns), select
    )
    try:
        execute(conn, statement)
    except psycopg.Error as exc:
        raise UnitTestError(f"{display}:{rows.line}: rows for {relation}: {exc.diag.message_primary}") from None


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
