"""A column's upstream tree as terminal lines, and the columns a catalog knows for `columns_of`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from runner.lineage.origins import LineageTree

if TYPE_CHECKING:
    from runner.catalog import Catalog


def tree_lines(tree: LineageTree) -> list[str]:
    """Return the tree drawn with box characters, each edge labelled with how the column above uses this one."""
    lines = [f"{tree.relation}.{tree.column}"]
    if not tree.children:
        lines.append("└── (computed from no column: constants, count(*), or a value Weir sets)")
    _branches(tree.children, "", lines, set())
    return lines


def _branches(children: tuple[LineageTree, ...], indent: str, lines: list[str], shown: set[tuple[str, str]]) -> None:
    # A column reached a second time is not expanded again: in a project where models read
    # each other in diamonds, the full tree grows exponentially with depth.
    for position, child in enumerate(children):
        last = position == len(children) - 1
        how = " > ".join(child.how) if child.how else "copy"
        again = child.children and (child.relation, child.column) in shown
        lines.append(f"{indent}{'└── ' if last else '├── '}{child.relation}.{child.column}  ({how})"
                     + ("  [upstream shown above]" if again else ""))
        if not again:
            shown.add((child.relation, child.column))
            _branches(child.children, indent + ("    " if last else "│   "), lines, shown)


def catalog_columns(catalog: Catalog) -> Callable[[str], Sequence[str] | None]:
    """Return `columns_of` for a catalog: 'schema.name' -> its columns in order; 'name' looks in public first."""
    by_name: dict[str, list[tuple[str, ...]]] = {}
    columns: dict[str, tuple[str, ...]] = {}
    for relation in catalog.relations:
        names = tuple(column.name for column in relation.columns)
        columns[relation.qualified] = names
        by_name.setdefault(relation.name, []).append(names)

    def columns_of(relation: str) -> Sequence[str] | None:
        if relation in columns:
            return columns[relation]
        if "." not in relation:
            if f"public.{relation}" in columns:
                return columns[f"public.{relation}"]
            found = by_name.get(relation, [])
            return found[0] if len(found) == 1 else None
        return None

    return columns_of
