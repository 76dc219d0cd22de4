"""SARIF 2.1.0, the format GitHub code scanning reads, so lint findings show on a pull request's diff.

One run per tool (Weir's own reading, squawk, sqlfluff), each with the rules its results
name; every result points at a file of the project by its path relative to the repository
root, with 1-based line and column as SARIF requires.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = ("error", "warning", "note")


@dataclass(frozen=True)
class Result:
    """One finding: which rule, where (relative path, 1-based line and column) and what to do."""

    rule: str
    message: str
    path: str
    line: int = 1
    column: int = 1
    level: str = "error"  # one of LEVELS
    help_uri: str | None = None  # where the rule is explained


@dataclass(frozen=True)
class Run:
    """What one tool found."""

    tool: str
    information_uri: str | None
    results: Sequence[Result]
    version: str | None = None


def document(runs: Sequence[Run]) -> dict[str, Any]:
    """Return the SARIF log of `runs` as a JSON-ready dict."""
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [_run(run) for run in runs]}


def write(runs: Sequence[Run], path: Path) -> None:
    """Write the SARIF log of `runs` to `path`, whole or not at all."""
    from runner.reports.files import write_atomically

    write_atomically(path, (json.dumps(document(runs), indent=2, ensure_ascii=False) + "\n").encode())


def _run(run: Run) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    for result in run.results:
        rule = rules.setdefault(result.rule, {"id": result.rule, "shortDescription": {"text": result.rule}})
        if result.help_uri:
            rule["helpUri"] = result.help_uri
    driver: dict[str, Any] = {"name": run.tool, "rules": list(rules.values())}
    if run.information_uri:
        driver["informationUri"] = run.information_uri
    if run.version:
        driver["version"] = run.version
    index = {rule: number for number, rule in enumerate(rules)}
    return {
        "tool": {"driver": driver},
        "columnKind": "unicodeCodePoints",
        "results": [
            {
                "ruleId": result.rule,
                "ruleIndex": index[result.rule],
                "level": result.level if result.level in LEVELS else "error",
                "message": {"text": result.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": result.path, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": max(result.line, 1), "startColumn": max(result.column, 1)},
                    }
                }],
            }
            for result in run.results
        ],
    }
