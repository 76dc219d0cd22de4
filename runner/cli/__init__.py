"""The `weir` command: a thin Click layer over the runner library.

Each command reads its options, calls one library function and reports. Heavy modules
are imported inside the commands so `weir --help` starts fast. `app` holds the group and
what commands share; each other module registers one family of commands on it.
"""

from runner.cli import (  # noqa: F401 (each registers its commands)
    checks,
    dag,
    database,
    docs,
    lint,
    migrations,
    models,
    observe,
    pii,
    plan,
    retention,
    seeds,
    unittests,
)
from runner.cli.app import cli, main
from runner.cli.examples import add_examples

add_examples(cli)

__all__ = ["cli", "main"]
