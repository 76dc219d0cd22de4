"""The type of a column in each language: one table, keyed by PostgreSQL's type name.

The rule both files follow: no value loses precision. JavaScript numbers are doubles, so int8,
numeric and money are strings in TypeScript (what JSON from PostgreSQL and most drivers give);
Python's int and Decimal are exact, so there they are the types psycopg returns. Dates and times
are ISO strings in TypeScript and datetime values in Python. A type with no entry here is text
in both (what a driver returns for a type it does not know).
"""

from __future__ import annotations

from runner.catalog import Column
from runner.docs.contracts.naming import string_literal

JSON_VALUE = "JsonValue"

# pg_type name -> (TypeScript, Python)
TYPES: dict[str, tuple[str, str]] = {
    "int2": ("number", "int"),
    "int4": ("number", "int"),
    "oid": ("number", "int"),
    "float4": ("number", "float"),
    "float8": ("number", "float"),
    "int8": ("string", "int"),
    "numeric": ("string", "decimal.Decimal"),
    "money": ("string", "str"),
    "bool": ("boolean", "bool"),
    "text": ("string", "str"),
    "varchar": ("string", "str"),
    "bpchar": ("string", "str"),
    "char": ("string", "str"),
    "name": ("string", "str"),
    "citext": ("string", "str"),
    "uuid": ("string", "uuid.UUID"),
    "json": (JSON_VALUE, JSON_VALUE),
    "jsonb": (JSON_VALUE, JSON_VALUE),
    "bytea": ("string", "bytes"),
    "date": ("string", "datetime.date"),
    "timestamp": ("string", "datetime.datetime"),
    "timestamptz": ("string", "datetime.datetime"),
    "time": ("string", "datetime.time"),
    "timetz": ("string", "datetime.time"),
    "interval": ("string", "datetime.timedelta"),
}
UNKNOWN = ("string", "str")


def allowed_labels(column: Column, checks: list[tuple[str, ...]]) -> tuple[str, ...] | None:
    """Return the strings a column may hold: its enum's labels, narrowed by each CHECK ... IN list."""
    labels = column.enum_values
    for allowed in checks:
        labels = allowed if labels is None else tuple(label for label in labels if label in allowed)
    return labels


def element_types(column: Column, labels: tuple[str, ...] | None) -> tuple[str, str]:
    """Return the (TypeScript, Python) type of one value of the column (an element, for arrays)."""
    if labels is not None:
        if not labels:
            return "never", "typing.Never"
        literals = [string_literal(label) for label in labels]
        return " | ".join(literals), f"Literal[{', '.join(literals)}]"
    return TYPES.get(column.base_type, UNKNOWN)


def column_types(column: Column, labels: tuple[str, ...] | None) -> tuple[str, str]:
    """Return the (TypeScript, Python) type of the column's value, without null.

    An array's elements may always be NULL in PostgreSQL (no constraint says otherwise), so they are
    typed nullable: `(number | null)[]`, `list[int | None]`.
    """
    ts, py = element_types(column, labels)
    if column.is_array:
        return f"({ts} | null)[]", f"list[{py} | None]"
    return ts, py
