"""What the user wrote, read once: settings, migrations, models, checks and the gates among them.

`Project.load(root)` finds the project and parses its `[weir]` settings; each kind of file
is read the first time a command asks for it, and kept, so a command that only migrates
never parses a model, and one that builds and checks reads every file once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from runner.project.checks import Check, read_checks
from runner.project.gates import gates_of
from runner.project.migrations import Migration, read_migrations
from runner.project.models import Model, read_models
from runner.project.settings import Settings, Timeouts, load_settings

__all__ = ["Check", "Migration", "Model", "Project", "Settings", "Timeouts"]


@dataclass
class Project:
    """A Weir project: its settings, and its files as typed objects, each read on first use."""

    settings: Settings

    @classmethod
    def load(cls, root: Path | None = None) -> Project:
        """Read the project at `root`, or the nearest directory up whose setup.cfg has a [weir] section."""
        return cls(load_settings(root))

    @property
    def root(self) -> Path:
        """The project directory: paths in messages are relative to it."""
        return self.settings.root

    @cached_property
    def migrations(self) -> list[Migration]:
        """Every migration, in order; raises ProjectFileError naming each malformed one (several: ProjectProblems)."""
        return read_migrations(self.settings.migrations_dir, self.root)

    @cached_property
    def models(self) -> list[Model]:
        """Every model, sorted by relation name; none when models/ does not exist."""
        if not self.settings.models_dir.is_dir():
            return []
        models = read_models(self.settings.models_dir, self.root)
        # setup.cfg's schedule and sla are the default of every model whose header does not say.
        schedule, sla = self.settings.schedule, self.settings.sla
        return [replace(model, schedule=model.schedule or schedule, sla=model.sla or sla) for model in models]

    @cached_property
    def checks(self) -> list[Check]:
        """Every check, sorted by name; none when checks/ does not exist."""
        return read_checks(self.settings.checks_dir, self.root)

    @cached_property
    def gates(self) -> dict[str, tuple[Check, ...]]:
        """The gates of each model ("schema.name" -> checks), validated against the models."""
        return gates_of(self.checks, self.models)
