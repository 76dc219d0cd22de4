"""Building models: the graph, the build run, and materialize/ (one module per kind).

`build(conn, project, threads=2)` builds a project's models; `list_models` and `lineage`
answer `weir ls` and `weir lineage`.
"""

from runner.build.graph import ModelGraph
from runner.build.report import HEADERS, LS_HEADERS, BuildEvent, BuildReport, ModelResult
from runner.build.run import build, lineage, list_models

__all__ = [
    "HEADERS", "LS_HEADERS", "BuildEvent", "BuildReport", "ModelGraph", "ModelResult", "build", "lineage",
    "list_models",
]
