"""Model files: `models/<schema>/<name>.sql`, one SELECT each, with a `-- weir:` header.

Reading a model checks everything that can be checked without a database: the header
(runner.project.model_header), whose directives become the Model's typed fields, that the
file is exactly one SELECT, and which relations the SELECT reads
(runner.project.model_select), so a bad file fails before anything runs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from runner.errors import ProjectFileError
from runner.project.cadence import parse_sla
from runner.project.distribution import REFERENCE
from runner.project.indexes import Index, parse_index
from runner.project.model_header import BOOLEAN, DIRECTIVES, check_index_sql, validate_directives
from runner.project.model_select import Reference, found_in, match_relation, parsed_select, resolve
from runner.project.parse_cache import ParseCache
from runner.project.partitions import Partitioning, Retention, parse_partitioning, parse_retention
from runner.project.pii import parse_pii_directive
from runner.project.problems import Problems
from runner.project.sqlfile import Directive, checksum, column_name, parse_header, read_text
from runner.project.surrogate_key import surrogate_parts


@dataclass(frozen=True)
class Model:
    """One model: the relation `schema.name` built from the SELECT in its file, as its header says."""

    schema: str  # from models/<schema>/<name>.sql
    name: str
    path: Path
    display: str  # path relative to the project root, for messages
    sql: str  # the SELECT, exactly as in the file minus the trailing semicolon and header
    sql_line: int  # line in the file where the SELECT starts (to map PostgreSQL error positions)
    checksum: str  # of what builds it: its header's directives and its SELECT's parse tree (logic_checksum)
    relations: frozenset[tuple[str, str]]  # every relation the SELECT reads, schema-qualified, CTEs excluded
    directives: dict[str, Directive]  # the header as written: the line of each directive, for messages
    # The header's directives, validated; columns as PostgreSQL names them (see column_name).
    kind: str  # one of KINDS
    tags: frozenset[str]
    description: str | None
    unique_key: tuple[str, ...]  # table, incremental: the primary key; () when not set
    indexes: tuple[Index, ...]  # table, incremental, scd2: each declared index (runner.project.indexes)
    watermark: str | None  # incremental: rows past its highest value are the next batch
    lookback: str | None  # incremental: a PostgreSQL interval, as written, to re-read behind the watermark
    full_refresh_on_change: bool  # incremental, scd2: rebuild from scratch when the SQL changes
    natural_key: tuple[str, ...]  # scd2: what identifies one entity across versions
    updated_at: str | None  # scd2: a new value opens a new version (or check_cols)
    check_cols: tuple[str, ...]  # scd2: a change in any of them opens a new version (or updated_at)
    on_delete: str  # scd2: "close" the current version of a vanished key, or "ignore" it
    surrogate_key: str | None  # scd2: the version key column Weir adds; None means <name>_key
    surrogate_hash: str | None  # scd2: None numbers versions; bigint, uuid or text: a hash of natural key + valid_from
    # Citus (runner.project.distribution): "reference", a column to hash rows on, or None.
    distribute: str | None = None
    colocate_with: str | None = None  # the upstream model a distributed table is colocated with
    pii: tuple[tuple[str, str], ...] = ()  # (column, mask) it may hold unmasked (runner.project.pii)
    partition_by: Partitioning | None = None  # table, incremental (runner.project.partitions)
    retain: Retention | None = None  # how long rows stay: weir retain
    file_checksum: str = ""  # runner.project.sqlfile.checksum of the file text: differs for a comment edit too
    shape: list[Any] = field(default_factory=list)  # runner.project.model_select.select_shape of its SELECT
    # Any kind; Project.models fills a missing schedule or sla from setup.cfg's [weir] defaults.
    schedule: str | None = None  # how often to refresh it: 5 cron fields or @hourly/@daily/@weekly/@monthly
    sla: timedelta | None = None  # the freshness SLA: its data no older than this
    sla_column: str | None = None  # a timestamp column measuring that age; None: its last successful build

    @property
    def qualified(self) -> str:
        """Return "schema.name"."""
        return f"{self.schema}.{self.name}"

    @classmethod
    def from_header(
        cls,
        directives: dict[str, Directive],
        *,
        schema: str,
        name: str,
        path: Path,
        display: str,
        sql: str,
        sql_line: int,
        checksum: str,
        relations: frozenset[tuple[str, str]] = frozenset(),
    ) -> Model:
        """Return the model whose file has these header directives and this SELECT.

        Raises ProjectFileError (`display:line: message; what to do`) for a directive that is
        malformed or does not fit the model's kind, or a kind missing one it needs.
        """
        kind = validate_directives(directives, display)

        def value(key: str) -> str | None:
            directive = directives.get(key)
            return directive.value if directive is not None else None

        def columns(key: str) -> tuple[str, ...]:
            return tuple(column_name(token) for token in (value(key) or "").split())

        def column(key: str) -> str | None:
            written = value(key)
            return column_name(written.strip()) if written is not None else None

        surrogate, surrogate_hash = surrogate_parts(value("surrogate_key"))
        return cls(
            schema=schema,
            name=name,
            path=path,
            display=display,
            sql=sql,
            sql_line=sql_line,
            checksum=checksum,
            relations=relations,
            directives=directives,
            kind=kind,
            tags=frozenset((value("tags") or "").split()),
            description=value("description"),
            unique_key=columns("unique_key"),
            indexes=tuple(
                replace(index, columns=tuple(column_name(token) for token in index.columns))
                for index in map(parse_index, (value("indexes") or "").split(";")) if index.text
            ),
            watermark=column("watermark"),
            lookback=value("lookback"),
            full_refresh_on_change=BOOLEAN[(value("full_refresh_on_change") or "true").strip().lower()],
            natural_key=columns("natural_key"),
            updated_at=column("updated_at"),
            check_cols=columns("check_cols"),
            on_delete=(value("on_delete") or "close").strip().lower(),
            surrogate_key=column_name(surrogate) if surrogate else None,
            surrogate_hash=surrogate_hash,
            distribute=column("distribute"),
            pii=parse_pii_directive(value("pii")),
            partition_by=(partitioning := parse_partitioning(value("partition_by"))),
            retain=parse_retention(
                value("retain"), partitioning, BOOLEAN[(value("retain_archive") or "false").strip().lower()]
            ),
            schedule=" ".join((value("schedule") or "").split()) or None,
            sla=parse_sla(value("sla") or ""),
            sla_column=column("sla_column"),
        )


# Names PostgreSQL does not fold: what a file name must be so `FROM marts.x` finds the model.
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_RESERVED_SCHEMAS = ("weir", "information_schema")
_MAX_IDENTIFIER = 63  # PostgreSQL's NAMEDATALEN - 1; longer names are silently truncated


def read_models(models_dir: Path, root: Path) -> list[Model]:
    """Read every `models/<schema>/<name>.sql` under `models_dir`, sorted by relation name.

    Raises ProjectFileError (`path:line: message; what to do`) for a bad file, and for two
    files that build the same relation; ProjectProblems for several, after reading every
    file. A missing `models_dir` has no models.
    """
    cache = ParseCache.open(root)
    problems = Problems()
    parsed: list[tuple[Model, list[Reference]]] = []
    built_by: dict[tuple[str, str], Model] = {}
    for path in _model_paths(models_dir, root, problems):
        with problems.each():
            model, references = _read_model(path, _display(path, root), cache)
            other = built_by.get((model.schema, model.name))
            if other is not None:
                raise ProjectFileError(
                    f"{model.display}:1: builds {model.qualified}, which {other.display} builds too;"
                    " remove or rename one of them"
                )
            built_by[(model.schema, model.name)] = model
            parsed.append((model, references))
    cache.save()
    problems.raise_any()
    by_name: dict[str, list[tuple[str, str]]] = {}
    for model, _ in parsed:
        by_name.setdefault(model.name, []).append((model.schema, model.name))
    models = []
    for model, references in parsed:
        relations = frozenset(resolve(reference, by_name) for reference in references)
        models.append(replace(model, relations=relations))
    return _with_colocation(sorted(models, key=lambda model: (model.schema, model.name)))


def _with_colocation(models: Iterable[Model]) -> list[Model]:
    """Return `models`, each hash-distributed one colocated with the first upstream model spread on its column.

    A fact distributed by customer_key that reads a dimension distributed by customer_key joins
    it shard by shard, without moving rows between nodes, only if the two are colocated.
    """
    models = list(models)
    by_relation = {(model.schema, model.name): model for model in models}
    placed = []
    for model in models:
        colocate = None
        if model.distribute not in (None, REFERENCE):
            upstream = sorted(
                other.qualified for relation in model.relations
                if (other := by_relation.get(relation)) is not None and other.distribute == model.distribute
            )
            colocate = upstream[0] if upstream else None
        placed.append(replace(model, colocate_with=colocate))
    return placed


def relation_lines(model: Model) -> dict[tuple[str, str], int]:
    """Return the file line of the first reference to each relation `model` reads."""
    references = found_in(model.sql, model.display, model.sql_line).references
    lines: dict[tuple[str, str], int] = {}
    for reference in references:
        qualified = match_relation(reference, model.relations)
        line = model.sql_line + model.sql.count("\n", 0, max(reference.location, 0))
        lines.setdefault(qualified, line)
    return lines


def clock_calls(model: Model) -> list[str]:
    """Return the functions in `model`'s SELECT whose result changes between runs (now(), random(), ...)."""
    return sorted(found_in(model.sql, model.display, model.sql_line).clock)


