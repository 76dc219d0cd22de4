"""Reports of a check run: text for a terminal, JSON for machines, JUnit XML for CI.

Every failing or warning check shows its file, its count and a table of its first
violations, so nobody has to dig out a query to see what is wrong.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.checks.results import CheckReport, CheckResult

MAX_WIDTH = 40  # characters of a value in a table; longer text is cut with "..."
_DEFAULT_THRESHOLDS = ("error_if > 0", "warn_if > 0")
# Characters XML 1.0 cannot hold at all, even escaped; a value from the database may have them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


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


def render_json(report: CheckReport, target: str | None = None) -> str:
    """Return the report as a JSON document: target, run, status, exit code, counts and every check with its sample."""
    document = {
        "target": target,
        "run_id": report.run_id,
        "status": report.status,
        "exit_code": report.exit_code,
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
                "sample": list(result.sample),
            }
            for result in report.results
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False, default=_json_default)


def write_junit(report: CheckReport, path: str | Path) -> None:
    """Write the report as JUnit XML: one testsuite, one testcase per check.

    A failed check has a <failure> with its count and table, a check that could not run an
    <error>; a warning passes, with its table in <system-out>. Nothing is <skipped>.
    """
    import xml.etree.ElementTree as ET

    counts = report.counts()
    totals = {
        "name": "weir check",
        "tests": str(len(report.results)),
        "failures": str(counts["fail"]),
        "errors": str(counts["error"]),
        "skipped": "0",
        "time": f"{report.seconds:.3f}",
    }
    suites = ET.Element("testsuites", totals)
    suite = ET.SubElement(suites, "testsuite", totals)
    for result in report.results:
        directory = result.name.rpartition("/")[0]
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": "checks" + ("." + directory.replace("/", ".") if directory else ""),
                "name": result.name,
                "file": result.display,
                "time": f"{result.seconds:.3f}",
            },
        )
        if result.status == "fail":
            element = ET.SubElement(case, "failure", {"message": _xml(headline(result)), "type": "fail"})
            element.text = _xml(_details(result))
        elif result.status == "error":
            element = ET.SubElement(case, "error", {"message": _xml(result.error or ""), "type": "error"})
            element.text = _xml(result.error or "")
        elif result.status == "warn":
            ET.SubElement(case, "system-out").text = _xml(_details(result))
    ET.indent(suites)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def _details(result: CheckResult) -> str:
    table = sample_table(result)
    return headline(result) + (f"\n{result.description}" if result.description else "") + (
        f"\n\n{table}\n" if table else "\n"
    )


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)
