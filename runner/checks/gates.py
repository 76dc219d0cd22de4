"""Gates: checks that run inside a model's build transaction, before it commits.

A check file declaring `-- weir: gate=marts.fact_order_items` is a gate of that model. It
may read only that model (checked when the project is read, before any database work), and
`weir build` runs it right after the model is materialized, in the model's transaction: the
check sees the new version, nobody else does yet. A gate failing at error severity raises
GateFailed, so the model's whole transaction rolls back and the previous good version (its
rows, its watermark, its recorded state) stays in place; what reads the model is skipped.
A warn gate only notes. A gate that cannot run (bad SQL) fails its model too: it could not
say the new version is good. Which checks are gates, and that each reads only its model, is
runner/project/gates.py's part; this module runs them, and runner/checks/quarantine.py moves
the rows of a `quarantine=true` gate out of the model instead of failing it.

Gate results are appended to weir.gate_result (runner/state/gates.py), keyed by build run:
in the model's transaction when it commits, after its rollback when a gate failed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import Field, dataclass, replace
from typing import Any, ClassVar, Protocol, TypeVar

import psycopg
from psycopg import sql

from runner.checks.library import install_library
from runner.checks.quarantine import CannotQuarantine, forget_loaded, prepare_rejected, quarantine, rejected_table
from runner.checks.query import CheckQueryFailed, count_violations, sample_violations
from runner.db.errors import hint_of, primary_message
from runner.errors import GateFailed
from runner.project import Check, Model, Timeouts
from runner.state.gates import ensure_gate_state, record_gates

_ROWS_IN_MESSAGE = 3
_ROW_TEXT = 200  # characters of one row shown in a message


class Materialized(Protocol):
    """What gates need of a model's build result (a dataclass): they adjust its rows and note."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    @property
    def inserted(self) -> int: ...
    @property
    def rebuilt(self) -> bool: ...  # built from scratch: its __rejected starts over too
    @property
    def note(self) -> str: ...


Built = TypeVar("Built", bound=Materialized)


@dataclass(frozen=True)
class GateResult:
    """What one gate found in one build of its model."""

    check: str  # the check's name
    display: str  # the check file, relative to the project root
    model: str  # "schema.name"
    status: str  # pass | warn | fail | quarantined | error
    severity: str
    count: int | None  # rows the check returned; None when it could not run
    rejected: int = 0  # rows moved to __rejected
    seconds: float = 0.0
    sample: tuple[str, ...] = ()  # the first `show` rows, each as jsonb text (exact numbers)
    threshold: str | None = None  # what decided a warn or fail, e.g. "error_if > 10"
    error: str | None = None  # "checks/x.sql:LINE: message" when status is error
    quarantine: bool = False  # the check moves its rows to __rejected

    @property
    def message(self) -> str:
        """Return the one-line account of a gate that did not simply pass."""
        if self.status == "error":
            return self.error or f"{self.display}: gate could not run"
        decided = f", {self.threshold}" if self.threshold and not self.threshold.endswith("> 0") else ""
        shown = ", ".join(_row_text(row) for row in self.sample[:_ROWS_IN_MESSAGE])
        first = f" (first rows: {shown})" if shown else ""
        if self.status == "fail":
            too_many = ": too many to quarantine" if self.quarantine else ""
            return f"{self.display}: gate failed: {_rows(self.count or 0)}{decided}{too_many}{first}"
        if self.rejected:
            return f"{self.display}: quarantined {_rows(self.rejected)} to {rejected_table(self.model)}{decided}"
        return f"{self.display}: gate warns: {_rows(self.count or 0)}{decided}{first}"


def prepare_gates(conn: psycopg.Connection[Any]) -> None:
    """Install what gates need before models build: the check library and weir.gate_result."""
    install_library(conn)
    ensure_gate_state(conn)


