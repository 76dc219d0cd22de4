"""What a check run found: one CheckResult per check, gathered in a CheckReport with its exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runner.errors import EXIT_ERROR, EXIT_FAIL, EXIT_OK

STATUSES = ("pass", "warn", "fail", "error")


@dataclass(frozen=True)
class CheckResult:
    """What one check found."""

    name: str
    display: str  # the check file, relative to the project root
    status: str  # pass | warn | fail | error
    severity: str  # error | warn, from the header
    count: int | None  # violations; None when the check could not run
    seconds: float
    columns: tuple[str, ...] = ()  # of the shown rows
    rows: tuple[tuple[Any, ...], ...] = ()  # the first `show` violations, as Python values
    sample: tuple[dict[str, Any], ...] = ()  # the same rows as jsonb objects, as stored in history
    threshold: str | None = None  # what decided a warn or fail, e.g. "error_if > 0"
    error: str | None = None  # "checks/x.sql:LINE: message; what to do" when status is error
    description: str | None = None
    tags: frozenset[str] = frozenset()

    @property
    def location(self) -> str:
        """Return `path:line` of an error, or the path."""
        if self.error and self.error.startswith(self.display + ":"):
            return self.error.split(": ", 1)[0]
        return self.display

    @property
    def error_text(self) -> str:
        """Return the error message without its `path:line: ` prefix."""
        if not self.error:
            return ""
        location = self.location
        return self.error[len(location) + 2 :] if self.error.startswith(location + ": ") else self.error


@dataclass
class CheckReport:
    """Every selected check's result, sorted by name, and the run they belong to."""

    run_id: int | None
    results: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        """How many checks ended in each status."""
        return {status: sum(result.status == status for result in self.results) for status in STATUSES}

    @property
    def status(self) -> str:
        """The worst status of the run: error over fail over warn over pass."""
        counts = self.counts()
        for status in ("error", "fail", "warn"):
            if counts[status]:
                return status
        return "pass"

    @property
    def exit_code(self) -> int:
        """0 when nothing failed (warnings allowed), 1 when a check failed, 2 when one could not run."""
        return {"error": EXIT_ERROR, "fail": EXIT_FAIL}.get(self.status, EXIT_OK)
