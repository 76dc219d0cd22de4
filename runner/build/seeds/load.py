"""Loading a seed: its CSV streamed to COPY into a new table, swapped in with its record in one transaction.

A seed whose CSV and types file are as at its last load and whose table is still the one
that load made is skipped: at once when the CSV's size and modification time and the types
file are as recorded (the stamp), else when the SHA-256 of both is. Otherwise, in one
transaction:

1. `<schema>.<name>__weir_new` is created with the declared and inferred column types;
2. the file is sent to `COPY ... FROM STDIN (FORMAT csv, HEADER true, FREEZE true)` as it is,
   in 1 MiB blocks: PostgreSQL parses and checks every row, Python never does; the bytes
   are checksummed and checked to be UTF-8 on their way (one read of the file);
3. the table is analyzed, then swapped in for the old one (runner.build.materialize.swap:
   under lock_timeout, retried, views on it re-pointed, grants copied), and the load is
   recorded in weir.seed_state.

A file whose stamp changed but whose checksum did not (a fresh checkout, a touch) is found
so after step 2: the transaction is rolled back, the new stamp recorded, and the seed counts
as unchanged. That wastes one COPY in that rare case, to read the file once in the common
one (a changed seed) and not at all for an untouched one.

A CSV of PARALLEL_BYTES or more is read once first (checksum, UTF-8, where records end),
cut into STREAMS pieces, and each piece sent by a COPY of its own connection, side by side
(`_load_in_pieces`): COPY parses on one core, and a million rows load about as fast as
`psql`'s \\copy alone then, checksum, ANALYZE and swap included (benchmarks/seeds.py).

Readers keep reading the old table until the commit; they wait only for the swap's few
catalog updates. A bad row makes COPY fail: its error (with CONTEXT "COPY t, line N,
column c") becomes `file:line:column: what is wrong; what to do`, the transaction rolls
back, and the old table and its record stay as they were.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from runner.build.materialize.swap import swap_in
from runner.build.seeds.csvfile import (
    Piece,
    Stream,
    header,
    last_record,
    physical_line,
    piece_blocks,
    pieces,
    sample_rows,
    stamp,
)
from runner.build.seeds.infer import SAMPLE_ROWS, infer_types
from runner.db.connection import conninfo_of
from runner.db.errors import primary_message
from runner.db.statements import derived_name, execute
from runner.errors import BadSeed
from runner.project import Model, Seed, Timeouts
from runner.state import seeds as seed_state

PARALLEL_BYTES = 32 << 20  # a CSV this large loads in STREAMS pieces side by side
STREAMS = 2
_CONTEXT = re.compile(r"COPY [^,]+, line (\d+)(?:, column (.*?): |:|$)")
_MISSING = re.compile(r'missing data for column "(.*)"')


@dataclass(frozen=True)
class SeedColumn:
    """A column of a seed's table, and whether the types file declared its type or it was inferred."""

    name: str
    type: str
    source: str  # "declared" or "inferred"


@dataclass(frozen=True)
class SeedResult:
    """What loading one seed did: "loaded" or "unchanged", with its rows and columns when loaded."""

    seed: str  # "schema.name"
    status: str
    rows: int
    seconds: float
    columns: tuple[SeedColumn, ...] = ()


def columns_of(seed: Seed) -> tuple[SeedColumn, ...]:
    """Return the seed's columns in the CSV's order, each typed as declared or as inferred from a sample.

    Raises BadSeed for a malformed header, or a declared column the CSV does not have.
    """
    names = header(seed)
    for declared in seed.declared:
        if declared.name not in names:
            raise BadSeed(f"{seed.types_display}:{declared.line}: columns: {declared.name!r} is not a column of"
                          f" {seed.path.name} (its header has {', '.join(names)}); fix the name")
    types = {declared.name: declared.type for declared in seed.declared}
    inferred = infer_types(len(names), sample_rows(seed, SAMPLE_ROWS)) if len(types) < len(names) else []
    return tuple(
        SeedColumn(name, types[name], "declared") if name in types else SeedColumn(name, inferred[index], "inferred")
        for index, name in enumerate(names)
    )


