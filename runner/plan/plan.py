"""`weir plan`: what `weir run` would do against the target, found without changing anything.

Everything is read in one READ ONLY transaction that is rolled back: the migrations not
yet applied (with their lint findings), each model's build decision and why -- the same
survey the build's skip decision reads (runner.state.builds, runner.build.freshness) -- and,
for a model whose SQL changed, its columns before (the catalog) and after (the new SELECT
described, runner.plan.columns), classified through column lineage:

- breaking: removes or retypes a column a downstream model or a check reads;
- non-breaking: adds columns, or removes or retypes only columns nobody reads;
- metadata-only: the file changed but not its parse tree (comments, layout): nothing is built.

A model that only adds columns leaves every column its readers had as it was, so its
readers are not rebuilt (the build honours it: runner.build.build_one); any other SQL
change rebuilds its readers, whose values may change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg

from runner.build.freshness import FILE_KEY, edited_since_built, inputs_of, only_adds_columns, opaque_calls, shown
from runner.build.graph import ModelGraph
from runner.migrate.plan import states
from runner.plan.columns import ColumnChange, column_changes, describe
from runner.project import Project
from runner.project.gates import gate_tokens
from runner.project.models import Model, clock_calls
from runner.state import builds
from runner.state.migrations import read_applied

_BUILD_STATE_PRESENT = """
SELECT to_regclass('weir.build_input') IS NOT NULL
   AND EXISTS (SELECT FROM pg_proc WHERE proname = 'relation_token' AND pronamespace::regnamespace::text = 'weir')
