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

_BOOLEAN = re.compile(r"^(true|false)$", re.I)
_INTEGER = re.compile(r"^[+-]?(0|[1-9][0-9]*)$")
_NUMERIC = re.compile(r"^[+-]?(0|[1-9][0-9]*)?(\.[0-9]+)?([eE][+-]?[0-9]+)?$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$"
)
_INT32 = 2**31


def _fits(kind: str, value: str) -> bool:
    if kind == "boolean":
        return bool(_BOOLEAN.match(value))
    if kind == "integer":
        return bool(_INTEGER.match(value)) and -_INT32 <= int(value) < _INT32
    if kind == "bigint":
        return bool(_INTEGER.match(value)) and -(2**63) <= int(value) < 2**63
    if kind == "numeric":
        return bool(_NUMERIC.match(value)) and any(char.isdigit() for char in value.split("e")[0].split("E")[0])
    if kind == "date":
        return bool(_DATE.match(value))
    if kind == "timestamptz":
        return bool(_TIMESTAMP.match(value))
    return True


def infer_types(width: int, rows: Iterable[Sequence[str]]) -> list[str]:
    """Return the narrowest type of each of `width` columns that every value of `rows` fits (see TYPES).

    Rows of another width are left out: the load reports them where they are.
    """
    candidate = [0] * width  # index into TYPES: only ever moves towards text
    seen = [False] * width
    for row in rows:
        if len(row) != width:
            continue
        for column, value in enumerate(row):
            if value == "":
                continue
            seen[column] = True
            while not _fits(TYPES[candidate[column]], value):
                candidate[column] += 1
    return [TYPES[index] if seen[column] else "text" for column, index in enumerate(candidate)]
