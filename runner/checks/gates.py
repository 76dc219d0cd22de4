"""Gates: checks that run inside a model's build transaction, before it commits.

A check file declaring `-- weir: gate=marts.fact_order_items` is a gate of that model. It
may read only that model (checked when the project is read, before any database work), and
`weir build` runs it right after the model is materialized, in the model's transaction: the
check sees the new version, nobody else does yet. A gate failing at error severity raises
GateFailed, so the model's whole transaction rolls back and the previous good version (its
rows, its watermark, its recorded state) stays in place; what reads the model is skipped.
A warn gate only notes. A gate that cannot run (bad SQL) fails its model too: it could not
say the new version is good. Which checks are gates, and that each reads only its model, is
runner/gate_files.py's part; this module runs them.

Quarantine (`quarantine=true`, table and incremental models): the gate's check must be
`SELECT * FROM <model> WHERE <bad condition>` (or a library function returning the model's
rows, like weir.not_null(NULL::marts.x, 'col')). Instead of failing the build, the rows it
returns are moved, in the same transaction, to `<schema>.<name>__rejected` (the model's
columns plus rejected_reason, rejected_by_check, rejected_run_id, rejected_at), so every
row the model's SELECT produced is accounted for: loaded, or rejected with a reason. At run
time the check's columns must be the model's, and every row it returns must be a row of the
model as built; otherwise the model fails with a clear message. An explicit error_if on a
quarantine gate (e.g. error_if="> 1000") fails the build instead of quarantining when too
many rows are bad: a broken upstream should stop the build, not empty the table.

What __rejected holds: the rejected rows of the model's current version.
- A model rebuilt whole (every `table` build, an incremental rebuilt from scratch): its
  __rejected is emptied and refilled in the same transaction, so rows(model) + rows(__rejected)
  = rows its SELECT returned.
- An incremental batch: __rejected is keyed on the model's unique_key like the model is. A
  rejected row that comes back in a later batch (the lookback window) replaces its earlier
  rejection instead of being added twice; a key that is loaded now (a fixed version arrived)
  is removed from __rejected. So each key the model has ever seen is in exactly one of the
  model and __rejected. A key whose new version is rejected leaves the model until a good
  version arrives: the model never holds a version its gates refused. The watermark covers
  rejected rows: they were processed, and they are accounted for in __rejected.

Gate results are appended to weir.gate_result (runner/state/sql/gates.sql), keyed by build run:
in the model's transaction when it commits, after its rollback when a gate failed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from runner.db.errors import error_line, hint_of, primary_message
from runner.errors import GateFailed

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

    from runner.build.materialize.model import MaterializeResult
    from runner.project.checks import Check
    from runner.project.models import Model

REJECTED_SUFFIX = "__rejected"
# Columns __rejected adds to the model's, with their types as format_type() shows them.
REJECT_COLUMNS = (
    ("rejected_reason", "text"),
    ("rejected_by_check", "text"),
    ("rejected_run_id", "bigint"),
    ("rejected_at", "timestamp with time zone"),
)
_ROWS_IN_MESSAGE = 3
_ROW_TEXT = 200  # characters of one row shown in a message



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


def rejected_table(model: str) -> str:
    """Return "schema.name__rejected" for model "schema.name": where its quarantined rows go."""
    from runner.db.statements import derived_name

    schema, name = model.split(".", 1)
    return f"{schema}.{derived_name(name, REJECTED_SUFFIX)}"


def _rows(count: int) -> str:
    return f"{count} row{'s' if count != 1 else ''}"


# ---------------------------------------------------------------------------------------------
# Running


LATEST_GATE_HEADERS = ("gate", "model", "status", "violations", "rejected", "seconds", "build run", "finished at")
_LATEST_GATES = """
SELECT DISTINCT ON (model, check_name)
    check_name, model, status, violations, rejected, seconds::float8, build_run_id, finished_at
