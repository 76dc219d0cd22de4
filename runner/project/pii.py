"""Which columns hold personal data (PII), as the project says so.

- A source column (a table a migration creates) is PII when its COMMENT starts with `PII`,
  optionally with how to mask it: `COMMENT ON COLUMN raw.customers.email IS 'PII(email) Login
  e-mail address.'`. The last COMMENT ON that column in the migrations counts.
- A model declares the PII columns it may hold, unmasked, in its header, each with how a
  masked view shows it: `-- weir: pii="email:email phone:phone full_name"` (the default mask
  is redact). A model that lets a PII column through without declaring it, and without one of
  Weir's masking functions in the way, fails `weir lint` (runner.pii.flow).

Masks, as masked views show a column (runner.pii.grants): email (weir.mask_email), phone
(weir.mask_phone), redact (weir.redact). None needs a key: a model that must join on people
stores weir.pii_hash(...) pseudonyms it computes at build time, which are no longer PII.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.errors import ProjectFileError
from runner.project.sqlfile import column_name

if TYPE_CHECKING:
    from runner.project.migrations import Migration

MASKS = ("email", "phone", "redact")
DEFAULT_MASK = "redact"

_COMMENT = re.compile(r"^\s*PII(?:\s*\(\s*(?P<mask>[^)]*?)\s*\))?(?=$|[\s:])", re.IGNORECASE)
_COMMENT_ON_COLUMN = re.compile(r"\bCOMMENT\s+ON\s+COLUMN\b", re.IGNORECASE)


@dataclass(frozen=True)
class PiiColumn:
    """A column holding personal data, where the project says so, and how a masked view shows it."""

    relation: str  # schema.name
    column: str
    mask: str  # one of MASKS
    display: str  # the file that tags it
    line: int


def pii_directive_problem(value: str) -> str | None:
    """Return what is wrong with a model's `pii` directive value (and what to write), or None."""
    if not value.strip():
        return 'pii is empty; write pii="email:email full_name" or remove it'
    for item in value.split():
        column, _, mask = item.partition(":")
        if not column:
            return f"pii: {item!r} names no column; write column or column:mask"
        if mask and mask.lower() not in MASKS:
            return f"pii: {item!r} has an unknown mask {mask!r}; use one of {', '.join(MASKS)}"
    return None


def parse_pii_directive(value: str | None) -> tuple[tuple[str, str], ...]:
    """Return (column, mask) for each item of a checked `pii` directive, columns as PostgreSQL names them."""
    declared = []
    for item in (value or "").split():
        column, _, mask = item.partition(":")
        declared.append((column_name(column), (mask or DEFAULT_MASK).lower()))
    return tuple(declared)


def comment_mask(comment: str) -> str | None:
    """Return the mask a column comment tagging PII asks for (the default when it names none), or None."""
    match = _COMMENT.match(comment)
    if match is None:
        return None
    mask = (match.group("mask") or DEFAULT_MASK).lower()
    return mask if mask in MASKS else DEFAULT_MASK


def source_pii(migrations: Iterable[Migration]) -> dict[tuple[str, str], PiiColumn]:
    """Return each source column the migrations tag as PII by its COMMENT, keyed by (relation, column).

    Only statements that can be COMMENT ON COLUMN are parsed, so reading big migrations stays cheap.
    """
    from pglast import parse_sql

    tagged: dict[tuple[str, str], PiiColumn] = {}
    for migration in migrations:
        text = migration.forward.text
        if not _COMMENT_ON_COLUMN.search(text):
            continue
        for statement in migration.forward.statements:
            if statement.first_word not in (None, "comment"):
                continue
            node: Any = parse_sql(statement.text)[0].stmt
            if type(node).__name__ != "CommentStmt" or len(node.object) < 3:
                continue
            schema, table, column = (name.sval for name in node.object[-3:])
            key = (f"{schema}.{table}", column)
            match = _COMMENT.match(node.comment or "")
            if match is None:
                tagged.pop(key, None)  # a later comment that no longer says PII untags it
                continue
            mask = (match.group("mask") or DEFAULT_MASK).lower()
            if mask not in MASKS:
                raise ProjectFileError(
                    f"{migration.display}:{statement.keyword_line}: PII({match.group('mask')}) on {key[0]}.{column}:"
                    f" unknown mask; use one of {', '.join(MASKS)} in a new migration's COMMENT ON COLUMN"
                )
            tagged[key] = PiiColumn(key[0], column, mask, migration.display, statement.keyword_line)
    return tagged
