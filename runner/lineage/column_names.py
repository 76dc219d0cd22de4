"""The name PostgreSQL gives an output column written without an alias (its FigureColname)."""

from __future__ import annotations

from typing import Any

from runner.lineage.json_tree import names, node


def column_name(value: Any) -> str:
    """Return the name PostgreSQL gives an output column without an alias (its FigureColname)."""
    kind, fields = node(value)
    if kind == "ColumnRef":
        parts = names(fields.get("fields"))
        return parts[-1] if parts else "?column?"
    if kind == "FuncCall":
        return (names(fields.get("funcname")) or ["?column?"])[-1]
    if kind == "TypeCast":
        inner = column_name(fields.get("arg"))
        if inner != "?column?":
            return inner
        type_names = names(node(fields.get("typeName"))[1].get("names"))
        return type_names[-1] if type_names else "?column?"
    if kind == "CollateClause":
        return column_name(fields.get("arg"))
    if kind == "A_Indirection":
        labels = names(fields.get("indirection"))
        return labels[-1] if labels else column_name(fields.get("arg"))
    if kind == "SubLink":
        link = fields.get("subLinkType")
        if link == "EXPR_SUBLINK":
            targets = node(fields.get("subselect"))[1].get("targetList", [])
            if targets:
                first = node(targets[0])[1]
                return str(first.get("name") or column_name(first.get("val")))
        return {"EXISTS_SUBLINK": "exists", "ARRAY_SUBLINK": "array"}.get(str(link), "?column?")
    if kind == "MinMaxExpr":
        return "greatest" if fields.get("op") == "IS_GREATEST" else "least"
    if kind == "A_Expr" and fields.get("kind") == "AEXPR_NULLIF":
        return "nullif"
    if kind == "XmlExpr" and fields.get("op") != "IS_DOCUMENT":
        return str(fields.get("op", "")).removeprefix("IS_").lower() or "?column?"
    simple = {"CaseExpr": "case", "CoalesceExpr": "coalesce", "A_ArrayExpr": "array", "RowExpr": "row",
              "GroupingFunc": "grouping", "XmlSerialize": "xmlserialize", "JsonObjectConstructor": "json_object",
              "JsonArrayConstructor": "json_array", "JsonArrayQueryConstructor": "json_array",
              "JsonObjectAgg": "json_objectagg", "JsonArrayAgg": "json_arrayagg"}
    if kind == "SQLValueFunction":
        return str(fields.get("op", "")).removeprefix("SVFOP_").lower() or "?column?"
    return simple.get(kind or "", "?column?")
