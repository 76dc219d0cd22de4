"""Schema evolution: apply, roll back, dry run, status and verify, each over a psycopg connection.

    from runner.migrate import migrate
    from runner.project import Project

    for step in migrate(conn, Project.load("path/to/project")):
        print(step.id, step.milliseconds)
"""

from runner.migrate.apply import migrate
from runner.migrate.indexes import advice as invalid_index_advice
from runner.migrate.indexes import invalid_indexes
from runner.migrate.plan import LOCK_NAME, MigrationState, status
from runner.migrate.rollback import rollback
from runner.migrate.steps import StepResult
from runner.migrate.verify import MigrationResult, VerifyReport, verify

__all__ = [
    "LOCK_NAME",
    "MigrationResult",
    "MigrationState",
    "StepResult",
    "VerifyReport",
    "invalid_index_advice",
    "invalid_indexes",
    "migrate",
    "rollback",
    "status",
    "verify",
]
