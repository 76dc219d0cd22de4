"""PIPELINES.md: per model, what it reads and makes, how it notices change, its schedule, checks and runs."""

from __future__ import annotations

from runner.docs.context import DocsContext
from runner.docs.markdown import Raw, code, document, table
from runner.observe.sla import human_duration
from runner.project import Model
from runner.state.history import Run


def render(ctx: DocsContext) -> str:
    """Return PIPELINES.md."""
    from runner.build.graph import ModelGraph

    ordered = ModelGraph(ctx.project.models).in_order()
    summary = table(("model", "kind", "reads", "schedule", "SLA"), [
        (Raw(code(m.qualified)), m.kind, Raw(", ".join(code(r) for r in _reads(m))),
         m.schedule or "", _sla(m)) for m in ordered
    ])
    sections = [f"## Build order\n\n`weir build` runs them in this order (independent ones in parallel with"
                f" `--threads`).\n\n{summary}"]
    sections += [_model(ctx, model) for model in ordered]
    where = ("the last builds are from the database's run history" if ctx.source.history is not None
             else "run history is shown when documenting a live database (`weir docs --dsn ...`)")
    return document("Pipelines", f"One pipeline per model; {where}.", sections)


def _reads(model: Model) -> list[str]:
    return sorted(f"{schema}.{name}" for schema, name in model.relations)


def _sla(model: Model) -> str:
    """The SLA as `weir freshness` shows it, and the column it is measured on when not the last build."""
    if model.sla is None:
        return ""
    sla = human_duration(model.sla)
    return f"{sla} (on {model.sla_column})" if model.sla_column else sla


def _change_detection(model: Model) -> str:
    if model.kind == "view":
        return "none needed: a view reads its sources when queried; rebuilt when its SQL changes"
    if model.kind == "table":
        return "rebuilt when its SQL or anything it reads changed since its last build; skipped otherwise"
    if model.kind == "incremental":
        lookback = f" minus a lookback of {model.lookback}" if model.lookback else ""
        return (f"rows whose `{model.watermark}` is past the stored watermark{lookback}, upserted on"
                f" {', '.join(model.unique_key)}")
    if model.kind == "scd2":
        trigger = f"a newer `{model.updated_at}`" if model.updated_at else "a change in " + ", ".join(model.check_cols)
        return f"a new version of a {', '.join(model.natural_key)} on {trigger}; a vanished key is {model.on_delete}d"
    return model.kind


def _model(ctx: DocsContext, model: Model) -> str:
    lines = [f"### {model.qualified}", ""]
    if model.description:
        lines += [model.description, ""]
    gates = ctx.project.gates.get(model.qualified, ())
    checks = [check for check in ctx.checks_on.get(model.qualified, []) if check not in gates]
    items = [
        ("file", code(model.display)),
        ("target", f"{code(model.qualified)} ({'view' if model.kind == 'view' else 'table'})"),
        ("kind", model.kind),
        ("reads", ", ".join(code(r) for r in _reads(model)) or "nothing"),
        ("change detection", _change_detection(model)),
        ("tags", ", ".join(sorted(model.tags))),
        ("schedule", model.schedule or ""),
        ("SLA", _sla(model)),
        ("gates", ", ".join(code(g.display) + (" (quarantine)" if g.quarantine else "") for g in gates)
         or "none"),
        ("checks", ", ".join(code(c.display) for c in checks) or "none"),
    ]
    lines += [f"- {name}: {value}" for name, value in items if value]
    history = ctx.source.history
    if history is not None:
        runs = history.models.get(model.qualified, ())
        lines += ["", "Last builds:", "", _runs(runs) if runs else "none recorded"]
    return "\n".join(lines)


def _runs(runs: tuple[Run, ...]) -> str:
    return table(("run", "finished", "status", "rows", "seconds"), [
        (run.run_id, f"{run.finished_at:%Y-%m-%d %H:%M:%S %Z}", run.status,
         "" if run.rows is None else f"{run.rows:,}", f"{run.seconds:.2f}") for run in runs
    ])
