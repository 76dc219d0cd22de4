"""Weir: PostgreSQL migrations, star-schema models and SQL checks in plain SQL.

The package is a library that takes a psycopg connection; `runner.cli` is the thin
Click layer on top. Keep this module free of heavy imports: `weir --version` loads it.
"""

__version__ = "0.1.0"