def load_seeds(
    conn: psycopg.Connection[Any],
    seeds: Sequence[Seed],
    timeouts: Timeouts,
    *,
    force: bool = False,
    on_result: Callable[[SeedResult], None] | None = None,
) -> list[SeedResult]:
    """Load each of `seeds` whose files changed since its last load (all with `force`), in order.

    `conn` is an autocommit connection; each seed loads in a transaction of its own. Raises
    BadSeed at the first bad file (the seeds before it stay loaded, it and the rest are not
    touched), ModelFailed when a swap found its table held past lock_timeout.
    """
    if not seeds:
        return []
    seed_state.ensure_seed_state(conn)
    before = seed_state.loaded(conn, [(seed.schema, seed.name) for seed in seeds])
    results = []
    for seed in seeds:
        started = time.perf_counter()
        header(seed)  # checked even when the seed is unchanged
        now = stamp(seed)
        last = before.get(seed.qualified)
        rows: int | None = None
        columns: tuple[SeedColumn, ...] = ()
        if force or last is None or last.stamp != now:
            columns = columns_of(seed)
            last_checksum = None if force or last is None else last.checksum
            if seed.path.stat().st_size >= PARALLEL_BYTES:
                rows = _load_in_pieces(conn, seed, columns, now, last_checksum, timeouts)
            else:
                rows = _load(conn, seed, columns, now, last_checksum, timeouts)
        if rows is None:
            result = SeedResult(seed.qualified, "unchanged", 0, time.perf_counter() - started)
        else:
            result = SeedResult(seed.qualified, "loaded", rows, time.perf_counter() - started, columns)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


class _SameContent(Exception):
    """The file was touched but holds what was loaded: roll the new table back."""


def _load(
    conn: psycopg.Connection[Any], seed: Seed, columns: tuple[SeedColumn, ...], now: str, last_checksum: str | None,
    timeouts: Timeouts,
) -> int | None:
    """Load `seed` into a new table and swap it in, in one transaction; return the rows loaded.

    Return None, having changed nothing but the recorded stamp, when the file's checksum is `last_checksum`.
    """
    built = derived_name(seed.name, "__weir_new")
    table = sql.Identifier(seed.schema, built)
    names = sql.SQL(", ").join(sql.Identifier(column.name) for column in columns)
    stream = Stream(seed)
    execute(conn, sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(seed.schema)))
    try:
        with conn.transaction():
            _create(conn, seed, table, columns)
            copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'UTF8', FREEZE true)")
            try:
                with conn.cursor() as cursor:
                    with cursor.copy(copy.format(table, names)) as sending:
                        for block in stream.blocks():
                            sending.write(block)
                    rows = cursor.rowcount
            except psycopg.errors.DataError as exc:  # bad rows: ragged, wrong type, unclosed quote
                raise BadSeed(_row_error(seed, columns, exc)) from None
            if stream.checksum == last_checksum:
                raise _SameContent
            execute(conn, sql.SQL("ANALYZE {}").format(table))  # before the swap: readers need not wait for it
            swap_in(conn, _stand_in(seed), built, timeouts)
            relation = sql.Identifier(seed.schema, seed.name).as_string(conn)
            seed_state.record_load(conn, seed.qualified, relation, seed_state.Loaded(stream.checksum, now),
                                   [(column.name, column.type, column.source) for column in columns], rows)
    except _SameContent:
        seed_state.restamp(conn, seed.qualified, now)
        return None
    return rows


