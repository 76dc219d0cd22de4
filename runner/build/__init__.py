"""Building models: the graph, the build run, materialize/ (one module per kind), and seeds/ (CSV reference data).

Entry points: runner.build.run's `build(conn, project)`, `list_models(conn, project)` and
`lineage(project, name)`; what they return is in runner.build.report. Nothing is imported
here, so reading the graph (weir lint, weir lineage) does not load psycopg.
"""
