"""What building one model returns, shared by every kind's builder."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql


@dataclass(frozen=True)
class MaterializeResult:
    """What building one model did.

    For scd2 models: inserted counts new versions, updated counts versions closed because
    their key changed, deleted counts versions closed because their key left the source.
    """

    inserted: int
    updated: int
    deleted: int
    rebuilt: bool  # built from scratch: first build, --full-refresh, or the model's SQL changed
    note: str = ""  # e.g. "SQL changed: rebuilt from scratch"


@dataclass(frozen=True)
class Built:
    """What a kind's builder returns: the result, and the watermark to store as a SQL expression."""

    result: MaterializeResult
    watermark: sql.Composable | None = None  # evaluated in the transaction, before commit
    keep_watermark: bool = False  # when `watermark` is NULL (an empty batch), keep the stored one

