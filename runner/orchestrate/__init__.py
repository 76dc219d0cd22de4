"""Orchestrator exports: Weir's graph as an Airflow DAG file or a Dagster definitions module.

`plan` reads the project into tasks (migrations, one per model, one per check); `airflow`
and `dagster` render them; `export` writes the file or tells whether it is current.
"""

from runner.orchestrate.export import ORCHESTRATORS, export_path, is_current, render_export, write_export
from runner.orchestrate.plan import CheckTask, ModelTask, Plan, plan_of

__all__ = [
    "ORCHESTRATORS",
    "CheckTask",
    "ModelTask",
    "Plan",
    "export_path",
    "is_current",
    "plan_of",
    "render_export",
    "write_export",
]