def _load_in_pieces(
    conn: psycopg.Connection[Any], seed: Seed, columns: tuple[SeedColumn, ...], now: str, last_checksum: str | None,
    timeouts: Timeouts,
) -> int | None:
    """Load a large `seed` with STREAMS COPYs side by side into a new table, then swap it in; return the rows.

    COPY parses on one core; a large file loads faster cut into pieces at record boundaries,
    each sent by a connection of its own. Those commit apart, so the new table is created and
    filled outside the swap's transaction (under a name no reader uses) and dropped if
    anything fails; the swap and the record are one transaction, as for a small seed. The
    file is read once first (checksum, UTF-8, where to cut): an unchanged checksum loads nothing.
    """
    checksum, parts = pieces(seed, STREAMS)
    if checksum == last_checksum:
        seed_state.restamp(conn, seed.qualified, now)
        return None
    built = derived_name(seed.name, "__weir_new")
    table = sql.Identifier(seed.schema, built)
    execute(conn, sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(seed.schema)))
    with conn.transaction():
        execute(conn, sql.SQL("DROP TABLE IF EXISTS {}").format(table))  # left by a load that was killed
        _create(conn, seed, table, columns)
    try:
        rows = _copy_pieces(conninfo_of(conn), seed, table, columns, parts)
        with conn.transaction():
            execute(conn, sql.SQL("ANALYZE {}").format(table))
            swap_in(conn, _stand_in(seed), built, timeouts)
            relation = sql.Identifier(seed.schema, seed.name).as_string(conn)
            seed_state.record_load(conn, seed.qualified, relation, seed_state.Loaded(checksum, now),
                                   [(column.name, column.type, column.source) for column in columns], rows)
    except BaseException:
        execute(conn, sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        raise
    return rows


def _copy_pieces(
    conninfo: str, seed: Seed, table: sql.Identifier, columns: tuple[SeedColumn, ...], parts: list[Piece]
) -> int:
    """COPY each piece on a connection of its own, side by side; return the rows, or raise the first piece's error."""
    names = sql.SQL(", ").join(sql.Identifier(column.name) for column in columns)
    counts: list[int] = [0] * len(parts)
    errors: list[BaseException | None] = [None] * len(parts)

    def send(index: int) -> None:
        header = sql.SQL("true" if index == 0 else "false")
        statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER {}, ENCODING 'UTF8')")
        try:
            with psycopg.connect(conninfo, autocommit=True, application_name="weir seed") as piece_conn:
                with piece_conn.cursor() as cursor:
                    with cursor.copy(statement.format(table, names, header)) as sending:
                        for block in piece_blocks(seed, parts[index]):
                            sending.write(block)
                    counts[index] = cursor.rowcount
        except BaseException as exc:  # reported by the caller, in the file's order
            errors[index] = exc

    threads = [threading.Thread(target=send, args=(index,), name=f"weir seed {index}") for index in range(len(parts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, error in enumerate(errors):
        if isinstance(error, psycopg.errors.DataError):
            raise BadSeed(_row_error(seed, columns, error, parts[index].first_line - 1)) from None
        if error is not None:
            raise error
    return sum(counts)


def _create(conn: psycopg.Connection[Any], seed: Seed, table: sql.Identifier, columns: tuple[SeedColumn, ...]) -> None:
    definitions = sql.SQL(", ").join(
        # A declared type is written by the user, as in a CREATE TABLE; PostgreSQL checks it.
        sql.SQL("{} {}").format(sql.Identifier(column.name), sql.SQL(column.type))
        for column in columns
    )
    try:
        with conn.transaction():
            execute(conn, sql.SQL("CREATE TABLE {} ({})").format(table, definitions))
            _describe(conn, seed, table, columns)
    except (psycopg.errors.SyntaxError, psycopg.errors.UndefinedObject, psycopg.errors.InvalidParameterValue,
            psycopg.errors.DatatypeMismatch, psycopg.errors.FeatureNotSupported) as exc:
        line = seed.declared[0].line if seed.declared else 1
        raise BadSeed(f"{seed.types_display or seed.display}:{line}: columns: {primary_message(exc)};"
                      " declare each column as \"name type\" with a PostgreSQL type") from None


def _describe(
    conn: psycopg.Connection[Any], seed: Seed, table: sql.Identifier, columns: tuple[SeedColumn, ...]
) -> None:
    """Give the table and its columns the descriptions of the seed's types file, as COMMENTs."""
    if seed.description:
        execute(conn, sql.SQL("COMMENT ON TABLE {} IS {}").format(table, sql.Literal(seed.description)))
    names = {column.name for column in columns}
    for column, description in seed.column_descriptions:
        if column not in names:
            raise BadSeed(f"{seed.types_display}:1: column_descriptions names {column}, which {seed.display}"
                          " does not have; fix the name or remove it")
        execute(conn, sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
            table, sql.Identifier(column), sql.Literal(description)))


def _row_error(seed: Seed, columns: tuple[SeedColumn, ...], exc: psycopg.Error, lines_before: int = 0) -> str:
    """Return `file:line:column: what is wrong; what to do` for a row COPY refused.

    `lines_before` is how many lines of the file came before what that COPY was sent.
    """
    message = primary_message(exc)
    found = _CONTEXT.search(exc.diag.context or "")
    reported = (int(found.group(1)) if found else 1) + lines_before
    names = [column.name for column in columns]
    column_name = found.group(2) if found and found.group(2) else None
    missing = _MISSING.match(message)
    if missing:
        column_name = missing.group(1)
    position = names.index(column_name) + 1 if column_name in names else 1
    line = physical_line(seed, reported)
    where = f"{seed.display}:{line}:{position}"
    if message.startswith("extra data after last expected column"):
        return (f"{seed.display}:{line}:{len(names) + 1}: the row has more values than the header's {len(names)}"
                " columns; remove the extra ones, or quote a value that holds a comma")
    if missing:
        return (f"{where}: the row has fewer values than the header's {len(names)} columns (none for"
                f" {column_name}); add the missing ones (an empty value is NULL)")
    if message.startswith("unterminated CSV quoted field"):
        line, position = last_record(seed)
        return (f"{seed.display}:{line}:{position}: a quoted value is never closed; close its quote"
                ' ("" inside quotes is one quote)')
    if column_name in names:
        column = columns[position - 1]
        if column.source == "declared":
            how = f"declared {column.type} in {seed.types_display}"
            advice = "fix the value, or declare another type"
        else:
            how = f"inferred {column.type} from the first {SAMPLE_ROWS:,} rows"
            types_file = seed.types_display or seed.display.removesuffix(".csv") + ".sql"
            advice = f'fix the value, or declare its type in {types_file}: -- weir: columns="{column.name} text"'
        return f"{where}: {message} in column {column.name} ({how}); {advice}"
    return f"{where}: {message}; fix the row"


def _stand_in(seed: Seed) -> Model:
    """Return a model standing for the seed's table, which is what the swap takes (for its names and messages)."""
    return Model.from_header({}, schema=seed.schema, name=seed.name, path=seed.path, display=seed.display,
                             sql="", sql_line=1, checksum="")
