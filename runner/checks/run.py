"""`weir check`: run the selected checks read-only, in parallel, and append their results to history.

Each check runs on a connection of its own (at most `threads` at once) in a REPEATABLE READ,
READ ONLY transaction with a statement_timeout, which is always rolled back, so a check
can neither write nor leave a setting behind for the next one. In that one snapshot the
server counts the violations (`SELECT count(*) FROM (<check>) AS violations`) and, only
when there are some, returns the first `show` of them: no other row reaches Python.
Each result is then appended to weir.check_result in a short write transaction of its own.

A check that cannot run (bad SQL, a missing table, a timeout, an attempt to write) is an
`error`, never a `fail`: the exit code is 2 for any error, else 1 for any failure, else 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from runner.db.errors import error_line, hint_of, primary_message
from runner.errors import EXIT_ERROR, EXIT_FAIL, EXIT_OK, CheckError, ConfigError

if TYPE_CHECKING:
    import psycopg

    from runner.project.checks import Check
    from runner.project.settings import Settings

STATUSES = ("pass", "warn", "fail", "error")
LATEST_HEADERS = ("check", "status", "violations", "seconds", "run", "finished at")


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
    rows: tuple[tuple, ...] = ()  # the first `show` violations, as Python values
    sample: tuple[dict, ...] = ()  # the same rows as jsonb objects, as stored in history
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


@dataclass(frozen=True)
class LatestResult:
    """The most recent recorded result of one check, for `weir status`."""

    check: str
    path: str
    status: str
    violations: int | None
    seconds: float
    run_id: int
    finished_at: datetime
    error: str | None

    @property
    def row(self) -> tuple:
        """The row under LATEST_HEADERS."""
        return (self.check, self.status, self.violations, self.seconds, self.run_id, self.finished_at)


def run_checks(
    conninfo: str,
    settings: Settings,
    *,
    select: Iterable[str] = (),
    threads: int = 1,
    on_result: Callable[[CheckResult], None] | None = None,
) -> CheckReport:
    """Run the selected checks of the project in `settings` on database `conninfo`.

    Raises ProjectFileError or ConfigError before touching the database when a check file
    or a selector is wrong, ConnectionFailed when the database cannot be reached, CheckError
    when the history tables or check library cannot be set up. Checks that fail or cannot
    run do not raise: they are in the report, whose `exit_code` says which happened.
    `on_result` is called (on the calling thread) with each result as it arrives.
    """
    from runner.db.connection import connect
    from runner.project.checks import read_checks, select_checks

    started = time.perf_counter()
    if threads < 1:
        raise ConfigError(f"--threads {threads}: use 1 or more")
    selectors = tuple(select) if not isinstance(select, str) else (select,)
    timeout = settings.check_timeout
    checks = select_checks(read_checks(settings.checks_dir, settings.root), selectors)
    conn = connect(conninfo, "weir check")
    try:
        install_library(conn)
        ensure_check_state(conn)
        run_id = _start_run(conn, selectors, threads, len(checks))
        status = "interrupted"
        try:
            order = _longest_first(conn, checks) if threads > 1 and len(checks) > 1 else checks
            runner = _Runner(conninfo, conn, timeout, run_id, threads, on_result or (lambda result: None))
            by_name = runner.run(order)
            report = CheckReport(run_id, [by_name[check.name] for check in checks], time.perf_counter() - started)
            status = report.status
            return report
        finally:
            if not conn.closed and not conn.broken:
                counts = report.counts() if status != "interrupted" else dict.fromkeys(STATUSES, 0)
                conn.execute(_FINISH_RUN, {"run_id": run_id, "status": status, **counts})
    finally:
        conn.close()


def install_library(conn: psycopg.Connection) -> None:
    """Install the weir.* check functions (runner.checks.library), so check files can call them."""
    import psycopg

    from runner.checks.library import install

    try:
        install(conn)
    except psycopg.Error as exc:
        raise CheckError(
            f"cannot install the check functions in schema weir: {primary_message(exc)};"
            " grant this role CREATE on the database (or on schema weir), or install them once as its owner"
        ) from None


def ensure_check_state(conn: psycopg.Connection) -> None:
    """Create weir.check_run and weir.check_result if they are missing."""
    import psycopg

    from runner.state.schema import install

    try:
        install(conn, "check_state", "SELECT EXISTS (SELECT FROM pg_class"
                " WHERE relname = 'check_result' AND relnamespace::regnamespace::text = 'weir')")
    except psycopg.Error as exc:
        raise CheckError(
            f"cannot create Weir's check history tables in schema weir: {primary_message(exc)};"
            " grant this role CREATE on the database, or run weir check once as a role that has it"
        ) from None


def latest_results(conn: psycopg.Connection) -> list[LatestResult]:
    """Return the latest recorded result of every check ever run, by check name (none before the first run)."""
    if not conn.execute("SELECT to_regclass('weir.check_result') IS NOT NULL").fetchone()[0]:
        return []
    return [LatestResult(*row[:4], float(row[4]), *row[5:]) for row in conn.execute(_LATEST)]


# ---------------------------------------------------------------------------------------------

_START_RUN = """
INSERT INTO weir.check_run (selectors, threads, checks)
VALUES (%(selectors)s, %(threads)s, %(checks)s)
RETURNING run_id
"""
_FINISH_RUN = """
UPDATE weir.check_run
SET status = %(status)s, finished_at = clock_timestamp(),
    passed = %(pass)s, warned = %(warn)s, failed = %(fail)s, errored = %(error)s
