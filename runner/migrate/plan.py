"""What a run will do: the state of each migration, and which to apply or roll back.

Every run holds the 'weir:migrate' session lock and reads what is applied only once it
holds it, so two runs never plan from the same state.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from runner.db.locking import run_lock
from runner.errors import ConfigError, EditedMigration, IrreversibleMigration, MigrationFailed
from runner.migrate.steps import Progress
from runner.project import Project
from runner.project.migrations import Migration
from runner.project.settings import Settings
from runner.state import migrations as migration_state
from runner.state.migrations import AppliedMigration

LOCK_NAME = "weir:migrate"


@dataclass(frozen=True)
class MigrationState:
    """One row of `weir status`."""

    id: str
    state: str  # applied | pending | edited | missing-file
    applied_at: datetime | None
    checksum: str | None  # recorded when applied, else the file's
    display: str | None


def status(conn: psycopg.Connection[Any], project: Project) -> list[MigrationState]:
    """Return the state of every migration, in file order, then applied ones whose file is gone."""
    return states(project.migrations, migration_state.read_applied(conn))


@contextmanager
def locked(conn: psycopg.Connection[Any], settings: Settings, on_progress: Progress) -> Iterator[None]:
    """Hold the migration lock for the block, waiting up to the project's lock_wait for another run."""
    with run_lock(conn, LOCK_NAME, settings.lock_wait, on_progress):
        yield


def find(migrations: list[Migration], name: str) -> Migration:
    """Find a migration by id ('0003_orders'), number ('3' or '0003') or file name."""
    name = name.removesuffix(".sql")
    for migration in migrations:
        if name == migration.id or (name.isdigit() and int(name) == migration.number):
            return migration
    known = ", ".join(m.id for m in migrations[-5:]) or "none"
    raise ConfigError(f"no migration {name!r} in the migrations directory (latest: {known})")


def states(migrations: list[Migration], applied: dict[str, AppliedMigration]) -> list[MigrationState]:
    """Compare the files with the records: each migration's state, then records without a file."""
    found = []
    for migration in migrations:
        record = applied.get(migration.id)
        if record is None:
            found.append(MigrationState(migration.id, "pending", None, migration.checksum, migration.display))
            continue
        edited = record.checksum is not None and record.checksum != migration.checksum
        state = "edited" if edited else "applied"
        found.append(MigrationState(migration.id, state, record.applied_at, record.checksum, migration.display))
    on_disk = {m.id for m in migrations}
    for record in sorted(applied.values(), key=lambda r: r.id):
        if record.id not in on_disk:
            found.append(MigrationState(record.id, "missing-file", record.applied_at, record.checksum, None))
    return found


def to_apply(
    migrations: list[Migration], applied: dict[str, AppliedMigration], accepted: set[str], last: int | None
) -> list[Migration]:
    """Return the pending migrations up to number `last`, refusing edited, missing or out-of-order ones.

    Every such problem is reported at once, so one run tells the user all there is to fix.
    """
    edited = [
        f"{state.display}: edited after it was applied (recorded checksum {(state.checksum or '')[:12]});"
        f" revert the edit and write a new migration, or accept it with `weir migrate --accept-edit {state.id}`"
        for state in states(migrations, applied)
        if state.state == "edited" and state.id not in accepted
    ]
    pending = [m for m in migrations if m.id not in applied and (last is None or m.number <= last)]
    others = _missing_files(migrations, applied) + _out_of_order(migrations, applied, pending)
    if edited and not others:
        raise EditedMigration(refusal(edited, "applied"))
    if edited or others:
        raise MigrationFailed(refusal(others + edited, "applied"))
    return pending


def refusal(problems: list[str], verb: str) -> str:
    """Return one problem as it is, or several under a headline that counts them."""
    if len(problems) == 1:
        return problems[0]
    listed = "\n".join(f"  {problem}" for problem in problems)
    return f"{len(problems)} problems, so nothing was {verb}:\n{listed}"


def to_roll_back(
    migrations: list[Migration],
    applied: dict[str, AppliedMigration],
    steps: int | None,
    stop_after: int | None,
    everything: bool,
) -> list[Migration]:
    """Return the applied migrations to roll back, newest first, refusing irreversible ones."""
    missing = _missing_files(migrations, applied)
    if missing:
        raise MigrationFailed(refusal(missing, "rolled back"))
    newest_first = [m for m in reversed(migrations) if m.id in applied]
    if everything:
        chosen = newest_first
    elif stop_after is not None:
        chosen = [m for m in newest_first if m.number > stop_after]
    else:
        chosen = newest_first[: 1 if steps is None else steps]
    irreversible = [
        f"{migration.display}: irreversible ({migration.irreversible}); nothing was rolled back."
        f" Roll back to {migration.id} at the most (--to {migration.id})"
        for migration in chosen
        if migration.irreversible
    ]
    if irreversible:
        raise IrreversibleMigration(refusal(irreversible, "rolled back"))
    return chosen


def _missing_files(migrations: list[Migration], applied: dict[str, AppliedMigration]) -> list[str]:
    on_disk = {m.id for m in migrations}
    return [
        f"{missing}.sql is applied in the database but missing from the migrations directory;"
        " restore it from version control (are you on the right branch?)"
        for missing in sorted(set(applied) - on_disk)
    ]


def _out_of_order(
    migrations: list[Migration], applied: dict[str, AppliedMigration], pending: list[Migration]
) -> list[str]:
    applied_numbers = [m.number for m in migrations if m.id in applied]
    if not pending or not applied_numbers:
        return []
    newest = max(applied_numbers)
    newest_id = next(m.id for m in migrations if m.number == newest)
    return [
        f"{migration.display}: pending, but {newest_id}, numbered after it, is already applied;"
        f" renumber it after {newest_id} (weir new migration picks the next number)"
        for migration in pending
        if migration.number < newest
    ]
