"""Recent history read back for reports: each model's last builds and each check's last results.

Only reads; a database that never ran a build or a check has no history, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

_PRESENT = "SELECT to_regclass('weir.build_result') IS NOT NULL, to_regclass('weir.check_result') IS NOT NULL"
_MODEL_RUNS = """
SELECT model, run_id, status, inserted + updated + deleted, seconds::float8, finished_at
FROM (
    SELECT r.*, row_number() OVER (PARTITION BY model ORDER BY run_id DESC) AS recent
    FROM weir.build_result AS r
    WHERE status <> 'skipped'
) AS ranked
WHERE recent <= %(keep)s
ORDER BY model, run_id DESC
"""
_CHECK_RUNS = """
SELECT check_name, run_id, status, violations, seconds::float8, finished_at
FROM (
    SELECT r.*, row_number() OVER (PARTITION BY check_name ORDER BY run_id DESC) AS recent
    FROM weir.check_result AS r
) AS ranked
WHERE recent <= %(keep)s
ORDER BY check_name, run_id DESC
"""


@dataclass(frozen=True)
class Run:
    """One build of a model or one run of a check."""

    run_id: int
    status: str
    rows: int | None  # a model: rows inserted + updated + deleted; a check: its violations (None: it errored)
    seconds: float
    finished_at: datetime


@dataclass(frozen=True)
class History:
    """The last runs of each model ("schema.name") and each check (its name), newest first."""

    models: dict[str, tuple[Run, ...]]
    checks: dict[str, tuple[Run, ...]]


def recent_history(conn: psycopg.Connection[Any], keep: int = 5) -> History:
    """Return the last `keep` builds of each model (skips left out) and runs of each check."""
    has_builds, has_checks = conn.execute(_PRESENT).fetchone() or (False, False)
    return History(
        models=_runs(conn, _MODEL_RUNS, keep) if has_builds else {},
        checks=_runs(conn, _CHECK_RUNS, keep) if has_checks else {},
    )


def _runs(conn: psycopg.Connection[Any], query: str, keep: int) -> dict[str, tuple[Run, ...]]:
    found: dict[str, list[Run]] = {}
    for name, run_id, status, rows, seconds, finished_at in conn.execute(query, {"keep": keep}):
        found.setdefault(name, []).append(Run(run_id, status, rows, seconds, finished_at))
    return {name: tuple(runs) for name, runs in found.items()}
