"""RUNBOOK.md: operating the project from one page, its messages and commands taken from Weir itself."""

from __future__ import annotations

from datetime import timedelta
from importlib import resources
from string import Template

from runner.docs.context import DocsContext
from runner.observe.sla import human_duration
from runner.project.models import Model


def render(ctx: DocsContext) -> str:
    """Return RUNBOOK.md for this project: the template in runbook.md with the project's names and counts."""
    project, settings = ctx.project, ctx.project.settings
    gates = sorted(f"`{check.display}` gates `{check.gate}`" for check in project.checks if check.gate)
    freshness = sorted(f"`{check.display}`" for check in project.checks
                       if any(part == "freshness" for part in check.tags) or "freshness" in check.name)
    slas = _slas(project.models)
    template = Template(resources.files("runner.docs").joinpath("runbook.md").read_text(encoding="utf-8"))
    return template.substitute(
        summary=f"{len(project.migrations)} migrations, {len(project.models)} models, {len(project.checks)} checks",
        migrations=settings.migrations_dir.name,
        models=settings.models_dir.name,
        checks=settings.checks_dir.name,
        lock_wait=settings.lock_wait,
        migration_count=len(project.migrations),
        model_count=len(project.models),
        check_count=len(project.checks),
        gate_count=len(gates),
        gates=("\n\nThis project's gates: " + "; ".join(gates) + ".") if gates else "",
        freshness=(" (this project's: " + ", ".join(freshness) + ")") if freshness else "",
        slas=("\n\nThis project's SLAs (`weir freshness`): " + "; ".join(slas) + ".") if slas else "",
    )


def _slas(models: list[Model]) -> list[str]:
    """Return each distinct SLA with the models it holds, `every model` when one holds them all."""
    by_sla: dict[timedelta, list[str]] = {}
    for model in models:
        if model.sla is not None:
            by_sla.setdefault(model.sla, []).append(f"`{model.qualified}`")
    if len(by_sla) == 1 and len(next(iter(by_sla.values()))) == len(models):
        return [f"every model within {human_duration(next(iter(by_sla)))}"]
    return [f"{', '.join(sorted(names))} within {human_duration(sla)}" for sla, names in sorted(by_sla.items())]
