"""Column lineage of a whole project: every model's columns in graph order, and what each check reads.

A model's output columns are what models downstream see of it, so `*` over a model
expands to them; a source table's columns (what migrations create) come from the
caller's `columns_of`, read from the catalog, or are unknown without a database.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from runner.errors import LineageError
from runner.lineage.expressions import prefixed
from runner.lineage.origins import LineageTree, Origin
from runner.lineage.scope import STAR
from runner.lineage.select import SelectLineage, analyze_select

if TYPE_CHECKING:
    from runner.project import Project
    from runner.project.models import Model

CHECK_PREFIX = "check:"  # readers() names a check `check:NAME`, a model `schema.name`


class Lineage:
    """The project's models' column lineage (one level up each), and the columns models and checks read."""

    def __init__(self, models: dict[str, SelectLineage], checks: dict[str, frozenset[tuple[str, str]]]) -> None:
        self.models = models  # 'schema.name' -> its SELECT's lineage, in build order
        self.checks = checks  # check name -> every (relation, column) its SELECT reads
        self._by_name: dict[str, list[str]] = {}
        self._subtrees: dict[tuple[str, Origin], LineageTree] = {}
        self._source_sets: dict[tuple[str, str], set[tuple[str, str]]] = {}
        for qualified in models:
            self._by_name.setdefault(qualified.split(".", 1)[-1], []).append(qualified)

    def model(self, name: str) -> str:
        """Return the model `name` ('schema.name', or 'name' when one schema has it) as 'schema.name'.

        Raises LineageError naming the models with similar names.
        """
        if name in self.models:
            return name
        matches = self._by_name.get(name, [])
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise LineageError(f"model {name!r} is ambiguous: {', '.join(sorted(matches))}; write it as schema.name")
        if "." in name:
            close = difflib.get_close_matches(name, list(self.models), n=3, cutoff=0.6)
        else:
            bare = difflib.get_close_matches(name, list(self._by_name), n=3, cutoff=0.6)
            close = [qualified for found in bare for qualified in sorted(self._by_name[found])]
        hint = f"; did you mean {', '.join(close)}?" if close else f"; models: {', '.join(sorted(self.models))}"
        raise LineageError(f"no model named {name!r}{hint}")

    def columns(self, model: str) -> tuple[str, ...]:
        """Return the model's output columns in order ('*' stands for columns of a relation not known)."""
        return self.models[self.model(model)].columns

    def origins(self, model: str, column: str) -> tuple[Origin, ...]:
        """Return the columns of the relations `model` reads that its `column` is computed from (one level up).

        Raises LineageError for an unknown model or column, naming the model's columns.
        """
        qualified = self.model(model)
        found = self._origins(qualified, column)
        if found is None:
            columns = [c for c in self.models[qualified].columns if c != STAR]
            close = difflib.get_close_matches(column, columns, n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}?" if close else f"its columns: {', '.join(columns) or '(none)'}"
            raise LineageError(f"{qualified} has no column {column!r}; {hint}")
        return found

    def upstream(self, model: str, column: str) -> LineageTree:
        """Return `model.column` with the columns it is computed from, model by model, down to source columns.

        A column several others are computed from is one shared subtree, built once.
        """
        qualified = self.model(model)
        return LineageTree(qualified, column, (), self._children(qualified, self.origins(qualified, column)))

    def sources(self, model: str, column: str) -> tuple[tuple[str, str], ...]:
        """Return the source columns (relation, column) `model.column` is computed from, sorted."""
        qualified = self.model(model)
        return tuple(sorted(self._sources(qualified, column, self.origins(qualified, column))))

    def readers(self, relation: str, column: str) -> tuple[str, ...]:
        """Return the models ('schema.name') and checks ('check:NAME') that read `relation.column` anywhere."""
        wanted = {(relation, column), (relation, STAR)}
        models = [name for name, found in self.models.items() if found.reads & wanted]
        checks = [f"{CHECK_PREFIX}{name}" for name, reads in self.checks.items() if reads & wanted]
        return tuple(sorted(models) + sorted(checks))

    def _origins(self, qualified: str, column: str) -> tuple[Origin, ...] | None:
        found = self.models[qualified]
        if column in found.lineage:
            return found.lineage[column]
        if STAR in found.lineage:  # `*` over a relation whose columns are unknown: assume it has the column
            return tuple(Origin(o.relation, column, (*o.how, "star")) for o in found.lineage[STAR])
        return None

    def _children(self, model: str, origins: tuple[Origin, ...]) -> tuple[LineageTree, ...]:
        return tuple(self._subtree(model, origin) for origin in origins)

    def _subtree(self, model: str, origin: Origin) -> LineageTree:
        key = (model, origin)
        if key not in self._subtrees:
            # A model reading its own table (an incremental one) is the only loop the graph allows.
            upstream = self._origins(origin.relation, origin.column) if origin.relation in self.models else None
            below = self._children(origin.relation, upstream) if upstream and origin.relation != model else ()
            self._subtrees[key] = LineageTree(origin.relation, origin.column, origin.how, below)
        return self._subtrees[key]

    def _sources(self, model: str, column: str, origins: tuple[Origin, ...]) -> set[tuple[str, str]]:
        key = (model, column)
        if key not in self._source_sets:
            found: set[tuple[str, str]] = set()
            for origin in origins:
                upstream = self._origins(origin.relation, origin.column) if origin.relation in self.models else None
                if upstream is None or origin.relation == model:
                    found.add((origin.relation, origin.column))
                elif not upstream:
                    found.add((origin.relation, origin.column))  # computed from no column: it is the source
                else:
                    found |= self._sources(origin.relation, origin.column, upstream)
            self._source_sets[key] = found
        return self._source_sets[key]


