"""Check files: `checks/<name>.sql`, one SELECT each, whose rows are violations.

Reading a check validates everything that can be validated without a database: the
`-- weir:` header (severity, thresholds, tags, show, gate) and that the file is exactly one
read-only SELECT, so a bad file is reported as `path:line: message; what to do` before
anything runs. Selection (`name`, `tag:x`, `path:dir`) lives here too.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from runner.errors import ConfigError, ProjectFileError
from runner.project.parse_cache import ParseCache
from runner.project.problems import Problems
from runner.project.sqlfile import (
    Directive,
    SelectRules,
    checksum,
    json_nodes,
    line_at,
    one_select,
    parse_header,
    read_text,
)

DIRECTIVES = frozenset({"severity", "warn_if", "error_if", "tags", "description", "show", "gate", "quarantine"})
SEVERITIES = ("error", "warn")
DEFAULT_SHOW = 10
MAX_SHOW = 1000  # rows of a sample held in memory and stored as jsonb

_COMPARISONS: dict[str, Callable[[int, int], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    "<>": operator.ne,
}
_THRESHOLD = re.compile(r"^\s*(>=|<=|==|!=|<>|>|<|=)\s*(\d+)\s*$")
_NAME_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_TAG = re.compile(r"^[A-Za-z0-9_.:/-]+$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_$]*$")
_BOOLEAN = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


@dataclass(frozen=True)
class Threshold:
    """A comparison on a check's violation count, e.g. `> 10`."""

    op: str
    value: int

    def matches(self, count: int) -> bool:
        """Return True when `count` satisfies the comparison."""
        return _COMPARISONS[self.op](count, self.value)

    def __str__(self) -> str:
        return f"{self.op} {self.value}"


# Without warn_if or error_if, any row is a violation at the check's severity.
ANY_ROW = Threshold(">", 0)


@dataclass(frozen=True)
class Check:
    """One check: the SELECT in `checks/<name>.sql` and what its row count means."""

    name: str  # path under checks/ without .sql, with "/" between directories
    path: Path
    display: str  # path relative to the project root, for messages
    sql: str  # the SELECT as in the file, without header comments and trailing semicolon
    sql_line: int  # line of the file where the SELECT starts (to map PostgreSQL error positions)
    severity: str  # "error" | "warn"
    warn_if: Threshold | None
    error_if: Threshold | None
    tags: frozenset[str]
    description: str | None
    show: int  # how many failing rows to fetch, print and store
    gate: str | None  # "schema.name" of a model this check gates
    quarantine: bool
    directives: dict[str, Directive]
    checksum: str
    # PII columns (column, mask) its failing rows show masked: every one the project declares (Project.checks)
    masked: tuple[tuple[str, str], ...] = ()

    def status_for(self, count: int) -> tuple[str, str | None]:
        """Return the status of `count` violations ("pass", "warn" or "fail") and the threshold that decided it.

        A warn check never fails; error_if is checked before warn_if.
        """
        if self.error_if is not None and self.error_if.matches(count):
            return ("fail", f"error_if {self.error_if}")
        if self.warn_if is not None and self.warn_if.matches(count):
            return ("warn", f"warn_if {self.warn_if}")
        return ("pass", None)


def read_checks(checks_dir: Path, root: Path) -> list[Check]:
    """Read every `*.sql` under `checks_dir` (subdirectories too), sorted by name.

    Raises ProjectFileError (`path:line: message; what to do`) for a bad file, ProjectProblems
    for several, after reading every file.
    Hidden files and directories are ignored; a missing `checks_dir` has no checks.
    """
    if not checks_dir.is_dir():
        return []
    cache = ParseCache.open(root)
    problems = Problems()
    checks = []
    for path in sorted(checks_dir.rglob("*.sql")):
        relative = path.relative_to(checks_dir)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        with problems.each():
            checks.append(read_check(path, relative.with_suffix("").as_posix(), _display(path, root), cache))
    cache.save()
    problems.raise_any()
    return sorted(checks, key=lambda check: check.name)


def read_check(path: Path, name: str, display: str, cache: ParseCache | None = None) -> Check:
    """Read one check file as check `name`; `display` is how messages name the file.

    With a `cache`, an unchanged file's SELECT comes from it instead of the parser.
    """
    for part in name.split("/"):
        if not _NAME_PART.match(part):
            raise ProjectFileError(
                f"{display}:1: {part!r} in the check's name has a character other than letters, digits and _.-;"
                " rename it (check names are used in --select and in the history table)"
            )
    text = read_text(path, display)
    try:
        directives = parse_header(text, display, set(DIRECTIVES))
    except ProjectFileError as exc:
        message = str(exc)
        if ";" in message:
            raise
        raise ProjectFileError(f"{message}; keep one of them" if "set twice" in message else
                               f"{message}; fix the header: -- weir: key=value, other=\"a value\"") from None
    options = _validate_directives(directives, display)
    hit = cache.get("check", text) if cache is not None else None
    if hit is not None:
        sql, sql_line = hit["sql"], hit["line"]
    else:
        sql, sql_line = _the_select(text, display)
        if cache is not None:
            cache.put("check", text, {"sql": sql, "line": sql_line})
    return Check(
        name=name,
        path=path,
        display=display,
        sql=sql,
        sql_line=sql_line,
        directives=directives,
        checksum=checksum(text),
        **options,
    )