def run_gates(
    conn: psycopg.Connection[Any],
    model: Model,
    gates: Sequence[Check],
    built: Built,
    *,
    run_id: int | None = None,
    timeouts: Timeouts,
) -> Built:
    """Run `model`'s gates in the open transaction on `conn`, after it was materialized there.

    `timeouts` bound how long the DDL of a quarantine (replacing a __rejected table whose
    columns changed) waits for that table's readers (runner.db.ddl_locks).

    Returns `built` with the gates' notes added (and, for a table, quarantined rows taken out
    of `inserted`); records the results in weir.gate_result in the same transaction. Raises
    GateFailed when a gate fails at error severity or cannot run: the caller rolls back.
    """
    if not gates:
        return built
    results: list[GateResult] = []
    keys = list(model.unique_key)
    rebuilt = model.kind == "table" or built.rebuilt
    notes: list[str] = []
    rejected: sql.Identifier | None = None
    for check in gates:
        started = time.perf_counter()
        try:
            if check.quarantine:
                if rejected is None:
                    rejected, note = prepare_rejected(conn, model, keys, rebuilt, timeouts)
                    notes.append(note)
                result = _quarantine(conn, model, check, rejected, keys, run_id, started)
            else:
                result = _gate(conn, model, check, started)
        except (CheckQueryFailed, CannotQuarantine) as exc:
            message = _could_not_run(exc) if isinstance(exc, CheckQueryFailed) else exc.message
            results.append(_error(model, check, message, started))
            raise GateFailed(message, tuple(results)) from None
        except psycopg.Error as exc:  # one of Weir's own statements around the check
            what = "quarantine could not move rows" if check.quarantine else "gate could not run"
            message = f"{check.display}:{check.sql_line}: {what}: {primary_message(exc)}"
            results.append(_error(model, check, message, started))
            raise GateFailed(message, tuple(results)) from None
        results.append(result)
    failed = [result for result in results if result.status == "fail"]
    if failed:
        raise GateFailed(
            "; ".join(result.message for result in failed) + f"; {model.qualified} keeps its previous version",
            tuple(results),
        )
    if rejected is not None and model.kind == "incremental" and not rebuilt:
        loaded = forget_loaded(conn, rejected, keys, model)
        if loaded:
            notes.append(f"{loaded} earlier rejected key{'s' if loaded != 1 else ''} now loaded")
    record_gates(conn, run_id, results)
    moved = sum(result.rejected for result in results)
    for result in results:
        if result.status in ("warn", "quarantined"):
            notes.append(result.message)
    passed = sum(result.status == "pass" for result in results)
    if passed:
        notes.append(f"{passed} gate{'s' if passed != 1 else ''} passed")
    inserted = max(built.inserted - moved, 0) if model.kind == "table" else built.inserted
    return replace(built, inserted=inserted, note="; ".join(text for text in (built.note, *notes) if text))


def record_gate_results(conn: psycopg.Connection[Any], run_id: int | None, results: Sequence[GateResult]) -> None:
    """Append `results` to weir.gate_result in a transaction of their own (after a failed gate's rollback)."""
    if results:
        with conn.transaction():
            record_gates(conn, run_id, results)


def _gate(conn: psycopg.Connection[Any], model: Model, check: Check, started: float) -> GateResult:
    """Count the rows of a plain gate in the model's transaction and judge them by the check's thresholds."""
    count = count_violations(conn, check)
    sample = sample_violations(conn, check).json if count else ()
    status, threshold = check.status_for(count)
    return GateResult(check.name, check.display, model.qualified, status, check.severity, count,
                      seconds=time.perf_counter() - started, sample=sample, threshold=threshold)


def _quarantine(
    conn: psycopg.Connection[Any],
    model: Model,
    check: Check,
    rejected: sql.Identifier,
    keys: list[str],
    run_id: int | None,
    started: float,
) -> GateResult:
    """Move the rows a quarantine gate returns from the model to its __rejected table."""
    found = quarantine(conn, model, check, rejected, keys, run_id)
    return GateResult(check.name, check.display, model.qualified, found.status, check.severity, found.count,
                      found.moved, time.perf_counter() - started, found.sample, found.threshold, quarantine=True)


def _could_not_run(failed: CheckQueryFailed) -> str:
    """Return `checks/x.sql:LINE: gate could not run: message; what to do` for a gate PostgreSQL refused."""
    what = hint_of(failed.error) or "fix the check's SQL"
    return f"{failed.location}: gate could not run: {primary_message(failed.error)}; {what}"


def _error(model: Model, check: Check, message: str, started: float) -> GateResult:
    return GateResult(check.name, check.display, model.qualified, "error", check.severity, None,
                      seconds=time.perf_counter() - started, error=message)


def _rows(count: int) -> str:
    return f"{count} row{'s' if count != 1 else ''}"


def _row_text(text: str) -> str:
    return text if len(text) <= _ROW_TEXT else text[: _ROW_TEXT - 3] + "..."
