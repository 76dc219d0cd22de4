"""What one build run shares with every model it builds, passed down as one object."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from runner.build.graph import ModelGraph
from runner.build.report import BuildEvent
from runner.db.retry import RunSession
from runner.db.workers import WorkerConnections
from runner.project import Check, Project
from runner.state.builds import Survey


@dataclass(frozen=True)
class BuildOptions:
    """What the caller asked for: which models, from scratch or not, on how many connections."""

    select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    full_refresh: bool = False
    threads: int = 1


@dataclass(frozen=True)
class BuildContext:
    """One build run: the project, what was read before any model ran, and where to build and record."""

    project: Project
    graph: ModelGraph  # every model of the project, not only the selected ones
    options: BuildOptions
    run_id: int
    session: RunSession  # the run's own connection: holds the lock, records what runs on no worker
    workers: WorkerConnections  # one connection per worker thread
    gates: Mapping[str, tuple[Check, ...]]  # model -> its gate checks (runner.checks.gates)
    opaque: Mapping[str, list[str]]  # model -> functions it calls that may read tables (never skipped)
    emit: Callable[[BuildEvent], None]
    survey: Survey  # what every selected model and its inputs looked like before the first was built
    built: set[str] = field(default_factory=set)  # models built so far: their readers look again

    @property
    def conn(self) -> psycopg.Connection[Any]:
        """The run's own connection as of now: a new one, holding the lock again, after one was lost."""
        return self.session.conn
