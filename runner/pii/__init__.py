"""Personal data: the masking functions models call, and where their key comes from.

- masking.sql: weir.pii_hash (keyed HMAC-SHA256), weir.mask_email, weir.mask_phone,
  weir.redact, installed in schema weir by a build whose models call one of them.
- The key: the environment variable WEIR_PII_KEY, passed by runner.db.connection when it
  connects, or the setting weir.pii_key a DBA gives the building role. Never a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from runner.db.errors import primary_message
from runner.errors import ModelFailed
from runner.project.models import Model, function_calls
from runner.state.functions import FunctionLibrary

MASKING = FunctionLibrary("runner.pii", "masking.sql", "masking_version")
MASKING_FUNCTIONS = frozenset({"pii_hash", "mask_email", "mask_phone", "redact"})


def calls_masking(model: Model) -> bool:
    """Say whether `model`'s SELECT calls one of Weir's masking functions."""
    return any(schema == "weir" and name in MASKING_FUNCTIONS for schema, name in function_calls(model))


def install_masking(conn: psycopg.Connection[Any], models: Iterable[Model]) -> None:
    """Install the masking functions when one of `models` calls them; raise ModelFailed when this role cannot."""
    if not any(calls_masking(model) for model in models):
        return
    try:
        MASKING.install(conn)
    except psycopg.Error as exc:
        raise ModelFailed(
            f"cannot install the masking functions in schema weir: {primary_message(exc)};"
            " grant this role CREATE on the database (or on schema weir), or install them once as its owner"
        ) from None
