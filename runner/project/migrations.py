"""The migrations directory: `NNNN_slug.sql` files, their `.rollback.sql` pairs and headers.

The file format is yoyo's (same names, same `.rollback.sql` pairing, same
`-- transactional: false`), plus `-- weir:` directives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from runner.errors import MissingRollback, ProjectFileError
from runner.project.problems import Problems
from runner.project.settings import DEFAULTS
from runner.project.sqlfile import SqlFile, read_sql_file

FORWARD_DIRECTIVES = {"transactional", "irreversible", "lock_timeout", "statement_timeout"}
ROLLBACK_DIRECTIVES = {"transactional", "lock_timeout", "statement_timeout"}

_NAME = re.compile(r"^(?P<number>\d+)_(?P<slug>[A-Za-z0-9_]+)$")
_BOOLEANS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


@dataclass
class Migration:
    """One forward migration file and its rollback."""

    id: str  # the file name without .sql, e.g. 0001_raw_schema
    number: int
    forward: SqlFile
    rollback: SqlFile | None
    display: str  # the path as shown in messages, relative to the project

    @property
    def checksum(self) -> str:
        return self.forward.checksum

    @property
    def rollback_checksum(self) -> str | None:
        return self.rollback.checksum if self.rollback else None

    @property
    def transactional(self) -> bool:
        return _transactional(self.forward)

    @property
    def rollback_transactional(self) -> bool:
        return _transactional(self.rollback) if self.rollback else True

    @property
    def irreversible(self) -> str | None:
        """The reason this migration cannot be rolled back, or None."""
        directive = self.forward.directives.get("irreversible")
        return directive.value if directive else None

    def setting(self, name: str, default: str, rollback: bool = False) -> str:
        """Return a per-file override such as lock_timeout, or `default`."""
        source = self.rollback if rollback else self.forward
        directive = source.directives.get(name) if source else None
        return directive.value if directive else default


def read_migrations(directory: Path, root: Path | None = None) -> list[Migration]:
    """Read and validate every migration in `directory`, ordered by number.

    Raises ProjectFileError (or MissingRollback) before any database work when a
    file is misnamed, malformed, duplicated, lacks its rollback, or holds a statement its
    transaction cannot run; several at once as ProjectProblems, one line each. A project
    without the default `migrations/` directory has no migrations.
    """
    if not directory.is_dir():
        if root is not None and directory == root / DEFAULTS["migrations"]:
            return []  # a project of models and checks only; a directory named in setup.cfg must exist
        raise ProjectFileError(
            f"{_shown(directory, root)}: no migrations directory; create it or set [weir] migrations"
        )
    forwards: dict[str, Path] = {}
    rollbacks: dict[str, Path] = {}
    for path in sorted(directory.glob("*.sql")):
        if path.name.endswith(".rollback.sql"):
            rollbacks[path.name[: -len(".rollback.sql")]] = path
        else:
            forwards[path.stem] = path
    problems = Problems()
    for stem, path in rollbacks.items():
        if stem not in forwards:
            problems.add(ProjectFileError(
                f"{_shown(path, root)}: rollback without a migration {stem}.sql; rename or remove it"
            ))

    migrations: list[Migration] = []
    seen_numbers: dict[int, str] = {}
    for stem, path in forwards.items():
        with problems.each():
            migration = _read_migration(stem, path, rollbacks.get(stem), seen_numbers, root)
            for problem in _problems_of(migration, root):
                problems.add(problem)
            migrations.append(migration)
    problems.raise_any()
    migrations.sort(key=lambda m: m.number)
    return migrations


def _read_migration(
    stem: str, path: Path, rollback_path: Path | None, seen_numbers: dict[int, str], root: Path | None
) -> Migration:
    shown = _shown(path, root)
    match = _NAME.match(stem)
    if not match:
        raise ProjectFileError(
            f"{shown}: migration names must look like 0001_add_customer_email.sql;"
            " rename it (weir new migration makes one)"
        )
    number = int(match.group("number"))
    if number in seen_numbers:
        raise ProjectFileError(
            f"{shown}: number {number} is also used by {seen_numbers[number]}.sql; renumber one of them"
        )
    seen_numbers[number] = stem
    forward = read_sql_file(path, FORWARD_DIRECTIVES, shown)
    rollback = (
        read_sql_file(rollback_path, ROLLBACK_DIRECTIVES, _shown(rollback_path, root)) if rollback_path else None
    )
    return Migration(id=stem, number=number, forward=forward, rollback=rollback, display=shown)


def _problems_of(migration: Migration, root: Path | None) -> Iterator[ProjectFileError]:
    shown = migration.display
    if not migration.forward.statements:
        yield ProjectFileError(f"{shown}: holds no SQL statement; write the migration or remove the file")
    for sql_file in filter(None, (migration.forward, migration.rollback)):
        directive = sql_file.directives.get("transactional")
        if directive and directive.value.lower() not in _BOOLEANS:
            yield ProjectFileError(
                f"{_shown(sql_file.path, root)}:{directive.line}: transactional must be true or false,"
                f" not {directive.value!r}"
            )
        elif _transactional(sql_file):
            yield from _untransactable(sql_file, _shown(sql_file.path, root))
    irreversible = migration.forward.directives.get("irreversible")
    if irreversible and irreversible.value.lower() in ("true", ""):
        yield ProjectFileError(
            f'{shown}:{irreversible.line}: say why it is irreversible: -- weir: irreversible="drops legacy data"'
        )
    elif irreversible and migration.rollback:
        yield ProjectFileError(
            f"{shown}:{irreversible.line}: declared irreversible but {migration.id}.rollback.sql exists;"
            " remove one of them"
        )
    if not irreversible and not migration.rollback:
        yield MissingRollback(
            f"{shown}: no rollback file {migration.id}.rollback.sql; write it, or declare the"
            ' migration irreversible with -- weir: irreversible="reason"'
        )


def _untransactable(sql_file: SqlFile, shown: str) -> Iterator[ProjectFileError]:
    """Refuse what would break the one transaction a transactional file runs in.

    Transaction control would commit part of the file before Weir records it (a partial
    write a re-run then trips over); what PostgreSQL refuses in a transaction block would
    fail at run time. A file with `-- transactional: false` runs its statements one by one
    in autocommit, where both are the user's to arrange.
    """
    directive = sql_file.directives.get("transactional")
    why = f" (line {directive.line}: transactional: {directive.value})" if directive else ""
    header = "put `-- transactional: false` at the top of the file to run its statements one by one"
    for statement in sql_file.statements:
        control = statement.transaction_control
        if control is not None:
            yield ProjectFileError(
                f"{shown}:{statement.keyword_line}: {control} is transaction control, and this file runs in one"
                f" transaction{why}; remove it (Weir commits the file and its record together), or {header}"
            )
        refused = statement.outside_transaction
        if refused is not None:
            yield ProjectFileError(
                f"{shown}:{statement.keyword_line}: {refused} cannot run inside a transaction, and this file"
                f" runs in one{why}; {header}"
            )


def _transactional(sql_file: SqlFile) -> bool:
    directive = sql_file.directives.get("transactional")
    return _BOOLEANS.get(directive.value.lower(), True) if directive else True


def _shown(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)


def slugify(title: str) -> str:
    """Turn a title into a file-name slug: "Add customer e-mail" -> "add_customer_e_mail"."""
    slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
    return slug or "migration"


def new_migration(directory: Path, title: str) -> tuple[Path, Path]:
    """Create the next numbered migration and its rollback file; return both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group("number")) for p in directory.glob("*.sql") if (m := _NAME.match(p.name.split(".")[0]))]
    stem = f"{max(numbers, default=0) + 1:04d}_{slugify(title)}"
    forward = directory / f"{stem}.sql"
    rollback = directory / f"{stem}.rollback.sql"
    forward.write_text(
        f"-- {title}\n-- Runs in one transaction; add `-- transactional: false` for CREATE INDEX CONCURRENTLY.\n\n"
    )
    rollback.write_text(f"-- Undo {stem}.sql: restore the schema exactly as it was before it.\n\n")
    return forward, rollback