FROM weir.gate_result
ORDER BY model, check_name, gate_result_id DESC
"""


def latest_gate_results(conn: psycopg.Connection) -> list[tuple]:
    """Return the latest result of every gate of every model, as rows under LATEST_GATE_HEADERS."""
    if not conn.execute("SELECT to_regclass('weir.gate_result') IS NOT NULL").fetchone()[0]:
        return []
    return [tuple(row) for row in conn.execute(_LATEST_GATES)]


def prepare_gates(conn: psycopg.Connection) -> None:
    """Install what gates need before models build: the check library and weir.gate_result."""
    import psycopg

    from runner.checks.run import install_library
    from runner.errors import CheckError
    from runner.state.schema import install

    install_library(conn)
    try:
        install(conn, "gates", "SELECT EXISTS (SELECT FROM pg_class"
                " WHERE relname = 'gate_result' AND relnamespace::regnamespace::text = 'weir')")
    except psycopg.Error as exc:
        raise CheckError(
            f"cannot create weir.gate_result: {primary_message(exc)}; grant this role CREATE on schema weir,"
            " or run weir build once as a role that has it"
        ) from None


def run_gates(
    conn: psycopg.Connection,
    model: Model,
    gates: Sequence[Check],
    built: MaterializeResult,
    *,
    run_id: int | None = None,
) -> MaterializeResult:
    """Run `model`'s gates in the open transaction on `conn`, after it was materialized there.

    Returns `built` with the gates' notes added (and, for a table, quarantined rows taken out
    of `inserted`); records the results in weir.gate_result in the same transaction. Raises
    GateFailed when a gate fails at error severity or cannot run: the caller rolls back.
    """
    import psycopg

    if not gates:
        return built
    results: list[GateResult] = []
    keys = _keys(model)
    rebuilt = model.kind == "table" or built.rebuilt
    notes: list[str] = []
    rejected = None
    for check in gates:
        started = time.perf_counter()
        try:
            if check.quarantine:
                if rejected is None:
                    rejected, note = _prepare_rejected(conn, model, keys, rebuilt)
                    notes.append(note)
                result = _quarantine(conn, model, check, rejected, keys, run_id, started)
            else:
                result = _gate(conn, model, check, started)
        except _CannotRun as exc:
            results.append(_error(model, check, exc.message, started))
            raise GateFailed(exc.message, results) from None
        except psycopg.Error as exc:  # one of Weir's own statements around the check
            what = "quarantine could not move rows" if check.quarantine else "gate could not run"
            message = f"{check.display}:{check.sql_line}: {what}: {primary_message(exc)}"
            results.append(_error(model, check, message, started))
            raise GateFailed(message, results) from None
        results.append(result)
    failed = [result for result in results if result.status == "fail"]
    if failed:
        raise GateFailed(
            "; ".join(result.message for result in failed) + f"; {model.qualified} keeps its previous version",
            results,
        )
    if rejected is not None and model.kind == "incremental" and not rebuilt:
        loaded = _forget_loaded(conn, rejected, keys, model)
        if loaded:
            notes.append(f"{loaded} earlier rejected key{'s' if loaded != 1 else ''} now loaded")
    _record(conn, run_id, results)
    moved = sum(result.rejected for result in results)
    for result in results:
        if result.status in ("warn", "quarantined"):
            notes.append(result.message)
    passed = sum(result.status == "pass" for result in results)
    if passed:
        notes.append(f"{passed} gate{'s' if passed != 1 else ''} passed")
    inserted = max(built.inserted - moved, 0) if model.kind == "table" else built.inserted
    return replace(built, inserted=inserted, note="; ".join(text for text in (built.note, *notes) if text))


def record_gate_results(conn: psycopg.Connection, run_id: int | None, results: Sequence[GateResult]) -> None:
    """Append `results` to weir.gate_result in a transaction of their own (after a failed gate's rollback)."""
    if results:
        with conn.transaction():
            _record(conn, run_id, results)


class _CannotRun(Exception):
    """A gate that could not run, or whose rows cannot be quarantined; its message is the user's."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# The check's SELECT goes on lines of its own: a PostgreSQL error position maps back to its line.
_COUNT_PREFIX = "SELECT count(*) FROM (\n"
_SAMPLE_PREFIX = "SELECT to_jsonb(violations.*)::text FROM (\n"
_ROWS_PREFIX = "CREATE TEMP TABLE weir_gate_rows ON COMMIT DROP AS\n"
_RECORD = """
INSERT INTO weir.gate_result
    (build_run_id, model, check_name, path, status, severity, violations, rejected, seconds, sample, error)
VALUES (%(run_id)s, %(model)s, %(check)s, %(path)s, %(status)s, %(severity)s, %(violations)s, %(rejected)s,
        round(%(seconds)s::numeric, 3), %(sample)s::jsonb, %(error)s)
"""
_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, NULL)
FROM pg_attribute AS a
WHERE a.attrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


def _gate(conn: psycopg.Connection, model: Model, check: Check, started: float) -> GateResult:
    """Count the rows of a plain gate in the model's transaction and judge them by the check's thresholds."""
    from psycopg import sql

    count = _run_check(conn, check, _COUNT_PREFIX, "\n) AS violations").fetchone()[0]
    sample: tuple[str, ...] = ()
    if count and check.show:
        limit = sql.SQL("\n) AS violations LIMIT {}").format(sql.Literal(check.show))
        sample = tuple(row[0] for row in _run_check(conn, check, _SAMPLE_PREFIX, limit))
    status, threshold = check.status_for(count)
    return GateResult(check.name, check.display, model.qualified, status, check.severity, count,
                      seconds=time.perf_counter() - started, sample=sample, threshold=threshold)


def _quarantine(
    conn: psycopg.Connection,
    model: Model,
    check: Check,
    rejected: sql.Identifier,
    keys: list[str],
    run_id: int | None,
    started: float,
) -> GateResult:
    """Move the rows a quarantine gate returns from the model to its __rejected table."""
    from psycopg import sql

    from runner.db.statements import execute

    execute(conn, "DROP TABLE IF EXISTS pg_temp.weir_gate_rows")
    count = max(_run_check(conn, check, _ROWS_PREFIX).rowcount, 0)
    model_columns = _typed_columns(conn, model.schema, model.name)
    returned = _typed_columns(conn, "pg_temp", "weir_gate_rows")
    if returned != model_columns:
        raise _CannotRun(
            f"{check.display}:{check.sql_line}: quarantine=true moves the rows the check returns out of"
            f" {model.qualified}, so they must be its rows as they are, but the check returns"
            f" ({_listed(returned)}) and {model.qualified} has ({_listed(model_columns)});"
            f" write SELECT * FROM {model.qualified} WHERE <bad condition>"
        )
    sample: tuple[str, ...] = ()
    if count and check.show:
        sample = tuple(row[0] for row in execute(conn, sql.SQL(
            "SELECT to_jsonb(r.*)::text FROM pg_temp.weir_gate_rows AS r LIMIT {}"
        ).format(sql.Literal(check.show))))
    status, threshold = _quarantine_status(check, count)
    seconds = time.perf_counter() - started
    if status == "fail" or not count:
        return GateResult(check.name, check.display, model.qualified, status, check.severity, count,
                          seconds=seconds, sample=sample, threshold=threshold, quarantine=True)
    columns = [column for column, _ in model_columns]
    moved, matched = execute(conn, _move_statement(model, check, rejected, keys, columns, run_id)).fetchone()
    distinct = execute(conn, "SELECT count(DISTINCT to_jsonb(r.*)) FROM pg_temp.weir_gate_rows AS r").fetchone()[0]
    if matched != distinct:
        raise _CannotRun(
            f"{check.display}:{check.sql_line}: quarantine=true: {distinct - matched} of the rows the check"
            f" returned are not rows of {model.qualified} as built (a column computed or changed in the check?);"
            f" return the model's rows unchanged: SELECT * FROM {model.qualified} WHERE <bad condition>"
        )
    status = status if status == "warn" else "quarantined"
    return GateResult(check.name, check.display, model.qualified, status, check.severity, count, int(moved),
                      time.perf_counter() - started, sample, threshold, quarantine=True)


def _quarantine_status(check: Check, count: int) -> tuple[str, str | None]:
    """Judge a quarantine gate's count by the thresholds written in its header only.

    Without one, any number of rows is quarantined (the default error_if "> 0" would make
    quarantine pointless); an explicit error_if stops the build instead, warn_if notes.
    """
    if "error_if" in check.directives and check.error_if is not None and check.error_if.matches(count):
        return "fail", f"error_if {check.error_if}"
    warn_if = check.warn_if
    if warn_if is not None and ("warn_if" in check.directives or check.severity == "warn") and warn_if.matches(count):
        return "warn", f"warn_if {warn_if}"
    return "pass", None


# Moves rows of the model equal, column for column, to a row the check returned. With a
# unique key the join is by key (its index), the whole-row comparison only confirms; without
# one, rows are matched as jsonb, which every type has and which hashes. The check's rows
# that matched nothing are counted by comparing distinct rows moved and returned.
_MOVE = """
WITH moved AS (
    DELETE FROM {model} AS m USING {source} AS r
    WHERE {match}
    RETURNING m.*
), stored AS (
    INSERT INTO {rejected} AS j ({columns}, rejected_reason, rejected_by_check, rejected_run_id, rejected_at)
    SELECT {columns}, {reason}, {check}, {run_id}, now() FROM moved
    {conflict}
    RETURNING 1
)
SELECT (SELECT count(*) FROM stored), (SELECT count(DISTINCT to_jsonb(moved.*)) FROM moved)
"""


def _move_statement(
    model: Model, check: Check, rejected: sql.Identifier, keys: list[str], columns: list[str], run_id: int | None
) -> sql.Composed:
    from psycopg import sql

    if keys:
        source = sql.SQL("pg_temp.weir_gate_rows")
        match = sql.SQL("({}) = ({}) AND to_jsonb(m.*) = to_jsonb(r.*)").format(
            sql.SQL(", ").join(sql.SQL("m.{}").format(sql.Identifier(key)) for key in keys),
            sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(key)) for key in keys),
        )
        others = [column for column in columns if column not in keys] + [name for name, _ in REJECT_COLUMNS]
        conflict = sql.SQL("ON CONFLICT ({}) DO UPDATE SET {}").format(
            sql.SQL(", ").join(sql.Identifier(key) for key in keys),
            sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(sql.Identifier(column)) for column in others),
        )
    else:
        source = sql.SQL("(SELECT DISTINCT to_jsonb(t.*) AS row FROM pg_temp.weir_gate_rows AS t)")
        match = sql.SQL("to_jsonb(m.*) = r.row")
        conflict = sql.SQL("")
    return sql.SQL(_MOVE).format(
        model=_identifier(model),
        source=source,
        match=match,
        rejected=rejected,
        columns=sql.SQL(", ").join(sql.Identifier(column) for column in columns),
        reason=sql.Literal(check.description or f"returned by {check.display}"),
        check=sql.Literal(check.name),
        run_id=sql.Literal(run_id),
        conflict=conflict,
    )


def _prepare_rejected(
    conn: psycopg.Connection, model: Model, keys: list[str], rebuilt: bool
) -> tuple[sql.Identifier, str]:
    """Create `<model>__rejected` if missing (emptied when the model was rebuilt whole); return it and a note."""
    from psycopg import sql

    from runner.db.statements import derived_name, execute

    name = derived_name(model.name, REJECTED_SUFFIX)
    rejected = sql.Identifier(model.schema, name)
    shown = f"{model.schema}.{name}"
    model_columns = _typed_columns(conn, model.schema, model.name)
    clashing = [column for column, _ in model_columns if column in dict(REJECT_COLUMNS)]
    if clashing:
        raise _CannotRun(
            f"{model.display}:{model.sql_line}: the SELECT returns {', '.join(clashing)}, which {shown} adds"
            " itself for quarantined rows; rename that column in the model"
        )
    present = _typed_columns(conn, model.schema, name)
    note = ""
    if present and present != model_columns + list(REJECT_COLUMNS):
        if not rebuilt:
            raise _CannotRun(
                f"{model.display}:{model.sql_line}: {shown} has other columns than {model.qualified} plus"
                f" {', '.join(column for column, _ in REJECT_COLUMNS)}; rebuild the model from scratch"
                f" (weir build --full-refresh --select {model.qualified}) to recreate it"
            )
        execute(conn, sql.SQL("DROP TABLE {}").format(rejected))
        present, note = [], f"{shown} recreated: the model's columns changed"
    elif present and rebuilt:
        execute(conn, sql.SQL("DELETE FROM {}").format(rejected))
    if not present:
        execute(conn, sql.SQL(
            "CREATE TABLE {} AS SELECT m.*, NULL::text AS rejected_reason, NULL::text AS rejected_by_check,"
            " NULL::bigint AS rejected_run_id, NULL::timestamptz AS rejected_at FROM {} AS m WITH NO DATA"
        ).format(rejected, _identifier(model)))
        execute(conn, sql.SQL(
            "ALTER TABLE {} ALTER rejected_reason SET NOT NULL, ALTER rejected_by_check SET NOT NULL,"
            " ALTER rejected_at SET NOT NULL"
        ).format(rejected))
        if keys:
            execute(conn, sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                rejected,
                sql.Identifier(derived_name(name, "_pkey")),
                sql.SQL(", ").join(sql.Identifier(key) for key in keys),
            ))
        execute(conn, sql.SQL("COMMENT ON TABLE {} IS {}").format(rejected, sql.Literal(
            f"Rows of {model.qualified} its quarantine gates rejected (see runner/gates.py); with the model,"
            " every row its SELECT produced"
        )))
    return rejected, note


def _forget_loaded(conn: psycopg.Connection, rejected: sql.Identifier, keys: list[str], model: Model) -> int:
    """Delete from __rejected the keys the model holds now (a good version arrived); return how many."""
    from psycopg import sql

    from runner.db.statements import execute

    return max(execute(conn, sql.SQL("DELETE FROM {} AS j USING {} AS m WHERE ({}) = ({})").format(
        rejected,
        _identifier(model),
        sql.SQL(", ").join(sql.SQL("j.{}").format(sql.Identifier(key)) for key in keys),
        sql.SQL(", ").join(sql.SQL("m.{}").format(sql.Identifier(key)) for key in keys),
    )).rowcount, 0)


def _record(conn: psycopg.Connection, run_id: int | None, results: Sequence[GateResult]) -> None:
    with conn.cursor() as cursor:
        cursor.executemany(_RECORD, [
            {
                "run_id": run_id,
                "model": result.model,
                "check": result.check,
                "path": result.display,
                "status": result.status,
                "severity": result.severity,
                "violations": result.count,
                "rejected": result.rejected,
                "seconds": result.seconds,
                "sample": "[" + ", ".join(result.sample) + "]" if result.sample else None,
                "error": result.error,
            }
            for result in results
        ])


def _error(model: Model, check: Check, message: str, started: float) -> GateResult:
    return GateResult(check.name, check.display, model.qualified, "error", check.severity, None,
                      seconds=time.perf_counter() - started, error=message)


def _run_check(
    conn: psycopg.Connection, check: Check, prefix: str, suffix: str | sql.Composable = ""
) -> psycopg.Cursor:
    """Run the check's SELECT wrapped in `prefix` and `suffix`; an error names the check file's line."""
    import psycopg
    from psycopg import sql

    from runner.db.statements import execute

    tail = sql.SQL(suffix) if isinstance(suffix, str) else suffix
    try:
        return execute(conn, sql.Composed([sql.SQL(prefix), sql.SQL(check.sql), tail]))
    except psycopg.Error as exc:
        raise _CannotRun(_sql_error(check, exc, prefix)) from None


def _sql_error(check: Check, exc: Exception, prefix: str) -> str:
    """Return `checks/x.sql:LINE: gate could not run: message; what to do` for a gate PostgreSQL refused."""
    line = error_line(exc, check.sql, check.sql_line, sent_before=len(prefix))
    what = hint_of(exc) or "fix the check's SQL"
    return f"{check.display}:{line}: gate could not run: {primary_message(exc)}; {what}"


def _keys(model: Model) -> list[str]:
    return list(model.unique_key)


def _typed_columns(conn: psycopg.Connection, schema: str, name: str) -> list[tuple[str, str]]:
    """Return (name, type) of each column of relation `schema`.`name`, [] when it does not exist."""
    from runner.db.statements import execute

    return [(row[0], row[1]) for row in execute(conn, _COLUMNS, (schema, name))]


def _identifier(model: Model) -> sql.Identifier:
    from psycopg import sql

    return sql.Identifier(model.schema, model.name)


def _listed(columns: list[tuple[str, str]], shown: int = 8) -> str:
    names = [f"{name} {kind}" for name, kind in columns[:shown]]
    return ", ".join(names) + (f", ... {len(columns) - shown} more" if len(columns) > shown else "")


def _row_text(text: str) -> str:
    return text if len(text) <= _ROW_TEXT else text[: _ROW_TEXT - 3] + "..."

