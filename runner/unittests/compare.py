"""Compare a model's rows with a test's expected rows: as multisets, or in order.

Only the columns the test expects are compared, each cast to the model's own type. A failure
lists the rows missing and the rows not expected; rows of the same key (unique_key, or
natural_key and valid_from for scd2) on both sides are paired and shown column by column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from runner.db.statements import execute
from runner.project.models import Model

_WITHOUT_EQUALITY = re.compile(r"^(json|xml|point|line|lseg|box|path|polygon|circle)(\[\])*$")
# Both directions in one round trip: true for rows expected but not produced, false for the reverse.
_DIFF = """
(SELECT true, {columns} FROM {expected} EXCEPT ALL SELECT true, {columns} FROM {actual})
UNION ALL
(SELECT false, {columns} FROM {actual} EXCEPT ALL SELECT false, {columns} FROM {expected})
"""


@dataclass(frozen=True)
class Changed:
    """A keyed row present on both sides with other values."""

    key: tuple[Any, ...]
    columns: tuple[tuple[str, Any, Any], ...]  # (column, expected, actual) that differ


@dataclass
class Difference:
    """What differs between the expected rows and the model's."""

    columns: tuple[str, ...]
    missing: list[tuple[Any, ...]] = field(default_factory=list)  # expected, not produced
    unexpected: list[tuple[Any, ...]] = field(default_factory=list)  # produced, not expected
    changed: list[Changed] = field(default_factory=list)
    key: tuple[str, ...] = ()
    order: list[tuple[int, tuple[Any, ...], tuple[Any, ...] | None]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.missing or self.unexpected or self.changed or self.order)


def key_of(model: Model, columns: tuple[str, ...]) -> tuple[str, ...]:
    """Return the columns that identify one row of `model`, if the test expects all of them; else ()."""
    key: tuple[str, ...] = model.unique_key
    if model.kind == "scd2":
        key = (*model.natural_key, "valid_from") if "valid_from" in columns else model.natural_key
    return key if key and all(column in columns for column in key) else ()


def compare(
    conn: psycopg.Connection[Any], model: Model, actual: sql.Composable, expected: sql.Composable,
    columns: tuple[str, ...], ordered: bool, types: dict[str, str] | None = None,
) -> Difference:
    """Return how the rows of `actual` differ from `expected` (both relations), on `columns`.

    `types` (column -> type) names the columns whose type has no equality (json, geometric
    types): those are compared as their text, which both sides have in the same type.
    """
    types = types or {}
    names = sql.SQL(", ").join(
        sql.SQL("{0}::text AS {0}" if _WITHOUT_EQUALITY.match(types.get(column, "")) else "{0}").format(
            sql.Identifier(column)
        )
        for column in columns
    )
    difference = Difference(columns, key=key_of(model, columns))
    if ordered:
        got = execute(conn, sql.SQL("SELECT {} FROM {}").format(names, actual)).fetchall()
        want = execute(conn, sql.SQL("SELECT {} FROM {} ORDER BY ctid").format(names, expected)).fetchall()
        for position in range(max(len(got), len(want))):
            left = want[position] if position < len(want) else None
            right = got[position] if position < len(got) else None
            if left != right:
                if left is None:
                    difference.unexpected.append(right)  # type: ignore[arg-type]
                elif right is None:
                    difference.missing.append(left)
                else:
                    difference.order.append((position + 1, left, right))
        return difference
    rows = execute(conn, sql.SQL(_DIFF).format(columns=names, expected=expected, actual=actual)).fetchall()
    difference.missing = [tuple(row[1:]) for row in rows if row[0]]
    difference.unexpected = [tuple(row[1:]) for row in rows if not row[0]]
    if difference.key:
        _pair(difference)
    return difference


def _pair(difference: Difference) -> None:
    """Move rows of one key that are both missing and unexpected into `changed`."""
    at = [difference.columns.index(column) for column in difference.key]
    produced: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for row in difference.unexpected:
        produced.setdefault(tuple(row[i] for i in at), []).append(row)
    missing = []
    for row in difference.missing:
        key = tuple(row[i] for i in at)
        others = produced.get(key)
        if not others:
            missing.append(row)
            continue
        other = others.pop(0)
        difference.changed.append(Changed(key, tuple(
            (column, row[i], other[i]) for i, column in enumerate(difference.columns) if row[i] != other[i]
        )))
    difference.missing = missing
    difference.unexpected = [row for rows in produced.values() for row in rows]
