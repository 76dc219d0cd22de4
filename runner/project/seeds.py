"""Seed files: `seeds/<schema>/<name>.csv` loads into the table `<schema>.<name>`.

A seed may have a types file next to it, `<name>.sql`, a comment header that declares
the type of some or all of its columns (the rest are inferred from the data):

    -- weir: columns="country_code text, country_name text, region text"
    -- weir: description="ISO 3166 country codes of the example's customers, with their region"
    -- weir: column_descriptions="country_code: ISO 3166-1 alpha-2; region: its sales region"

The descriptions become the table's and columns' COMMENTs when it is loaded, so the catalog,
`weir docs` and the type contracts carry them.

The file is only comments, so it reads (and runs) as nothing in psql. Reading a seed
here checks the names and the types file; the CSV itself is read when it is loaded
(runner.build.seeds), since a large one is not worth reading for `weir ls`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from runner.errors import ProjectFileError
from runner.project.problems import Problems
from runner.project.sqlfile import checksum, parse_header, read_text

DIRECTIVES = {"columns", "description", "column_descriptions"}
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")  # what PostgreSQL does not fold, as for models
_MAX_IDENTIFIER = 63
_RESERVED_SCHEMAS = ("weir", "information_schema", "pg_catalog")


@dataclass(frozen=True)
class DeclaredColumn:
    """A column whose type the types file declares."""

    name: str
    type: str  # as written, e.g. "numeric(10,2)"; PostgreSQL checks it when the table is created
    line: int  # of the columns directive, for messages


@dataclass(frozen=True)
class Seed:
    """One seed: the CSV `path` that loads into `schema.name`, with the types its types file declares."""

    schema: str
    name: str
    path: Path
    display: str  # path relative to the project root, for messages
    types_path: Path | None  # <name>.sql next to the CSV, when there is one
    types_display: str | None
    declared: tuple[DeclaredColumn, ...]
    description: str | None
    types_checksum: str  # of the types file ("" without one): a new declaration reloads the seed
    column_descriptions: tuple[tuple[str, str], ...] = ()  # (column, description), from the types file

    @property
    def qualified(self) -> str:
        """Return "schema.name"."""
        return f"{self.schema}.{self.name}"


def read_seeds(seeds_dir: Path, root: Path) -> list[Seed]:
    """Read every `seeds/<schema>/<name>.csv` under `seeds_dir`, sorted by table name; none without the directory.

    Raises ProjectFileError (`path:line: message; what to do`) for a misplaced or misnamed file
    or a malformed types file; ProjectProblems for several.
    """
    if not seeds_dir.is_dir():
        return []
    problems = Problems()
    seeds: list[Seed] = []
    for path in sorted(seeds_dir.rglob("*")):
        if not path.is_file():
            continue
        with problems.each():
            seed = _read_seed(path, seeds_dir, root)
            if seed is not None:
                seeds.append(seed)
    problems.raise_any()
    return sorted(seeds, key=lambda seed: seed.qualified)


def _read_seed(path: Path, seeds_dir: Path, root: Path) -> Seed | None:
    display = _shown(path, root)
    relative = path.relative_to(seeds_dir)
    if path.suffix == ".sql":
        if not path.with_suffix(".csv").is_file():
            raise ProjectFileError(f"{display}:1: a types file without {path.with_suffix('.csv').name} next to it;"
                                   " add the CSV or remove this file")
        return None
    if path.suffix != ".csv":
        if path.name.startswith(".") or path.suffix in (".md", ".txt"):
            return None  # notes and editor files live beside seeds
        raise ProjectFileError(f"{display}:1: not a seed; seeds are seeds/<schema>/<name>.csv, with an optional"
                               " <name>.sql declaring column types")
    if len(relative.parts) != 2:
        raise ProjectFileError(f"{display}:1: a seed belongs at seeds/<schema>/<name>.csv, one folder deep;"
                               " move it into the folder named after its schema")
    schema, name = relative.parts[0], path.stem
    for part, what in ((schema, "schema folder"), (name, "file name")):
        if not _IDENTIFIER.match(part) or len(part) > _MAX_IDENTIFIER:
            raise ProjectFileError(f"{display}:1: {what} {part!r} is not a lower-case SQL name (a-z, 0-9, _,"
                                   f" at most {_MAX_IDENTIFIER} characters); rename it")
    if schema in _RESERVED_SCHEMAS or schema.startswith("pg_"):
        raise ProjectFileError(f"{display}:1: schema {schema!r} is PostgreSQL's or Weir's own; use another folder")
    types_path = path.with_suffix(".sql")
    declared: tuple[DeclaredColumn, ...] = ()
    described: tuple[tuple[str, str], ...] = ()
    description = None
    types_checksum = ""
    types_display = None
    if types_path.is_file():
        types_display = _shown(types_path, root)
        text = read_text(types_path, types_display)
        directives = parse_header(text, types_display, DIRECTIVES)
        _only_comments(text, types_display)
        if "columns" in directives:
            declared = parse_columns(directives["columns"].value, types_display, directives["columns"].line)
        if "description" in directives:
            description = directives["description"].value
        if "column_descriptions" in directives:
            described = _column_descriptions(directives["column_descriptions"].value, types_display,
                                             directives["column_descriptions"].line)
        types_checksum = checksum(text)
    return Seed(schema, name, path, display, types_path if types_display else None, types_display, declared,
                description, types_checksum, described)


def _column_descriptions(text: str, shown: str, line: int) -> tuple[tuple[str, str], ...]:
    """Return (column, description) of `column_descriptions="name: text; name: text"`."""
    described = []
    for part in text.split(";"):
        column, colon, description = part.partition(":")
        if not part.strip():
            continue
        if not colon or not _IDENTIFIER.match(column.strip()) or not description.strip():
            raise ProjectFileError(f"{shown}:{line}: column_descriptions: {part.strip()!r} is not"
                                   " \"column: description\"; separate columns with ';'")
        described.append((column.strip(), description.strip()))
    return tuple(described)


def parse_columns(text: str, shown: str, line: int) -> tuple[DeclaredColumn, ...]:
    """Return the columns of `columns="name type, name type(p, s), ..."`, split at top-level commas."""
    parts: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    columns: list[DeclaredColumn] = []
    for part in (part.strip() for part in parts):
        name, _, type_ = part.partition(" ")
        if not part or not type_.strip():
            raise ProjectFileError(f'{shown}:{line}: columns: {part!r} is not "name type"; write e.g.'
                                   ' columns="code text, price numeric(10,2)"')
        name = name.strip('"')
        if any(column.name == name for column in columns):
            raise ProjectFileError(f"{shown}:{line}: columns: {name!r} is declared twice; keep one")
        columns.append(DeclaredColumn(name, type_.strip(), line))
    return tuple(columns)


def _only_comments(text: str, shown: str) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("--"):
            raise ProjectFileError(f"{shown}:{number}: a seed's types file holds only `-- weir:` comments;"
                                   ' declare types as -- weir: columns="name type, ..."')


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
