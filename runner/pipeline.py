"""`weir run`: migrate, then the models' unit tests, then build (with gates), then check, with one summary.

A failing unit test (runner.unittests) stops the run before anything is built.

With --atomic the checks run inside the build's transaction, after its last model and
before its release, reading what the run built aside (runner.build.release.check_reading):
a failing check of severity error releases nothing, so every model keeps its previous
version. Their results are recorded after the transaction ends, whichever way it ended.

Each stage is idempotent, so re-running after a failure converges: applied
migrations are not re-applied, unchanged models are skipped, checks only read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from runner.build.graph import ModelGraph
from runner.build.release import Shadows, check_reading
from runner.build.report import BuildEvent, BuildReport
from runner.build.run import build
from runner.checks import CheckReport, CheckResult, run_checks
from runner.checks.run import check_in_transaction, prepare_checks, record_results
from runner.db.retry import Retry, RunSession
from runner.errors import EXIT_FAIL, EXIT_OK, MigrationFailed, WeirError
from runner.migrate import StepResult, migrate
from runner.project import Check, Project

if TYPE_CHECKING:
    from runner.reports.junit import Suite
    from runner.unittests.run import UnitTestReport


@dataclass
class PipelineReport:
    """What each stage of a run did; stages after a failed migration do not run."""

    migrations: list[StepResult] = field(default_factory=list)
    migration_error: str | None = None
    unit_tests: UnitTestReport | None = None  # None: the project has no unit_tests/ directory
    unit_test_error: str | None = None  # why the unit tests could not run at all (e.g. a model fails to build)
    build: BuildReport | None = None
    checks: CheckReport | None = None
    started: dict[str, datetime] = field(default_factory=dict)  # when each stage that ran began
    seconds: dict[str, float] = field(default_factory=dict)  # and how long it took

    @property
    def exit_code(self) -> int:
        """1 if a migration or model failed or a check failed, 2 if a check could not run; else 0."""
        if self.unit_test_error:
            return EXIT_FAIL
        if self.unit_tests is not None and not self.unit_tests.ok:
            return self.unit_tests.exit_code
        if self.migration_error or (self.build is not None and not self.build.ok):
            return max(EXIT_FAIL, self.checks.exit_code if self.checks else EXIT_FAIL)
        return self.checks.exit_code if self.checks else EXIT_OK

    def summary(self) -> list[str]:
        """One line per stage."""
        lines = []
        if self.migration_error:
            lines.append(f"migrate: FAILED: {self.migration_error}")
        else:
            lines.append(f"migrate: {len(self.migrations)} applied")
        if self.unit_test_error:
            lines.append(f"test:    FAILED: {self.unit_test_error}; nothing built")
        if self.unit_tests is not None:
            counts = ", ".join(f"{n} {status}" for status, n in self.unit_tests.counts().items() if n) or "none"
            lines.append(f"test:    {counts}" + ("" if self.unit_tests.ok else "; nothing built"))
        if self.build is not None:
            counts = ", ".join(f"{n} {status}" for status, n in self.build.counts().items() if n) or "no models"
            window = self.build.lock_window
            released = "" if window is None else f"; released atomically, lock window {window * 1000:.0f} ms"
            lines.append(f"build:   {counts}{released}")
        if self.checks is not None:
            counts = ", ".join(f"{n} {status}" for status, n in self.checks.counts().items() if n) or "no checks"
            lines.append(f"check:   {counts}")
        return lines


    def junit_suites(self) -> list[Suite]:
        """One JUnit suite per stage that ran: each migration applied, each model, each check."""
        from runner.reports.junit import Case, Suite

        migrate = Suite("weir migrate", self.started.get("migrate", datetime.now()), self.seconds.get("migrate", 0.0))
        for step in self.migrations:
            migrate.cases.append(Case(step.id, "migrations", step.milliseconds / 1000))
        if self.migration_error:
            path = self.migration_error.split(":", 1)[0]
            failed = path if path.endswith(".sql") else "migrate"
            migrate.cases.append(Case(failed, "migrations", 0.0, "error", self.migration_error, self.migration_error))
        suites = [migrate]
        if self.unit_tests is not None:
            from runner.unittests.report import junit_suite as unit_test_suite

            suites.append(unit_test_suite(self.unit_tests, self.started["test"]))
        elif self.unit_test_error:
            stopped = Case("unit tests", "unit_tests", 0.0, "error", self.unit_test_error, self.unit_test_error)
            suites.append(Suite("weir test", self.started["test"], self.seconds["test"], cases=[stopped]))
        if self.build is not None:
            suites.append(self.build.junit_suite(self.started["build"], self.seconds["build"]))
        if self.checks is not None:
            from runner.checks.report import junit_suite

            suites.append(junit_suite(self.checks, self.started["check"]))
        return suites

    def json_results(self) -> dict[str, Any]:
        """Return the `results` of `weir run --json`: each stage's own results, null for one that did not run."""
        from runner.checks.report import json_results
        from runner.unittests.report import json_results as unit_test_results

        return {
            "migrations": {
                "applied": [{"id": step.id, "file": step.display, "seconds": round(step.milliseconds / 1000, 3)}
                            for step in self.migrations],
                "error": self.migration_error,
            },
            "unit_tests": unit_test_results(self.unit_tests) if self.unit_tests is not None else (
                {"counts": {"pass": 0, "fail": 0, "error": 0}, "tests": [], "error": self.unit_test_error}
                if self.unit_test_error else None
            ),
            "build": self.build.json_results() if self.build is not None else None,
            "checks": json_results(self.checks) if self.checks is not None else None,
        }

    @property
    def status(self) -> str:
        """pass, warn, fail or error: the worst outcome of the run, as `weir check` names them."""
        if self.exit_code == EXIT_OK:
            return self.checks.status if self.checks is not None else "pass"
        return "error" if self.exit_code > EXIT_FAIL else "fail"


