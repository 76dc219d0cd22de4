"""The one JSON envelope every `--json` output comes in, versioned so scripts can rely on it.

    {"weir_json": 1, "command": "check", "target": "user@host:5432/db",
     "started": "...", "finished": "...", "status": "pass", "exit_code": 0,
     "error": null, "results": {...}}

`weir_json` changes only when a field is removed or changes meaning; new fields may appear
in any version. The JSON Schema of each command's document ships in runner/reports/schemas/.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

JSON_VERSION = 1
SCHEMAS = Path(__file__).parent / "schemas"


@dataclass
class Envelope:
    """What a command says about its run, before its own results are filled in."""

    command: str
    started: datetime
    target: str | None = None  # where it ran, as `describe` gives it; None before connecting
    extra: dict[str, Any] = field(default_factory=dict)

    def document(self, status: str, exit_code: int, results: Any, error: str | None = None) -> dict[str, Any]:
        """Return the whole JSON document of the run, finished now."""
        return {
            "weir_json": JSON_VERSION,
            "command": self.command,
            "target": self.target,
            "started": _timestamp(self.started),
            "finished": _timestamp(datetime.now().astimezone()),
            "status": status,
            "exit_code": exit_code,
            "error": error,
            "results": results,
        }


def dumps(document: dict[str, Any]) -> str:
    """Return `document` as indented JSON; dates as ISO 8601, decimals as strings (no precision lost)."""
    return json.dumps(document, indent=2, ensure_ascii=False, default=_plain)


def schema_path(command: str) -> Path:
    """Return the JSON Schema file that describes `command`'s document, e.g. weir-check.schema.json."""
    return SCHEMAS / f"weir-{command}.schema.json"


def _timestamp(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.astimezone()).isoformat(timespec="milliseconds")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _timestamp(value)
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    return str(value)  # Decimal, UUID, intervals, ranges: their PostgreSQL text form
