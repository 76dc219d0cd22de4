"""What the catalog says about one relation, as plain frozen values (no OIDs, nothing that varies by run)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One column, as PostgreSQL describes it."""

    name: str
    position: int  # order in the relation, from 1, with dropped columns left out
    type: str  # as format_type() writes it: 'numeric(12,2)', 'timestamp with time zone', 'text[]'
    base_type: str  # pg_type name of the elements (arrays) or the base (domains): 'int8', 'timestamptz'
    is_array: bool
    nullable: bool
    default: str | None
    generated: bool  # GENERATED ALWAYS AS (...) STORED
    identity: str | None  # 'always' | 'by default' | None
    comment: str | None
    enum_values: tuple[str, ...] | None  # labels in order when the (element) type is an enum
    generation_expression: str | None = None  # what a generated column is computed from: `(valid_to IS NULL)`


@dataclass(frozen=True)
class Constraint:
    """A primary key, unique, check, foreign key or exclusion constraint."""

    name: str
    kind: str  # 'primary key' | 'unique' | 'check' | 'foreign key' | 'exclusion'
    columns: tuple[str, ...]
    definition: str
    references: str | None  # 'schema.table' a foreign key points at
    referenced_columns: tuple[str, ...]
    allowed_values: tuple[str, ...] | None  # a CHECK limiting one column to a list of strings


@dataclass(frozen=True)
class Index:
    """An index on a relation."""

    name: str
    definition: str
    unique: bool
    primary: bool


@dataclass(frozen=True)
class Relation:
    """A table or view with its columns, constraints and indexes."""

    schema: str
    name: str
    kind: str  # 'table' | 'partitioned table' | 'view' | 'materialized view'
    comment: str | None
    columns: tuple[Column, ...]
    constraints: tuple[Constraint, ...]
    indexes: tuple[Index, ...]
    view_definition: str | None

    @property
    def qualified(self) -> str:
        """Return `schema.name`."""
        return f"{self.schema}.{self.name}"

    @property
    def primary_key(self) -> tuple[str, ...]:
        """Return the primary key's columns, or () when there is none."""
        for constraint in self.constraints:
            if constraint.kind == "primary key":
                return constraint.columns
        return ()

    def column(self, name: str) -> Column | None:
        """Return the column called `name`, or None."""
        return next((column for column in self.columns if column.name == name), None)


@dataclass(frozen=True)
class Catalog:
    """The relations of some schemas, sorted by (schema, name)."""

    relations: tuple[Relation, ...]

    def relation(self, qualified: str) -> Relation | None:
        """Return the relation called `schema.name`, or None."""
        return next((relation for relation in self.relations if relation.qualified == qualified), None)

    def schemas(self) -> tuple[str, ...]:
        """Return the schemas that hold at least one relation, sorted."""
        return tuple(sorted({relation.schema for relation in self.relations}))
