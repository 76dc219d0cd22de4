"""Names in a SELECT: the FROM items a query block sees and what a column reference means there.

A FROM item is a relation Weir does not look into (a source table or a model: its columns
come from the caller's `columns_of`, or are unknown) or a derived one (a CTE, a subquery, a
function in FROM) whose columns have origins of their own. A scope is one query block's
FROM items, the columns its USING/NATURAL joins merged, and the enclosing block's scope,
which correlated subqueries and LATERAL items see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runner.lineage.origins import UNRESOLVED, Origin

STAR = "*"  # a derived item's column standing for every column of a relation whose columns are unknown

Origins = tuple[Origin, ...]


@dataclass
class Reads:
    """Every (relation, column) of a relation Weir does not look into that a SELECT reads."""

    columns: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class FromItem:
    """One item of a FROM list, seen by the name it is qualified with."""

    name: str  # alias, else the relation's or CTE's name
    relation: str | None = None  # a relation read as it is ('schema.name' or 'name'); None when derived
    columns: list[str] | None = None  # in order; None when unknown
    lineage: dict[str, Origins] = field(default_factory=dict)  # derived: each column's origins (may hold STAR)
    step: str = ""  # derived: the step through it, e.g. 'cte:changed_lines'

    def matches(self, qualifier: tuple[str, ...]) -> bool:
        """Return whether `t` or `s.t` in `t.col` / `s.t.col` names this item."""
        if len(qualifier) == 1:
            return qualifier[0] == self.name
        return self.relation is not None and ".".join(qualifier) == self.relation and self.name == qualifier[-1]

    def has(self, column: str) -> bool | None:
        """Return whether the item has `column`; None when its columns are unknown."""
        if self.columns is not None:
            return column in self.columns
        if self.relation is None and column in self.lineage:
            return True
        return None

    def column(self, column: str, reads: Reads) -> Origins:
        """Return the origins of the item's `column`, recording what is read."""
        if self.relation is not None:
            reads.columns.add((self.relation, column))
            return (Origin(self.relation, column),)
        found = self.lineage.get(column)
        if found is not None:
            return tuple(Origin(o.relation, o.column, (*self._steps, *o.how)) for o in found)
        through_star = []
        for origin in self.lineage.get(STAR, ()):
            if origin.relation != UNRESOLVED:
                reads.columns.add((origin.relation, column))
            through_star.append(Origin(origin.relation, column, (*self._steps, *origin.how, "star")))
        if through_star:
            return tuple(through_star)
        return (Origin(UNRESOLVED, column, (*self._steps, "unresolved")),)

    @property
    def _steps(self) -> tuple[str, ...]:
        return (self.step,) if self.step else ()

    def star(self, reads: Reads) -> list[tuple[str, Origins]]:
        """Return `t.*`: each column with its origins; one STAR column when the columns are unknown."""
        if self.columns is None:
            if self.relation is not None:
                reads.columns.add((self.relation, STAR))
                return [(STAR, (Origin(self.relation, STAR),))]
            star = self.lineage.get(STAR, ())
            return [(STAR, tuple(Origin(o.relation, o.column, (*self._steps, *o.how)) for o in star))]
        return [(name, self.column(name, reads)) for name in self.columns]


@dataclass
class Scope:
    """One query block's FROM items and merged join columns, inside its enclosing block's scope."""

    items: list[FromItem] = field(default_factory=list)
    merged: dict[str, Origins] = field(default_factory=dict)  # USING / NATURAL columns, by name
    parent: Scope | None = None
    outputs: dict[str, Origins] = field(default_factory=dict)  # SELECT list, for GROUP BY / ORDER BY names
    ctes: dict[str, FromItem] = field(default_factory=dict)  # WITH queries visible here, by name
    windows: dict[str, Any] = field(default_factory=dict)  # WINDOW w AS (...): the WindowDef fields, by name

    def resolve(self, fields: tuple[str, ...], reads: Reads) -> Origins:
        """Return what the column reference `fields` (e.g. ('o', 'order_id')) is computed from."""
        column = fields[-1]
        if len(fields) == 1:
            return self._unqualified(column, reads)
        qualifier = fields[:-1]
        # `t.col` where t is no item of this or an enclosing block may be `col.field` of a composite
        for scope in self._chain():
            for item in scope.items:
                if item.matches(qualifier):
                    return item.column(column, reads)
        if len(fields) == 2:
            found = self._unqualified(fields[0], reads, quiet=True)
            if found:
                return tuple(Origin(o.relation, o.column, (*o.how, f"field:{column}")) for o in found)
        return (Origin(UNRESOLVED, ".".join(fields), ("unresolved",)),)

    def _unqualified(self, column: str, reads: Reads, quiet: bool = False) -> Origins:
        # A name any block is known to have wins, innermost first; then, innermost first, the one
        # item whose columns are unknown, or every such item when there are several.
        for scope in self._chain():
            if column in scope.merged:
                return scope.merged[column]
            known = [item for item in scope.items if item.has(column)]
            if known:
                return _ambiguous(known, column, reads)
        for scope in self._chain():
            unknown = [item for item in scope.items if item.has(column) is None]
            if unknown:
                return _ambiguous(unknown, column, reads)
        if column in self.outputs:  # GROUP BY / ORDER BY an output column's name
            return self.outputs[column]
        if quiet:
            return ()
        return (Origin(UNRESOLVED, column, ("unresolved",)),)

    def star(self, reads: Reads) -> list[tuple[str, Origins]]:
        """Return `*`: merged join columns first, then every item's other columns, in FROM order."""
        expanded = list(self.merged.items())
        for item in self.items:
            expanded += [(name, origins) for name, origins in item.star(reads) if name not in self.merged]
        return expanded

    def _chain(self) -> list[Scope]:
        chain: list[Scope] = []
        scope: Scope | None = self
        while scope is not None:
            chain.append(scope)
            scope = scope.parent
        return chain


def _ambiguous(items: list[FromItem], column: str, reads: Reads) -> Origins:
    if len(items) == 1:
        return items[0].column(column, reads)
    return tuple(
        Origin(o.relation, o.column, ("ambiguous", *o.how)) for item in items for o in item.column(column, reads)
    )
