"""The one way a check's SELECT is run, whoever runs it: `weir check`, a gate, or a quarantine.

The check's SQL is never run alone: the server counts its rows (`SELECT count(*) FROM
(<check>) AS violations`), returns the first `show` of them, or stores them in a temporary
table, so no other row reaches Python. Its text goes on lines of its own inside that
wrapper, so a PostgreSQL error position maps back to a line of the check file
(runner/db/errors.py); a refused query raises CheckQueryFailed naming that line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from runner.db.errors import error_line, primary_message
from runner.db.statements import execute, one_row
from runner.project.checks import Check

_COUNT = ("SELECT count(*) FROM (\n", "\n) AS violations")
# Materialized, so the LIMIT cannot talk the planner into another (possibly far slower) plan
# than the count just used.
_SAMPLE = ("WITH violations AS MATERIALIZED (\n", "\n) SELECT {columns} FROM violations LIMIT {show}")
_STORE = ("CREATE TEMP TABLE weir_gate_rows ON COMMIT DROP AS\n", "")
# Where store_violations keeps a check's rows until the transaction ends: the table _STORE creates.
STORED_SCHEMA, STORED_NAME = "pg_temp", "weir_gate_rows"
STORED = sql.Identifier(STORED_SCHEMA, STORED_NAME)
# Each sampled row as jsonb text: the exact numbers, for history and messages.
_AS_JSON = "to_jsonb(violations.*)::text AS weir_sample"
# ... with PII columns masked (weir.mask_row, runner/pii/masking.sql), when the project declares any.
_AS_MASKED_JSON = "weir.mask_row(to_jsonb(violations.*), {})::text AS weir_sample"


class CheckQueryFailed(Exception):
    """PostgreSQL refused a check's query; `line` is the line of the check file it points at."""

    def __init__(self, check: Check, error: psycopg.Error, line: int) -> None:
        super().__init__(f"{check.display}:{line}: {primary_message(error)}")
        self.check, self.error, self.line = check, error, line

    @property
    def location(self) -> str:
        """Return `path:line` of the check file."""
        return f"{self.check.display}:{self.line}"


@dataclass(frozen=True)
class Sample:
    """The first `show` rows a check returned."""

    json: tuple[str, ...] = ()  # each row as jsonb text
    columns: tuple[str, ...] = ()  # names of the columns, with `values`
    values: tuple[tuple[Any, ...], ...] = ()  # each row as Python values, when asked for

    @property
    def objects(self) -> tuple[dict[str, Any], ...]:
        """Return each row as a JSON object, as psycopg reads a jsonb value."""
        return tuple(json.loads(text) for text in self.json)


def count_violations(conn: psycopg.Connection[Any], check: Check) -> int:
    """Return how many rows `check` returns."""
    return int(one_row(_run(conn, check, *_COUNT))[0])


def sample_violations(conn: psycopg.Connection[Any], check: Check, *, values: bool = False) -> Sample:
    """Return the first `check.show` rows of `check`, also as Python values when `values` is true."""
    if not check.show:
        return Sample()
    head, tail = _SAMPLE
    columns = sql.SQL(", ").join([_as_json(check.masked), *([sql.SQL("violations.*")] if values else [])])
    cursor = _run(conn, check, head, sql.SQL(tail).format(columns=columns, show=sql.Literal(check.show)))
    rows = cursor.fetchall()
    if not values:
        return Sample(tuple(row[0] for row in rows))
    names = tuple(column.name for column in (cursor.description or [])[1:])
    sample = Sample(tuple(row[0] for row in rows), names, tuple(tuple(row[1:]) for row in rows))
    return _masked_values(sample, {column for column, _ in check.masked})


def store_violations(conn: psycopg.Connection[Any], check: Check) -> int:
    """Store the rows `check` returns in the temporary table STORED until the transaction ends; return how many."""
    execute(conn, sql.SQL("DROP TABLE IF EXISTS {}").format(STORED))  # another gate's, in this transaction
    return max(_run(conn, check, *_STORE).rowcount, 0)


def sample_stored(conn: psycopg.Connection[Any], check: Check) -> Sample:
    """Return the first `check.show` rows of STORED, which store_violations filled."""
    if not check.show:
        return Sample()
    query = sql.SQL("SELECT {} FROM {} AS violations LIMIT {}").format(
        _as_json(check.masked), STORED, sql.Literal(check.show))
    return Sample(tuple(row[0] for row in execute(conn, query)))


def _as_json(masked: tuple[tuple[str, str], ...]) -> sql.Composable:
    """Return the sampled row as jsonb text, its PII columns (`masked`: column, mask) masked."""
    if not masked:
        return sql.SQL(_AS_JSON)
    return sql.SQL(_AS_MASKED_JSON).format(sql.Literal(json.dumps(dict(masked), sort_keys=True)))


def _masked_values(sample: Sample, masked: set[str]) -> Sample:
    """Return `sample` with the Python values of masked columns replaced by the masked ones of its JSON."""
    if not masked.intersection(sample.columns):
        return sample
    rows = tuple(
        tuple(shown[name] if name in masked else value for name, value in zip(sample.columns, row, strict=True))
        for row, shown in zip(sample.values, sample.objects, strict=True)
    )
    return Sample(sample.json, sample.columns, rows)


def _run(conn: psycopg.Connection[Any], check: Check, head: str, tail: str | sql.Composable) -> psycopg.Cursor[Any]:
    """Run the check's SQL between `head` and `tail`; raise CheckQueryFailed at the check file's line."""
    query = sql.Composed([sql.SQL(head), sql.SQL(check.sql), sql.SQL(tail) if isinstance(tail, str) else tail])
    try:
        return execute(conn, query)
    except psycopg.Error as exc:
        line = error_line(exc, check.sql, check.sql_line, sent_before=len(head))
        raise CheckQueryFailed(check, exc, line) from None
