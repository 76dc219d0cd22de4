"""What an expression's value is computed from: its column references, each with the steps on the way.

Works on pglast's JSON parse tree (runner.project.sqlfile.parse_json). A node type this
module does not know is walked generically, its columns marked `expression`, so new
syntax gives a coarser answer rather than an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from runner.lineage.check_library import library_reads
from runner.lineage.json_tree import names, node
from runner.lineage.origins import Origin
from runner.lineage.scope import STAR, Origins, Reads, Scope

# Built-in aggregates: a call to one of them without OVER folds many rows into one value.
AGGREGATES = frozenset({
    "array_agg", "avg", "bit_and", "bit_or", "bit_xor", "bool_and", "bool_or", "count", "every", "json_agg",
    "json_object_agg", "jsonb_agg", "jsonb_object_agg", "max", "min", "string_agg", "sum", "xmlagg",
    "corr", "covar_pop", "covar_samp", "regr_avgx", "regr_avgy", "regr_count", "regr_intercept", "regr_r2",
    "regr_slope", "regr_sxx", "regr_sxy", "regr_syy", "stddev", "stddev_pop", "stddev_samp", "variance",
    "var_pop", "var_samp", "mode", "percentile_cont", "percentile_disc", "rank", "dense_rank", "percent_rank",
    "cume_dist", "any_value", "range_agg", "range_intersect_agg", "json_agg_strict", "json_objectagg",
    "json_arrayagg",
})
_SKIPPED = frozenset({"A_Const", "ParamRef", "SQLValueFunction", "TypeName", "String", "Integer", "Float",
                      "Boolean", "SetToDefault"})


class Subqueries(Protocol):
    """What reads a subquery: the SELECT walker."""

    reads: Reads
    relation_name: Callable[[str | None, str], str]

    def first_column(self, select: dict[str, Any], scope: Scope) -> Origins:
        """Walk a subquery seeing `scope`; return its first output column's origins."""


Handler = Callable[[dict[str, Any], Scope, Subqueries], Origins]


def prefixed(step: str, origins: Origins) -> Origins:
    """Return `origins` reached through one more step, outermost first."""
    return tuple(Origin(o.relation, o.column, (step, *o.how)) for o in origins)


def origins_of(value: Any, scope: Scope, walker: Subqueries) -> Origins:
    """Return the columns the expression `value` is computed from, recording every column it reads."""
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(origin for item in value for origin in origins_of(item, scope, walker))
    kind, fields = node(value)
    if kind is None:
        return _generic(fields, scope, walker)
    if kind in _SKIPPED:
        return ()
    handler = _HANDLERS.get(kind)
    if handler is None:
        return prefixed("expression", _generic(fields, scope, walker))
    return handler(fields, scope, walker)


def _generic(fields: dict[str, Any], scope: Scope, walker: Subqueries) -> Origins:
    found: list[Origin] = []
    for item in fields.values():
        if isinstance(item, (dict, list)):
            found += origins_of(item, scope, walker)
    return tuple(found)


def _column_ref(fields: dict[str, Any], scope: Scope, walker: Subqueries) -> Origins:
    parts = fields.get("fields", [])
    if parts and node(parts[-1])[0] == "A_Star":
        qualifier = tuple(names(parts[:-1]))
        return tuple(origin for _, origins in star(qualifier, scope, walker.reads) for origin in origins)
    return scope.resolve(tuple(names(parts)), walker.reads)


def star(qualifier: tuple[str, ...], scope: Scope, reads: Reads) -> list[tuple[str, Origins]]:
    """Return `*` (no qualifier) or `t.*`: each column with its origins."""
    if not qualifier:
        return scope.star(reads)
    for level in _levels(scope):
        for item in level.items:
            if item.matches(qualifier):
                return item.star(reads)
    return [(STAR, (Origin("?", ".".join((*qualifier, STAR)), ("unresolved",)),))]


def _levels(scope: Scope) -> list[Scope]:
    found: list[Scope] = []
    level: Scope | None = scope
    while level is not None:
        found.append(level)
        level = level.parent
    return found


def _type_cast(fields: dict[str, Any], scope: Scope, walker: Subqueries) -> Origins:
    type_names = names(node(fields.get("typeName"))[1].get("names"))
    return prefixed(f"cast:{type_names[-1] if type_names else '?'}", origins_of(fields.get("arg"), scope, walker))


