"""What a build tells its caller: each model's result, the run's report, and progress events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.reports.junit import Suite

HEADERS = ("model", "kind", "status", "inserted", "updated", "deleted", "seconds")
LS_HEADERS = ("model", "kind", "upstream", "last build")
STATUSES = ("success", "skipped", "failed", "upstream-failed")
FAILED = ("failed", "upstream-failed")


@dataclass(frozen=True)
class ModelResult:
    """What happened to one model in a build."""

    model: str  # "schema.name"
    kind: str
    status: str  # success | skipped | failed | upstream-failed
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    seconds: float = 0.0
    error: str | None = None  # "models/x/y.sql:LINE: message" for a failed model
    note: str = ""

    @property
    def row(self) -> tuple[Any, ...]:
        """The row `weir build` prints: model, kind, status, inserted, updated, deleted, seconds."""
        return (self.model, self.kind, self.status, self.inserted, self.updated, self.deleted, round(self.seconds, 3))


@dataclass
class BuildReport:
    """Every selected model's result, in build order, and the run they belong to."""

    run_id: int | None
    results: list[ModelResult] = field(default_factory=list)
    lock_window: float | None = None  # an atomic build's release: seconds from its first lock to COMMIT

    @property
    def ok(self) -> bool:
        """True when no model failed (skipped and built models are fine)."""
        return all(result.status in ("success", "skipped") for result in self.results)

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        """Rows for tabulate under HEADERS."""
        return [result.row for result in self.results]

    @property
    def errors(self) -> list[str]:
        """The messages of the failed models."""
        return [result.error for result in self.results if result.status == "failed" and result.error]

    def counts(self) -> dict[str, int]:
        """How many models ended in each status."""
        return {status: sum(result.status == status for result in self.results) for status in STATUSES}

    def junit_suite(self, started: datetime, seconds: float) -> Suite:
        """Return the build as a JUnit suite: a failed model is an <error>, one not built for it <skipped>."""
        from runner.reports.junit import Case, Suite

        suite = Suite("weir build", started, seconds, properties={"run_id": str(self.run_id or "")})
        for result in self.results:
            schema = result.model.partition(".")[0]
            outcome = {"failed": "error", "upstream-failed": "skipped"}.get(result.status, "passed")
            message = result.error or result.note or result.status
            suite.cases.append(Case(result.model, f"models.{schema}", result.seconds, outcome,
                                    message if outcome != "passed" else "", message if outcome != "passed" else ""))
        return suite

    def json_results(self) -> dict[str, Any]:
        """Return the build's part of `weir run --json`: run, counts and every model's result."""
        return {
            "run_id": self.run_id,
            "counts": self.counts(),
            **({"lock_window_seconds": round(self.lock_window, 4)} if self.lock_window is not None else {}),
            "models": [
                {"model": r.model, "kind": r.kind, "status": r.status, "inserted": r.inserted, "updated": r.updated,
                 "deleted": r.deleted, "seconds": round(r.seconds, 3), "error": r.error, "note": r.note or None}
                for r in self.results
            ],
        }


@dataclass(frozen=True)
class BuildEvent:
    """Progress of a build, for a callback: the lock waited for, a seed loaded, a model started, retried, finished."""

    kind: str  # "waiting" | "seed" | "cleanup" | "started" | "retrying" | "finished" | "released"
    model: str | None = None
    message: str = ""
    result: ModelResult | None = None
    lock_window: float | None = None  # "released": seconds from the release's first lock to COMMIT
