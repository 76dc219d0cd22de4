"""`weir verify`: prove every rollback on a scratch database.

For each migration in order: fingerprint, apply, fingerprint, roll back, compare
with the first fingerprint, apply again, compare with the second. The first
migration that fails stops the run, since every later one builds on it; with
keep_going, a failed rollback is reported and the run goes on from a fresh scratch
database with every migration up to the failed one applied, so one run reports
every leaky rollback. A migration that cannot even be applied still stops it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from runner.db.connection import connect, conninfo_of, describe
from runner.errors import ConnectionFailed, MigrationFailed, VerifyFailed
from runner.migrate.fingerprint import diff, fingerprint
from runner.migrate.steps import Step, forward_step, rollback_path, rollback_step, run_step
from runner.project import Project
from runner.project.migrations import Migration
from runner.project.settings import Timeouts

SCRATCH_PREFIX = "weir_verify_"
_LEGEND = "(+ extra, - missing, ~ changed)"
_LISTED = 10  # differences named in the one-line error before "and N more"


@dataclass
class MigrationResult:
    """What verify found for one migration."""

    id: str
    display: str
    status: str  # "ok", "failed" or "skipped"
    seconds: float
    differences: list[str] = field(default_factory=list)
    message: str = ""  # why it failed or was skipped, one line that names the file; differences apart
    fix: str = ""  # the file to fix, shown after the differences
    stage: str = ""  # where it failed: "apply" (nothing after it can be verified), "rollback" or "reapply"


@dataclass
class VerifyReport:
    """Per-migration results of a verify run, in order; it stops at the first failure unless keeping going."""

    results: list[MigrationResult] = field(default_factory=list)
    untried: int = 0  # migrations after a failure that stopped the run

    @property
    def ok(self) -> bool:
        return all(result.status != "failed" for result in self.results)

    @property
    def failure(self) -> MigrationResult | None:
        return next((result for result in self.results if result.status == "failed"), None)

    @property
    def failures(self) -> list[MigrationResult]:
        return [result for result in self.results if result.status == "failed"]


def verify(
    conn: psycopg.Connection[Any],
    project: Project,
    *,
    on_step: Callable[[MigrationResult], None] | None = None,
    keep_going: bool = False,
) -> VerifyReport:
    """Verify every migration of `project` on a scratch database on the server of autocommit `conn`.

    Raises VerifyFailed on the first failure, in one line; with `keep_going`, after every
    migration that can be verified, naming each failure and counting them. Scratch
    databases are dropped either way.
    """
    migrations, timeouts = project.migrations, project.settings.timeouts
    report = VerifyReport()
    while len(report.results) < len(migrations):
        done = len(report.results)
        with scratch_database(conn) as scratch:
            scratch_conn = connect(scratch, "weir verify")
            try:
                _rebuild(scratch_conn, migrations[:done], timeouts)
                part = verify_migrations(scratch_conn, migrations[done:], timeouts, on_step)
            finally:
                scratch_conn.close()
        report.results += part.results
        failed = part.failure
        if failed is None:
            break
        if not keep_going or failed.stage == "apply":
            report.untried = len(migrations) - len(report.results)
            break
    if report.failures:
        raise VerifyFailed(failures_text(report, len(migrations)))
    return report


def _rebuild(conn: psycopg.Connection[Any], migrations: list[Migration], timeouts: Timeouts) -> None:
    """Apply `migrations` forward on a fresh scratch database: where the run left off before a failure."""
    for migration in migrations:
        try:
            _run(conn, forward_step(migration, timeouts))
        except MigrationFailed as exc:
            raise VerifyFailed(f"{exc} (applying it again on a fresh scratch database, to go on after a failure)"
                               ) from None


def verify_migrations(
    conn: psycopg.Connection[Any],
    migrations: list[Migration],
    timeouts: Timeouts,
    on_step: Callable[[MigrationResult], None] | None = None,
) -> VerifyReport:
    """Apply, roll back and re-apply each migration on the scratch database `conn`; report each."""
    report = VerifyReport()
    for migration in migrations:
        result = _verify_one(conn, migration, timeouts)
        report.results.append(result)
        if on_step is not None:
            on_step(result)
        if result.status == "failed":
            break
    return report


def _verify_one(conn: psycopg.Connection[Any], migration: Migration, timeouts: Timeouts) -> MigrationResult:
    started = time.perf_counter()
    forward = forward_step(migration, timeouts)

    def result(
        status: str, message: str = "", differences: list[str] | None = None, fix: str = "", stage: str = ""
    ) -> MigrationResult:
        seconds = time.perf_counter() - started
        return MigrationResult(migration.id, migration.display, status, seconds, differences or [], message, fix,
                               stage)

    before = fingerprint(conn)
    try:
        _run(conn, forward)
    except MigrationFailed as exc:
        return result("failed", f"{exc} (on a scratch database, after the migrations before it)", stage="apply")
    applied = fingerprint(conn)
    if migration.irreversible:
        return result("skipped", f"irreversible: {migration.irreversible}")

    backward = rollback_step(migration, timeouts, display=rollback_path(migration))
    try:
        _run(conn, backward)
    except MigrationFailed as exc:
        return result("failed", f"{exc} (rolling back right after {migration.display})", stage="rollback")
    differences = diff(before, fingerprint(conn))
    if differences:
        return result("failed", f"{migration.display}: rollback does not restore the schema {_LEGEND}",
                      differences, backward.display, "rollback")

    try:
        _run(conn, forward)
    except MigrationFailed as exc:
        return result("failed", f"{exc} (applying it again after its rollback: the rollback leaves something"
                      " behind)", fix=backward.display, stage="reapply")
    differences = diff(applied, fingerprint(conn))
    if differences:
        return result("failed", f"{migration.display}: applying it again after its rollback gives a different"
                      f" schema {_LEGEND}", differences, backward.display, "reapply")
    return result("ok")


def _run(conn: psycopg.Connection[Any], step: Step) -> None:
    # A scratch database needs no durable commits.
    run_step(conn, step, durable=False)


def format_failure(report: VerifyReport) -> str:
    """Describe the failed migration of `report` for a terminal: a headline, then one line per object."""
    failed = report.failure
    if failed is None:
        return ""
    lines = [failed.message]
    lines += [f"  {difference}" for difference in failed.differences]
    if failed.fix:
        lines.append(f"fix {failed.fix}")
    return "\n".join(lines)


def failure_line(result: MigrationResult) -> str:
    """Describe a failed migration in one line, as VerifyFailed's message."""
    listed = result.differences[:_LISTED]
    more = len(result.differences) - len(listed)
    text = result.message
    if listed:
        text += ": " + ", ".join(listed) + (f" and {more} more" if more else "")
    return text + (f"; fix {result.fix}" if result.fix else "")


def failures_text(report: VerifyReport, total: int) -> str:
    """Describe the failures of `report`: one in one line, several one a line under a headline counting them."""
    failures = report.failures
    untried = f"; the {report.untried} migration(s) after it were not verified" if report.untried else ""
    if len(failures) == 1:
        return failure_line(failures[0]) + untried
    lines = [f"{len(failures)} of {total} migration(s) failed verify{untried}:"]
    lines += [f"  {failure_line(failure)}" for failure in failures]
    return "\n".join(lines)


@contextmanager
def scratch_database(conn: psycopg.Connection[Any]) -> Iterator[str]:
    """Create an empty database `weir_verify_<hex>` on the server of autocommit `conn`; yield its conninfo.

    The database is dropped afterwards, also when the body fails.
    """
    name = SCRATCH_PREFIX + secrets.token_hex(6)
    try:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.errors.InsufficientPrivilege:
        raise ConnectionFailed(
            f"cannot create a scratch database on {describe(conn)}: permission denied;"
            " weir verify needs a role with CREATEDB (ALTER ROLE ... CREATEDB), or --dsn for one that has it"
        ) from None
    try:
        yield make_conninfo(conninfo_of(conn), dbname=name)
    finally:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
