"""A model's `partition_by` and `retain` directives: declarative partitioning and how long rows stay.

    partition_by="month(order_date)"    range partitions of a day, a month or a year of a date
    partition_by="day(ordered_at)"      or timestamp column (day, month, year)
    partition_by="list(country)"        a partition per value of the column

    retain="400 days"                   rows whose partition column is older go (weir retain);
    retain="90 days on updated_at"      on another column, or on any column of an unpartitioned table
    retain_archive=true                 moved to <schema>.<name>__archive instead of deleted

PostgreSQL enforces a unique key on a partitioned table only when it includes the partition
column, so a unique_key (or unique index) without it is refused when the project is read.
Retention is for incremental models: a table is rebuilt from its SELECT at every build, which
would bring the rows back; such a SELECT filters instead (WHERE ordered_at > now() - ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.project.sqlfile import column_name

GRANULARITIES = ("day", "month", "year")
_PARTITION = re.compile(r'^\s*(day|month|year|list)\s*\(\s*([A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")\s*\)\s*$',
                        re.IGNORECASE)
_RETAIN = re.compile(r"^\s*(?P<interval>.+?)(?:\s+on\s+(?P<column>\S+))?\s*$", re.IGNORECASE)
_EXAMPLE = 'write e.g. partition_by="month(order_date)" or partition_by="list(country)"'


@dataclass(frozen=True)
class Partitioning:
    """How a model's table is partitioned."""

    column: str  # as PostgreSQL names it
    granularity: str  # day | month | year | list

    @property
    def is_range(self) -> bool:
        """Whether partitions hold ranges of time (else one value each)."""
        return self.granularity != "list"


@dataclass(frozen=True)
class Retention:
    """How long a model's rows stay, measured on which column."""

    interval: str  # a PostgreSQL interval, as written
    column: str
    archive: bool


def parse_partitioning(value: str | None) -> Partitioning | None:
    """Return the Partitioning a checked `partition_by` value declares, or None when there is none."""
    if value is None:
        return None
    match = _PARTITION.match(value)
    if match is None:
        raise ValueError(value)
    return Partitioning(column_name(match.group(2)), match.group(1).lower())


def partitioning_problem(value: str, unique_key: list[str], unique_indexes: list[list[str]]) -> str | None:
    """Return what is wrong with a `partition_by` value given the model's unique keys, or None."""
    match = _PARTITION.match(value)
    if match is None:
        return f"partition_by {value!r} is not day(col), month(col), year(col) or list(col); {_EXAMPLE}"
    column = column_name(match.group(2))
    if unique_key and column not in unique_key:
        return (f"partition_by {value!r}: unique_key ({' '.join(unique_key)}) leaves out {column}; PostgreSQL"
                f" enforces a unique key on a partitioned table only when it includes the partition column:"
                f" add {column} to unique_key")
    for columns in unique_indexes:
        if column not in columns:
            return (f"partition_by {value!r}: the unique index on ({', '.join(columns)}) leaves out {column};"
                    " add it to the index")
    return None


def parse_retention(value: str | None, partitioning: Partitioning | None, archive: bool) -> Retention | None:
    """Return the Retention a checked `retain` value declares, or None when there is none."""
    if value is None:
        return None
    match = _RETAIN.match(value)
    assert match is not None  # checked by retention_problem
    column = match.group("column")
    if column is None:
        assert partitioning is not None
        return Retention(match.group("interval").strip(), partitioning.column, archive)
    return Retention(match.group("interval").strip(), column_name(column), archive)


def retention_problem(value: str, range_partitioned: bool, interval_ok: bool) -> str | None:
    """Return what is wrong with a `retain` value, or None; `interval_ok` says if its interval parses."""
    match = _RETAIN.match(value)
    if match is None or not value.strip():
        return 'retain is empty; write e.g. retain="400 days" or retain="90 days on updated_at"'
    if not interval_ok:
        return f"retain {value!r}: {match.group('interval')!r} is not an interval; write e.g. retain=\"400 days\""
    if match.group("column") is None and not range_partitioned:
        return (f"retain {value!r} names no column and the model is not partitioned by day, month or year;"
                ' write retain="400 days on <timestamp column>"')
    return None
