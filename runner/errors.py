"""Every error a Weir user can cause, each with the exit code the CLI gives it.

A message is one line that names the file (and line) or object involved and says
what to do next. The CLI prints it without a traceback.
"""

from collections.abc import Sequence
from typing import Any

EXIT_OK = 0
EXIT_FAIL = 1  # a migration, model or check failed
EXIT_ERROR = 2  # usage, configuration or project files are wrong
EXIT_BREAKING = 3  # `weir plan`: a change breaks a reader, and --allow-breaking was not given


class WeirError(Exception):
    """Base of every error Weir reports to a user."""

    exit_code = EXIT_FAIL


class ConfigError(WeirError):
    """The project or its settings are wrong."""

    exit_code = EXIT_ERROR


class ConnectionFailed(WeirError):
    """The database could not be reached or refused the login."""

    exit_code = EXIT_ERROR


class TargetRefused(WeirError):
    """The database refuses this work as configured: it is read-only, or the role lacks a privilege."""

    exit_code = EXIT_ERROR


class InsufficientResources(WeirError):
    """The server has no room now (too many connections, disk full); nothing more was changed."""


class ProjectFileError(WeirError):
    """A SQL file of the project is malformed; nothing was run."""

    exit_code = EXIT_ERROR


class MissingRollback(ProjectFileError):
    """A migration has no rollback file and does not declare itself irreversible."""


class EditedMigration(WeirError):
    """An applied migration's file changed after it was applied."""


class MigrationFailed(WeirError):
    """PostgreSQL rejected a statement of a migration; its transaction was rolled back."""


class LockHeld(WeirError):
    """Another Weir run holds the lock and did not release it in time."""


class RunLockLost(WeirError):
    """A run lost the connection holding its lock, and another run took the lock before it reconnected."""


class IrreversibleMigration(WeirError):
    """A rollback was asked of a migration that declares itself irreversible."""


class VerifyFailed(WeirError):
    """A rollback did not restore the schema it started from."""


class EmbeddedServerError(WeirError):
    """The embedded PostgreSQL could not be started or stopped."""

    exit_code = EXIT_ERROR


class ModelFailed(WeirError):
    """A model could not be built; its transaction was rolled back and the previous version stays."""


class GateFailed(ModelFailed):
    """A gate of a model failed or could not run; the model's transaction was rolled back."""

    def __init__(self, message: str, results: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.results = tuple(results)  # the GateResult of every gate that ran


class CheckError(WeirError):
    """Checks could not be run at all: their history tables or the check library could not be set up."""

    exit_code = EXIT_ERROR


class SampleDataError(WeirError):
    """The raw schema is not in the state the sample-data generator needs."""


class ProjectProblems(ProjectFileError):
    """Several files of the project are wrong: one line each, then how many; nothing was run."""

    def __init__(self, problems: Sequence[ProjectFileError]) -> None:
        self.problems = tuple(problems)
        lines = [str(problem) for problem in self.problems]
        super().__init__("\n".join([*lines, f"{len(lines)} problems in the project"]))


class DocsError(WeirError):
    """The docs could not be written where asked; nothing was changed."""

    exit_code = EXIT_ERROR


class DocsStale(WeirError):
    """The committed docs differ from what `weir docs` generates, or columns are undocumented under --strict."""


class LineageError(ConfigError):
    """Column lineage asked of something that is not there: an unknown model or column, or not a SELECT."""


class BadSeed(ProjectFileError):
    """A seed's CSV or types file is malformed (a ragged row, a value of the wrong type, not UTF-8); nothing loaded."""
