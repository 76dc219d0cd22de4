"""Inferring a seed column's type from its values: the narrowest of a few types that fits every sampled value.

Tried in order: boolean, integer, bigint, numeric, date, timestamptz; else text. An empty
value is NULL and fits every type; a column of nothing else is text. A number written with
a leading zero ("007", a postal code) stays text, so no digit is lost. The sample is the
first SAMPLE_ROWS rows: a later value that does not fit is reported by the load at its line
and column, with the advice to declare the column's type in the seed's types file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

SAMPLE_ROWS = 10_000
TYPES = ("boolean", "integer", "bigint", "numeric", "date", "timestamptz", "text")

_BOOLEAN = re.compile(r"^(true|false)\Z", re.I)
_INTEGER = re.compile(r"^[+-]?(0|[1-9][0-9]*)\Z")
_NUMERIC = re.compile(r"^[+-]?(0|[1-9][0-9]*)?(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?\Z"
)
_PATTERNS = {"boolean": _BOOLEAN, "integer": _INTEGER, "bigint": _INTEGER, "numeric": _NUMERIC, "date": _DATE,
             "timestamptz": _TIMESTAMP}
_LIMITS = {"integer": 2**31, "bigint": 2**63}


def _all_fit(kind: str, values: list[str]) -> bool:
    """Say whether every one of `values` (none empty) is a `kind`: one C-level pass of its pattern, then the range."""
    pattern = _PATTERNS.get(kind)
    if pattern is None:
        return True
    if not all(map(pattern.match, values)):
        return False
    if kind in _LIMITS:
        # Only numbers of at least 10 (19) digits can leave integer's (bigint's) range.
        widest = max(values, key=len)
        if len(widest.lstrip("+-")) >= len(str(_LIMITS[kind])) - 1:
            return all(-_LIMITS[kind] <= int(value) < _LIMITS[kind] for value in values)
    if kind == "numeric":
        return all(any(char.isdigit() for char in value.lower().partition("e")[0]) for value in values)
    return True


def infer_types(width: int, rows: Iterable[Sequence[str]]) -> list[str]:
    """Return the narrowest type of each of `width` columns that every value of `rows` fits (see TYPES).

    Rows of another width are left out: the load reports them where they are.
    """
    columns: list[list[str]] = [[] for _ in range(width)]
    for row in rows:
        if len(row) == width:
            for column, value in zip(columns, row, strict=True):
                if value != "":
                    column.append(value)
    return [next(kind for kind in TYPES if _all_fit(kind, values)) if values else "text" for values in columns]
