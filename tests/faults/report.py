"""Print the README's reliability table from the trials a `make faults` run recorded.

Usage: python tests/faults/report.py TRIALS.jsonl (one JSON object per trial, written by
tests/faults/conftest.py's record_trial when WEIR_FAULT_RECORD names the file). A trial is
recorded only once every assertion about it held, so each recorded fault was survived.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any


def table(trials: list[dict[str, Any]]) -> list[str]:
    """Return the markdown table's lines: one row per kind of trial."""
    rows = ["| trial | runs | faults injected | survived |", "|---|---|---|---|"]
    kills: dict[str, Counter[str]] = defaultdict(Counter)
    for trial in (t for t in trials if t["kind"] == "kill"):
        counts = kills[trial["command"]]
        counts["runs"] += 1
        counts["killed"] += trial["killed"]
        counts["points"] = max(counts["points"], trial["of"])
    for command, counts in kills.items():
        rows.append(f"| kill -9 during `weir {command}` at a drawn statement (of {counts['points']}), then re-run"
                    f" | {counts['runs']} | {counts['killed']} kills | {counts['killed']} |")
    concurrent = [t for t in trials if t["kind"] == "concurrent"]
    if concurrent:
        processes = sum(t["processes"] for t in concurrent)
        clean = sum(code == 0 for t in concurrent for code in t["exit_codes"])
        rows.append(f"| {concurrent[0]['processes']} concurrent `weir run` on one database | {len(concurrent)}"
                    f" | {processes} racing processes | {clean} exited 0 |")
    incremental = [t for t in trials if t["kind"] == "incremental"]
    if incremental:
        days = sum(t["days"] for t in incremental)
        changes = sum(t["changes"] + t["batches"] for t in incremental)
        rows.append(f"| incremental == full rebuild, random change sequences | {len(incremental)} sequences,"
                    f" {days} builds | {changes} change sets | {days} equal |")
    bad = [t for t in trials if t["kind"] == "bad input"]
    if bad:
        files = len({t["file"] for t in bad})
        refused = sum(t["refused"] for t in bad)
        rows.append(f"| a hostile edit to one of {files} project files, `weir run`, then the file put back | {len(bad)}"
                    f" | {len(bad)} bad inputs | {len(bad)} ({refused} refused before running) |")
    return rows


def main() -> None:
    """Read the record named on the command line and print its table."""
    lines = Path(sys.argv[1]).read_text(encoding="utf-8").splitlines()
    print("\n".join(table([json.loads(line) for line in lines if line.strip()])))


if __name__ == "__main__":
    main()