def _func_call(fields: dict[str, Any], scope: Scope, walker: Subqueries) -> Origins:
    qualified = names(fields.get("funcname")) or ["?"]
    function = qualified[-1]
    arguments = origins_of(fields.get("args"), scope, walker)
    if qualified[0] == "weir" and len(qualified) == 2:
        walker.reads.columns |= library_reads(function, fields.get("args", []), walker.relation_name)
    over = fields.get("over")
    if over is not None:
        window = node(over)[1]
        if window.get("name") and not window.get("partitionClause") and not window.get("orderClause"):
            window = scope.windows.get(window["name"], window)
        step = f"window:{function}"
        return (
            prefixed(step, arguments)
            + prefixed(f"{step}:filter", origins_of(fields.get("agg_filter"), scope, walker))
            + prefixed(f"{step}:partition_by", origins_of(window.get("partitionClause"), scope, walker))
            + prefixed(f"{step}:order_by", origins_of(window.get("orderClause"), scope, walker))
        )
    aggregate = function in AGGREGATES or any(
        fields.get(flag) for flag in ("agg_star", "agg_distinct", "agg_filter", "agg_order", "agg_within_group")
    )
    if not aggregate:
        return prefixed(f"function:{function}", arguments)
    step = f"aggregate:{function}"
    return (
        prefixed(step, arguments + origins_of(fields.get("agg_order"), scope, walker))
        + prefixed(f"{step}:filter", origins_of(fields.get("agg_filter"), scope, walker))
    )


def _a_expr(fields: dict[str, Any], scope: Scope, walker: Subqueries) -> Origins:
    operands = origins_of(fields.get("lexpr"), scope, walker) + origins_of(fields.get("rexpr"), scope, walker)
    if fields.get("kind") == "AEXPR_NULLIF":
        return prefixed("nullif", operands)
    operator = " ".join(names(fields.get("name"))) or "?"
    return prefixed(f"operator:{operator}", operands)


def _bool_expr(fields: dict[str, Any], scope: Scope, walker: Subqueries) -> Origins:
    operator = str(fields.get("boolop", "")).removesuffix("_EXPR").lower() or "?"
    return prefixed(f"operator:{operator}", origins_of(fields.get("args"), scope, walker))


def _case(fields: dict[str, Any], scope: Scope, walker: Subqueries) -> Origins:
    found = prefixed("case:when", origins_of(fields.get("arg"), scope, walker))
    for when in fields.get("args", []):
        branch = node(when)[1]
        found += prefixed("case:when", origins_of(branch.get("expr"), scope, walker))
        found += prefixed("case:then", origins_of(branch.get("result"), scope, walker))
    return found + prefixed("case:else", origins_of(fields.get("defresult"), scope, walker))


def _sub_link(fields: dict[str, Any], scope: Scope, walker: Subqueries) -> Origins:
    link = fields.get("subLinkType", "")
    tested = origins_of(fields.get("testexpr"), scope, walker)
    inner = walker.first_column(fields.get("subselect", {}), scope)
    if link == "EXPR_SUBLINK":
        return prefixed("subquery", inner)
    if link == "ARRAY_SUBLINK":
        return prefixed("subquery:array", inner)
    if link == "EXISTS_SUBLINK":
        return ()
    return prefixed("operator:in", tested) + prefixed("subquery:in", inner)


def _step(name: str, key: str = "args") -> Handler:
    def handler(fields: dict[str, Any], scope: Scope, walker: Subqueries) -> Origins:
        return prefixed(name, origins_of(fields.get(key), scope, walker))
    return handler


def _min_max(fields: dict[str, Any], scope: Scope, walker: Subqueries) -> Origins:
    step = "greatest" if fields.get("op") == "IS_GREATEST" else "least"
    return prefixed(step, origins_of(fields.get("args"), scope, walker))


def _indirection(fields: dict[str, Any], scope: Scope, walker: Subqueries) -> Origins:
    origins_of(fields.get("indirection"), scope, walker)  # a subscript's columns are read, not copied
    return prefixed("subscript", origins_of(fields.get("arg"), scope, walker))


def _transparent(key: str) -> Handler:
    def handler(fields: dict[str, Any], scope: Scope, walker: Subqueries) -> Origins:
        return origins_of(fields.get(key), scope, walker)
    return handler


def _sort_by(fields: dict[str, Any], scope: Scope, walker: Subqueries) -> Origins:
    return origins_of(fields.get("node"), scope, walker)


_HANDLERS: dict[str, Handler] = {
    "ColumnRef": _column_ref,
    "TypeCast": _type_cast,
    "FuncCall": _func_call,
    "A_Expr": _a_expr,
    "BoolExpr": _bool_expr,
    "CaseExpr": _case,
    "SubLink": _sub_link,
    "CoalesceExpr": _step("coalesce"),
    "MinMaxExpr": _min_max,
    "NullTest": _step("operator:is null", "arg"),
    "BooleanTest": _step("operator:is", "arg"),
    "A_ArrayExpr": _step("array", "elements"),
    "RowExpr": _step("row"),
    "GroupingFunc": _step("function:grouping"),
    "A_Indirection": _indirection,
    "CollateClause": _transparent("arg"),
    "SortBy": _sort_by,
    "List": _transparent("items"),
}
