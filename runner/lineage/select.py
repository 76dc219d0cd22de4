"""Column lineage of one SELECT: each output column's origins, and every column it reads.

Walks pglast's JSON parse tree block by block: WITH queries first (each sees the ones
before it), then the FROM items (a LATERAL one sees the items before it), then the
SELECT list; set operations combine their branches' columns by position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from runner.errors import LineageError
from runner.lineage.expressions import origins_of, prefixed, star
from runner.lineage.json_tree import names, node
from runner.lineage.origins import UNRESOLVED, Origin
from runner.lineage.scope import STAR, FromItem, Origins, Reads, Scope

ColumnsOf = Callable[[str], Sequence[str] | None]
RelationName = Callable[[str | None, str], str]  # (schema as written or None, name) -> the relation's name


@dataclass(frozen=True)
class SelectLineage:
    """What one SELECT computes and reads."""

    columns: tuple[str, ...]  # output columns in order; ('*',) parts stand for unknown columns
    lineage: dict[str, tuple[Origin, ...]]  # output column -> its origins, sorted
    reads: frozenset[tuple[str, str]]  # every (relation, column) read anywhere; column '*' when unknown


@dataclass
class _Block:
    columns: list[str]  # may hold STAR
    lineage: dict[str, Origins]


def analyze_select(
    sql: str, columns_of: ColumnsOf, *, relation_name: RelationName | None = None
) -> SelectLineage:
    """Return the lineage and the read columns of the single SELECT `sql`, parsing it once.

    Raises LineageError when `sql` is not one SELECT PostgreSQL can parse.
    """
    from pglast import parser

    from runner.project.sqlfile import parse_json

    try:
        statements, _ = parse_json(sql)
    except parser.ParseError as exc:
        raise LineageError(f"cannot parse the SELECT: {exc.args[0]}") from None
    if len(statements) != 1 or node(statements[0].get("stmt"))[0] != "SelectStmt":
        raise LineageError("column lineage needs exactly one SELECT")
    walker = _Walker(columns_of, relation_name or _as_written)
    block = walker.select(statements[0]["stmt"], None, {})
    lineage = {column: tuple(sorted(set(origins))) for column, origins in block.lineage.items()}
    return SelectLineage(tuple(dict.fromkeys(block.columns)), lineage, frozenset(walker.reads.columns))


def _as_written(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


class _Walker:
    """Walks the blocks of one SELECT, collecting what it reads."""

    def __init__(self, columns_of: ColumnsOf, relation_name: RelationName) -> None:
        self.columns_of, self.relation_name = columns_of, relation_name
        self.reads = Reads()

    def first_column(self, select: dict[str, Any], scope: Scope) -> Origins:
        """Walk a subquery seeing `scope`; return its first output column's origins."""
        block = self.select(select, scope, scope.ctes)
        return block.lineage.get(block.columns[0], ()) if block.columns else ()

    def select(self, select: dict[str, Any], parent: Scope | None, ctes: dict[str, FromItem]) -> _Block:
        fields = node(select)[1] if node(select)[0] == "SelectStmt" else select
        with_clause = fields.get("withClause")
        if with_clause:
            ctes = self._with(node(with_clause)[1], parent, ctes)
        operation = fields.get("op", "SETOP_NONE")
        if operation != "SETOP_NONE":
            return self._set_operation(fields, operation, parent, ctes)
        scope = Scope(parent=parent, ctes=ctes)
        if fields.get("valuesLists"):
            return self._values(fields["valuesLists"], scope)
        for window in fields.get("windowClause", []):
            definition = node(window)[1]
            scope.windows[definition.get("name", "")] = definition
        for item in fields.get("fromClause", []):
            items, merged = self._from_item(item, scope)
            scope.items += items
            scope.merged.update(merged)
        columns: list[str] = []
        lineage: dict[str, Origins] = {}
        for target in fields.get("targetList", []):
            result = node(target)[1]
            value = result.get("val")
            kind, value_fields = node(value)
            parts = value_fields.get("fields", []) if kind == "ColumnRef" else []
            if parts and node(parts[-1])[0] == "A_Star":
                for name, origins in star(tuple(names(parts[:-1])), scope, self.reads):
                    columns.append(name)
                    lineage[name] = lineage.get(name, ()) + origins if name == STAR else lineage.get(name, origins)
                continue
            name = result.get("name") or _column_name(value)
            columns.append(name)
            origins = origins_of(value, scope, self)
            lineage.setdefault(name, origins)
        scope.outputs = lineage
        for key in ("whereClause", "groupClause", "havingClause", "sortClause", "distinctClause",
                    "limitCount", "limitOffset"):
            origins_of(fields.get(key), scope, self)
        for definition in scope.windows.values():
            origins_of([definition.get("partitionClause"), definition.get("orderClause")], scope, self)
        return _Block(columns, lineage)

    def _with(
        self, with_clause: dict[str, Any], parent: Scope | None, ctes: dict[str, FromItem]
    ) -> dict[str, FromItem]:
        ctes = dict(ctes)
        for cte in with_clause.get("ctes", []):
            fields = node(cte)[1]
            name = fields.get("ctename", "")
            query = node(fields.get("ctequery"))[1]
            renamed = names(fields.get("aliascolnames"))
            if with_clause.get("recursive") and query.get("op", "SETOP_NONE") != "SETOP_NONE":
                # The recursive branch reads the CTE itself: give it the first branch's columns first.
                seed = self.select(query.get("larg", {}), parent, ctes)
                ctes[name] = _derived(name, seed, renamed, f"cte:{name}")
            block = self.select(query, parent, ctes)
            ctes[name] = _derived(name, block, renamed, f"cte:{name}")
        return ctes

    def _set_operation(
        self, fields: dict[str, Any], operation: str, parent: Scope | None, ctes: dict[str, FromItem]
    ) -> _Block:
        left = self.select(fields.get("larg", {}), parent, ctes)
        right = self.select(fields.get("rarg", {}), parent, ctes)
        step = operation.removeprefix("SETOP_").lower()
        scope = Scope(parent=parent, ctes=ctes)
        lineage: dict[str, Origins] = {}
        by_position = STAR not in left.columns and STAR not in right.columns
        for position, name in enumerate(left.columns):
            origins = prefixed(step, left.lineage.get(name, ()))
            if step != "except":  # EXCEPT's right side only removes rows: its values never reach the output
                if by_position and position < len(right.columns):
                    origins += prefixed(step, right.lineage.get(right.columns[position], ()))
                elif not by_position:
                    origins += prefixed(step, right.lineage.get(name, ()))
            lineage[name] = lineage.get(name, ()) + origins
        for key in ("sortClause", "limitCount", "limitOffset"):
            origins_of(fields.get(key), scope, self)
        return _Block(list(left.columns), lineage)

    def _values(self, rows: list[Any], scope: Scope) -> _Block:
        lineage: dict[str, Origins] = {}
        for row in rows:
            for position, value in enumerate(node(row)[1].get("items", []), start=1):
                name = f"column{position}"
                lineage[name] = lineage.get(name, ()) + prefixed("values", origins_of(value, scope, self))
        return _Block(list(lineage), lineage)

    def _from_item(self, item: Any, scope: Scope) -> tuple[list[FromItem], dict[str, Origins]]:
        """Return the FROM items `item` adds to `scope` and the join columns it merges."""
        kind, fields = node(item)
        alias = node(fields.get("alias"))[1] if fields.get("alias") else {}
        alias_name = alias.get("aliasname")
        renamed = names(alias.get("colnames"))
        lateral_scope = Scope(list(scope.items), dict(scope.merged), scope.parent, ctes=scope.ctes)
        if kind == "RangeVar":
            return [self._relation(fields, alias_name, renamed, scope)], {}
        if kind == "RangeSubselect":
            lateral = bool(fields.get("lateral"))
            block = self.select(fields.get("subquery", {}), lateral_scope if lateral else scope.parent, scope.ctes)
            name = alias_name or "subquery"
            return [_derived(name, block, renamed, f"{'lateral' if lateral else 'subquery'}:{name}")], {}
        if kind == "RangeFunction":
            return [self._function(fields, alias_name, renamed, lateral_scope)], {}
        if kind == "JoinExpr":
            return self._join(fields, scope)
        if kind == "RangeTableSample":
            return self._from_item(fields.get("relation"), scope)
        origins_of(fields, lateral_scope, self)  # JSON_TABLE, XMLTABLE, ...: the columns they read
        return [FromItem(alias_name or "?", columns=renamed or None, step=f"lateral:{alias_name or '?'}")], {}

    def _relation(self, fields: dict[str, Any], alias: str | None, renamed: list[str], scope: Scope) -> FromItem:
        schema, name = fields.get("schemaname"), fields.get("relname", "")
        if schema is None and name in scope.ctes:
            cte = scope.ctes[name]
            return FromItem(alias or name, columns=cte.columns, lineage=cte.lineage, step=cte.step)
        relation = self.relation_name(schema, name)
        known = self.columns_of(relation)
        columns = list(known) if known is not None else None
        if not renamed:
            return FromItem(alias or name, relation=relation, columns=columns)
        # `t AS x(a, b)` renames t's first columns; the rest keep their names
        originals = columns if columns is not None else renamed
        lineage: dict[str, Origins] = {
            (renamed[i] if i < len(renamed) else column): (Origin(relation, column),)
            for i, column in enumerate(originals)
        }
        for column in originals:
            self.reads.columns.add((relation, column))
        return FromItem(alias or name, columns=list(lineage), lineage=lineage)

    def _function(self, fields: dict[str, Any], alias: str | None, renamed: list[str], scope: Scope) -> FromItem:
        origins: Origins = ()
        called: list[str] = []
        for function in fields.get("functions", []):
            items = node(function)[1].get("items", [])
            call = items[0] if items else None
            origins += origins_of(call, scope, self)
            called += names(node(call)[1].get("funcname"))[-1:]
        name = alias or (called[0] if called else "function")
        columns = renamed or [name]
        lineage = {column: origins for column in columns}
        if fields.get("ordinality") and not renamed:
            lineage["ordinality"] = ()
        return FromItem(name, columns=list(lineage), lineage=lineage, step=f"lateral:{name}")

    def _join(self, fields: dict[str, Any], scope: Scope) -> tuple[list[FromItem], dict[str, Origins]]:
        left, left_merged = self._from_item(fields.get("larg"), scope)
        inner = Scope(list(scope.items) + left, {**scope.merged, **left_merged}, scope.parent, ctes=scope.ctes)
        right, right_merged = self._from_item(fields.get("rarg"), inner)
        merged = {**left_merged, **right_merged}
        joined = Scope(left + right, dict(merged), scope.parent, ctes=scope.ctes)
        origins_of(fields.get("quals"), joined, self)
        using = names(fields.get("usingClause"))
        if fields.get("isNatural"):
            left_columns = [c for item in left for c in item.columns or []] + list(left_merged)
            right_columns = {c for item in right for c in item.columns or []} | set(right_merged)
            using = [column for column in dict.fromkeys(left_columns) if column in right_columns]
        join_type = fields.get("jointype", "JOIN_INNER")
        for column in using:
            from_left = Scope(left, dict(left_merged), ctes=scope.ctes).resolve((column,), self.reads)
            from_right = Scope(right, dict(right_merged), ctes=scope.ctes).resolve((column,), self.reads)
            if join_type == "JOIN_LEFT":
                merged[column] = from_left
            elif join_type == "JOIN_RIGHT":
                merged[column] = from_right
            else:
                merged[column] = prefixed("using", from_left) + prefixed("using", from_right)
        if alias := fields.get("alias"):
            # `(a JOIN b USING (x)) AS j`: only j's name is visible outside
            joined = Scope(left + right, merged, ctes=scope.ctes)
            expanded = star((), joined, Reads())
            lineage = {name: origins for name, origins in expanded}
            return [FromItem(node(alias)[1].get("aliasname", "?"), columns=[n for n, _ in expanded],
                             lineage=lineage)], {}
        return left + right, merged


