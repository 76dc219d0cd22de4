"""Applying and rolling back migrations, and reporting the state of each.

Every run holds the 'weir:migrate' session lock, reads what is applied only once it
holds it, and runs each migration in its own transaction together with its record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from runner.db.execute import run_in_transaction, run_outside_transaction
from runner.errors import ConfigError, EditedMigration, IrreversibleMigration, MigrationFailed, WeirError
from runner.project.migrations import Migration, read_migrations
from runner.state import migrations as migration_state
from runner.state.migrations import AppliedMigration

if TYPE_CHECKING:
    import psycopg

    from runner.project.settings import Settings

LOCK_NAME = "weir:migrate"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class MigrationState:
    """One row of `weir status`."""

    id: str
    state: str  # applied | pending | edited | missing-file
    applied_at: datetime | None
    checksum: str | None  # recorded when applied, else the file's
    display: str | None


@dataclass
class StepResult:
    """One migration applied or rolled back (or that would be, in a dry run)."""

    id: str
    display: str
    action: str  # apply | rollback
    milliseconds: float
    changes: list[str] = field(default_factory=list)  # catalog differences, reported by dry runs
    note: str = ""


def status(conn: psycopg.Connection, settings: Settings) -> list[MigrationState]:
    """Return the state of every migration, in file order, then applied ones whose file is gone."""
    migrations = read_migrations(settings.migrations_dir, settings.root)
    return _states(migrations, migration_state.read_applied(conn))


def migrate(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    to: str | None = None,
    dry_run: bool = False,
    accept_edits: Sequence[str] = (),
    on_progress: Progress = lambda message: None,
) -> list[StepResult]:
    """Apply pending migrations in order, up to and including `to` if given.

    Stops at the first failure (MigrationFailed), leaving every earlier migration
    applied and the failing one not at all. A dry run applies transactional
    migrations inside a transaction that is rolled back.
    """
    migrations = read_migrations(settings.migrations_dir, settings.root)
    last = _find(migrations, to).number if to else None
    accepted = {_find(migrations, name).id for name in accept_edits}
    with _locked(conn, settings, on_progress):
        applied = migration_state.read_applied(conn)
        _refuse_inconsistent(migrations, applied, accepted)
        pending = [m for m in migrations if m.id not in applied and (last is None or m.number <= last)]
        _refuse_out_of_order(migrations, applied, pending)
        if dry_run:
            return _dry_run(conn, pending, settings, "apply")
        with conn.transaction():
            migration_state.ensure_schema(conn)
            _record_checksums(conn, migrations, applied, accepted, on_progress)
        return _apply_all(conn, pending, settings, on_progress)


def rollback(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    steps: int | None = None,
    to: str | None = None,
    everything: bool = False,
    dry_run: bool = False,
    on_progress: Progress = lambda message: None,
) -> list[StepResult]:
    """Roll back the last `steps` applied migrations (default 1), those after `to`, or all."""
    migrations = read_migrations(settings.migrations_dir, settings.root)
    stop_after = _find(migrations, to).number if to else None
    with _locked(conn, settings, on_progress):
        applied = migration_state.read_applied(conn)
        _refuse_missing_files(migrations, applied)
        newest_first = [m for m in reversed(migrations) if m.id in applied]
        if everything:
            chosen = newest_first
        elif stop_after is not None:
            chosen = [m for m in newest_first if m.number > stop_after]
        else:
            chosen = newest_first[: 1 if steps is None else steps]
        for migration in chosen:
            if migration.irreversible:
                raise IrreversibleMigration(
                    f"{migration.display}: irreversible ({migration.irreversible}); nothing was rolled back."
                    f" Roll back to {migration.id} at the most (--to {migration.id})"
                )
        if dry_run:
            return _dry_run(conn, chosen, settings, "rollback")
        return _roll_back_all(conn, chosen, applied, settings, on_progress)


def invalid_indexes(conn: psycopg.Connection) -> list[str]:
    """Return the indexes left INVALID by a failed CREATE INDEX CONCURRENTLY, as 'schema.index'."""
    rows = conn.execute(
        """
        SELECT format('%I.%I', n.nspname, c.relname)
        FROM pg_index AS i
        JOIN pg_class AS c ON c.oid = i.indexrelid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE NOT i.indisvalid
        ORDER BY 1
        """
    ).fetchall()
    return [row[0] for row in rows]


def _locked(conn: psycopg.Connection, settings: Settings, on_progress: Progress):
    from runner.db.locking import run_lock

    return run_lock(conn, LOCK_NAME, settings.lock_wait, on_progress)


def _find(migrations: list[Migration], name: str) -> Migration:
    """Find a migration by id ('0003_orders'), number ('3' or '0003') or file name."""
    name = name.removesuffix(".sql")
    for migration in migrations:
        if name == migration.id or (name.isdigit() and int(name) == migration.number):
            return migration
    known = ", ".join(m.id for m in migrations[-5:]) or "none"
    raise ConfigError(f"no migration {name!r} in the migrations directory (latest: {known})")


def _states(migrations: list[Migration], applied: dict[str, AppliedMigration]) -> list[MigrationState]:
    states = []
    for migration in migrations:
        record = applied.get(migration.id)
        if record is None:
            states.append(MigrationState(migration.id, "pending", None, migration.checksum, migration.display))
            continue
        edited = record.checksum is not None and record.checksum != migration.checksum
        state = "edited" if edited else "applied"
        states.append(MigrationState(migration.id, state, record.applied_at, record.checksum, migration.display))
    on_disk = {m.id for m in migrations}
    for record in sorted(applied.values(), key=lambda r: r.id):
        if record.id not in on_disk:
            states.append(MigrationState(record.id, "missing-file", record.applied_at, record.checksum, None))
    return states


def _refuse_inconsistent(
    migrations: list[Migration], applied: dict[str, AppliedMigration], accepted: set[str]
) -> None:
    _refuse_missing_files(migrations, applied)
    for state in _states(migrations, applied):
        if state.state == "edited" and state.id not in accepted:
            raise EditedMigration(
                f"{state.display}: edited after it was applied (recorded checksum {state.checksum[:12]});"
                f" revert the edit and write a new migration, or accept it with"
                f" `weir migrate --accept-edit {state.id}`"
            )


def _refuse_missing_files(migrations: list[Migration], applied: dict[str, AppliedMigration]) -> None:
    on_disk = {m.id for m in migrations}
    missing = sorted(set(applied) - on_disk)
    if missing:
        raise MigrationFailed(
            f"{missing[0]}.sql is applied in the database but missing from the migrations directory;"
            " restore it from version control (are you on the right branch?)"
        )


def _refuse_out_of_order(
    migrations: list[Migration], applied: dict[str, AppliedMigration], pending: list[Migration]
) -> None:
    applied_numbers = [m.number for m in migrations if m.id in applied]
    if not pending or not applied_numbers:
        return
    newest = max(applied_numbers)
    for migration in pending:
        if migration.number < newest:
            newest_id = next(m.id for m in migrations if m.number == newest)
            raise MigrationFailed(
                f"{migration.display}: pending, but {newest_id}, numbered after it, is already applied;"
                f" renumber it after {newest_id} (weir new migration picks the next number)"
            )


def _record_checksums(
    conn: psycopg.Connection,
    migrations: list[Migration],
    applied: dict[str, AppliedMigration],
    accepted: set[str],
    on_progress: Progress,
) -> None:
    """Checksum migrations adopted from yoyo, and record edits the user accepted."""
    for migration in migrations:
        record = applied.get(migration.id)
        if record is None:
            continue
        if record.checksum is None:
            migration_state.record_checksum(conn, migration, "adopt", record.applied_at)
            on_progress(f"adopted {migration.id} from yoyo's records")
        elif migration.id in accepted and record.checksum != migration.checksum:
            migration_state.record_checksum(conn, migration, "accept-edit")
            on_progress(f"accepted the edit of {migration.id}: recorded checksum {migration.checksum[:12]}")


def _apply_all(
    conn: psycopg.Connection, pending: list[Migration], settings: Settings, on_progress: Progress
) -> list[StepResult]:
    results = []
    for index, migration in enumerate(pending):
        # Only the last commit of the run waits for the WAL flush; it makes the earlier,
        # asynchronously committed migrations durable too (a failure logs durably instead).
        durable = index == len(pending) - 1
        try:
            milliseconds = _apply_one(conn, migration, settings, durable)
        except WeirError as exc:
            _log_failure(conn, migration, "apply", exc)
            raise
        results.append(StepResult(migration.id, migration.display, "apply", milliseconds))
        on_progress(f"applied {migration.id} ({milliseconds:.0f} ms)")
    return results


def _apply_one(conn: psycopg.Connection, migration: Migration, settings: Settings, durable: bool) -> float:
    timeouts = _timeouts(migration, settings)
    if migration.transactional:
        return run_in_transaction(
            conn,
            migration.forward,
            migration.display,
            timeouts,
            finish=lambda ms: migration_state.record_apply(conn, migration, ms),
            durable=durable,
        )
    try:
        milliseconds = run_outside_transaction(conn, migration.forward, migration.display, timeouts)
    except MigrationFailed as exc:
        raise MigrationFailed(_with_invalid_indexes(conn, str(exc))) from None
    with conn.transaction():
        migration_state.record_apply(conn, migration, milliseconds)
    return milliseconds


def _roll_back_all(
    conn: psycopg.Connection,
    chosen: list[Migration],
    applied: dict[str, AppliedMigration],
    settings: Settings,
    on_progress: Progress,
) -> list[StepResult]:
    results = []
    for migration in chosen:
        assert migration.rollback is not None  # irreversible ones were refused before
        from_yoyo = applied[migration.id].in_yoyo
        timeouts = _timeouts(migration, settings, rollback=True)
        try:
            if migration.rollback_transactional:
                milliseconds = run_in_transaction(
                    conn,
                    migration.rollback,
                    migration.rollback.path.name,
                    timeouts,
                    finish=lambda ms, m=migration, yoyo=from_yoyo: migration_state.record_rollback(conn, m, ms, yoyo),
                )
            else:
                milliseconds = run_outside_transaction(conn, migration.rollback, migration.rollback.path.name, timeouts)
                with conn.transaction():
                    migration_state.record_rollback(conn, migration, milliseconds, from_yoyo)
        except WeirError as exc:
            _log_failure(conn, migration, "rollback", exc)
            raise
        results.append(StepResult(migration.id, migration.display, "rollback", milliseconds))
        on_progress(f"rolled back {migration.id} ({milliseconds:.0f} ms)")
    return results


def _dry_run(conn: psycopg.Connection, chosen: list[Migration], settings: Settings, action: str) -> list[StepResult]:
    """Run `chosen` inside one transaction that is always rolled back, and report catalog changes."""
    import psycopg

    from runner.migrate.fingerprint import diff, fingerprint

    results = []
    sequences = _sequence_positions(conn)
    try:
        with conn.transaction(force_rollback=True):
            for migration in chosen:
                sql_file = migration.forward if action == "apply" else migration.rollback
                transactional = migration.transactional if action == "apply" else migration.rollback_transactional
                if not transactional:
                    results.append(
                        StepResult(migration.id, migration.display, action, 0.0,
                                   note="not run: it runs outside a transaction; the dry run stops here")
                    )
                    break
                before = fingerprint(conn)
                milliseconds = run_in_transaction(conn, sql_file, sql_file.path.name if action == "rollback"
                                                  else migration.display, _timeouts(migration, settings))
                changes = diff(before, fingerprint(conn))
                results.append(StepResult(migration.id, migration.display, action, milliseconds, changes))
    finally:
        try:
            _restore_sequences(conn, sequences)
        except psycopg.Error:
            pass  # a sequence the dry run created is gone with the rollback
    return results


def _sequence_positions(conn: psycopg.Connection) -> list[tuple[str, int | None]]:
    # nextval() is not rolled back; remember positions so a dry run leaves no trace.
    return conn.execute(
        "SELECT format('%I.%I', schemaname, sequencename), last_value FROM pg_sequences"
    ).fetchall()


_RESET_SEQUENCE = """
SELECT setval(%(name)s::regclass, (SELECT seqstart FROM pg_sequence WHERE seqrelid = %(name)s::regclass), false)
"""


def _restore_sequences(conn: psycopg.Connection, positions: list[tuple[str, int | None]]) -> None:
    current = dict(_sequence_positions(conn))
    for name, last_value in positions:
        if name in current and current[name] != last_value:
            if last_value is None:
                conn.execute(_RESET_SEQUENCE, {"name": name})
            else:
                conn.execute("SELECT setval(%s::regclass, %s, true)", (name, last_value))


def _timeouts(migration: Migration, settings: Settings, rollback: bool = False):
    from runner.project.settings import Timeouts

    return Timeouts(
        lock_timeout=migration.setting("lock_timeout", settings.lock_timeout, rollback),
        statement_timeout=migration.setting("statement_timeout", settings.statement_timeout, rollback),
        lock_retries=settings.lock_retries,
    )


def _with_invalid_indexes(conn: psycopg.Connection, message: str) -> str:
    invalid = invalid_indexes(conn)
    if not invalid:
        return message
    listed = ", ".join(invalid)
    return f"{message}; INVALID index left behind: {listed} — drop it (DROP INDEX CONCURRENTLY) before re-running"


def _log_failure(conn: psycopg.Connection, migration: Migration, operation: str, exc: WeirError) -> None:
    import psycopg

    try:
        migration_state.record_failure(conn, migration.id, operation, str(exc))
    except psycopg.Error:
        pass  # the failure itself is what the user must see; the log is best effort
