"""Helpers shared by the materialize tests, as fixtures that return the function.

Test modules are imported with --import-mode=importlib, so they cannot import each other; fixtures are how they share.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from runner.project.models import Model
from runner.project.sqlfile import Directive, checksum


def _make_model(
    sql: str, name: str = "m", schema: str = "marts", kind: str = "view", description: str | None = None, **options: str
) -> Model:
    """Return the Model a file with these header directives (one per line) and this SELECT would give."""
    directives = {"kind": kind, **options, **({"description": description} if description else {})}
    header = "".join(f"-- weir: {key}={value}\n" for key, value in directives.items())
    display = f"models/{schema}/{name}.sql"
    return Model.from_header(
        {key: Directive(key, value, line) for line, (key, value) in enumerate(directives.items(), 1)},
        schema=schema,
        name=name,
        path=Path(display),
        display=display,
        sql=sql,
        sql_line=len(directives) + 1,
        checksum=checksum(header + sql),
    )


def _rows(conn: psycopg.Connection, query: str, params: object = None) -> list[tuple]:
    """Return every row of `query`."""
    return conn.execute(query, params).fetchall()


def _value(conn: psycopg.Connection, query: str, params: object = None) -> object:
    """Return the first column of the first row of `query`."""
    return conn.execute(query, params).fetchone()[0]


@pytest.fixture
def make_model() -> Callable[..., Model]:
    """make_model(sql, name=, schema=, kind=, description=, **options): the Model such a file would give."""
    return _make_model


@pytest.fixture
def rows() -> Callable[..., list[tuple]]:
    """rows(conn, query, params=None): every row of `query`."""
    return _rows


@pytest.fixture
def value() -> Callable[..., object]:
    """value(conn, query, params=None): the first column of the first row of `query`."""
    return _value
