"""Descriptions written in the SQL itself, laid over the catalog's comments.

A model documents itself with its `description` header and a comment beside each column of
its SELECT list (`order_total, -- what it means`); a migration with COMMENT ON, which the
catalog already carries. A comment in the database wins over one in a model file: it is what
psql's `\\d+` shows. The columns Weir adds to an scd2 model are described by Weir.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from runner.catalog import Catalog
from runner.project import Model

# Columns Weir adds to every scd2 model, next to the SELECT's own.
_SCD2_COLUMNS = {
    "valid_from": "When this version became current (Weir, scd2).",
    "valid_to": "When this version was replaced or its key deleted; NULL while current (Weir, scd2).",
    "is_current": "True for the current version of a key: valid_to IS NULL (Weir, scd2).",
}
_CLAUSE_ENDS = frozenset({"FROM", "INTO", "WHERE", "GROUP_P", "HAVING", "WINDOW", "ORDER", "LIMIT", "UNION",
                          "EXCEPT", "INTERSECT", "FETCH", "OFFSET", "FOR"})


@dataclass(frozen=True)
class Undocumented:
    """A column with no description anywhere: not in the database, not beside it in the model's SELECT."""

    relation: str
    column: str
    where: str  # the file to document it in


def column_comments(sql: str) -> dict[str, str]:
    """Return the comment written beside each output column of a SELECT, by column name.

    A comment after a column on its line belongs to that column; a comment on lines of its own
    belongs to the column after it. Several comments of one column join with a space.
    """
    from pglast import parse_sql
    from pglast.parser import scan

    try:
        statement: Any = parse_sql(sql)[0].stmt
    except Exception:  # an unparsable model is reported by the build, not here
        return {}
    while statement.op is not None and statement.op.name != "SETOP_NONE":
        statement = statement.larg  # a UNION's columns are named by its first branch
    targets = list(statement.targetList or ())
    if not targets:
        return {}
    tokens = scan(sql)
    starts = [target.location for target in targets]
    begin = max((token.end for token in tokens if token.name == "SELECT" and token.start < starts[0]), default=-1)
    end = _select_list_end(tokens, starts[-1], len(sql))
    found: dict[str, list[str]] = {}
    for token in tokens:
        if token.name not in ("SQL_COMMENT", "C_COMMENT") or not begin < token.start < end:
            continue
        if _own_line(sql, token.start):  # describes the column below it
            owner = next((i for i, start in enumerate(starts) if start > token.start), None)
        else:  # describes the column it follows
            owner = max((i for i, start in enumerate(starts) if start < token.start), default=None)
        name = _output_name(targets[owner]) if owner is not None else None
        text = _comment_text(sql[token.start:token.end + 1])
        if name and text:
            found.setdefault(name, []).append(text)
    return {name: " ".join(parts) for name, parts in found.items()}


def _select_list_end(tokens: list[Any], last_start: int, default: int) -> int:
    depth = 0
    for token in tokens:
        if token.start <= last_start:
            continue
        if token.name == "ASCII_40":
            depth += 1
        elif token.name == "ASCII_41":
            depth -= 1
        elif depth == 0 and token.name in _CLAUSE_ENDS:
            return int(token.start)
    return default


def _own_line(sql: str, position: int) -> bool:
    line_start = sql.rfind("\n", 0, position) + 1
    return not sql[line_start:position].strip()


def _comment_text(comment: str) -> str:
    if comment.startswith("--"):
        return comment[2:].strip()
    return " ".join(comment[2:-2].split())


def _output_name(target: Any) -> str | None:
    from pglast import ast

    if target.name:
        return str(target.name)
    value = target.val
    while isinstance(value, ast.TypeCast):
        value = value.arg
    if isinstance(value, ast.ColumnRef) and value.fields:
        last = value.fields[-1]
        return str(last.sval) if isinstance(last, ast.String) else None
    if isinstance(value, ast.FuncCall) and value.funcname:
        return str(value.funcname[-1].sval)
    return None


def with_descriptions(catalog: Catalog, models: list[Model]) -> Catalog:
    """Return `catalog` with each model's header description and column comments where the database has none."""
    by_name = {model.qualified: model for model in models}
    relations = []
    for relation in catalog.relations:
        model = by_name.get(relation.qualified)
        if model is None:
            relations.append(relation)
            continue
        written = column_comments(model.sql)
        if model.kind == "scd2":
            key = model.surrogate_key or f"{model.name}_key"
            written = {**_SCD2_COLUMNS, key: "Surrogate key of one version (Weir, scd2).", **written}
        pii = dict(model.pii)
        columns = tuple(
            replace(column, comment=_tagged(column.comment or written.get(column.name), pii.get(column.name)))
            for column in relation.columns
        )
        relations.append(replace(relation, comment=relation.comment or model.description, columns=columns))
    return Catalog(tuple(relations))


def _tagged(description: str | None, mask: str | None) -> str | None:
    """Return a model column's description marked PII(mask), as a source column's COMMENT marks it, when declared so."""
    if mask is None or not description or description.upper().startswith("PII"):
        return description  # an undescribed column stays listed as undocumented
    return f"PII({mask}) {description}"


def undocumented(catalog: Catalog, models: list[Model], migration_dir: str) -> list[Undocumented]:
    """Return every column without a description, in catalog order, with the file to describe it in."""
    by_name = {model.qualified: model for model in models}
    found = []
    for relation in catalog.relations:
        model = by_name.get(relation.qualified)
        where = model.display if model is not None else f"{migration_dir}/ (COMMENT ON COLUMN)"
        found += [Undocumented(relation.qualified, column.name, where)
                  for column in relation.columns if not column.comment]
    return found