WHERE run_id = %(run_id)s
"""
_RECORD_RESULT = """
INSERT INTO weir.check_result (run_id, check_name, path, status, severity, violations, seconds, sample, error)
VALUES (%(run_id)s, %(check)s, %(path)s, %(status)s, %(severity)s, %(violations)s,
        round(%(seconds)s::numeric, 3), %(sample)s, %(error)s)
"""
_LATEST = """
SELECT DISTINCT ON (check_name) check_name, path, status, violations, seconds, run_id, finished_at, error
FROM weir.check_result
ORDER BY check_name, run_id DESC
"""
_LAST_SECONDS = """
SELECT DISTINCT ON (check_name) check_name, seconds
FROM weir.check_result
WHERE check_name = ANY(%(names)s) AND status <> 'error'
ORDER BY check_name, run_id DESC
"""
# The check's SELECT goes on lines of its own: a PostgreSQL error position maps back to its line.
_COUNT_PREFIX = "SELECT count(*) FROM (\n"
# Materialized, so the LIMIT cannot talk the planner into another (possibly far slower) plan
# than the count just used.
_SAMPLE_PREFIX = "WITH violations AS MATERIALIZED (\n"
_SAMPLE_SUFFIX = "\n) SELECT to_jsonb(violations.*) AS weir_sample, violations.* FROM violations LIMIT {}"


def _prepare_connection(conn: psycopg.Connection) -> None:
    """Set up a check connection: cheap history writes, and infinite timestamps shown, not fatal."""
    from psycopg.types.datetime import DateLoader, TimestampLoader, TimestamptzLoader

    # A result row is history, not data: waiting for each one's WAL flush cost more than the
    # checks themselves on small runs. The run's closing update, on the main connection, flushes.
    conn.execute("SET synchronous_commit = off")
    for name, base in (("date", DateLoader), ("timestamp", TimestampLoader), ("timestamptz", TimestamptzLoader)):
        conn.adapters.register_loader(name, _infinity_tolerant(base))


def _infinity_tolerant(base: type) -> type:
    """A psycopg loader that returns 'infinity' and '-infinity' as text instead of failing."""

    class Loader(base):  # type: ignore[misc, valid-type]
        def load(self, data):  # noqa: ANN001, ANN202
            if bytes(data) in (b"infinity", b"-infinity"):
                return bytes(data).decode()
            return super().load(data)

    return Loader


def _start_run(conn: psycopg.Connection, selectors: tuple[str, ...], threads: int, checks: int) -> int:
    params = {"selectors": list(selectors), "threads": threads, "checks": checks}
    return conn.execute(_START_RUN, params).fetchone()[0]


def _longest_first(conn: psycopg.Connection, checks: list[Check]) -> list[Check]:
    """Order checks by their last run's time, longest (or never timed) first, so threads finish together."""
    last = dict(conn.execute(_LAST_SECONDS, {"names": [check.name for check in checks]}).fetchall())
    return sorted(checks, key=lambda check: -float(last.get(check.name, float("inf"))))


