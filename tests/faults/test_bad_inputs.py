"""Hostile edits to the example project's files: refused or run cleanly, never partial, always recoverable.

Hypothesis takes one file of the example project (setup.cfg, a migration, a model or a
check) and breaks it the way people and tools do: bytes that are not UTF-8, a BOM, an
unclosed quote in a header, a directive unknown or repeated or out of range, transaction
control or CONCURRENTLY where it cannot run, a truncated file, a duplicated or dropped
line. `weir run` on the broken copy must end with a documented exit code and no traceback,
leave no lock or shadow relation, and a run refused before it began (a malformed file or
setting: exit 2, one `weir:` line) must leave the database as it was. Then the file is put
back: `weir run` must converge on what a run of the intact project leaves, so nothing the
broken run did is half there (unless the broken migration was applied and recorded: putting
it back is then an edit of an applied migration, rightly refused).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import psycopg
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
TRIALS = int(os.environ.get("WEIR_FAULT_TRIALS", "3"))
PROJECT_FILES = sorted(
    str(path.relative_to(ROOT))
    for pattern in ("setup.cfg", "migrations/*.sql", "models/*/*.sql", "checks/*/*.sql")
    for path in ROOT.glob(pattern)
)
# What people and tools put in SQL files and setup.cfg by mistake, inserted at a line start.
HOSTILE = [
    b"\xff\xfe not UTF-8 \xc3\x28\n",
    b"\xef\xbb\xbf",
    b"-- weir: description=\"an unclosed quote\n",
    b"-- weir: no_such_directive=1\n",
    b"-- weir: kind=table\n-- weir: kind=view\n",
    b"-- weir: lock_timeout=-5s\n",
    b"BEGIN;\n",
    b"COMMIT;\n",
    b"COMMIT;\nSELECT 1/0;\n",
    b"ROLLBACK;\n",
    b"SAVEPOINT s;\n",
    b"CREATE INDEX CONCURRENTLY bad_idx ON raw.orders (status);\n",
    b"VACUUM;\n",
    b"SELECT 1/0;\n",
    b"\x00\n",
    b"lock_retries = -1\n",
    b"statement_timeout = forever\n",
    b"[weir\n",
    b"$$ unterminated dollar quote\n",
    b"/* unclosed comment\n",
]
# Issue 15's partial write: a transactional migration that commits, then fails, must not
# leave its first half applied and unrecorded. Tried on every run, not only when drawn.
_ORDERS = (ROOT / "migrations" / "0003_orders.sql").read_bytes()
COMMIT_THEN_FAIL = ("migrations/0003_orders.sql",
                    _ORDERS.replace(b"\nCREATE INDEX", b"\nCOMMIT;\nSELECT 1/0;\nCREATE INDEX", 1))
# Cut short into valid SQL that fails when it runs, outside a transaction: its failure is logged.
_INDEX = (ROOT / "migrations" / "0005_orders_ordered_at_index.sql").read_bytes()
CUT_SHORT_AND_FAILING = ("migrations/0005_orders_ordered_at_index.sql",
                         _INDEX[:_INDEX.index(b"DROP INDEX CONCURRENTLY I") + len(b"DROP INDEX CONCURRENTLY I")])
# A dropped description line: the run builds the view without its comment, and the run after
# the file is put back skips the view (its SELECT is as built) yet must store the description.
_REGIONS = (ROOT / "models" / "marts" / "agg_customers_by_region.sql").read_bytes()
DESCRIPTION_DROPPED = ("models/marts/agg_customers_by_region.sql",
                       b"".join(line for line in _REGIONS.splitlines(keepends=True)
                                if not line.startswith(b"-- weir: description=")))
_EMPTY_CATALOG = "SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"


@st.composite
def broken_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """Draw one project file and a broken version of its bytes."""
    relative = draw(st.sampled_from(PROJECT_FILES), label="file")
    lines = (ROOT / relative).read_bytes().splitlines(keepends=True)
    at = draw(st.integers(0, len(lines)), label="at line")
    how = draw(st.sampled_from(["insert", "truncate", "duplicate line", "drop line"]), label="how")
    if how == "insert":
        lines.insert(at, draw(st.sampled_from(HOSTILE) | st.binary(min_size=1, max_size=20), label="inserted"))
    elif how == "truncate":
        content = b"".join(lines)
        return relative, content[:draw(st.integers(0, max(0, len(content) - 1)), label="bytes kept")]
    elif lines and how == "duplicate line":
        lines.insert(at, lines[min(at, len(lines) - 1)])
    elif lines:
        del lines[min(at, len(lines) - 1)]
    return relative, b"".join(lines)


def without_failures(found: dict[str, Any]) -> dict[str, Any]:
    """Return `found` without weir.migration_log's `failed` rows: the broken file's attempt is history, not state.

    A truncated non-transactional migration can be valid SQL that fails when it runs
    (`DROP INDEX CONCURRENTLY I`): its failure is logged, and the log keeps it.
    """
    log = found.get("weir.migration_log")
    if not log:
        return found
    return {**found, "weir.migration_log": [row for row in log if row[1] != "failed"]}


def copy_project(target: Path) -> Path:
    """Copy the example project (settings and SQL files) to `target`."""
    for folder in ("migrations", "models", "checks", "seeds"):
        shutil.copytree(ROOT / folder, target / folder)
    shutil.copy(ROOT / "setup.cfg", target / "setup.cfg")
    return target


def migration_of(relative: str) -> str | None:
    """The id of the migration a project file belongs to (forward or rollback file), else None."""
    path = Path(relative)
    if path.parts[0] != "migrations":
        return None
    return path.name.removesuffix(".sql").removesuffix(".rollback")


def applied_migrations(conn: psycopg.Connection[Any]) -> set[str]:
    """The ids recorded in weir.migration (none if Weir never ran here)."""
    if conn.execute("SELECT to_regclass('weir.migration')").fetchone()[0] is None:
        return set()
    return {row[0] for row in conn.execute("SELECT id FROM weir.migration")}


def test_a_broken_file_is_refused_or_run_cleanly_and_the_fixed_project_converges(
        databases, weir_process, content, leftovers, record_trial, tmp_path_factory):
    empty = databases.warehouse(migrated_to=None)
    intact = databases.create(template=empty)
    expected_exit = weir_process(databases.dsn(intact), "run").returncode
    with psycopg.connect(databases.dsn(intact), autocommit=True) as conn:
        expected: dict[str, Any] = content(conn)
    databases.drop(intact)

    @settings(max_examples=TRIALS, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
    @given(broken_files())
    @example(COMMIT_THEN_FAIL)
    @example(CUT_SHORT_AND_FAILING)
    @example(DESCRIPTION_DROPPED)
    def trial(broken: tuple[str, bytes]) -> None:
        relative, damaged = broken
        project = copy_project(tmp_path_factory.mktemp("broken"))
        (project / relative).write_bytes(damaged)
        name = databases.create(template=empty)
        dsn = databases.dsn(name)
        try:
            run = weir_process(dsn, "run", project=project)
            assert run.returncode in (0, 1, 2), run.stderr
            assert "Traceback" not in run.stderr, run.stderr
            with psycopg.connect(dsn, autocommit=True) as conn:
                assert leftovers(conn) == {}
                if not run.stdout:  # refused before it began: a malformed file or setting
                    assert run.returncode == 2 and run.stderr.startswith("weir: "), run.stderr
                    assert conn.execute(_EMPTY_CATALOG).fetchone()[0] == 1, "a refused run changed the database"
                applied = applied_migrations(conn)
            # A broken migration that ran and was recorded is an applied edit: putting the file
            # back is then refused as an edit of an applied migration, as it should be.
            if migration_of(relative) not in applied:
                (project / relative).write_bytes((ROOT / relative).read_bytes())
                fixed = weir_process(dsn, "run", project=project)
                assert fixed.returncode == expected_exit, fixed.stderr
                with psycopg.connect(dsn, autocommit=True) as conn:
                    assert without_failures(content(conn)) == expected
        finally:
            databases.drop(name)
        record_trial("bad input", file=relative, exit_code=run.returncode, refused=not run.stdout)

    trial()