"""
_RECORDED_MODELS = "SELECT model FROM weir.model_state ORDER BY model"
_RELATION_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute AS a
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
_SCD2_COLUMNS = ("valid_from", "valid_to", "is_current")  # runner.build.materialize.scd2 adds them


@dataclass(frozen=True)
class ModelPlan:
    """One model: whether `weir run` would build it, why, and what its change does to its columns."""

    model: str
    kind: str
    action: str  # build | skip | remove
    reason: str  # new | SQL changed | upstream changed | input data changed | metadata-only | unchanged | ...
    classification: str | None = None  # breaking | non-breaking | metadata-only, for a changed model
    columns: tuple[ColumnChange, ...] = ()
    broken_readers: tuple[str, ...] = ()  # models and checks ('check:NAME') reading a removed or retyped column
    readers_rebuilt: bool = False  # its change reaches the values its readers read
    note: str = ""


@dataclass
class Plan:
    """What `weir run` would do: migrations to apply, models to build or skip, checks to run."""

    migrations: list[str] = field(default_factory=list)  # pending, in order
    findings: list[str] = field(default_factory=list)  # lint findings of the pending migrations
    models: list[ModelPlan] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    @property
    def breaking(self) -> list[ModelPlan]:
        """Return the models whose change breaks a reader."""
        return [model for model in self.models if model.classification == "breaking"]

    @property
    def to_build(self) -> list[ModelPlan]:
        """Return the models `weir run` would build."""
        return [model for model in self.models if model.action == "build"]


def plan(
    conn: psycopg.Connection[Any],
    project: Project,
    *,
    select: Iterable[str] = (),
    exclude: Iterable[str] = (),
    lint_migrations: bool = True,
) -> Plan:
    """Return what `weir run` would do with `project` on the database of `conn`, changing nothing.

    Raises ProjectFileError or ConfigError for a bad file or selector, as the build would.
    """
    graph = ModelGraph(project.models)
    selected = graph.select(tuple(select), tuple(exclude))
    gates = project.gates
    found = Plan(checks=[check.name for check in project.checks])
    with conn.transaction(force_rollback=True):
        conn.execute("SET TRANSACTION READ ONLY")
        pending = [state for state in states(project.migrations, read_applied(conn)) if state.state == "pending"]
        found.migrations = [state.id for state in pending]
        has_state = bool(_one(conn, _BUILD_STATE_PRESENT))
        survey = _survey(conn, graph, selected) if has_state else None
        opaque = opaque_calls(conn, selected)
        planned: dict[str, ModelPlan] = {}
        for model in selected:
            planned[model.qualified] = _plan_model(conn, project, graph, model, survey, planned, gates,
                                                   bool(opaque.get(model.qualified)))
        found.models = list(planned.values())
        if has_state and not tuple(select) and not tuple(exclude):
            known = {model.qualified for model in project.models}
            found.models += [ModelPlan(name, "", "remove", "removed: no model file builds it any more",
                                       note="Weir keeps the relation; drop it with a migration")
                             for (name,) in conn.execute(_RECORDED_MODELS) if name not in known]
        _classify(conn, project, found)
    if lint_migrations and pending:
        found.findings = _lint(project, found.migrations)
    return found


def _survey(conn: psycopg.Connection[Any], graph: ModelGraph, models: list[Model]) -> builds.Survey:
    # runner.build.freshness.survey_run without track_writes: a plan puts no trigger anywhere.
    # Views too, unlike the build's survey: a plan says for each model whether its inputs
    # changed, and a view may be the only reader of a source (a seed read by one view).
    inputs = [inputs_of(graph, model) for model in models]
    sources = sorted({source for found in inputs for source in found.sources})
    upstream = sorted({name for found in inputs for name in found.upstream})
    return builds.survey(conn, [(m.schema, m.name) for m in models], upstream, {shown(s): s for s in sources})


def _plan_model(
    conn: psycopg.Connection[Any],
    project: Project,
    graph: ModelGraph,
    model: Model,
    survey: builds.Survey | None,
    planned: dict[str, ModelPlan],
    gates: dict[str, Any],
    calls_opaque: bool,
) -> ModelPlan:
    """Decide as the build would (runner.build.build_one), reading upstream decisions made before."""
    if survey is None:
        exists = _one(conn, "SELECT to_regclass(%s) IS NOT NULL", model.qualified)
        return ModelPlan(model.qualified, model.kind, "build", "SQL changed" if exists else "new",
                         note="" if not exists else "no build recorded by Weir here")
    inputs = inputs_of(graph, model)  # again: the survey's are of tables only
    seen = survey.seen(model.qualified, inputs.upstream, [shown(s) for s in inputs.sources])
    build = ModelPlan(model.qualified, model.kind, "build", "")
    if not seen.exists:
        return _with(build, reason="new")
    if seen.checksum != model.checksum:
        return _with(build, reason="SQL changed", readers_rebuilt=not only_adds_columns(model, seen.stored))
    changed_upstream = [name for name in inputs.upstream if planned.get(name, build).readers_rebuilt]
    if changed_upstream:
        return _with(build, reason=f"upstream changed: {', '.join(changed_upstream)}", readers_rebuilt=True)
    edited = edited_since_built(model, seen.stored)
    skip = ModelPlan(model.qualified, model.kind, "skip", "metadata-only" if edited else "unchanged",
                     classification="metadata-only" if edited else None)
    if model.kind == "view":
        return skip
    current = {"sources": seen.tokens, "models": seen.markers, **gate_tokens(gates.get(model.qualified, ()))}
    stored = {key: value for key, value in (seen.stored or {}).items() if key != FILE_KEY}
    if seen.stored is None or stored != current or any(token is None for token in seen.tokens.values()):
        return _with(build, reason="input data changed", readers_rebuilt=True)
    if calls_opaque or clock_calls(model):
        return _with(build, reason="always built: it calls a function whose result may differ", readers_rebuilt=True)
    return skip


def _classify(conn: psycopg.Connection[Any], project: Project, found: Plan) -> None:
    """Fill in the column changes and classification of each model whose SQL changed."""
    by_name = {model.qualified: model for model in project.models}
    for position, entry in enumerate(found.models):
        if entry.reason != "SQL changed":
            continue
        model = by_name[entry.model]
        before = tuple(conn.execute(_RELATION_COLUMNS, (model.qualified,)).fetchall())
        if model.kind == "scd2":  # the history columns Weir adds are not the SELECT's
            added = (*_SCD2_COLUMNS, model.surrogate_key or f"{model.name}_key")
            before = tuple(column for column in before if column[0] not in added)
        after, why = describe(conn, model)
        if after is None:
            found.models[position] = _with(entry, classification="breaking",
                                           note=f"cannot describe the new SELECT: {why}")
            continue
        changes = column_changes(before, after)
        gone = {change.column for change in changes if change.change != "added"}
        broken = _readers(project, model, tuple(name for name, _ in before), gone) if gone else ()
        found.models[position] = _with(entry, columns=changes, broken_readers=broken,
                                       classification="breaking" if broken else "non-breaking")


def _readers(project: Project, model: Model, columns: tuple[str, ...], gone: set[str]) -> tuple[str, ...]:
    """Return the models and checks ('check:NAME') that read any of `gone`, columns of `model` as built now.

    Each reader's SELECT is read against the relation as it is (`columns`), by column lineage.
    """
    from runner.errors import LineageError
    from runner.lineage import CHECK_PREFIX, read_columns

    def columns_of(relation: str) -> tuple[str, ...] | None:
        return columns if relation in (model.qualified, model.name) else None

    readers: list[tuple[str, str]] = [(other.qualified, other.sql) for other in project.models
                                      if (model.schema, model.name) in other.relations and other is not model]
    readers += [(f"{CHECK_PREFIX}{check.name}", check.sql) for check in project.checks
                if model.name in check.sql]  # a check that never names the model cannot read it
    found = []
    for name, text in readers:
        try:
            reads = read_columns(text, columns_of)
        except LineageError:
            found.append(name)  # cannot tell what it reads: it may read the column
            continue
        if any(relation in (model.qualified, model.name) and column in (*gone, "*") for relation, column in reads):
            found.append(name)
    return tuple(found)


def _lint(project: Project, pending: list[str]) -> list[str]:
    from runner.lint import lint

    paths = [migration.forward.path for migration in project.migrations if migration.id in pending]
    report = lint(project, paths)
    return [f"{f.path}:{f.line}: {f.rule}: {f.message}" for f in report.findings] + report.errors


def _with(entry: ModelPlan, **changes: Any) -> ModelPlan:
    return replace(entry, **changes)


def _one(conn: psycopg.Connection[Any], query: str, *params: Any) -> Any:
    row = conn.execute(query, params or None).fetchone()
    return row[0] if row else None
