"""`weir seed`: load the selected seeds that changed, under the build's lock (a seed changes what models read)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any

import psycopg

from runner.build.seeds.load import SeedResult, load_seeds
from runner.db.locking import run_lock
from runner.errors import ConfigError
from runner.project import Project, Seed

LOCK_NAME = "weir:build"  # the build's own: a build and a seed load never interleave


def select_seeds(seeds: Iterable[Seed], names: Iterable[str] = ()) -> list[Seed]:
    """Return the seeds called `names` ("schema.name" or "name" when only one schema has it); all when none."""
    every = list(seeds)
    wanted = [part for name in names for part in name.split()]
    if not wanted:
        return every
    chosen: dict[str, Seed] = {}
    for name in wanted:
        matches = [seed for seed in every if name in (seed.qualified, seed.name)]
        if len(matches) > 1:
            raise ConfigError(f"--select {name!r} is ambiguous: {', '.join(seed.qualified for seed in matches)};"
                              " write it as schema.name")
        if not matches:
            close = difflib.get_close_matches(name, [seed.qualified for seed in every], n=3)
            advice = f"did you mean {' or '.join(close)}?" if close else "seeds are seeds/<schema>/<name>.csv"
            raise ConfigError(f"--select {name!r}: no seed by that name; {advice}")
        chosen[matches[0].qualified] = matches[0]
    return [seed for seed in every if seed.qualified in chosen]


def run_seeds(
    conn: psycopg.Connection[Any],
    project: Project,
    *,
    select: Iterable[str] = (),
    force: bool = False,
    on_wait: Callable[[str], None] = lambda message: None,
    on_result: Callable[[SeedResult], None] | None = None,
) -> list[SeedResult]:
    """Load the selected seeds of `project` that changed (all of them with `force`); see load_seeds."""
    seeds = select_seeds(project.seeds, select)
    with run_lock(conn, LOCK_NAME, project.settings.lock_wait, on_wait):
        return load_seeds(conn, seeds, project.settings.timeouts, force=force, on_result=on_result)
