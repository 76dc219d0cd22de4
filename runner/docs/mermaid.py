"""Names, types and labels that Mermaid's parsers accept, whatever PostgreSQL calls things."""

from __future__ import annotations

import re

_NOT_WORD = re.compile(r"[^A-Za-z0-9_]+")


def node_id(qualified: str) -> str:
    """Return an identifier for `schema.name` in a diagram: letters, digits and underscores only."""
    return _NOT_WORD.sub("_", qualified.replace(".", "__"))


def attribute_type(sql_type: str) -> str:
    """Return a SQL type as one erDiagram word: `numeric(12,2)` -> `numeric_12_2`, `text[]` -> `text_array`."""
    text = sql_type.replace("[]", " array")
    word = _NOT_WORD.sub("_", text).strip("_")
    return word if word and not word[0].isdigit() else f"t_{word}"


def attribute_name(column: str) -> str:
    """Return a column name as one erDiagram word."""
    word = _NOT_WORD.sub("_", column).strip("_") or "column"
    return word if not word[0].isdigit() else f"c_{word}"


def label(text: str, limit: int = 80) -> str:
    """Return text for a quoted Mermaid label or comment: no quotes, no line breaks, at most `limit` characters."""
    flat = " ".join(text.replace('"', "'").replace("#", "").replace("`", "'").split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def block(source: str) -> str:
    """Return a fenced mermaid block."""
    return f"```mermaid\n{source.rstrip()}\n```"
