"""The type mapping table, against a real PostgreSQL: each SQL type's TypeScript and Python type,
and, for Python, that psycopg really returns a value of that type (the contract tells no lies).
"""

from __future__ import annotations

import datetime
import decimal
import typing
import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types import TypeInfo

from runner.catalog import read_catalog
from runner.docs.contracts.shape import entities

# column type, a value to insert, TypeScript type, Python type (both without null)
CASES = [
    ("smallint", "1", "number", "int"),
    ("integer", "1", "number", "int"),
    ("bigint", "9007199254740993", "string", "int"),
    ("real", "1.5", "number", "float"),
    ("double precision", "1.5", "number", "float"),
    ("numeric(12,2)", "1234567890.12", "string", "decimal.Decimal"),
    ("numeric", "0.1", "string", "decimal.Decimal"),
    ("money", "12.34", "string", "str"),
    ("boolean", "true", "boolean", "bool"),
    ("text", "'x'", "string", "str"),
    ("varchar(10)", "'x'", "string", "str"),
    ("char(3)", "'abc'", "string", "str"),
    ("uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "string", "uuid.UUID"),
    ("json", """'{"a": [1, null]}'""", "JsonValue", "JsonValue"),
    ("jsonb", "'[1, \"two\"]'", "JsonValue", "JsonValue"),
    ("bytea", "'\\xdeadbeef'", "string", "bytes"),
    ("date", "'2026-12-04'", "string", "datetime.date"),
    ("timestamp", "'2026-12-04 13:00'", "string", "datetime.datetime"),
    ("timestamptz", "'2026-12-04 13:00+00'", "string", "datetime.datetime"),
    ("time", "'13:00'", "string", "datetime.time"),
    ("timetz", "'13:00+01'", "string", "datetime.time"),
    ("interval", "'1 day'", "string", "datetime.timedelta"),
    ("inet", "'10.0.0.1'", "string", "str"),  # no entry: what the driver would return as text
    ("shop.mood", "'happy'", '"happy" | "sad" | "it\'s \\"ok\\""', 'Literal["happy", "sad", "it\'s \\"ok\\""]'),
    ("integer[]", "'{1,NULL}'", "(number | null)[]", "list[int | None]"),
    ("bigint[]", "'{1}'", "(string | null)[]", "list[int | None]"),
    ("text[]", "'{a}'", "(string | null)[]", "list[str | None]"),
    ("shop.mood[]", "'{sad}'", '("happy" | "sad" | "it\'s \\"ok\\"" | null)[]',
     'list[Literal["happy", "sad", "it\'s \\"ok\\""] | None]'),
    ("timestamptz[]", "'{2026-12-04 13:00+00}'", "(string | null)[]", "list[datetime.datetime | None]"),
]
# psycopg returns text for a type it has no loader for, as it does for inet without the ipaddress loader
_IGNORED_AT_RUNTIME = {"inet"}


def test_each_sql_type_maps_to_its_types_and_psycopg_returns_a_value_of_the_python_one(
        db: psycopg.Connection) -> None:
    db.execute("""CREATE SCHEMA shop; CREATE TYPE shop.mood AS ENUM ('happy', 'sad', 'it''s "ok"')""")
    columns = ", ".join(f"c{i} {sql_type}" for i, (sql_type, *_) in enumerate(CASES))
    db.execute(f"CREATE TABLE shop.typed ({columns})")
    db.execute(f"INSERT INTO shop.typed VALUES ({', '.join(value for _, value, *_ in CASES)})")
    entity = entities(read_catalog(db, ["shop"]))[0]
    # As contracts.py says: psycopg reads an array of an enum as text until the enum is registered.
    info = TypeInfo.fetch(db, "shop.mood")
    assert info is not None
    info.register(db)
    with db.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute("SELECT * FROM shop.typed").fetchone()
    assert row is not None

    mapped = [(case[0], field.ts_type, field.py_type) for case, field in zip(CASES, entity.fields, strict=True)]
    assert mapped == [(sql_type, ts, py) for sql_type, _, ts, py in CASES]
    wrong = [(sql_type, py, row[f"c{i}"]) for i, (sql_type, _, _, py) in enumerate(CASES)
             if sql_type not in _IGNORED_AT_RUNTIME and not _conforms(row[f"c{i}"], py)]
    assert wrong == []


def _conforms(value: Any, py: str) -> bool:
    """Return whether `value` is of the contract's Python type `py` (the forms the table uses)."""
    if py.startswith("list[") and py.endswith(" | None]"):
        return isinstance(value, list) and all(v is None or _conforms(v, py[5:-8]) for v in value)
    if py.startswith("Literal["):
        return value in typing.get_args(eval(py, {"Literal": typing.Literal}))
    if py == "JsonValue":
        return isinstance(value, (dict, list, str, int, float, bool))
    expected = eval(py, {"datetime": datetime, "decimal": decimal, "uuid": uuid})
    return isinstance(value, expected) and not (expected is int and isinstance(value, bool))


def test_check_in_lists_narrow_a_text_column_or_an_enum_to_a_union(db: psycopg.Connection) -> None:
    db.execute("""
        CREATE SCHEMA shop;
        CREATE TYPE shop.colour AS ENUM ('red', 'green', 'blue');
        CREATE TABLE shop.t (
            status text NOT NULL CHECK (status IN ('open', 'closed')),
            code varchar(2) CHECK (code = ANY (ARRAY['a', 'b'])),
            warm shop.colour CHECK (warm IN ('red', 'green')),
            size integer CHECK (size IN (1, 2)),
            free text CHECK (free <> '')
        )""")
    fields = {f.column.name: (f.ts_type, f.py_type) for f in entities(read_catalog(db, ["shop"]))[0].fields}
    assert fields == {
        "status": ('"open" | "closed"', 'Literal["open", "closed"]'),
        "code": ('"a" | "b"', 'Literal["a", "b"]'),
        "warm": ('"red" | "green"', 'Literal["red", "green"]'),
        "size": ("number", "int"),
        "free": ("string", "str"),
    }
