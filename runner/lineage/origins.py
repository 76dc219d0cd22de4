"""What column lineage answers with: an Origin (one upstream column and how) and a LineageTree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

UNRESOLVED = "?"  # Origin.relation of a column name no FROM item is known to have


@dataclass(frozen=True, order=True)
class Origin:
    """One upstream column an output column is computed from, and the way there.

    `how` lists the steps from the output column towards this one, outermost first, e.g.
    ('cast:integer', 'function:to_char', 'cte:changed_lines'). An empty `how` is a plain copy.
    Steps: `cte:NAME`, `subquery:ALIAS`, `lateral:ALIAS`, `function:NAME`, `aggregate:NAME`,
    `aggregate:NAME:filter`, `window:NAME`, `window:NAME:partition_by`, `window:NAME:order_by`,
    `cast:TYPE`, `operator:OP`, `case:when`, `case:then`, `case:else`, `coalesce`, `greatest`,
    `least`, `nullif`, `union`, `intersect`, `except`, `using` (a merged USING/NATURAL column),
    `subquery` (a scalar subquery), `subquery:in`, `subquery:array`, `values`, `expression`
    (any other expression), `star` (through `*` over a relation whose columns are unknown),
    `ambiguous` (the name fits several FROM items; each is an origin), `unresolved`
    (relation UNRESOLVED: no FROM item is known to have it).
    """

    relation: str  # 'schema.name' of a model or source table ('name' when written unqualified)
    column: str
    how: tuple[str, ...] = ()


@dataclass(frozen=True)
class LineageTree:
    """A column and, below it, the columns it is computed from, down to source columns."""

    relation: str
    column: str
    how: tuple[str, ...] = ()  # how the parent node is computed from this one; () at the root
    children: tuple[LineageTree, ...] = field(default=())

    def sources(self) -> tuple[tuple[str, str], ...]:
        """Return the (relation, column) of every leaf, sorted and without repeats (shared subtrees once)."""
        found: set[tuple[str, str]] = set()
        seen: set[int] = set()
        stack = [self]
        while stack:
            tree = stack.pop()
            if id(tree) in seen:
                continue
            seen.add(id(tree))
            if not tree.children:
                found.add((tree.relation, tree.column))
            stack.extend(tree.children)
        return tuple(sorted(found))

    def to_json(self) -> dict[str, Any]:
        """Return the tree as plain JSON values: relation, column, how, upstream."""
        return {
            "relation": self.relation,
            "column": self.column,
            "how": list(self.how),
            "upstream": [child.to_json() for child in self.children],
        }
