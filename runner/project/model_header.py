"""A model file's `-- weir:` header: which directives each kind takes, and each value checked.

runner.project.models turns the checked directives into a Model's typed fields; everything
here fails with `file:line` of the directive, before the SELECT is parsed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from runner.errors import ProjectFileError
from runner.project.cadence import SLA_EXAMPLE, parse_sla, schedule_problem
from runner.project.distribution import distribution_problem
from runner.project.indexes import index_problem, parse_index
from runner.project.parse_cache import ParseCache
from runner.project.partitions import partitioning_problem, retention_problem
from runner.project.pii import pii_directive_problem
from runner.project.sqlfile import Directive, column_name
from runner.project.surrogate_key import surrogate_key_problem

KINDS = ("view", "table", "incremental", "scd2")


# Which directives each kind accepts; tags, description, pii and the cadence go with every kind.
_COMMON = {"kind", "tags", "description", "pii", "schedule", "sla", "sla_column"}
_PARTITIONS = {"partition_by", "retain", "retain_archive"}
_BY_KIND = {
    "view": _COMMON,
    "table": _COMMON | {"unique_key", "indexes", "distribute", "partition_by"},
    "incremental": _COMMON
    | {"unique_key", "watermark", "lookback", "full_refresh_on_change", "indexes", "distribute"} | _PARTITIONS,
    "scd2": _COMMON
    | {"natural_key", "updated_at", "check_cols", "on_delete", "surrogate_key", "full_refresh_on_change", "indexes",
       "distribute"},
}
DIRECTIVES: frozenset[str] = frozenset().union(*_BY_KIND.values())

_COLUMN = re.compile(r'^(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")$')
_TAG = re.compile(r"^[A-Za-z0-9_.:/-]+$")
_INTERVAL_UNIT = (
    r"(?:microseconds?|us|milliseconds?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h"
    r"|days?|d|weeks?|w|months?|mons?|years?|yrs?|y)"
)
_INTERVAL = re.compile(
    rf"^\s*(?:[+-]?\d+(?:\.\d+)?\s*{_INTERVAL_UNIT}\s*)+$|^\s*\d+:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?\s*$", re.IGNORECASE
)
BOOLEAN = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


_Fail = Callable[[Directive, str], ProjectFileError]  # the error for a directive, at its line


def validate_directives(directives: dict[str, Directive], display: str) -> str:
    """Check each directive's value and that it fits the model's kind; return the kind."""

    def fail(directive: Directive, message: str) -> ProjectFileError:
        return ProjectFileError(f"{display}:{directive.line}: {message}")

    kind_directive = directives.get("kind")
    kind = kind_directive.value.strip().lower() if kind_directive else "view"
    if kind_directive is not None and kind not in KINDS:
        raise fail(kind_directive, f"unknown kind {kind_directive.value!r}; use one of {', '.join(KINDS)}")
    for key, directive in directives.items():
        if key not in _BY_KIND[kind]:
            kinds = [name for name in KINDS if key in _BY_KIND[name]]
            for_kinds = " or ".join(f"kind={name}" for name in kinds)
            raise fail(directive, f"{key} is for {for_kinds}, not kind={kind}; remove it or change kind")
        value = directive.value.strip()
        if key in ("unique_key", "natural_key", "check_cols"):
            _check_columns(directive, value, fail, many=True)
        elif key in ("watermark", "updated_at", "distribute"):
            _check_columns(directive, value, fail, many=False)
        elif key == "surrogate_key":
            _check_surrogate_key(directive, value, fail)
        elif key == "indexes":
            _check_indexes(directive, value, fail)
        elif key == "lookback" and not _INTERVAL.match(value):
            raise fail(directive, f"lookback {value!r} is not an interval; write e.g. lookback=2 days")
        elif key == "on_delete" and value.lower() not in ("close", "ignore"):
            raise fail(directive, f"on_delete {value!r} is not close or ignore; write on_delete=close or ignore")
        elif key in ("full_refresh_on_change", "retain_archive") and value.lower() not in BOOLEAN:
            raise fail(directive, f"{key} {value!r} is not true or false; write true or false")
        elif key == "tags":
            for tag in value.split():
                if not _TAG.match(tag):
                    raise fail(directive, f"tag {tag!r} has a character other than letters, digits and _.:/-;"
                               ' separate tags with spaces: tags="daily finance"')
            if not value.split():
                raise fail(directive, 'tags is empty; write tags="daily finance" or remove it')
        elif key == "pii" and (problem := pii_directive_problem(value)):
            raise fail(directive, problem)
        elif key == "schedule" and schedule_problem(value):
            raise fail(directive, str(schedule_problem(value)))
        elif key == "sla" and parse_sla(value) is None:
            raise fail(directive, f"sla {value!r} is not an interval; {SLA_EXAMPLE}")
        elif key == "sla_column":
            _check_columns(directive, value, fail, many=False)
        elif key == "description" and not value:
            raise fail(directive, 'description is empty; write description="..." or remove it')
    line = kind_directive.line if kind_directive else 1
    if "distribute" in directives:
        _check_distribution(directives, kind, fail)
    _check_partitions(directives, fail)
    if kind == "incremental":
        for required in ("unique_key", "watermark"):
            if required not in directives:
                raise ProjectFileError(
                    f"{display}:{line}: kind=incremental needs {required}; add it to the header,"
                    " e.g. -- weir: kind=incremental, unique_key=id, watermark=updated_at"
                )
    if kind == "scd2":
        if "natural_key" not in directives:
            raise ProjectFileError(
                f"{display}:{line}: kind=scd2 needs natural_key; add it to the header,"
                " e.g. -- weir: kind=scd2, natural_key=customer_id, updated_at=updated_at"
            )
        has_updated_at, has_check_cols = "updated_at" in directives, "check_cols" in directives
        if has_updated_at == has_check_cols:
            where = directives["updated_at"].line if has_updated_at else line
            raise ProjectFileError(
                f"{display}:{where}: kind=scd2 needs exactly one of updated_at or check_cols"
                f" ({'both are set' if has_updated_at else 'neither is set'}); keep one"
            )
    return kind


def _check_partitions(directives: dict[str, Directive], fail: _Fail) -> None:
    partition_by, retain = directives.get("partition_by"), directives.get("retain")
    if partition_by is not None:
        unique_key = directives.get("unique_key")
        indexes = directives.get("indexes")
        unique_indexes = [
            [column_name(column) for column in index.columns]
            for index in map(parse_index, (indexes.value if indexes else "").split(";"))
            if index.unique and index.definition is None and index.columns
        ]
        problem = partitioning_problem(
            partition_by.value, [column_name(token) for token in (unique_key.value if unique_key else "").split()],
            unique_indexes,
        )
        if problem:
            raise fail(partition_by, problem)
    if retain is not None:
        interval = retain.value.lower().split(" on ")[0]
        range_partitioned = partition_by is not None and not partition_by.value.strip().lower().startswith("list")
        problem = retention_problem(retain.value, range_partitioned, bool(_INTERVAL.match(interval)))
        if problem:
            raise fail(retain, problem)
    if "retain_archive" in directives and retain is None:
        raise fail(directives["retain_archive"], "retain_archive needs retain; add retain=\"400 days\" or remove it")


def _check_distribution(directives: dict[str, Directive], kind: str, fail: _Fail) -> None:
    directive = directives["distribute"]
    unique_key = directives.get("unique_key")
    indexes = directives.get("indexes")
    problem = distribution_problem(
        kind,
        column_name(directive.value.strip()),
        [column_name(token) for token in (unique_key.value if unique_key else "").split()],
        indexes.value if indexes else None,
    )
    if problem:
        raise fail(directive, problem)


def _check_indexes(directive: Directive, value: str, fail: _Fail) -> None:
    parts = value.split(";")
    if not value.strip():
        raise fail(directive, 'indexes is empty; write indexes="updated_at; customer_id valid_from" or remove it')
    for part in parts:
        if not part.strip():
            raise fail(directive, f"indexes {value!r} has an empty index between semicolons; remove the extra ';'")
        index = parse_index(part)
        if index.definition is None:
            _check_columns(directive, " ".join(index.columns), fail, many=True)
        if index.where == "":
            raise fail(directive, f"indexes: {index.text!r} has WHERE without a condition; write WHERE <condition>")


def check_index_sql(directives: dict[str, Directive], display: str, cache: ParseCache) -> None:
    """Parse each index that is more than columns as CREATE INDEX; a parse that passed once is cached."""
    directive = directives.get("indexes")
    if directive is None:
        return
    for index in map(parse_index, directive.value.split(";")):
        if index.plain or cache.get("index", index.text) is not None:
            continue
        problem = index_problem(index)
        if problem:
            raise ProjectFileError(f"{display}:{directive.line}: {problem}")
        cache.put("index", index.text, {})


def _check_surrogate_key(directive: Directive, value: str, fail: _Fail) -> None:
    _check_columns(directive, (value.split() or [""])[0], fail, many=False)
    problem = surrogate_key_problem(value)
    if problem:
        raise fail(directive, problem)


def _check_columns(directive: Directive, value: str, fail: _Fail, many: bool) -> None:
    if "," in value:
        raise fail(directive, f"{directive.key} {value!r} has a comma; separate columns with spaces: "
                   f'{directive.key}="a b"')
    columns = value.split()
    if not columns:
        raise fail(directive, f"{directive.key} is empty; name a column of the model's output")
    if not many and len(columns) > 1:
        raise fail(directive, f"{directive.key} {value!r} names more than one column; name exactly one")
    for column in columns:
        if not _COLUMN.match(column):
            raise fail(directive, f"{directive.key}: {column!r} is not a column name; use the output column's name")


