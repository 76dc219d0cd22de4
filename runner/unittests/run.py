"""Run unit tests: each in its own transaction, rolled back, with the model's inputs shadowed.

By default the tests run on a scratch database of the target server (`weir_unit_<hex>`): the
project's migrations are applied and its models built there on empty tables, so every input
relation exists with its real column types and no real table is touched. `in_place` runs them in
the target database itself, whose relations must exist (built); still nothing is written there:
each test's transaction is rolled back.

Each test, in one transaction: fixture tables for the model's inputs (runner.unittests.fixtures),
the model built by the real materialization (runner.build.materialize) into schema weir_unit --
an incremental model after its existing rows and stored watermark are put in place, an scd2
model once per source snapshot -- and its rows compared with the expected ones.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from runner.build.materialize.model import materialize
from runner.db.connection import connect, conninfo_of, describe
from runner.db.statements import execute
from runner.errors import EXIT_ERROR, EXIT_FAIL, EXIT_OK, ConnectionFailed, ModelFailed
from runner.project import Project, UnitTest
from runner.project.unit_tests import Rows
from runner.state.models import BuiltState, ensure_model_state, record_statement
from runner.unittests.compare import Difference, compare
from runner.unittests.fixtures import (
    SCHEMA,
    Catalog,
    UnitTestError,
    columns_of,
    create_statements,
    csv_fixtures,
    fill_statement,
    fixture_model,
    fixture_name,
    inputs_of,
    typed_select,
)

SCRATCH_PREFIX = "weir_unit_"


@dataclass
class UnitTestResult:
    """How one unit test ended: pass, fail (with the difference) or error (it could not run)."""

    name: str
    display: str
    model: str
    status: str
    seconds: float
    difference: Difference | None = None
    error: str | None = None
    description: str | None = None


@dataclass
class UnitTestReport:
    """Every unit test's result, in file order."""

    results: list[UnitTestResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """2 if a test could not run, 1 if one failed, else 0."""
        if any(result.status == "error" for result in self.results):
            return EXIT_ERROR
        return EXIT_FAIL if any(result.status == "fail" for result in self.results) else EXIT_OK

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    def counts(self) -> dict[str, int]:
        """How many tests passed, failed and could not run."""
        return {status: sum(result.status == status for result in self.results) for status in ("pass", "fail", "error")}


def tests_to_run(project: Project, select: tuple[str, ...] = ()) -> list[UnitTest]:
    """Return the unit tests of the selected models (every model without a selector), in file order."""
    from runner.build.graph import ModelGraph

    tests = project.unit_tests
    if not select:
        return tests
    chosen = {model.qualified for model in ModelGraph(project.models).select(select)}
    return [test for test in tests if test.model.qualified in chosen]


def run_unit_tests(
    conn: psycopg.Connection[Any],
    project: Project,
    *,
    select: tuple[str, ...] = (),
    in_place: bool = False,
    on_result: Callable[[UnitTestResult], None] = lambda result: None,
) -> UnitTestReport:
    """Run the unit tests of the selected models on the server of autocommit `conn`; see the module doc."""
    began = time.perf_counter()
    tests = tests_to_run(project, select)
    report = UnitTestReport()
    if not tests:
        return report
    if in_place:
        _run_all(conn, tests, project.root, report, on_result)
    else:
        with prepared_scratch(conn, project) as scratch:
            _run_all(scratch, tests, project.root, report, on_result)
    report.seconds = time.perf_counter() - began
    return report


def _run_all(conn: psycopg.Connection[Any], tests: list[UnitTest], root: Path, report: UnitTestReport,
             on_result: Callable[[UnitTestResult], None]) -> None:
    ensure_model_state(conn)
    catalog = Catalog()
    for test in tests:
        result = run_unit_test(conn, test, root, catalog)
        report.results.append(result)
        on_result(result)


@contextmanager
def prepared_scratch(conn: psycopg.Connection[Any], project: Project) -> Iterator[psycopg.Connection[Any]]:
    """Yield a connection to a new scratch database with the project migrated and built (empty); drop it after."""
    from runner.build.run import build
    from runner.migrate import migrate

    name = SCRATCH_PREFIX + secrets.token_hex(6)
    try:
        execute(conn, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.errors.InsufficientPrivilege:
        raise ConnectionFailed(
            f"cannot create a scratch database on {describe(conn)}: permission denied; weir test needs a role"
            " with CREATEDB, or --in-place to run in the target database (rolled back, its models built)"
        ) from None
    try:
        scratch = connect(make_conninfo(conninfo_of(conn), dbname=name), "weir test")
        try:
            migrate(scratch, project)
            built = build(scratch, project)
            if not built.ok:
                raise UnitTestError(
                    "the models do not build on the empty scratch database, so they cannot be tested: "
                    + "; ".join(built.errors)
                )
            yield scratch
        finally:
            scratch.close()
    finally:
        execute(conn, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class _BatchFailed(Exception):
    """A batch of fixture statements failed; run them one by one to say which."""


def run_unit_test(
    conn: psycopg.Connection[Any], test: UnitTest, root: Path | None = None, catalog: Catalog | None = None
) -> UnitTestResult:
    """Run one test in a transaction that is rolled back; return how it ended.

    With the project's `root`, CSV files next to the test give rows too (fixtures.csv_fixtures).
    `catalog` keeps the input relations' columns across the tests of one run.
    """
    began = time.perf_counter()
    catalog = catalog or Catalog()
    result = UnitTestResult(test.name, test.display, test.model.qualified, "pass", 0.0, description=test.description)
    try:
        try:
            with conn.transaction(force_rollback=True):
                difference = _run(conn, test, root, catalog, batched=True)
        except _BatchFailed:
            # Fixtures go in one round trip; only a failing test pays for finding the statement at fault.
            with conn.transaction(force_rollback=True):
                difference = _run(conn, test, root, catalog, batched=False)
        if not difference.empty:
            result.status, result.difference = "fail", difference
    except (UnitTestError, ModelFailed) as exc:
        result.status, result.error = "error", str(exc)
    except psycopg.Error as exc:
        result.status, result.error = "error", f"{test.display}:1: {exc.diag.message_primary or exc}"
    result.seconds = time.perf_counter() - began
    return result


_Step = tuple[sql.Composable, str]  # a statement, and what a failure of it is called: "file:line: rows for x"


def _run(conn: psycopg.Connection[Any], test: UnitTest, root: Path | None, catalog: Catalog,
         batched: bool) -> Difference:
    model = fixture_model(test.model)
    csvs = csv_fixtures(root / test.display, test.display, test.model) if root is not None else []
    relations = inputs_of(test.model)
    inputs = catalog.columns(conn, relations, test.display, test.model.qualified)
    steps: list[_Step] = [(statement, f"{test.display}:1: fixture tables") for statement in create_statements(model)]
    target = sql.Identifier(SCHEMA, model.name)
    if any(given.relation is None for given in test.givens) or test.watermark is not None:
        steps += _existing(conn, test, target, catalog)
    for snapshot in test.snapshots:
        if snapshot > 1:
            steps.append((sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(
                sql.Identifier(SCHEMA, fixture_name(relation)) for relation in relations
            )), f"{test.display}:1: snapshot {snapshot}"))
        for given in test.givens:
            if given.relation is None or given.snapshot not in (0, snapshot):
                continue
            relation = ".".join(given.relation)
            steps += _fill(fixture_name(given.relation), given.rows, inputs[given.relation], test.display, relation)
        for csv_relation, shown, rows in csvs:
            steps += _fill(fixture_name(csv_relation), rows, inputs[csv_relation], shown, ".".join(csv_relation))
        _send(conn, steps, batched)
        steps = []
        materialize(conn, model, prepared=True)
    columns = columns_of(conn, model.name)
    expected = sql.Identifier("pg_temp", "weir_expected")
    select = typed_select(test.expect, columns, test.display, "expect", test.model.qualified)
    try:
        execute(conn, sql.SQL("CREATE TEMP TABLE weir_expected ON COMMIT DROP AS {}").format(select))
    except psycopg.Error as exc:
        raise UnitTestError(f"{test.display}:{test.expect.line}: expected rows: {exc.diag.message_primary}") from None
    types = dict(column.split("\t", 1) for column in columns)
    return compare(conn, test.model, target, expected, test.expect.columns, test.ordered, types)


def _fill(table: str, rows: Rows, columns: list[str], display: str, relation: str) -> list[_Step]:
    statement = fill_statement(table, rows, columns, display, relation)
    return [] if statement is None else [(statement, f"{display}:{rows.line}: rows for {relation}")]


def _send(conn: psycopg.Connection[Any], steps: list[_Step], batched: bool) -> None:
    """Run `steps` in one round trip (batched), or one by one, naming the one that fails."""
    if batched:
        try:
            execute(conn, sql.SQL(";\n").join(statement for statement, _ in steps))
        except psycopg.Error:
            raise _BatchFailed() from None
        return
    for statement, what in steps:
        try:
            execute(conn, statement)
        except psycopg.Error as exc:
            raise UnitTestError(f"{what}: {exc.diag.message_primary}") from None


def _existing(conn: psycopg.Connection[Any], test: UnitTest, target: sql.Identifier, catalog: Catalog
              ) -> list[_Step]:
    """Return the steps putting an incremental model's table and stored watermark in place, as a build left them."""
    model = test.model
    relation = (model.schema, model.name)
    columns = catalog.columns(conn, [relation], test.display, "the test")[relation]
    steps: list[_Step] = [(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
        target, sql.Identifier(model.schema, model.name)
    ), f"{test.display}:1: {model.qualified}")]
    this = next((given for given in test.givens if given.relation is None), None)
    if this is not None:
        steps += _fill(model.name, this.rows, columns, test.display, f"{model.qualified} (this)")
    watermark: sql.Composable = sql.Literal(test.watermark)
    if test.watermark is None:
        watermark = sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(model.watermark or ""), target)
    steps.append((record_statement(BuiltState(
        f"{SCHEMA}.{model.name}", model.kind, model.checksum, None, 0, 0, 0,
        watermark=watermark, lookback=model.lookback,
    )), f"{test.display}:1: the stored watermark"))
    return steps
