"""The CREATE INDEX statements of a model's declared indexes (runner.project.indexes), and their names.

A plain index keeps the name it always had, `<table>_<columns>_idx` (`_key` when unique), so
a table kept across builds recognises it; one with a predicate or an expression adds a short
hash of its text, so two partial indexes on one column get two names.
"""

from __future__ import annotations

import hashlib

from psycopg import sql

from runner.db.statements import derived_name
from runner.project.indexes import Index

_LABEL_BYTES = 24  # of the columns in a name, so the table's name keeps some room in 63 bytes


def index_name(table: str, index: Index) -> str:
    """Return the name of `index` on `table` (renamed after the model by a swap, like the table)."""
    ending = "_key" if index.unique else "_idx"
    label = "_".join(index.columns)
    if index.plain and not index.unique:
        return derived_name(table, f"_{label}{ending}")
    if not index.plain:
        digest = hashlib.sha256(f"{index.unique}\0{index.where}\0{index.definition}".encode()).hexdigest()[:6]
        label = f"{label.encode()[:_LABEL_BYTES].decode(errors='ignore') or 'expr'}_{digest}"
    return derived_name(table, f"_{label}{ending}")


def create_index(index: Index, name: str, relation: sql.Composable) -> sql.Composed:
    """Return CREATE [UNIQUE] INDEX `name` ON `relation` for `index` (predicate and expressions as in the header)."""
    body: sql.Composable
    if index.definition is not None:
        body = sql.SQL(index.definition)
    else:
        body = sql.SQL("({})").format(sql.SQL(", ").join(sql.Identifier(column) for column in index.columns))
        if index.where is not None:
            body = sql.SQL("{} WHERE {}").format(body, sql.SQL(index.where))
    return sql.SQL("CREATE {}INDEX {} ON {} {}").format(
        sql.SQL("UNIQUE " if index.unique else ""), sql.Identifier(name), relation, body
    )
