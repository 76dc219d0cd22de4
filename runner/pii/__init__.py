"""Personal data: the masking functions models call, and where their key comes from.

- masking.sql: weir.pii_hash (keyed HMAC-SHA256), weir.mask_email, weir.mask_phone,
  weir.redact, installed in schema weir by a build whose models call one of them.
- The key: the environment variable WEIR_PII_KEY, passed by runner.db.connection when it
  connects, or the setting weir.pii_key a DBA gives the building role. Never a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import psycopg

from runner.db.errors import primary_message
from runner.errors import ModelFailed
from runner.project import Check, Project
from runner.project.models import Model, function_calls
from runner.project.pii import DEFAULT_MASK, comment_mask
from runner.state.functions import FunctionLibrary

MASKING = FunctionLibrary("runner.pii", "masking.sql", "masking_version")
MASKING_FUNCTIONS = frozenset({"pii_hash", "mask_email", "mask_phone", "redact"})


# Column comments that tag PII in the target database: what the migrations' COMMENTs left there.
_TAGGED_COLUMNS = r"""
SELECT a.attname, d.description
FROM pg_catalog.pg_description AS d
JOIN pg_catalog.pg_attribute AS a ON a.attrelid = d.objoid AND a.attnum = d.objsubid
JOIN pg_catalog.pg_class AS c ON c.oid = d.objoid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE d.classoid = 'pg_catalog.pg_class'::regclass AND d.objsubid > 0
  AND d.description ~* '^\s*PII' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2
"""


def pii_masks(conn: psycopg.Connection[Any], project: Project) -> tuple[tuple[str, str], ...]:
    """Return (column, mask) for every column name the target's comments or the models' headers tag as PII.

    Checks' failing rows are masked by column name: a check's SELECT may rename nothing
    and read several tables, and a name shared with a PII column is masked to be safe.
    """
    masks: dict[str, str] = {}
    for column, comment in conn.execute(_TAGGED_COLUMNS):
        mask = comment_mask(comment)
        if mask is not None:
            masks[column] = mask if masks.get(column, mask) == mask else DEFAULT_MASK
    for model in project.models:
        for column, mask in model.pii:
            masks[column] = mask if masks.get(column, mask) == mask else DEFAULT_MASK
    return tuple(sorted(masks.items()))


def with_masks(checks: Iterable[Check], masks: tuple[tuple[str, str], ...]) -> list[Check]:
    """Return `checks`, each masking `masks` in the failing rows it prints and stores."""
    return [replace(check, masked=masks) for check in checks]


def calls_masking(model: Model) -> bool:
    """Say whether `model`'s SELECT calls one of Weir's masking functions."""
    return any(schema == "weir" and name in MASKING_FUNCTIONS for schema, name in function_calls(model))


def install_masking(conn: psycopg.Connection[Any], models: Iterable[Model] = (), checks: Iterable[Check] = ()) -> None:
    """Install the masking functions when a model calls one or a check masks; raise ModelFailed if this role cannot."""
    if not (any(calls_masking(model) for model in models) or any(check.masked for check in checks)):
        return
    try:
        MASKING.install(conn)
    except psycopg.Error as exc:
        raise ModelFailed(
            f"cannot install the masking functions in schema weir: {primary_message(exc)};"
            " grant this role CREATE on the database (or on schema weir), or install them once as its owner"
        ) from None
