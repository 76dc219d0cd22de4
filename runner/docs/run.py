"""Generate the docs from a throwaway or a live database, and compare them with the committed ones."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from runner.docs.contracts_seam import TYPESCRIPT, classify_change
from runner.docs.descriptions import Undocumented
from runner.docs.files import stale_files
from runner.docs.generate import generate
from runner.docs.source import DocsSource, live_source, throwaway_source
from runner.project import Project


@dataclass(frozen=True)
class Docs:
    """The generated files (name -> text) and the columns nobody described."""

    files: dict[str, str]
    undocumented: tuple[Undocumented, ...]


def document_throwaway(server: psycopg.Connection[Any], project: Project) -> Docs:
    """Document `project` as its files build it, on a scratch database of the server of autocommit `server`."""
    return _docs(project, throwaway_source(server, project))


def document_live(conn: psycopg.Connection[Any], project: Project) -> Docs:
    """Document the live database of `conn`, with its row counts and run history."""
    return _docs(project, live_source(conn, project))


def _docs(project: Project, source: DocsSource) -> Docs:
    from runner.docs.descriptions import undocumented

    files = generate(project, source)
    missing = undocumented(source.catalog, project.models, project.settings.migrations_dir.name)
    return Docs(files, tuple(missing))


@dataclass(frozen=True)
class Drift:
    """A stale file of the docs directory and, for the TypeScript contract, how it changed."""

    name: str
    change: str  # breaking/additive classification; '' for other files


def check_docs(out: Path, docs: Docs) -> list[Drift]:
    """Return each file of `out` that differs from `docs` (or is missing), with contract changes classified."""
    drifts = []
    for name in stale_files(out, docs.files):
        change = ""
        if name == TYPESCRIPT:
            try:
                old = (out / name).read_text(encoding="utf-8")
            except OSError:
                old = ""
            change = classify_change(old, docs.files[name])
        drifts.append(Drift(name, change))
    return drifts