def with_since(model: Model, since: str) -> str:
    """Return the model's SELECT with its `weir.since('<this model>')` calls replaced by the literal `since`.

    Weir runs an incremental model this way: the planner then knows the value when it plans,
    estimates the batch from the column's statistics, and drops a branch gated on
    `weir.since(...) = '-infinity'` before running anything. A call that spans lines is padded
    with the newlines it had, so PostgreSQL's error positions still map to the file's lines.
    """
    text, parts, position = model.sql, list[str](), 0
    literal = "'" + since.replace("'", "''") + "'::timestamptz"
    for start, end, named in found_in(model.sql, model.display, model.sql_line).since_calls:
        if named != model.qualified:
            continue
        parts += [text[position:start], literal, "\n" * text.count("\n", start, end)]
        position = end
    return "".join(parts) + text[position:]


def function_calls(model: Model) -> list[tuple[str, str]]:
    """Return every function `model`'s SELECT calls as (schema, name); schema "" when unqualified."""
    return sorted(found_in(model.sql, model.display, model.sql_line).functions)


# ---------------------------------------------------------------------------------------------
# Files


def _model_paths(models_dir: Path, root: Path, problems: Problems) -> list[Path]:
    if not models_dir.is_dir():
        return []
    paths = []
    for path in sorted(models_dir.rglob("*")):
        relative = path.relative_to(models_dir)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if not path.is_file() or path.suffix.lower() != ".sql":
            continue
        if len(relative.parts) != 2:
            problems.add(ProjectFileError(
                f"{_display(path, root)}:1: a model file must be {_display(models_dir, root)}/<schema>/<name>.sql;"
                " move it into its schema's directory"
            ))
            continue
        paths.append(path)
    return paths


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _read_model(path: Path, display: str, cache: ParseCache) -> tuple[Model, list[Reference]]:
    schema, name = path.parent.name, path.stem
    for what, identifier in (("schema directory", schema), ("model name", name)):
        if not _IDENTIFIER.match(identifier):
            raise ProjectFileError(
                f"{display}:1: {what} {identifier!r} is not a lower-case SQL identifier; rename it to lower-case"
                " letters, digits and underscores (PostgreSQL folds unquoted names to lower case)"
            )
        if len(identifier.encode()) > _MAX_IDENTIFIER:
            raise ProjectFileError(
                f"{display}:1: {what} {identifier!r} is longer than {_MAX_IDENTIFIER} bytes,"
                " PostgreSQL's limit; shorten it"
            )
    if schema in _RESERVED_SCHEMAS or schema.startswith("pg_"):
        why = "Weir keeps its run state there" if schema == "weir" else "a system schema"
        raise ProjectFileError(
            f"{display}:1: schema {schema!r} is reserved ({why}); put the model in another schema directory"
        )
    text = read_text(path, display)
    directives = parse_header(text, display, set(DIRECTIVES))
    validate_directives(directives, display)  # a bad header is reported before the SELECT is parsed
    check_index_sql(directives, display, cache)
    sql, sql_line, found = parsed_select(text, display, cache)
    model = Model.from_header(
        directives, schema=schema, name=name, path=path, display=display, sql=sql, sql_line=sql_line,
        checksum=logic_checksum(directives, found.fingerprint),
    )
    return replace(model, file_checksum=checksum(text), shape=found.shape), found.references


# Directives that change nothing a build makes: editing them must not rebuild (an incremental
# fact rebuilt from scratch because its SLA or its retention changed would be a costly surprise).
_METADATA_DIRECTIVES = frozenset({"description", "tags", "pii", "schedule", "sla", "sla_column", "retain",
                                  "retain_archive"})


def logic_checksum(directives: dict[str, Directive], fingerprint: str) -> str:
    """Return the checksum a build compares: the directives that say how to build, and the SELECT's parse tree.

    Comments, blank lines, layout and the metadata directives (description, tags, pii, the
    cadence, retention) leave it unchanged, so such an edit rebuilds nothing (`weir plan` calls
    it metadata-only).
    """
    header = sorted((key, directive.value) for key, directive in directives.items() if key not in _METADATA_DIRECTIVES)
    text = json.dumps([header, fingerprint], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# Header directives
