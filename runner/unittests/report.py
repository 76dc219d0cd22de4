"""Unit test results for people (text), CI (a JUnit suite) and machines (JSON)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from runner.reports.junit import Suite
    from runner.unittests.compare import Difference
    from runner.unittests.run import UnitTestReport, UnitTestResult

T = TypeVar("T")
_WORDS = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}


def result_text(result: UnitTestResult) -> str:
    """One line per test (verdict, name, model, time); then why it failed, a line per difference."""
    lines = [f"{_WORDS.get(result.status, result.status.upper()):<5} {result.name}"
             f" ({result.model}, {result.seconds * 1000:.0f} ms)"]
    if result.error:
        lines.append(f"  {result.error}")
    if result.difference is not None:
        lines.append(f"  {result.display}: {headline(result.difference)}")
        lines += [f"    {line}" for line in difference_lines(result.difference)]
    return "\n".join(lines)


def render_text(report: UnitTestReport) -> str:
    """Every failed test in full, then a count by outcome."""
    shown = [result_text(result) for result in report.results if result.status != "pass"]
    return "\n".join([*shown, summary(report)])


def summary(report: UnitTestReport) -> str:
    """Count the tests by outcome in one line: "unit tests: 12 pass, 1 fail"."""
    counts = ", ".join(f"{number} {status}" for status, number in report.counts().items() if number)
    return f"unit tests: {counts or 'none'}"


def headline(difference: Difference) -> str:
    """Count what differs in one line: "1 row(s) missing, 1 changed"."""
    parts = []
    if difference.missing:
        parts.append(f"{len(difference.missing)} row(s) missing")
    if difference.unexpected:
        parts.append(f"{len(difference.unexpected)} row(s) unexpected")
    if difference.changed:
        parts.append(f"{len(difference.changed)} row(s) changed")
    if difference.order:
        parts.append(f"{len(difference.order)} row(s) other than expected at their position (ordered)")
    return ", ".join(parts) or "rows differ"


def difference_lines(difference: Difference) -> list[str]:
    """Describe each difference on a line: keyed rows by the columns that differ, others whole."""
    lines = []
    for changed in _sorted(difference.changed, lambda changed: changed.key):
        columns = "; ".join(f"{column}: expected {_value(want)}, got {_value(got)}"
                            for column, want, got in changed.columns)
        lines.append(f"changed    {_row(difference.key, changed.key)}: {columns}")
    lines += [f"missing    {_row(difference.columns, row)}" for row in _sorted(difference.missing, tuple)]
    lines += [f"unexpected {_row(difference.columns, row)}" for row in _sorted(difference.unexpected, tuple)]
    for position, want, got in difference.order:
        produced = _row(difference.columns, got) if got is not None else "no row"
        lines.append(f"at row {position}  expected {_row(difference.columns, want)}, got {produced}")
    return lines


def junit_suite(report: UnitTestReport, started: datetime) -> Suite:
    """Return the JUnit suite `weir test`: a testcase per unit test, classname its model."""
    from runner.reports.junit import Case, Suite

    outcomes = {"pass": "passed", "fail": "failure", "error": "error"}
    suite = Suite("weir test", started, sum(result.seconds for result in report.results))
    for result in report.results:
        message, details = "", ""
        if result.status != "pass":
            text = result_text(result).splitlines()[1:]
            message = text[0].strip() if text else result.status
            details = "\n".join(line.strip() for line in text)
        suite.cases.append(Case(result.name, result.model, result.seconds, outcomes.get(result.status, "error"),
                                message, details))
    return suite


def json_results(report: UnitTestReport) -> dict[str, Any]:
    """Return the `results` of `weir test --json`: counts, then each test with its differences."""
    return {
        "counts": report.counts(),
        "tests": [
            {
                "name": result.name, "file": result.display, "model": result.model, "status": result.status,
                "seconds": round(result.seconds, 3), "error": result.error,
                "differences": difference_lines(result.difference) if result.difference is not None else [],
            }
            for result in report.results
        ],
    }


def _sorted(items: Sequence[T], row: Callable[[T], tuple[Any, ...]]) -> list[T]:
    """Return `items` in the order of their rows' values (NULL last), so a diff reads top to bottom."""
    try:
        return sorted(items, key=lambda item: tuple((value is None, value) for value in row(item)))
    except TypeError:  # values of no common order (e.g. json): as found
        return list(items)


def _row(columns: Sequence[str], row: Sequence[Any]) -> str:
    return "(" + ", ".join(f"{column}={_value(value)}" for column, value in zip(columns, row, strict=False)) + ")"


def _value(value: Any) -> str:
    return "NULL" if value is None else repr(value) if isinstance(value, str) else str(value)
