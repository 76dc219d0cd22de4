"""A catalog fingerprint of a database's user schema, and the difference between two.

`fingerprint(conn)` maps one key per object ("table raw.customers", "column
raw.customers.email", "index raw.ix_orders_updated_at", "comment column ...") to its
definition in PostgreSQL's own words; `diff(before, after)` says what changed.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from itertools import zip_longest
from typing import Any

import psycopg

from runner.db.statements import one_row

_SAVE_SEARCH_PATH = "SELECT current_setting('search_path'), set_config('search_path', '', true)"
_RESTORE_SEARCH_PATH = "SELECT set_config('search_path', %s, true)"
_SHORT = 80  # a definition up to this long is shown whole in a change line
_CONTEXT = 20  # characters shown before the first difference in a long definition


@cache
def _query() -> str:
    return resources.files("runner.migrate").joinpath("fingerprint.sql").read_text(encoding="utf-8")


def fingerprint(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """Return {object key: definition} for every user object of the connected database.

    Works in autocommit or inside the caller's transaction (dry-run), which it leaves
    as it found it.
    """
    with conn.transaction():
        # An empty search_path makes pg_get_*def qualify every name, so the same schema
        # gives the same text whatever search_path a migration left behind.
        saved = one_row(conn.execute(_SAVE_SEARCH_PATH))[0]
        rows = conn.execute(_query()).fetchall()
        conn.execute(_RESTORE_SEARCH_PATH, (saved,))
    return {key: definition or "" for key, definition in rows}


def diff(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Return one line per changed object, sorted by key: `+ key`, `- key` or `~ key: old -> new`."""
    lines = []
    for key in sorted(before.keys() | after.keys()):
        if key not in before:
            lines.append(f"+ {key}")
        elif key not in after:
            lines.append(f"- {key}")
        elif before[key] != after[key]:
            lines.append(f"~ {key}: {describe_change(before[key], after[key])}")
    return lines


def describe_change(old: str, new: str) -> str:
    """Say in one line how a definition changed: whole when short, else where it first differs."""
    if "\n" not in old + new and len(old) <= _SHORT and len(new) <= _SHORT:
        return f"{old or '(empty)'} -> {new or '(empty)'}"
    old_lines, new_lines = old.splitlines(), new.splitlines()
    for number, (old_line, new_line) in enumerate(zip_longest(old_lines, new_lines, fillvalue=""), 1):
        if old_line != new_line:
            old_part, new_part = _excerpts(old_line.strip(), new_line.strip())
            where = f"line {number}: " if len(old_lines) > 1 or len(new_lines) > 1 else ""
            return f"{where}{old_part} -> {new_part}"
    return "whitespace changed"


def _excerpts(old: str, new: str) -> tuple[str, str]:
    same = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    start = max(0, same - _CONTEXT)
    return _cut(old, start), _cut(new, start)


def _cut(text: str, start: int) -> str:
    if not text:
        return "(empty)"
    piece = text[start : start + _SHORT]
    return ("..." if start else "") + piece + ("..." if len(text) > start + _SHORT else "")