def validate_project(project: Project) -> None:
    """Read every migration, model, check and unit test, so a malformed file stops the run before it migrates."""
    project.migrations  # noqa: B018  (read now: the properties raise for a malformed file)
    ModelGraph(project.models, project.seeds)
    project.gates  # noqa: B018  (reads every check file too, and validates the gates against the models)
    project.unit_tests  # noqa: B018  (and every unit test file)


def run_pipeline(
    conn: psycopg.Connection[Any],
    project: Project,
    *,
    threads: int = 1,
    atomic: bool | None = None,
    on_progress: Callable[[str], None] = lambda message: None,
    on_build_event: Callable[[BuildEvent], None] | None = None,
    on_check_result: Callable[[CheckResult], None] | None = None,
    on_check_start: Callable[[str], None] | None = None,
) -> PipelineReport:
    """Migrate, build and check `project` on the database of `conn`; stop after a failed migration."""
    validate_project(project)
    report = PipelineReport()
    # A stage that rode out a lost connection did so on a new one of its own; the next stage
    # gets a working connection too (the lost one replaced, after the server is back).
    session = RunSession(conn, "weir run")
    reconnect = Retry(project.settings.retries, "weir run: reconnecting", on_progress)
    try:
        with _stage(report, "migrate"):
            try:
                report.migrations = migrate(conn, project, on_progress=on_progress)
            except MigrationFailed as exc:
                # Models and checks would run against a schema they were not written for.
                report.migration_error = str(exc)
        if report.migration_error:
            return report
        if project.unit_tests:
            from runner.unittests.run import run_unit_tests

            with _stage(report, "test"):
                try:
                    report.unit_tests = run_unit_tests(conn, project)
                except WeirError as exc:
                    report.unit_test_error = str(exc)
            if report.unit_test_error or (report.unit_tests is not None and not report.unit_tests.ok):
                return report
        in_release: _ChecksBeforeRelease | None = None
        if project.settings.models_dir.is_dir():
            with _stage(report, "build"):
                conn = reconnect.run(lambda tried: session.ensure())
                if (project.settings.atomic if atomic is None else atomic) and project.settings.checks_dir.is_dir():
                    in_release = _ChecksBeforeRelease(prepare_checks(conn, project, threads), project, on_check_start,
                                                      on_check_result)
                report.build = build(conn, project, threads=threads, atomic=atomic, on_event=on_build_event,
                                     before_release=in_release)
        if in_release is not None and in_release.results is not None:
            # Run in the build's transaction, before its release: recorded now that it has ended.
            report.started["check"], report.seconds["check"] = in_release.started, in_release.seconds
            report.checks = record_results(reconnect.run(lambda tried: session.ensure()), in_release.results,
                                           threads, in_release.seconds)
        elif project.settings.checks_dir.is_dir():
            with _stage(report, "check"):
                report.checks = run_checks(reconnect.run(lambda tried: session.ensure()), project, threads=threads,
                                           on_progress=on_progress, on_result=on_check_result,
                                           on_start=on_check_start)
    finally:
        session.close()
    return report


class _ChecksBeforeRelease:
    """`weir run --atomic`'s checks: run on the build's connection before its release, against what it built aside."""

    def __init__(self, checks: list[Check], project: Project, on_start: Callable[[str], None] | None,
                 on_result: Callable[[CheckResult], None] | None) -> None:
        self.checks, self.timeout = checks, project.settings.check_timeout
        self.on_start, self.on_result = on_start or (lambda name: None), on_result or (lambda result: None)
        self.results: list[CheckResult] | None = None  # None until they ran (a failed model stops the build first)
        self.started, self.seconds = datetime.now(), 0.0

    def __call__(self, conn: psycopg.Connection[Any], shadows: Shadows) -> str | None:
        """Run every check; return `file: why` of the first failing one of severity error, or None."""
        self.started, began, self.results = datetime.now(), time.perf_counter(), []
        for check in self.checks:
            self.on_start(check.name)
            result = check_in_transaction(conn, replace(check, sql=check_reading(check, shadows)), self.timeout)
            self.results.append(result)
            self.on_result(result)
        self.seconds = time.perf_counter() - began
        for result in self.results:
            if result.severity == "error" and result.status in ("fail", "error"):
                why = result.error_text if result.status == "error" else f"{result.count} violation(s)"
                return f"{result.display}: check {result.status}ed on this run's new versions ({why})"
        return None


@contextmanager
def _stage(report: PipelineReport, name: str) -> Iterator[None]:
    report.started[name] = datetime.now()
    began = time.perf_counter()
    try:
        yield
    finally:
        report.seconds[name] = time.perf_counter() - began
