"""Weir's bookkeeping in schema `weir`: the only code that reads or writes those tables.

- schema.py: installing each part (sql/<part>.sql) and upgrading it (sql/upgrade/), versioned
- migrations.py: weir.migration, what is applied (and yoyo's table, to adopt what yoyo applied)
- builds.py: build runs, each model's result and the inputs it was built from
- models.py: weir.model_state (checksums, watermarks) and the weir.since() settings of a build
- checks.py, gates.py: check runs and results, gate results, and the latest of each

Callers import the module for their concern, as `from runner.state import builds`.
"""
