"""pglast's JSON parse tree (runner.project.sqlfile.parse_json): a node's type and fields, a name's parts."""

from __future__ import annotations

from typing import Any


def node(value: Any) -> tuple[str | None, dict[str, Any]]:
    """Return (node type, fields) of a JSON tree value, (None, value) for an unwrapped struct."""
    if isinstance(value, dict) and len(value) == 1:
        (key, fields), = value.items()
        if key[:1].isupper() and isinstance(fields, dict):
            return key, fields
    return None, value if isinstance(value, dict) else {}


def names(values: list[Any] | None) -> list[str]:
    """Return the strings of a list of String nodes (a qualified name, column aliases)."""
    return [fields.get("sval", "") for kind, fields in map(node, values or []) if kind == "String"]
