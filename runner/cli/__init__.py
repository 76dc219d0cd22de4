"""The `weir` command: a thin Click layer over the runner library.

Each command reads its options, calls one library function and reports. Heavy modules
are imported inside the commands so `weir --help` starts fast. `app` holds the group and
what commands share; each other module registers one family of commands on it.
"""

from runner.cli import checks, dag, database, lint, migrations, models, observe  # noqa: F401 (each registers its commands)
from runner.cli.app import cli, main
from runner.cli.examples import add_examples

add_examples(cli)

__all__ = ["cli", "main"]
