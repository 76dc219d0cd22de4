"""Columns a call to Weir's check library reads: `weir.not_null(NULL::raw.orders, 'status')` reads raw.orders.status.

The library's functions take a relation (a `NULL::schema.table` row or its name as text)
and column names as text, which the parse tree holds as constants, not column references.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runner.lineage.json_tree import names, node

# Functions whose arguments name no column the check reads (they read the catalog or count rows).
_NO_COLUMNS = frozenset({"expected_columns", "row_count_between", "check_library_version"})
_RELATION_PAIRS = {"relationships": ((0, 1), (2, 3))}  # (relation argument, columns argument)


def library_reads(function: str, arguments: list[Any], relation_name: Callable[[str | None, str], str]
                  ) -> set[tuple[str, str]]:
    """Return the (relation, column) pairs a call of `weir.<function>(arguments)` reads."""
    if function in _NO_COLUMNS:
        return set()
    found: set[tuple[str, str]] = set()
    for relation_at, columns_at in _RELATION_PAIRS.get(function, ((0, 1),)):
        if columns_at >= len(arguments):
            continue
        relation = _relation(arguments[relation_at], relation_name)
        if relation is not None:
            found |= {(relation, column) for column in _strings(arguments[columns_at])}
    return found


def _relation(argument: Any, relation_name: Callable[[str | None, str], str]) -> str | None:
    kind, fields = node(argument)
    if kind == "TypeCast" and node(fields.get("arg"))[1].get("isnull"):
        parts = names(node(fields.get("typeName"))[1].get("names"))
        return relation_name(parts[-2] if len(parts) > 1 else None, parts[-1]) if parts else None
    texts = _strings(argument)
    if len(texts) == 1:
        schema, _, name = texts[0].rpartition(".")
        return relation_name(schema or None, name)
    return None


def _strings(argument: Any) -> list[str]:
    kind, fields = node(argument)
    if kind == "A_Const" and "sval" in fields:
        return [node(fields["sval"])[1].get("sval", "")] if isinstance(fields["sval"], dict) else []
    if kind == "A_ArrayExpr":
        return [text for element in fields.get("elements", []) for text in _strings(element)]
    if kind == "TypeCast":
        return _strings(fields.get("arg"))
    return []
