"""Reports of a check run: text for a terminal, JSON for machines, JUnit XML for CI.

Every failing or warning check shows its file, its count and a table of its first
violations, so nobody has to dig out a query to see what is wrong.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.checks.results import CheckReport, CheckResult
    from runner.reports.junit import Suite

MAX_WIDTH = 40  # characters of a value in a table; longer text is cut with "..."
_DEFAULT_THRESHOLDS = ("error_if > 0", "warn_if > 0")


def headline(result: CheckResult) -> str:
    """Return the one-line verdict of a result, e.g. `checks/x.sql: FAIL 12 rows`."""
    if result.status == "error":
        return f"{result.location}: ERROR {result.error_text}"
    count = result.count or 0
    line = f"{result.display}: {result.status.upper()} {count} {'row' if count == 1 else 'rows'}"
    if result.threshold and result.threshold not in _DEFAULT_THRESHOLDS:
        line += f" ({result.threshold})"
    return line


def sample_table(result: CheckResult) -> str:
    """Return the shown violations as a tabulate table with shortened values ('' when none were fetched)."""
    from tabulate import tabulate

    if not result.rows:
        return ""
    numeric = [
        any(_is_number(value) for value in column) and all(value is None or _is_number(value) for value in column)
        for column in zip(*result.rows, strict=True)
    ]
    table = tabulate(
        [[shorten(value) for value in row] for row in result.rows],
        headers=[shorten(column) for column in result.columns],
        tablefmt="simple",
        disable_numparse=True,  # keep the database's digits: no reformatting of 123456789.123
        colalign=["right" if is_number else "left" for is_number in numeric],
    )
    if result.count is not None and result.count > len(result.rows):
        table += f"\nfirst {len(result.rows)} of {result.count} rows"
    return table


def shorten(value: Any, width: int = MAX_WIDTH) -> str:
    """Return `value` as one line of at most `width` characters; numbers are never cut."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray, memoryview)):
        text = "\\x" + bytes(value).hex()
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, default=str)
    elif isinstance(value, datetime):
        text = value.isoformat(sep=" ")
    else:
        text = str(value)
    if _is_number(value):
        return text
    text = text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return text if len(text) <= width else text[: width - 3] + "..."


def render_text(report: CheckReport) -> str:
    """Return the terminal report: each warning, failure and error with its rows, then a summary line."""
    blocks = []
    # Warnings first and errors last, so the most serious is nearest the summary.
    for status in ("warn", "fail", "error"):
        for result in report.results:
            if result.status != status:
                continue
            lines = [headline(result)]
            if result.description and status != "error":
                lines.append(f"  {result.description}")
            table = sample_table(result)
            if table:
                lines.extend("  " + line if line else line for line in table.splitlines())
            blocks.append("\n".join(lines))
    blocks.append(summary(report))
    return "\n\n".join(blocks)


def summary(report: CheckReport) -> str:
    """Return e.g. `12 checks in 3.40 s: 9 pass, 1 warn, 1 fail, 1 error`."""
    counts = report.counts()
    total = len(report.results)
    parts = ", ".join(f"{counts[status]} {status}" for status in ("pass", "warn", "fail", "error"))
    return f"{total} {'check' if total == 1 else 'checks'} in {report.seconds:.2f} s: {parts}"


def json_results(report: CheckReport) -> dict[str, Any]:
    """Return the `results` of `weir check --json`: run, counts and every check with its first failing rows.

    Each sample row keeps the check's column order (the stored jsonb has its keys sorted).
    """
    return {
        "run_id": report.run_id,
        "seconds": round(report.seconds, 3),
        "counts": report.counts(),
        "checks": [
            {
                "name": result.name,
                "path": result.display,
                "status": result.status,
                "severity": result.severity,
                "violations": result.count,
                "seconds": round(result.seconds, 3),
                "threshold": result.threshold,
                "description": result.description,
                "tags": sorted(result.tags),
                "error": result.error,
                "columns": list(result.columns),
                "sample": [
                    {column: row[column] for column in result.columns if column in row} for row in result.sample
                ],
            }
            for result in report.results
        ],
    }


def render_tap(report: CheckReport) -> str:
    """Return the run as TAP version 13, as pg_prove reads it: one test point per check.

    A failure or an error is `not ok` with a YAML block (message, severity, violations and
    the failing rows); a warning is `ok` with its rows as `#` diagnostics.
    """
    lines = ["TAP version 13", f"1..{len(report.results)}"]
    for number, result in enumerate(report.results, start=1):
        ok = result.status in ("pass", "warn")
        lines.append(f"{'ok' if ok else 'not ok'} {number} - {result.name}")
        if result.status == "warn":
            lines.extend(f"# {line}".rstrip() for line in _details(result).splitlines())
        elif not ok:
            lines.append("  ---")
            lines.append(f"  message: {json.dumps(headline(result), ensure_ascii=False)}")
            lines.append(f"  severity: {result.status}")
            lines.append(f"  file: {json.dumps(result.display)}")
            if result.count is not None:
                lines.append(f"  violations: {result.count}")
            table = sample_table(result)
            if table:
                lines.append("  rows: |")
                lines.extend(f"    {line}" for line in table.splitlines())
            lines.append("  ...")
    return "\n".join(lines)


def junit_suite(report: CheckReport, started: datetime, name: str = "weir check") -> Suite:
    """Return the run as a JUnit suite: one testcase per check.

    A failed check is a <failure> with its count and failing rows, a check that could not run
    an <error>; a warning passes, its rows going to the suite's output. Nothing is skipped.
    """
    from runner.reports.junit import Case, Suite

    suite = Suite(name, started, report.seconds, properties={"run_id": str(report.run_id or "")})
    for result in report.results:
        directory = result.name.rpartition("/")[0]
        classname = "checks" + ("." + directory.replace("/", ".") if directory else "")
        if result.status == "fail":
            case = Case(result.name, classname, result.seconds, "failure", headline(result), _details(result))
        elif result.status == "error":
            case = Case(result.name, classname, result.seconds, "error", result.error or "", result.error or "")
        else:
            case = Case(result.name, classname, result.seconds)
            if result.status == "warn":
                suite.output += _details(result) + "\n"
        suite.cases.append(case)
    return suite


def write_junit(report: CheckReport, path: str | Path, started: datetime | None = None) -> None:
    """Write the run as a JUnit XML file for CI (see `junit_suite`)."""
    from runner.reports import junit

    junit.write([junit_suite(report, started or datetime.now())], path)


def _details(result: CheckResult) -> str:
    table = sample_table(result)
    return headline(result) + (f"\n{result.description}" if result.description else "") + (
        f"\n\n{table}\n" if table else "\n"
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
