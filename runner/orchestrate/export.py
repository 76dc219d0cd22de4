"""Write an orchestrator export to its file, or say whether the file on disk is what would be written."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from runner.orchestrate import airflow, dagster
from runner.orchestrate.plan import Plan, plan_of
from runner.project import Project

# orchestrator -> (renderer, default file relative to the project root)
ORCHESTRATORS: dict[str, tuple[Callable[[Plan, str], str], str]] = {
    "airflow": (airflow.render, "dags/weir_airflow.py"),
    "dagster": (dagster.render, "dags/weir_dagster.py"),
}


def export_path(project: Project, orchestrator: str, out: Path | None) -> Path:
    """Return the file an export goes to: `out`, else its default under the project root."""
    return out if out is not None else project.root / ORCHESTRATORS[orchestrator][1]


def render_export(project: Project, orchestrator: str, path: Path) -> str:
    """Return the text of the export at `path`; the same project and path always give the same text."""
    render, _ = ORCHESTRATORS[orchestrator]
    relative = os.path.relpath(project.root.resolve(), path.resolve().parent)
    return render(plan_of(project), Path(relative).as_posix())


def write_export(project: Project, orchestrator: str, path: Path) -> bool:
    """Write the export to `path` (atomically, creating its directory); return False when it was already so."""
    text = render_export(project, orchestrator, path)
    if is_current(path, text):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return True


def is_current(path: Path, text: str) -> bool:
    """Return True when `path` holds exactly `text`."""
    try:
        return path.read_text(encoding="utf-8") == text
    except (FileNotFoundError, UnicodeDecodeError, IsADirectoryError):
        return False
