"""The contract of each relation, language-neutral: its fields, their types, and the DTO rules.

A table gets a Create DTO and an Update DTO; a view (or materialized view) only its row type.
- Create: a column is required when it is NOT NULL with no default and neither generated nor an
  identity; a generated or `GENERATED ALWAYS AS IDENTITY` column is left out (PostgreSQL refuses a
  value for it); every other column is optional.
- Update: every field optional; primary-key, generated and identity-always columns left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runner.catalog import Catalog, Column, Relation
from runner.docs.contracts.naming import camel, pascal, unique
from runner.docs.contracts.types import JSON_VALUE, allowed_labels, column_types

WRITABLE_KINDS = ("table", "partitioned table")


@dataclass(frozen=True)
class Field:
    """One column as a field of the contract."""

    name: str  # camelCase
    column: Column
    ts_type: str  # without `| null`
    py_type: str  # without `| None`
    in_create: bool
    required_in_create: bool
    in_update: bool

    @property
    def nullable(self) -> bool:
        """Return whether the column may hold NULL."""
        return self.column.nullable


@dataclass(frozen=True)
class Entity:
    """One relation as a set of types: its row, and for a table its Create and Update DTOs."""

    name: str  # PascalCase, unique in the file
    relation: Relation
    fields: tuple[Field, ...]

    @property
    def writable(self) -> bool:
        """Return whether the relation is a table (it gets DTOs)."""
        return self.relation.kind in WRITABLE_KINDS

    @property
    def fields_name(self) -> str:
        """Return the name of the field -> column map."""
        return f"{self.name}Fields"

    @property
    def create_name(self) -> str:
        """Return the name of the Create DTO."""
        return f"Create{self.name}DTO"

    @property
    def update_name(self) -> str:
        """Return the name of the Update DTO."""
        return f"Update{self.name}DTO"


def entities(catalog: Catalog, relations: Sequence[str] | None = None) -> list[Entity]:
    """Return the contract of each relation named in `relations` (default: all), in catalog order."""
    wanted = catalog.relations
    if relations is not None:
        missing = sorted(set(relations) - {relation.qualified for relation in catalog.relations})
        if missing:
            raise ValueError(f"not in the catalog: {', '.join(missing)}")
        chosen = set(relations)
        wanted = tuple(relation for relation in catalog.relations if relation.qualified in chosen)
    names = unique((pascal(relation.schema, relation.name) for relation in wanted), taken=(JSON_VALUE,))
    return [Entity(name, relation, _fields(relation)) for name, relation in zip(names, wanted, strict=True)]


def _fields(relation: Relation) -> tuple[Field, ...]:
    columns = sorted(relation.columns, key=lambda column: column.position)
    names = unique(camel(column.name) for column in columns)
    writable = relation.kind in WRITABLE_KINDS
    key = set(relation.primary_key)
    fields = []
    for name, column in zip(names, columns, strict=True):
        checks = [constraint.allowed_values for constraint in relation.constraints
                  if constraint.kind == "check" and constraint.columns == (column.name,)
                  and constraint.allowed_values is not None]
        ts, py = column_types(column, allowed_labels(column, checks))
        computed = column.generated or column.identity == "always"
        fields.append(Field(
            name=name, column=column, ts_type=ts, py_type=py,
            in_create=writable and not computed,
            required_in_create=writable and not computed and not column.nullable and column.default is None
            and column.identity is None,
            in_update=writable and not computed and column.name not in key,
        ))
    return tuple(fields)


def column_summary(column: Column) -> str:
    """Return the column as a comment names it: `order_id bigint NOT NULL, identity by default`."""
    parts = [f"{column.name} {column.type}"]
    if not column.nullable:
        parts[0] += " NOT NULL"
    if column.default is not None:
        parts.append(f"default {column.default}")
    if column.identity is not None:
        parts.append(f"identity {column.identity}")
    if column.generated:
        parts.append("generated")
    return ", ".join(parts)
