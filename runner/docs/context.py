"""What every generated file reads: the project, the source's catalog, and what is derived from both once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from runner.docs.descriptions import Undocumented, undocumented
from runner.docs.guards import Guarded, guarded
from runner.docs.source import DocsSource
from runner.docs.star import Link, links
from runner.project import Check, Model, Project


@dataclass
class DocsContext:
    """The project and the catalog it makes, with lookups the renderers share."""

    project: Project
    source: DocsSource

    @cached_property
    def models(self) -> dict[str, Model]:
        """Every model by "schema.name"."""
        return {model.qualified: model for model in self.project.models}

    def model(self, qualified: str) -> Model | None:
        """Return the model that builds `qualified`, or None for a migration's relation."""
        return self.models.get(qualified)

    def made_by(self, qualified: str) -> str:
        """Say what makes a relation: its model file and kind, or the migrations."""
        model = self.model(qualified)
        if model is None:
            return f"created by {self.project.settings.migrations_dir.name}/"
        return f"model `{model.display}` ({model.kind})"

    @cached_property
    def links(self) -> list[Link]:
        """Every relationship between relations."""
        return links(self.source.catalog, self.project.models)

    @cached_property
    def undocumented(self) -> list[Undocumented]:
        """Every column without a description."""
        return undocumented(self.source.catalog, self.project.models, self.project.settings.migrations_dir.name)

    def guarded(self, check: Check) -> Guarded:
        """Return what `check` guards: the check library's arguments, and every column its SELECT reads."""
        found = guarded(check, self.source.catalog)
        if self.lineage is None:
            return found
        catalog = self.source.catalog
        reads = {(relation, column) for relation, column in self.lineage.checks.get(check.name, ())
                 if (table := catalog.relation(relation)) is not None and table.column(column) is not None}
        return Guarded(tuple(sorted(set(found.relations) | {relation for relation, _ in reads})),
                       tuple(sorted(set(found.columns) | {f"{relation}.{column}" for relation, column in reads})),
                       found.functions)

    @cached_property
    def checks_on(self) -> dict[str, list[Check]]:
        """The checks that read each relation ("schema.name" -> checks, sorted by name)."""
        found: dict[str, list[Check]] = {}
        for check in self.project.checks:
            for relation in self.guarded(check).relations:
                found.setdefault(relation, []).append(check)
        return found

    @cached_property
    def lineage(self) -> Any:
        """The project's column lineage (runner.lineage), or None while that package is not there."""
        from runner.docs.lineage_seam import project_lineage

        return project_lineage(self.project, self.source.catalog)
