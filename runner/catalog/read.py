"""Read tables and views from pg_catalog: four queries for any number of relations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from runner.catalog.model import Catalog, Column, Constraint, Index, Relation

if TYPE_CHECKING:
    import psycopg

# Relations a build or a gate makes beside a model; they are Weir's, not the user's.
INTERNAL_SUFFIXES = ("__weir_new", "__weir_old", "__rejected")


def read_catalog(conn: psycopg.Connection[Any], schemas: Iterable[str] | None = None) -> Catalog:
    """Return every table and view of `schemas` (default: each schema but PostgreSQL's and weir's)."""
    wanted = sorted(schemas) if schemas is not None else [row[0] for row in conn.execute(_query("schemas"))]
    found = [row for row in conn.execute(_query("relations"), {"schemas": wanted})
             if not row[2].endswith(INTERNAL_SUFFIXES)]
    oids = [row[0] for row in found]
    columns: dict[int, list[Column]] = defaultdict(list)
    for row in conn.execute(_query("columns"), {"oids": oids}):
        columns[row[0]].append(_column(row))
    constraints: dict[int, list[Constraint]] = defaultdict(list)
    for row in conn.execute(_query("constraints"), {"oids": oids}):
        constraints[row[0]].append(_constraint(row))
    indexes: dict[int, list[Index]] = defaultdict(list)
    for oid, name, definition, unique, primary in conn.execute(_query("indexes"), {"oids": oids}):
        indexes[oid].append(Index(name, definition, unique, primary))
    return Catalog(tuple(
        Relation(schema=schema, name=name, kind=kind, comment=comment, columns=tuple(columns[oid]),
                 constraints=tuple(sorted(constraints[oid], key=lambda c: (c.kind, c.name))),
                 indexes=tuple(indexes[oid]), view_definition=view_definition)
        for oid, schema, name, kind, comment, view_definition in found
    ))


def _column(row: tuple[Any, ...]) -> Column:
    (_, position, name, type_, base_type, is_array, nullable, default, generated, identity, comment, labels,
     expression) = row
    return Column(name=name, position=position, type=type_, base_type=base_type, is_array=is_array,
                  nullable=nullable, default=default, generated=generated, identity=identity, comment=comment,
                  enum_values=tuple(labels) if labels else None, generation_expression=expression)


def _constraint(row: tuple[Any, ...]) -> Constraint:
    _, name, kind, columns, definition, references, referenced = row
    allowed = allowed_values(definition) if kind == "check" and len(columns) == 1 else None
    return Constraint(name=name, kind=kind, columns=tuple(columns), definition=definition,
                      references=references, referenced_columns=tuple(referenced), allowed_values=allowed)


def allowed_values(definition: str) -> tuple[str, ...] | None:
    """Return the strings a `CHECK (col IN (...))` allows, or None when the check is anything else.

    pg_get_constraintdef writes `col IN ('a', 'b')` as `col = ANY (ARRAY['a'::text, 'b'::text])`,
    with casts that vary with the column's type, so the definition is parsed, not matched.
    """
    from pglast import ast, parse_sql
    from pglast.enums import A_Expr_Kind

    if not definition.startswith("CHECK "):
        return None
    select: Any = parse_sql(f"SELECT {definition[len('CHECK '):]}")[0].stmt
    condition = select.targetList[0].val
    if not (isinstance(condition, ast.A_Expr) and condition.kind == A_Expr_Kind.AEXPR_OP_ANY
            and [name.sval for name in condition.name or ()] == ["="]
            and isinstance(_uncast(condition.lexpr), ast.ColumnRef)):
        return None
    array = _uncast(condition.rexpr)
    if not isinstance(array, ast.A_ArrayExpr):
        return None
    values: list[str] = []
    for element in array.elements or ():
        constant = _uncast(element)
        if not (isinstance(constant, ast.A_Const) and isinstance(constant.val, ast.String)):
            return None
        values.append(str(constant.val.sval))
    return tuple(values)


def _uncast(node: Any) -> Any:
    """Return what a chain of `::type` casts is applied to."""
    from pglast import ast

    while isinstance(node, ast.TypeCast):
        node = node.arg
    return node


@cache
def _query(name: str) -> str:
    """Return the query called `name` in catalog.sql."""
    text = resources.files("runner.catalog").joinpath("catalog.sql").read_text(encoding="utf-8")
    for block in text.split("-- name: ")[1:]:
        title, _, body = block.partition("\n")
        if title.strip() == name:
            return body.strip()
    raise KeyError(name)
