"""What an orchestrator export mirrors: Weir's graph as tasks, read from the project alone.

One task applies the migrations; one task per model builds exactly that model, after the
migrations and the models it reads (runner.build.graph); one task per check runs after the
models it reads (found as gates are found, runner.project.gates.gate_inputs), or after the
migrations when it reads only sources. Models with a freshness SLA are watched by
`weir freshness`, which alerts Weir's sinks on a breach. A gate is a check too, but it also runs inside its
model's build already, so a failing gate fails the model's task. Models are grouped by their
schedule (the `schedule` directive, else the project's default): an orchestrator runs one
job per schedule, and a model reads whatever a model on another schedule last built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.build.graph import ModelGraph
from runner.observe.sla import human_duration
from runner.project import Project
from runner.project.gates import gate_inputs
from runner.project.settings import Retries

DEFAULT_SCHEDULE = "@daily"


@dataclass(frozen=True)
class ModelTask:
    """Build one model: `weir build --select schema.name` selects exactly it."""

    model: str  # "schema.name"
    kind: str
    upstream: tuple[str, ...]  # the models it reads directly, in build order
    schedule: str
    gates: tuple[str, ...]  # checks run inside its build
    sla: str | None = None  # its freshness SLA as `weir freshness` shows it; None: no SLA to watch


@dataclass(frozen=True)
class CheckTask:
    """Run one check: `weir check --select name` selects exactly it."""

    name: str  # as under checks/, e.g. "marts/dim_date_row_count"
    models: tuple[str, ...]  # the models it reads, in build order; () when it reads only sources
    severity: str  # error | warn: a warn check never fails its task


@dataclass(frozen=True)
class Plan:
    """Every task of a project's export, in build order, with the settings the orchestrator needs."""

    models: tuple[ModelTask, ...]
    checks: tuple[CheckTask, ...]
    default_schedule: str
    retries: Retries

    def schedules(self) -> list[str]:
        """Return every schedule some model runs on, the default first, then as they first appear."""
        found = [self.default_schedule] + [task.schedule for task in self.models]
        return list(dict.fromkeys(found))

    def schedule_of_check(self, check: CheckTask) -> str:
        """Return the schedule of the last model a check reads (its job), or the default."""
        by_model = {task.model: task.schedule for task in self.models}
        return by_model[check.models[-1]] if check.models else self.default_schedule


def plan_of(project: Project) -> Plan:
    """Read the project's models and checks into the tasks of an export, validating every file first."""
    graph = ModelGraph(project.models)
    gates = project.gates
    default = project.settings.schedule or DEFAULT_SCHEDULE
    models = tuple(
        ModelTask(
            model=model.qualified,
            kind=model.kind,
            upstream=tuple(upstream.qualified for upstream in graph.direct_upstream(model.qualified)),
            schedule=model.schedule or default,
            gates=tuple(check.name for check in gates.get(model.qualified, ())),
            sla=human_duration(model.sla) if model.sla is not None else None,
        )
        for model in graph.in_order()
    )
    position = {task.model: index for index, task in enumerate(models)}
    by_name: dict[str, list[str]] = {}
    for model in graph.in_order():
        by_name.setdefault(model.name, []).append(model.qualified)
    checks = []
    for check in project.checks:
        read = set()
        for schema, name, _, _ in gate_inputs(check):
            if schema is not None and f"{schema}.{name}" in position:
                read.add(f"{schema}.{name}")
            elif schema is None and len(by_name.get(name, [])) == 1:
                read.add(by_name[name][0])
        checks.append(CheckTask(check.name, tuple(sorted(read, key=position.__getitem__)), check.severity))
    return Plan(models, tuple(checks), default, project.settings.retries)


def job_name(schedule: str, default: str) -> str:
    """Return the name of the job (Airflow DAG, Dagster job) of the models on `schedule`: `weir` for the default."""
    if schedule == default:
        return "weir"
    return "weir_" + (re.sub(r"[^A-Za-z0-9]+", "_", schedule).strip("_").lower() or "schedule")
