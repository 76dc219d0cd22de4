"""`weir check`: run the selected checks read-only, in parallel, and append their results to history.

Each check runs on a connection of its own (at most `threads` at once) in a REPEATABLE READ,
READ ONLY transaction with a statement_timeout, which is always rolled back, so a check
can neither write nor leave a setting behind for the next one. In that one snapshot the
server counts the violations and, only when there are some, returns the first `show` of
them (runner/checks/query.py). Each result is then appended to weir.check_result in a short
write transaction of its own (runner/state/checks.py).

A check that meets a transient fault (a lost connection, a server restart, a serialization
failure) is run again with backoff (runner.db.retry). One that cannot run (bad SQL, a
missing table, a timeout, an attempt to write) is an `error`, never a `fail`: the exit code
is 2 for any error, else 1 for any failure, else 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import psycopg
from psycopg.adapt import Loader
from psycopg.types.datetime import DateLoader, TimestampLoader, TimestamptzLoader

from runner.checks.library import install_library
from runner.checks.query import CheckQueryFailed, Sample, count_violations, sample_violations
from runner.checks.results import STATUSES, CheckReport, CheckResult
from runner.db.connection import conninfo_of
from runner.db.errors import hint_of, primary_message
from runner.db.retry import CONNECTION_FAULTS, Retry, RunSession, transient_reason
from runner.db.workers import WorkerConnections
from runner.errors import ConfigError, ConnectionFailed
from runner.pii import install_masking, pii_masks, with_masks
from runner.project import Check, Project
from runner.project.checks import select_checks
from runner.project.settings import Retries
from runner.state.checks import (
    ensure_check_state,
    finish_check_run,
    last_seconds,
    record_check_result,
    start_check_run,
)


def checks_to_run(project: Project, select: Iterable[str] = (), threads: int = 1) -> list[Check]:
    """Return the checks `select` names (all by default), sorted by name, without touching a database.

    Raises ProjectFileError for a malformed check file, ConfigError for a selector naming
    nothing or a thread count below 1.
    """
    if threads < 1:
        raise ConfigError(f"--threads {threads}: use 1 or more")
    return select_checks(project.checks, _selectors(select))


def run_checks(
    conn: psycopg.Connection[Any],
    project: Project,
    *,
    select: Iterable[str] = (),
    threads: int = 1,
    on_result: Callable[[CheckResult], None] | None = None,
    on_progress: Callable[[str], None] = lambda message: None,
    on_start: Callable[[str], None] | None = None,
) -> CheckReport:
    """Run the selected checks of `project` on the database of `conn`, which must be in autocommit.

    Raises ProjectFileError or ConfigError before touching the database when a check file
    or a selector is wrong, CheckError when the history tables or check library cannot be
    set up. Checks that fail or cannot run do not raise: they are in the report, whose
    `exit_code` says which happened. `on_result` is called (on the calling thread) with each
    result as it arrives. Checks run on connections of their own, as the user of `conn`; a
    check that meets a transient fault (a lost connection, a server restart) is run again, and
    `on_progress` gets a line for each such retry; `on_start` the name of each check as it
    starts (on its worker thread).
    """
    started = time.perf_counter()
    selectors = _selectors(select)
    checks = checks_to_run(project, selectors, threads)
    timeout = project.settings.check_timeout
    if not conn.autocommit:
        raise ValueError("run_checks records results as they arrive: pass a connection in autocommit")
    install_library(conn)
    checks = with_masks(checks, pii_masks(conn, project))
    install_masking(conn, checks=checks)
    ensure_check_state(conn)
    run_id = start_check_run(conn, selectors, threads, len(checks))
    status, counts = "interrupted", dict.fromkeys(STATUSES, 0)
    session = RunSession(conn, "weir check")
    retries = project.settings.retries
    try:
        order = _longest_first(conn, checks) if threads > 1 and len(checks) > 1 else checks
        runner = _Runner(session, timeout, run_id, threads, on_result or (lambda result: None), retries, on_progress)
        runner.on_start = on_start or (lambda name: None)
        by_name = runner.run(order)
        report = CheckReport(run_id, [by_name[check.name] for check in checks], time.perf_counter() - started)
        status, counts = report.status, report.counts()
        return report
    finally:
        try:
            if status != "interrupted":
                Retry(retries, "check run", on_progress, session.ensure).run(
                    lambda tried: finish_check_run(session.conn, run_id, status, counts)
                )
            elif not session.conn.closed:
                finish_check_run(session.conn, run_id, status, counts)
        finally:
            session.close()


def prepare_checks(conn: psycopg.Connection[Any], project: Project, threads: int = 1) -> list[Check]:
    """Set up what running every check of `project` needs (library, masking, history); return the checks.

    For `weir run --atomic`, which runs them in its build's transaction (check_in_transaction)
    and records their results after it ends (record_results): the setup writes, so it comes first.
    """
    checks = with_masks(checks_to_run(project, (), threads), pii_masks(conn, project))
    install_library(conn)
    install_masking(conn, checks=checks)
    ensure_check_state(conn)
    return checks


def check_in_transaction(conn: psycopg.Connection[Any], check: Check, timeout: str) -> CheckResult:
    """Run `check` on `conn`, in its open transaction, in a read-only savepoint that is always rolled back.

    It sees what the transaction has done (an atomic build's relations built aside). Its
    result is not recorded: the transaction may yet roll back (record_results does, after).
    """
    started = time.perf_counter()
    _tolerate_infinity(conn)
    try:
        with conn.transaction(force_rollback=True):
            conn.execute("SET LOCAL transaction_read_only = on")
            conn.execute("SELECT set_config('statement_timeout', %s, true)", (timeout,))
            count = count_violations(conn, check)
            sample = sample_violations(conn, check, values=True) if count else Sample()
    except CheckQueryFailed as failed:
        return _error(check, _message(failed.location, failed.error, timeout), started)
    except psycopg.Error as exc:  # one of Weir's own statements around the check
        return _error(check, _message(f"{check.display}:{check.sql_line}", exc, timeout), started)
    status, threshold = check.status_for(count)
    return CheckResult(
        name=check.name, display=check.display, status=status, severity=check.severity, count=count,
        seconds=time.perf_counter() - started, columns=sample.columns, rows=sample.values, sample=sample.objects,
        threshold=threshold, description=check.description, tags=check.tags,
    )


def record_results(conn: psycopg.Connection[Any], results: list[CheckResult], threads: int,
                   seconds: float) -> CheckReport:
    """Append results run elsewhere (check_in_transaction) to the check history as one run; return its report."""
    results = sorted(results, key=lambda result: result.name)
    run_id = start_check_run(conn, (), threads, len(results))
    for result in results:
        record_check_result(conn, run_id, result)
    report = CheckReport(run_id, results, seconds)
    finish_check_run(conn, run_id, report.status, report.counts())
    return report


def _selectors(select: Iterable[str]) -> tuple[str, ...]:
    return (select,) if isinstance(select, str) else tuple(select)


def _longest_first(conn: psycopg.Connection[Any], checks: list[Check]) -> list[Check]:
    """Order checks by their last run's time, longest (or never timed) first, so threads finish together."""
    last = last_seconds(conn, [check.name for check in checks])
    return sorted(checks, key=lambda check: -last.get(check.name, float("inf")))


def _prepare_connection(conn: psycopg.Connection[Any]) -> None:
    """Set up a check connection: cheap history writes, and infinite timestamps shown, not fatal."""
    # A result row is history, not data: waiting for each one's WAL flush cost more than the
    # checks themselves on small runs. The run's closing update, on the main connection, flushes.
    conn.execute("SET synchronous_commit = off")
    _tolerate_infinity(conn)


def _tolerate_infinity(conn: psycopg.Connection[Any]) -> None:
    for name, base in (("date", DateLoader), ("timestamp", TimestampLoader), ("timestamptz", TimestamptzLoader)):
        conn.adapters.register_loader(name, _infinity_tolerant(base))


def _infinity_tolerant(base: type[Loader]) -> type[Loader]:
    """A psycopg loader that returns 'infinity' and '-infinity' as text instead of failing."""

    class InfinityTolerant(base):  # type: ignore[valid-type, misc]  # a class made from a runtime base
        def load(self, data: Any) -> Any:
            if bytes(data) in (b"infinity", b"-infinity"):
                return bytes(data).decode()
            return super().load(data)

    return InfinityTolerant


class _Runner:
    """One check run: a thread pool whose workers each keep a connection."""

    def __init__(
        self,
        session: RunSession,
        timeout: str,
        run_id: int,
        threads: int,
        emit: Callable[[CheckResult], None],
        retries: Retries,
        on_progress: Callable[[str], None],
    ) -> None:
        self.session, self.timeout, self.run_id, self.threads, self.emit = session, timeout, run_id, threads, emit
        self.retries, self.on_progress = retries, on_progress
        self.workers = WorkerConnections(conninfo_of(session.conn), "weir check", prepare=_prepare_connection)
        self.on_start: Callable[[str], None] = lambda name: None  # each check's name as it starts

    def run(self, checks: list[Check]) -> dict[str, CheckResult]:
        results: dict[str, CheckResult] = {}
        executor = ThreadPoolExecutor(max_workers=min(self.threads, max(len(checks), 1)),
                                      thread_name_prefix="weir-check")
        try:
            running: set[Future[CheckResult]] = {executor.submit(self._run_one, check) for check in checks}
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
        """Run `check` on this thread's connection, again after a transient fault, and record its result."""
        started = time.perf_counter()
        self.on_start(check.name)
        retry = Retry(self.retries, f"check {check.name}", self.on_progress, self.session.ensure)
        try:
            count, sample = retry.run(lambda tried: self._query(check))
        except ConnectionFailed as exc:
            result = _error(check, f"{check.display}:{check.sql_line}: {exc}{retry.gave_up}", started)
        except CheckQueryFailed as failed:
            result = _error(check, self._message(failed.location, failed.error) + retry.gave_up, started)
        except psycopg.Error as exc:  # one of Weir's own statements around the check
            result = _error(check, self._message(f"{check.display}:{check.sql_line}", exc) + retry.gave_up, started)
        else:
            status, threshold = check.status_for(count)
            result = CheckResult(
                name=check.name,
                display=check.display,
                status=status,
                severity=check.severity,
                count=count,
                seconds=time.perf_counter() - started,
                columns=sample.columns,
                rows=sample.values,
                sample=sample.objects,
                threshold=threshold,
                description=check.description,
                tags=check.tags,
            )
        conn = self.workers.current()
        if conn is None:
            self._record_elsewhere(result)
        else:
            record_check_result(conn, self.run_id, result)
        return result

    def _query(self, check: Check) -> tuple[int, Sample]:
        """Count `check`'s violations and sample them in one read-only snapshot; raise what stopped it."""
        conn = self.workers.get()
        with self.workers.busy(check.name, conn):
            # Rolled back even when it succeeds: a set_config() in a check must not outlive it.
            with conn.transaction(force_rollback=True):
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                conn.execute("SELECT set_config('statement_timeout', %s, true)", (self.timeout,))
                count = count_violations(conn, check)
                sample = sample_violations(conn, check, values=True) if count else Sample()
        return count, sample

    def _message(self, location: str, exc: psycopg.Error) -> str:
        return _message(location, exc, self.timeout)

    def _record_elsewhere(self, result: CheckResult) -> None:
        """Record a result on the run's own connection: this thread's is lost or could not be opened."""
        self.workers.forget()
        # psycopg serialises a connection shared by threads.
        Retry(self.retries, f"check {result.name}", self.on_progress, self.session.ensure).run(
            lambda tried: record_check_result(self.session.conn, self.run_id, result)
        )



def _message(location: str, exc: psycopg.Error, timeout: str) -> str:
    """Return `path:line: message; what to do` for a check PostgreSQL could not run."""
    primary, sqlstate, hint = primary_message(exc), exc.sqlstate or "", hint_of(exc)
    if sqlstate == "57014" and "statement timeout" in primary:
        return (f"{location}: ran longer than check_timeout ({timeout}) and was cancelled;"
                " make the check faster or raise [weir] check_timeout in setup.cfg")
    if sqlstate == "25006":
        what = "a check only reads: move the change to a migration or a model"
    elif hint:
        what = hint
    elif sqlstate in ("42P01", "3F000"):
        what = "fix the name, or create it first (weir migrate, weir build)"
    elif transient_reason(exc) in CONNECTION_FAULTS:
        what = "the connection was lost; check the server and run the check again"
    else:
        what = "fix the check's SQL"
    return f"{location}: {primary}; {what}"


def _error(check: Check, message: str, started: float) -> CheckResult:
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