def select_checks(checks: list[Check], selectors: Iterable[str] = ()) -> list[Check]:
    """Return the checks matched by any of `selectors` (all when none), sorted by name.

    A selector is a check name (`orders/positive_amount`, or `positive_amount` when only one
    check has that last part), `tag:x` or `path:dir` (relative to the project root or to
    checks/). Several may share a string, separated by spaces. One that matches nothing
    raises ConfigError naming the closest matches.
    """
    if isinstance(selectors, str):
        selectors = [selectors]
    words = [word for selector in selectors for word in selector.split()]
    if not words:
        return list(checks)
    chosen: set[str] = set()
    for word in words:
        chosen |= _match(checks, word)
    return [check for check in checks if check.name in chosen]


# ---------------------------------------------------------------------------------------------
# Selection


def _match(checks: list[Check], selector: str) -> set[str]:
    where = f"--select {selector!r}:"
    if selector.startswith("tag:"):
        tag = selector[4:]
        matched = {check.name for check in checks if tag in check.tags}
        if not matched:
            known = sorted({tag for check in checks for tag in check.tags})
            raise ConfigError(f"{where} no check has tag {tag!r}" + _suggest(tag, known, "tag:"))
        return matched
    if selector.startswith("path:"):
        wanted = _parts(selector[5:])
        matched = {
            check.name
            for check in checks
            if _parts(check.display)[: len(wanted)] == wanted or _parts(check.name + ".sql")[: len(wanted)] == wanted
            or tuple(check.name.split("/"))[: len(wanted)] == wanted
        }
        if not matched:
            directories = sorted({str(PurePosixPath(check.display).parent) for check in checks})
            raise ConfigError(
                f"{where} no check file under {selector[5:]!r} (paths are relative to the project root)"
                + _suggest(selector[5:], directories, "path:", cutoff=0.8)
            )
        return matched
    name = selector.removesuffix(".sql")
    if any(check.name == name for check in checks):
        return {name}
    by_last = [check.name for check in checks if check.name.rsplit("/", 1)[-1] == name]
    if len(by_last) == 1:
        return {by_last[0]}
    if len(by_last) > 1:
        raise ConfigError(f"{where} {name!r} is ambiguous: {', '.join(by_last)}; write the full name")
    # Offer each close check once, by its shortest unambiguous selector.
    last_parts = [check.name.rsplit("/", 1)[-1] for check in checks]
    shortest = {check.name: last if last_parts.count(last) == 1 else check.name
                for check, last in zip(checks, last_parts, strict=True)}
    spellings = {check.name: check.name for check in checks} | {
        selector: full for full, selector in shortest.items()
    }
    close = _close(name, sorted(spellings), 6, 0.6)
    offered = list(dict.fromkeys(shortest[spellings[match]] for match in close))[:3]
    raise ConfigError(f"{where} no check named {name!r}" + _suggest(name, offered, "", cutoff=0.0))


def _parts(path: str) -> tuple[str, ...]:
    cleaned = PurePosixPath(path.strip().replace("\\", "/").removeprefix("./")).parts
    return tuple(part for part in cleaned if part not in ("", "."))


def _close(word: str, candidates: list[str], n: int, cutoff: float) -> list[str]:
    import difflib  # only for a selector that matched nothing

    return difflib.get_close_matches(word, candidates, n=n, cutoff=cutoff)


def _suggest(word: str, candidates: list[str], prefix: str, cutoff: float = 0.6) -> str:
    close = _close(word, candidates, 3, cutoff)
    if not close:
        return "; see the files under checks/ for the names"
    return "; did you mean " + " or ".join(f"{prefix}{match}" for match in close) + "?"


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------
# Header directives


