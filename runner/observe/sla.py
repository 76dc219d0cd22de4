"""`weir freshness`: each model's lag against its freshness SLA, measured with the database's clock.

The lag is `now - newest`, where newest is max(sla_column) of the model's relation, or, without
an sla_column, the model's last successful build (weir.model_state), or the last build that
skipped it because nothing it reads had changed, whichever is later: a view or a table whose
sources are quiet is as current as the last run that looked. "now" is the server's
now(), unless the session sets `weir.now` (e.g. `PGOPTIONS='-c weir.now=2030-01-01'`): a test,
or a backfill, moves the clock in the database instead of waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from runner.db.errors import primary_message
from runner.errors import ProjectFileError
from runner.project.models import Model
from runner.state.models import last_current

# The database's notion of now, which a session may move with SET weir.now = '...'.
NOW = "SELECT coalesce(nullif(current_setting('weir.now', true), '')::timestamptz, now())"

OK, BREACH, NEVER, NO_SLA = "ok", "breach", "never-built", "no-sla"
HEADERS = ["model", "sla", "measured on", "newest", "lag", "status"]


@dataclass(frozen=True)
class Freshness:
    """One model's lag against its SLA."""

    model: str  # "schema.name"
    schema: str
    sla: timedelta | None
    measured_on: str  # the sla_column, or "last build"
    newest: datetime | None  # None: never built, or the column has no value
    lag: timedelta | None

    @property
    def status(self) -> str:
        """ok, breach (lag past the SLA, or no data to measure while an SLA is set), never-built or no-sla."""
        if self.sla is None:
            return NO_SLA if self.newest is not None else NEVER
        if self.lag is None:
            return BREACH
        return BREACH if self.lag > self.sla else OK

    @property
    def row(self) -> tuple[str, str, str, str, str, str]:
        """The table row `weir freshness` prints."""
        return (self.model, human_duration(self.sla), self.measured_on,
                f"{self.newest:%Y-%m-%d %H:%M:%S%z}" if self.newest else "", human_duration(self.lag), self.status)

    def as_json(self) -> dict[str, Any]:
        """The model's entry in `weir freshness --json`; durations in seconds."""
        return {"model": self.model, "sla_seconds": _seconds(self.sla), "measured_on": self.measured_on,
                "newest": self.newest, "lag_seconds": _seconds(self.lag), "status": self.status}


def database_now(conn: psycopg.Connection[Any]) -> datetime:
    """Return the clock freshness is measured with: weir.now if the session set it, else now()."""
    row = conn.execute(NOW).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def freshness(conn: psycopg.Connection[Any], models: list[Model]) -> list[Freshness]:
    """Return the lag of each of `models` (in their order) against its SLA."""
    now, current = database_now(conn), last_current(conn)
    found = []
    for model in models:
        if model.sla_column is None:
            newest, measured_on = current.get(model.qualified), "last build"
        else:
            newest, measured_on = _newest_value(conn, model, model.sla_column), model.sla_column
        lag = max(now - newest, timedelta(0)) if newest is not None else None
        found.append(Freshness(model.qualified, model.schema, model.sla, measured_on, newest, lag))
    return found


def _newest_value(conn: psycopg.Connection[Any], model: Model, column: str) -> datetime | None:
    """Return max(column) of the model's relation; None when it does not exist yet or is empty."""
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                          (sql.Identifier(model.schema, model.name).as_string(conn),)).fetchone()
    if exists is None or not exists[0]:
        return None
    query = sql.SQL("SELECT max({column})::timestamptz FROM {relation}").format(
        column=sql.Identifier(column), relation=sql.Identifier(model.schema, model.name))
    try:
        with conn.transaction():
            row = conn.execute(query).fetchone()
    except psycopg.Error as exc:  # no such column, or not a timestamp: the header's mistake
        directive = model.directives.get("sla_column")
        line = directive.line if directive is not None else 1
        raise ProjectFileError(
            f"{model.display}:{line}: sla_column {column}: {primary_message(exc)}; name a timestamp column of the model"
        ) from None
    return row[0] if row else None


def _seconds(duration: timedelta | None) -> float | None:
    return round(duration.total_seconds(), 3) if duration is not None else None


def human_duration(duration: timedelta | None) -> str:
    """Return a duration as `weir freshness` shows it: H:MM:SS, with days in front when there are any."""
    if duration is None:
        return ""
    total = int(duration.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours:d}:{minutes:02d}:{seconds:02d}"
    return f"{days}d {text}" if days else text
