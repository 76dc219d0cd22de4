"""The star schema as Weir sees it: which models are facts and dimensions, and what links relations.

A model is a fact when tagged `facts` (or named `fact_`/`fct_`), a dimension when tagged
`dimensions`, named `dim_`, or built as scd2. Links are the catalog's foreign keys, and for
models (which have none) a fact column named like a dimension's key.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.catalog import Catalog, Relation
from runner.project import Model


@dataclass(frozen=True)
class Link:
    """A many-to-one (or one-to-one) relationship: `child.columns` point at `parent.parent_columns`."""

    child: str
    columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]
    name: str  # the constraint, or "implied" for a key column shared by name
    one_to_one: bool  # the child's columns are unique too
    optional: bool  # a child column is nullable: a child row may have no parent

    @property
    def cardinality(self) -> str:
        """Return `1:1` or `1:N`, parent to child."""
        return "1:1" if self.one_to_one else "1:N"


def is_fact(model: Model) -> bool:
    """Return True for a fact: tagged facts, or named fact_/fct_."""
    return "facts" in model.tags or model.name.startswith(("fact_", "fct_"))


def is_dimension(model: Model) -> bool:
    """Return True for a dimension: tagged dimensions, named dim_, or an scd2 model."""
    return not is_fact(model) and ("dimensions" in model.tags or model.name.startswith("dim_") or model.kind == "scd2")


def dimension_key(model: Model, relation: Relation | None) -> tuple[str, ...]:
    """Return the columns a fact joins a dimension on: its surrogate key, unique key, primary key or <x>_key."""
    if model.kind == "scd2":
        return (model.surrogate_key or f"{model.name}_key",)
    if model.unique_key:
        return model.unique_key
    if relation is not None and relation.primary_key:
        return relation.primary_key
    guess = model.name.removeprefix("dim_") + "_key"
    if relation is not None and relation.column(guess) is not None:
        return (guess,)
    return ()


def unique_sets(relation: Relation) -> list[frozenset[str]]:
    """Return the column sets the relation's primary key and unique constraints make unique."""
    return [frozenset(c.columns) for c in relation.constraints if c.kind in ("primary key", "unique")]


def links(catalog: Catalog, models: list[Model]) -> list[Link]:
    """Return every relationship: foreign keys, and each fact's key columns named like a dimension's key."""
    found = []
    for relation in catalog.relations:
        for constraint in relation.constraints:
            if constraint.kind != "foreign key" or constraint.references is None:
                continue
            found.append(_link(relation, constraint.columns, constraint.references, constraint.referenced_columns,
                               constraint.name))
    dimensions = [(m, dimension_key(m, catalog.relation(m.qualified))) for m in models if is_dimension(m)]
    for fact in (m for m in models if is_fact(m)):
        table = catalog.relation(fact.qualified)
        if table is None:
            continue
        for dimension, key in dimensions:
            if key and all(table.column(column) is not None for column in key):
                found.append(_link(table, key, dimension.qualified, key, "implied"))
    return sorted(found, key=lambda link: (link.child, link.columns, link.parent))


def _link(child: Relation, columns: tuple[str, ...], parent: str, parent_columns: tuple[str, ...],
          name: str) -> Link:
    one_to_one = frozenset(columns) in unique_sets(child)
    optional = any((column := child.column(name_)) is not None and column.nullable for name_ in columns)
    return Link(child.qualified, columns, parent, parent_columns, name, one_to_one, optional)
