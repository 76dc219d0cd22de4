"""A model's cadence: its `schedule` (a cron expression) and its freshness `sla` (an interval).

Both are checked when the header or setup.cfg is read, so an orchestrator export or
`weir freshness` never meets a malformed one. Each check returns the problem as a message
the caller puts after `file:line:`, or None when the value is good.
"""

from __future__ import annotations

import re
from datetime import timedelta

# Cron's shorthands that every scheduler (cron, Airflow, Dagster) understands.
PRESETS = ("@hourly", "@daily", "@weekly", "@monthly")
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_NAMES = {
    "month": ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    "day of week": ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
}
_PART = re.compile(r"^(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(\d+))?$")


def schedule_problem(text: str) -> str | None:
    """Return what is wrong with cron expression `text` (5 fields or a preset), or None."""
    value = text.strip()
    if value.startswith("@"):
        if value.lower() in PRESETS:
            return None
        presets = ", ".join(PRESETS)
        return f'schedule {value!r} is not one of {presets}; or write 5 cron fields, e.g. schedule="0 6 * * *"'
    fields = value.split()
    if len(fields) != len(_FIELDS):
        return (f"schedule {value!r} has {len(fields)} fields, not 5 (minute hour day month weekday);"
                ' write e.g. schedule="0 6 * * *" or @daily')
    for field, (name, low, high) in zip(fields, _FIELDS, strict=True):
        for part in field.split(","):
            problem = _part_problem(part, name, low, high)
            if problem:
                return f"schedule {value!r}: {name} {part!r} {problem}"
    return None


def _part_problem(part: str, name: str, low: int, high: int) -> str | None:
    match = _PART.match(part)
    if not match:
        return "is not *, a number, a range a-b or a step */n; fix it"
    if match.group(2) is not None and int(match.group(2)) == 0:
        return "has a step of 0; use a step of 1 or more"
    if match.group(1) == "*":
        return None
    numbers = []
    for token in match.group(1).split("-"):
        number = _number(token, name)
        if number is None:
            return f"is not a number from {low} to {high}; fix it"
        numbers.append(number)
    if any(not low <= number <= high for number in numbers):
        return f"is out of range: from {low} to {high}"
    if len(numbers) == 2 and numbers[0] > numbers[1]:
        return "is a range that runs backwards; write the smaller number first"
    return None


def _number(token: str, name: str) -> int | None:
    if token.isdigit():
        return int(token)
    names = _NAMES.get(name, [])
    first = 1 if name == "month" else 0
    return names.index(token.lower()) + first if token.lower() in names else None


_UNITS = {
    "second": 1, "seconds": 1, "sec": 1, "secs": 1, "s": 1,
    "minute": 60, "minutes": 60, "min": 60, "mins": 60, "m": 60,
    "hour": 3600, "hours": 3600, "hr": 3600, "hrs": 3600, "h": 3600,
    "day": 86400, "days": 86400, "d": 86400,
    "week": 604800, "weeks": 604800, "w": 604800,
}
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]+)")


def parse_sla(text: str) -> timedelta | None:
    """Return interval `text` ("4 hours", "1 day 12h", "30min") as a timedelta; None if it is not one.

    Months and years are refused (None): their length varies, so a lag could not be measured
    against them the same way on every day.
    """
    value = text.strip()
    position, seconds = 0, 0.0
    for match in _AMOUNT.finditer(value):
        if value[position:match.start()].strip() or match.group(2).lower() not in _UNITS:
            return None
        seconds += float(match.group(1)) * _UNITS[match.group(2).lower()]
        position = match.end()
    if position == 0 or value[position:].strip() or seconds <= 0:
        return None
    return timedelta(seconds=seconds)


SLA_EXAMPLE = "write an interval of seconds to weeks, e.g. sla=4 hours or sla=1 day"
