"""Where personal data flows: a PII column reaching a model unmasked, which the model does not declare.

A column carries PII when it is a tagged source column (runner.project.pii), a column a model
declares in its `pii` directive, or a model column computed from a carrying column without a
masking function on the way (weir.mask_email, weir.mask_phone, weir.redact, weir.pii_hash; a
count reveals no value either). Column lineage (runner.lineage) gives the way; `*` over a
relation whose columns are not known carries every PII column that relation has.
`weir lint` reports each model column that carries PII without the model declaring it,
with the path it came by, so nothing holds personal data unless someone said it may.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.lineage import STAR, Lineage, Origin, project_lineage
from runner.project import Project
from runner.project.models import Model
from runner.project.pii import source_pii

MASKING_STEPS = frozenset({"function:mask_email", "function:mask_phone", "function:redact", "function:pii_hash",
                           "aggregate:count"})


@dataclass(frozen=True)
class Leak:
    """A model column that carries PII its model does not declare."""

    model: Model
    column: str
    path: tuple[str, ...]  # relation.column from the tagged source to this column

    def __str__(self) -> str:
        line = column_line(self.model, self.column)
        return (f"{self.model.display}:{line}: column {self.column} carries PII unmasked ({' -> '.join(self.path)});"
                f" mask it (weir.mask_email, weir.mask_phone, weir.redact, weir.pii_hash) or, if"
                f" {self.model.qualified} may hold it, declare it: -- weir: pii=\"{self.column}\"")


def pii_leaks(project: Project, lineage: Lineage | None = None) -> list[Leak]:
    """Return every model column that carries PII unmasked without its model declaring it, in build order."""
    carrying: dict[tuple[str, str], tuple[str, ...]] = {
        key: (f"{key[0]}.{key[1]}",) for key in source_pii(project.migrations)}
    if not carrying and not any(model.pii for model in project.models):
        return []
    lineage = lineage or project_lineage(project)
    leaks = []
    for qualified in lineage.models:
        model = next(model for model in project.models if model.qualified == qualified)
        declared = {column for column, _ in model.pii}
        for column in declared:
            carrying.setdefault((qualified, column), (f"{qualified}.{column}",))
        for column in lineage.columns(qualified):
            for name, path in _carried(lineage, qualified, column, carrying):
                if name in declared:
                    carrying[(qualified, name)] = (*path, f"{qualified}.{name}")
                else:
                    leaks.append(Leak(model, name, (*path, f"{qualified}.{name}")))
                    carrying[(qualified, name)] = (*path, f"{qualified}.{name}")
    return leaks


def _carried(
    lineage: Lineage, model: str, column: str, carrying: dict[tuple[str, str], tuple[str, ...]]
) -> list[tuple[str, tuple[str, ...]]]:
    """Return (output column, path) for each PII column `model.column` lets through unmasked."""
    found: dict[str, tuple[str, ...]] = {}
    for origin in lineage.origins(model, column) if column != STAR else lineage.models[model].lineage[STAR]:
        if _masked(origin):
            continue
        if origin.column == STAR or column == STAR:
            # `*` over a relation whose columns are not known: every PII column it has comes through
            for (relation, name), path in carrying.items():
                if relation == origin.relation:
                    found.setdefault(name, path)
        elif (origin.relation, origin.column) in carrying:
            found.setdefault(column, carrying[(origin.relation, origin.column)])
    return sorted(found.items())


def _masked(origin: Origin) -> bool:
    return any(step in MASKING_STEPS for step in origin.how)


def column_line(model: Model, column: str) -> int:
    """Return the line of the model file where `column` first appears in the SELECT, else where the SELECT starts.

    A bare name (`email`, `AS email`) is looked for first; failing that, a qualified one (`c.email`).
    """
    name = re.escape(column)
    match = (re.search(rf"(?<![\w.$]){name}(?![\w$])", model.sql, re.IGNORECASE)
             or re.search(rf"(?<![\w$])\w+\.{name}(?![\w$])", model.sql, re.IGNORECASE))
    return model.sql_line + (model.sql.count("\n", 0, match.start()) if match else 0)