def _validate_directives(directives: dict[str, Directive], display: str) -> dict[str, Any]:
    """Check each directive's value; return the Check fields they set."""

    def fail(directive: Directive, message: str) -> ProjectFileError:
        return ProjectFileError(f"{display}:{directive.line}: {message}")

    def value_of(key: str) -> str | None:
        directive = directives.get(key)
        return directive.value.strip() if directive is not None else None

    severity = (value_of("severity") or "error").lower()
    if severity not in SEVERITIES:
        raise fail(directives["severity"], f"severity {value_of('severity')!r} is not error or warn;"
                   " write severity=error (fails the run) or severity=warn (prints only)")
    thresholds: dict[str, Threshold | None] = {}
    for key in ("warn_if", "error_if"):
        value = value_of(key)
        if value is None:
            thresholds[key] = None
            continue
        match = _THRESHOLD.match(value)
        if not match:
            raise fail(directives[key], f"{key} {value!r} is not a comparison with a whole number;"
                       f' write e.g. {key}="> 10" (operators: > >= < <= = !=)')
        thresholds[key] = Threshold(match.group(1), int(match.group(2)))
    warn_if, error_if = thresholds["warn_if"], thresholds["error_if"]
    if severity == "warn" and error_if is not None:
        raise fail(directives["error_if"], "error_if has no effect with severity=warn (a warn check never fails);"
                   " remove error_if, or severity=warn to let it fail")
    if warn_if is None and error_if is None:
        if severity == "error":
            error_if = ANY_ROW
        else:
            warn_if = ANY_ROW
    tags_value = value_of("tags")
    if tags_value is not None:
        if not tags_value.split():
            raise fail(directives["tags"], 'tags is empty; write tags="daily finance" or remove it')
        for tag in tags_value.split():
            if not _TAG.match(tag):
                raise fail(directives["tags"], f"tag {tag!r} has a character other than letters, digits and _.:/-;"
                           ' separate tags with spaces: tags="daily finance"')
    description = value_of("description")
    if description is not None and not description:
        raise fail(directives["description"], 'description is empty; write description="..." or remove it')
    show = DEFAULT_SHOW
    show_value = value_of("show")
    if show_value is not None:
        if not show_value.isdigit():
            raise fail(directives["show"], f"show {show_value!r} is not a whole number;"
                       f" write show=20 (rows to print, 0 for none, default {DEFAULT_SHOW})")
        show = int(show_value)
        if show > MAX_SHOW:
            raise fail(directives["show"], f"show {show} is more than {MAX_SHOW}; query the check in psql"
                       " to see every row")
    gate = value_of("gate")
    if gate is not None:
        parts = gate.split(".")
        if len(parts) != 2 or not all(_IDENTIFIER.match(part) for part in parts):
            raise fail(directives["gate"], f"gate {gate!r} is not a model name; write gate=schema.name"
                       " of the model this check guards")
    quarantine = False
    quarantine_value = value_of("quarantine")
    if quarantine_value is not None:
        if quarantine_value.lower() not in _BOOLEAN:
            raise fail(directives["quarantine"], f"quarantine {quarantine_value!r} is not true or false;"
                       " write quarantine=true or remove it")
        quarantine = _BOOLEAN[quarantine_value.lower()]
        if quarantine and gate is None:
            raise fail(directives["quarantine"], "quarantine needs a gate: rows are quarantined from the gated"
                       " model; add gate=schema.name or remove quarantine")
    return {
        "severity": severity,
        "warn_if": warn_if,
        "error_if": error_if,
        "tags": frozenset(tags_value.split()) if tags_value else frozenset(),
        "description": description,
        "show": show,
        "gate": gate,
        "quarantine": quarantine,
    }


# ---------------------------------------------------------------------------------------------
# The SELECT


_CHECK_SELECT = SelectRules(
    empty="no SELECT; a check file holds one SELECT whose rows are the violations",
    second="a check file holds exactly one SELECT: combine them with UNION ALL or split them into two checks",
    not_select="a check is one SELECT, this is {statement}; a check only reads:"
    " write a SELECT returning the violating rows",
    into="a check only reads: remove INTO",
    transaction="Weir runs each check in a transaction of its own: remove it",
)


def _the_select(text: str, display: str) -> tuple[str, int]:
    """Return the file's one SELECT without header comments or trailing semicolon, and its line."""
    select = one_select(text, display, _CHECK_SELECT)
    problem = _writes(select.node)
    if problem is not None:
        message, location = problem
        where = line_at(text, select.char_offset(location)) if location >= 0 else select.line
        raise ProjectFileError(f"{display}:{where}: {message}")
    return select.sql, select.line


def _writes(select: dict[str, Any]) -> tuple[str, int] | None:
    """Return why a SELECT would write or lock (message, byte offset or -1), or None: a check only reads."""
    for kind, node in json_nodes({"SelectStmt": select}):
        if kind == "CommonTableExpr" and "SelectStmt" not in node["ctequery"]:
            return (f"WITH {node['ctename']} AS (...) changes data; a check only reads: remove it",
                    node.get("location", -1))
        if kind == "SelectStmt" and node.get("lockingClause"):
            return ("SELECT ... FOR UPDATE/SHARE locks rows; a check only reads: remove the locking clause", -1)
    return None



