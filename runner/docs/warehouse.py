"""WAREHOUSE-SCHEMA.md: the facts and dimensions, read from model headers and the catalog."""

from __future__ import annotations

from runner.docs.context import DocsContext
from runner.docs.markdown import Raw, code, document, raw_code, table
from runner.docs.star import dimension_key, is_dimension, is_fact
from runner.project import Model


def render(ctx: DocsContext) -> str:
    """Return WAREHOUSE-SCHEMA.md."""
    models = ctx.project.models
    facts = [m for m in models if is_fact(m)]
    dimensions = [m for m in models if is_dimension(m)]
    others = [m for m in models if m not in facts and m not in dimensions]
    fact_rows = [(raw_code(m.qualified), _grain(m), _codes(m.unique_key), _strategy(m), raw_code(m.watermark or ""),
                  _dimensions_of(ctx, m), m.description or "") for m in facts]
    dimension_rows = [(raw_code(m.qualified), _scd(m), _codes(m.natural_key or m.unique_key),
                       _surrogate(ctx, m), m.description or "") for m in dimensions]
    other_rows = [(raw_code(m.qualified), m.kind, _codes(m.unique_key), m.description or "") for m in others]
    sections = [
        "## Facts\n\n" + (table(("fact", "grain", "unique key", "incremental strategy", "watermark", "dimensions",
                                 "description"), fact_rows) if facts else "None."),
        "## Dimensions\n\n" + (table(("dimension", "SCD type", "natural key", "surrogate key", "description"),
                                     dimension_rows) if dimensions else "None."),
        "## Other models\n\n" + (table(("model", "kind", "unique key", "description"), other_rows)
                                 if others else "None."),
    ]
    intro = ("Facts are models tagged `facts` (or named `fact_`), dimensions those tagged `dimensions` (or named"
             " `dim_`, or built as scd2); everything here is read from the models' `-- weir:` headers.")
    return document("Warehouse schema", intro, sections)


def _codes(columns: tuple[str, ...]) -> Raw:
    return Raw(", ".join(code(column) for column in columns))


def _grain(model: Model) -> str:
    if model.unique_key:
        return "one row per " + ", ".join(model.unique_key)
    return "not declared (no unique_key)"


def _strategy(model: Model) -> str:
    if model.kind == "incremental":
        parts = [f"upsert on the unique key of rows past the watermark, re-reading {model.lookback or 'nothing'}"
                 " behind it"]
        if model.full_refresh_on_change:
            parts.append("rebuilt from scratch when its SQL changes")
        return "; ".join(parts)
    if model.kind == "table":
        return "rebuilt whole on each change of its inputs"
    if model.kind == "view":
        return "a view: always current"
    return model.kind


def _dimensions_of(ctx: DocsContext, model: Model) -> Raw:
    joined = [link for link in ctx.links if link.child == model.qualified and ctx.model(link.parent) is not None]
    return Raw(", ".join(f"{code(link.parent)} on {code(', '.join(link.columns))}" for link in joined))


def _scd(model: Model) -> str:
    if model.kind == "scd2":
        changes = (f"a new version when {model.updated_at} moves" if model.updated_at
                   else "a new version when any of " + ", ".join(model.check_cols) + " changes")
        deleted = "closes the version of a deleted key" if model.on_delete == "close" else "keeps deleted keys open"
        return f"type 2: {changes}; {deleted}"
    return f"type 1: overwritten ({model.kind})"


def _surrogate(ctx: DocsContext, model: Model) -> Raw:
    key = dimension_key(model, ctx.source.catalog.relation(model.qualified))
    if model.kind == "scd2":
        how = f"hash ({model.surrogate_hash}) of natural key and valid_from" if model.surrogate_hash else "numbered"
        return Raw(f"{_codes(key)} ({how}, Weir)")
    if key and key != model.natural_key and key != model.unique_key:
        return _codes(key)
    return Raw(f"{_codes(key)} (the natural key)" if key else "none")