class _Runner:
    """One check run: a thread pool whose workers each keep a connection."""

    def __init__(
        self,
        conninfo: str,
        main: psycopg.Connection,
        timeout: str,
        run_id: int,
        threads: int,
        emit: Callable[[CheckResult], None],
    ) -> None:
        from runner.db.workers import WorkerConnections

        self.conninfo, self.main, self.timeout, self.run_id = conninfo, main, timeout, run_id
        self.threads, self.emit = threads, emit
        self.workers = WorkerConnections(conninfo, "weir check", prepare=_prepare_connection)

    def run(self, checks: list[Check]) -> dict[str, CheckResult]:
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        results: dict[str, CheckResult] = {}
        executor = ThreadPoolExecutor(max_workers=min(self.threads, max(len(checks), 1)),
                                      thread_name_prefix="weir-check")
        try:
            running = {executor.submit(self._run_one, check) for check in checks}
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    results[result.name] = result
                    self.emit(result)
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            self.workers.cancel_all()
            raise
        finally:
            executor.shutdown(wait=True)
            self.workers.close_all()
        return results

    def _run_one(self, check: Check) -> CheckResult:
        """Run `check` on this thread's connection and record its result."""
        import psycopg
        from psycopg import sql

        from runner.errors import ConnectionFailed

        started = time.perf_counter()
        try:
            conn = self.workers.get()
        except ConnectionFailed as exc:
            result = self._error(check, f"{check.display}:{check.sql_line}: {exc}", started)
            self._record_elsewhere(result)
            return result
        with self.workers.busy(check.name, conn):
            count_query = _COUNT_PREFIX + check.sql + "\n) AS violations"
            sample_query = sql.SQL(_SAMPLE_PREFIX + "{}" + _SAMPLE_SUFFIX).format(
                sql.SQL(check.sql), sql.Literal(check.show)
            )
            columns: tuple[str, ...] = ()
            rows: list[tuple] = []
            prefix = ""
            try:
                # Rolled back even when it succeeds: a set_config() in a check must not outlive it.
                with conn.transaction(force_rollback=True):
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    conn.execute("SELECT set_config('statement_timeout', %s, true)", (self.timeout,))
                    prefix = _COUNT_PREFIX
                    count = conn.execute(count_query).fetchone()[0]
                    if count and check.show:
                        prefix = _SAMPLE_PREFIX
                        cursor = conn.execute(sample_query)
                        columns = tuple(column.name for column in cursor.description[1:])
                        rows = cursor.fetchall()
            except psycopg.Error as exc:
                lost = conn.broken or conn.closed
                result = self._error(check, self._message(check, exc, prefix, lost), started)
            else:
                status, threshold = check.status_for(count)
                result = CheckResult(
                    name=check.name,
                    display=check.display,
                    status=status,
                    severity=check.severity,
                    count=count,
                    seconds=time.perf_counter() - started,
                    columns=columns,
                    rows=tuple(tuple(row[1:]) for row in rows),
                    sample=tuple(row[0] for row in rows),
                    threshold=threshold,
                    description=check.description,
                    tags=check.tags,
                )
        if conn.broken or conn.closed:
            self._record_elsewhere(result)
        else:
            self._record(conn, result)
        return result

    def _error(self, check: Check, message: str, started: float) -> CheckResult:
        return CheckResult(
            name=check.name,
            display=check.display,
            status="error",
            severity=check.severity,
            count=None,
            seconds=time.perf_counter() - started,
            error=message,
            description=check.description,
            tags=check.tags,
        )

    def _message(self, check: Check, exc: Exception, prefix: str, lost: bool) -> str:
        """Return `path:line: message; what to do` for a check PostgreSQL could not run."""
        line = error_line(exc, check.sql, check.sql_line, sent_before=len(prefix)) if prefix else check.sql_line
        primary = primary_message(exc)
        sqlstate = getattr(exc, "sqlstate", None) or ""
        hint = hint_of(exc)
        if sqlstate == "57014" and "statement timeout" in primary:
            advice = (f"ran longer than check_timeout ({self.timeout}) and was cancelled;"
                      " make the check faster or raise [weir] check_timeout in setup.cfg")
            return f"{check.display}:{line}: {advice}"
        if sqlstate == "25006":
            what = "a check only reads: move the change to a migration or a model"
        elif hint:
            what = hint
        elif sqlstate in ("42P01", "3F000"):
            what = "fix the name, or create it first (weir migrate, weir build)"
        elif lost:
            what = "the connection was lost; check the server and run the check again"
        else:
            what = "fix the check's SQL"
        return f"{check.display}:{line}: {primary}; {what}"

    def _record(self, conn: psycopg.Connection, result: CheckResult) -> None:
        import psycopg
        from psycopg.types.json import Jsonb

        params = {
            "run_id": self.run_id,
            "check": result.name,
            "path": result.display,
            "status": result.status,
            "severity": result.severity,
            "violations": result.count,
            "seconds": result.seconds,
            "sample": Jsonb(list(result.sample)) if result.sample else None,
            "error": result.error,
        }
        try:
            conn.execute(_RECORD_RESULT, params)
        except psycopg.Error as exc:
            raise CheckError(
                f"{result.display}: cannot record the result in weir.check_result: {primary_message(exc)};"
                " check that schema weir is intact and this role may insert into it"
            ) from None

    def _record_elsewhere(self, result: CheckResult) -> None:
        """Record a result on the run's own connection: this thread's is lost or could not be opened."""
        self.workers.forget()
        self._record(self.main, result)  # psycopg serialises a connection shared between threads