def project_lineage(
    project: Project, columns_of: Callable[[str], Sequence[str] | None] | None = None
) -> Lineage:
    """Return the column lineage of every model and the columns every check reads.

    `columns_of('schema.name')` gives a source table's columns (from the catalog), None when
    unknown; without it, only models' own output columns are known. Models are read in build
    order, so `*` over a model expands to the columns its own lineage found.
    Raises LineageError for a model or check whose SQL PostgreSQL cannot parse.
    """
    from runner.build.graph import ModelGraph

    graph = ModelGraph(project.models)
    by_name: dict[str, list[str]] = {}
    for model in graph.in_order():
        by_name.setdefault(model.name, []).append(model.qualified)
    analyzed: dict[str, SelectLineage] = {}

    def relation_name(schema: str | None, name: str) -> str:
        if schema is None and len(by_name.get(name, [])) == 1:
            return by_name[name][0]
        return f"{schema}.{name}" if schema else name

    def relation_columns(relation: str) -> Sequence[str] | None:
        found = analyzed.get(relation)
        if found is not None:
            return None if STAR in found.columns else found.columns
        return columns_of(relation) if columns_of is not None else None

    for model in graph.in_order():
        try:
            found = analyze_select(model.sql, relation_columns, relation_name=relation_name)
        except LineageError as exc:
            raise LineageError(f"{model.display}:{model.sql_line}: {exc}") from None
        analyzed[model.qualified] = with_history_columns(model, found) if model.kind == "scd2" else found
    checks: dict[str, frozenset[tuple[str, str]]] = {}
    for check in project.checks:
        try:
            checks[check.name] = analyze_select(check.sql, relation_columns, relation_name=relation_name).reads
        except LineageError as exc:
            raise LineageError(f"{check.display}:1: {exc}") from None
    return Lineage(analyzed, checks)


def with_history_columns(model: Model, found: SelectLineage) -> SelectLineage:
    """Return an scd2 model's lineage with the columns Weir adds to its table (runner.build.materialize.scd2).

    The surrogate key comes first: a hash of the natural key and valid_from, or a number with
    no origin. valid_from and valid_to come from updated_at (in check_cols mode from the build's
    time: no origin); is_current is `valid_to IS NULL`.
    """
    surrogate = model.surrogate_key or f"{model.name}_key"
    since = prefixed("scd2:valid_from", found.lineage.get(model.updated_at or "", ()))
    until = prefixed("scd2:valid_to", found.lineage.get(model.updated_at or "", ()))
    key: tuple[Origin, ...] = ()
    if model.surrogate_hash is not None:
        natural = tuple(origin for column in model.natural_key for origin in found.lineage.get(column, ()))
        key = prefixed("scd2:surrogate_key:hash", natural + since)
    lineage = {surrogate: tuple(sorted(set(key))), **found.lineage, "valid_from": since, "valid_to": until,
               "is_current": prefixed("operator:is null", until)}
    columns = (surrogate, *found.columns, "valid_from", "valid_to", "is_current")
    return SelectLineage(tuple(dict.fromkeys(columns)), lineage, found.reads)
