"""What a check guards: the relations it reads and the columns it names.

Read from the check's SQL with pglast: every relation in a FROM, and for a call of the check
library (`weir.not_null(NULL::marts.f, ARRAY['a', 'b'])`, `weir.null_rate('marts.d', 'email', 0)`)
the relation it is given and each string argument that is one of that relation's columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from runner.catalog import Catalog
from runner.project import Check


@dataclass(frozen=True)
class Guarded:
    """The relations ("schema.name") a check reads, and the columns of them it names."""

    relations: tuple[str, ...]
    columns: tuple[str, ...]  # "schema.name.column"
    functions: tuple[str, ...]  # the weir.* functions it calls: the check library (not_null, ...), masks


def guarded(check: Check, catalog: Catalog) -> Guarded:
    """Return what `check` guards, sorted; relations not in `catalog` are kept out."""
    relations, columns, functions = _walked(check.sql)
    known = {relation.qualified for relation in catalog.relations}
    kept_columns = set()
    for relation_name, column in columns:
        relation = catalog.relation(relation_name)
        if relation is not None and relation.column(column) is not None:
            kept_columns.add(f"{relation_name}.{column}")
    return Guarded(tuple(sorted(relations & known)), tuple(sorted(kept_columns)), tuple(sorted(functions)))


@cache
def _walked(sql: str) -> tuple[frozenset[str], frozenset[tuple[str, str]], frozenset[str]]:
    from pglast import ast, parse_sql
    from pglast.visitors import Visitor

    relations: set[str] = set()
    columns: set[tuple[str, str]] = set()
    functions: set[str] = set()

    class Walk(Visitor):
        def visit_RangeVar(self, ancestors: Any, node: Any) -> None:  # noqa: N802 (pglast's naming)
            if node.schemaname:
                relations.add(f"{node.schemaname}.{node.relname}")

        def visit_FuncCall(self, ancestors: Any, node: Any) -> None:  # noqa: N802
            names = [part.sval for part in node.funcname]
            if len(names) != 2 or names[0] != "weir" or not node.args:
                return
            functions.add(names[1])
            target = _relation_argument(node.args[0], ast)
            if target is None:
                return
            relations.add(target)
            for argument in node.args[1:]:
                for text in _strings(argument, ast):
                    columns.add((target, text))

    try:
        tree = parse_sql(sql)
    except Exception:  # an unparsable check is reported by weir check, not here
        return frozenset(), frozenset(), frozenset()
    Walk()(tree)
    return frozenset(relations), frozenset(columns), frozenset(functions)


def _relation_argument(node: Any, ast: Any) -> str | None:
    if isinstance(node, ast.NamedArgExpr):
        node = node.arg
    if isinstance(node, ast.TypeCast) and node.typeName is not None:
        names = [part.sval for part in node.typeName.names]
        return ".".join(names) if len(names) == 2 else None
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String) and node.val.sval.count(".") == 1:
        return str(node.val.sval)
    return None


def _strings(node: Any, ast: Any) -> list[str]:
    if isinstance(node, ast.NamedArgExpr):
        return _strings(node.arg, ast)
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return [str(node.val.sval)]
    if isinstance(node, ast.A_ArrayExpr):
        return [text for element in node.elements or () for text in _strings(element, ast)]
    if isinstance(node, ast.TypeCast):
        return _strings(node.arg, ast)
    return []