def _derived(name: str, block: _Block, renamed: list[str], step: str) -> FromItem:
    """Return a CTE's or subquery's FROM item, its first columns renamed by `AS x(a, b)`."""
    columns = [renamed[i] if i < len(renamed) and column != STAR else column for i, column in enumerate(block.columns)]
    lineage = {new: block.lineage.get(old, ()) for new, old in zip(columns, block.columns, strict=True)}
    known = None if STAR in columns else columns
    return FromItem(name, columns=known, lineage=lineage, step=step)


def _column_name(value: Any) -> str:
    """Return the name PostgreSQL gives an output column without an alias (its FigureColname)."""
    kind, fields = node(value)
    if kind == "ColumnRef":
        parts = names(fields.get("fields"))
        return parts[-1] if parts else "?column?"
    if kind == "FuncCall":
        return (names(fields.get("funcname")) or ["?column?"])[-1]
    if kind == "TypeCast":
        inner = _column_name(fields.get("arg"))
        if inner != "?column?":
            return inner
        type_names = names(node(fields.get("typeName"))[1].get("names"))
        return type_names[-1] if type_names else "?column?"
    if kind == "A_Indirection":
        labels = names(fields.get("indirection"))
        return labels[-1] if labels else _column_name(fields.get("arg"))
    if kind == "SubLink":
        link = fields.get("subLinkType")
        if link == "EXPR_SUBLINK":
            targets = node(fields.get("subselect"))[1].get("targetList", [])
            if targets:
                first = node(targets[0])[1]
                return str(first.get("name") or _column_name(first.get("val")))
        return {"EXISTS_SUBLINK": "exists", "ARRAY_SUBLINK": "array"}.get(str(link), "?column?")
    if kind == "MinMaxExpr":
        return "greatest" if fields.get("op") == "IS_GREATEST" else "least"
    if kind == "A_Expr" and fields.get("kind") == "AEXPR_NULLIF":
        return "nullif"
    simple = {"CaseExpr": "case", "CoalesceExpr": "coalesce", "A_ArrayExpr": "array", "RowExpr": "row",
              "GroupingFunc": "grouping"}
    if kind == "SQLValueFunction":
        return str(fields.get("op", "")).removeprefix("SVFOP_").lower() or "?column?"
    return simple.get(kind or "", "?column?")


def unresolved(origins: Origins) -> bool:
    """Return whether any of `origins` is a name no FROM item is known to have."""
    return any(origin.relation == UNRESOLVED for origin in origins)
