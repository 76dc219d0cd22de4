"""Linting a project without a database: what Weir would refuse, then squawk's migration safety rules.

First every migration, model and check is read as `weir migrate`, `build` and `check` read
them before touching a database, so a malformed header, a missing rollback or a cycle fails
in pre-commit or CI, not at deploy time.

Then squawk reads each forward migration, told two things Weir knows and squawk cannot:
- whether the file runs in a transaction (Weir's default) or not (`-- transactional: false`),
  which decides rules such as ban-concurrent-index-creation-in-transaction and
  prefer-robust-stmts;
- that Weir itself sets lock_timeout and statement_timeout around every migration
  ([weir] lock_timeout, statement_timeout), so require-lock-timeout and
  require-statement-timeout are always excluded.
Rollback files are left out: undoing what the forward file made is their job, and squawk's
ban-drop-table would flag every one.

Settings, in setup.cfg's [weir] section (squawk's `--exclude` overrides the exclusions of a
.squawk.toml, so they are set here):
- squawk_exclude: more rules to exclude, comma-separated;
- squawk_start_after: a migration number; migrations up to it are not squawk-linted (they are
  applied everywhere and cannot be edited, as strong_migrations' start_after);
- squawk_pg_version: the PostgreSQL version the rules assume, e.g. 15.
A single statement can be let through with squawk's own `-- squawk-ignore rule-name` comment.

Last, when the project configures sqlfluff (a [sqlfluff] section in setup.cfg, or a .sqlfluff
file) and the lint extra installed it, sqlfluff lints the SQL of migrations, models and checks
with that configuration, so one command covers safety and style. `--sarif FILE` writes all of
it as SARIF for GitHub code scanning (runner/reports/sarif.py).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.build.graph import ModelGraph
from runner.errors import ConfigError, ProjectFileError
from runner.project import Migration, Project, Seed
from runner.project.problems import Problems
from runner.reports import sarif

# Weir sets both around every migration (runner/db/execute.py).
ALWAYS_EXCLUDED = ("require-lock-timeout", "require-statement-timeout")
RULES_URL = "https://squawkhq.com/docs/rules"
SQLFLUFF_RULES_URL = "https://docs.sqlfluff.com/en/stable/reference/rules.html"


@dataclass(frozen=True)
class Finding:
    """One squawk finding in a migration file, at a 1-based line and column."""

    path: str
    line: int
    column: int
    rule: str
    message: str
    help: str | None = None
    tool: str = "squawk"  # squawk | sqlfluff

    def __str__(self) -> str:
        advice = f" {self.help}" if self.help else ""
        return f"{self.path}:{self.line}:{self.column}: {self.rule}: {self.message}{advice}"


@dataclass
class LintReport:
    """What `lint` found: every problem Weir refuses the project for, and squawk's findings."""

    errors: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # files read per kind
    squawked: int = 0  # forward migrations squawk read
    sqlfluffed: int | None = None  # SQL files sqlfluff read; None when it did not run


def lint(project: Project, paths: Iterable[Path] = ()) -> LintReport:
    """Lint `project`; with `paths`, squawk reads only the forward migrations among them.

    Raises ConfigError when squawk is missing or rejects the [weir] squawk_* settings.
    """
    report = LintReport()
    migrations = _read_project(project, report)
    chosen = {path.resolve() for path in paths}
    to_squawk = [
        migration for migration in migrations
        if migration.number > project.settings.squawk_start_after
        and (not chosen or migration.forward.path.resolve() in chosen)
    ]
    report.squawked = len(to_squawk)
    for transactional in (True, False):
        files = [migration for migration in to_squawk if migration.transactional == transactional]
        if files:
            shown = {str(migration.forward.path): migration.display for migration in files}
            report.findings += _squawk(project, list(shown), transactional, shown)
    if _configures_sqlfluff(project.settings.root):
        report.findings += _sqlfluff(project, chosen, report)
    report.findings.sort(key=lambda finding: (finding.path, finding.line, finding.column, finding.rule))
    return report


def sarif_runs(report: LintReport, project: Project) -> list[sarif.Run]:
    """Return the lint as SARIF runs: Weir's refusals, squawk's findings and sqlfluff's, each its own tool."""
    refused = []
    for error in report.errors:
        where = _LOCATION.match(error)
        path, line = (where.group("path"), int(where.group("line") or 1)) if where else ("setup.cfg", 1)
        refused.append(sarif.Result("weir-refused", error, _relative(path, project), line))
    runs = [sarif.Run("weir", None, refused)]
    for tool, url in (("squawk", RULES_URL), ("sqlfluff", SQLFLUFF_RULES_URL)):
        if tool == "sqlfluff" and report.sqlfluffed is None:
            continue
        runs.append(sarif.Run(tool, url, [
            sarif.Result(finding.rule, finding.message + (f" {finding.help}" if finding.help else ""),
                         _relative(finding.path, project), finding.line, finding.column,
                         help_uri=f"{RULES_URL}/{finding.rule}" if tool == "squawk" else url)
            for finding in report.findings if finding.tool == tool
        ]))
    return runs


_LOCATION = re.compile(r"^(?P<path>[^:\n]+\.(?:sql|cfg))(?::(?P<line>\d+))?:")


def _relative(path: str, project: Project) -> str:
    absolute = Path(path) if Path(path).is_absolute() else project.settings.root / path
    try:
        return absolute.resolve().relative_to(project.settings.root).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _configures_sqlfluff(root: Path) -> bool:
    if (root / ".sqlfluff").is_file():
        return True
    setup = root / "setup.cfg"
    return setup.is_file() and "[sqlfluff]" in setup.read_text(encoding="utf-8", errors="replace")


def _sqlfluff(project: Project, chosen: set[Path], report: LintReport) -> list[Finding]:
    settings = project.settings
    binary = _tool_binary("sqlfluff")
    if binary is None:
        return []  # the lint extra is not installed; the command says so
    folders = [folder for folder in (settings.migrations_dir, settings.models_dir, settings.checks_dir)
               if folder.is_dir()]
    files = sorted(str(path) for folder in folders for path in folder.rglob("*.sql")
                   if not chosen or path.resolve() in chosen)
    report.sqlfluffed = len(files)
    if not files:
        return []
    done = subprocess.run([binary, "lint", "--format", "json", "--nofail", *files], cwd=settings.root,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    try:
        linted: list[dict[str, Any]] = json.loads(done.stdout)
    except json.JSONDecodeError:
        said = (done.stderr.strip() or f"exit {done.returncode}").splitlines()[-1]
        raise ConfigError(f"{settings.root / 'setup.cfg'}: sqlfluff could not lint: {said}") from None
    return [
        Finding(
            path=_relative(item["filepath"], project),
            line=int(violation.get("start_line_no") or 1),
            column=int(violation.get("start_line_pos") or 1),
            rule=violation["code"],
            message=violation["description"],
            tool="sqlfluff",
        )
        for item in linted
        for violation in item["violations"]
        if not violation.get("warning")
    ]


def _read_project(project: Project, report: LintReport) -> list[Migration]:
    """Read migrations, models, checks and unit tests as the commands do; note every problem they find."""
    problems = Problems()
    migrations: list[Migration] = []
    if project.settings.migrations_dir.is_dir():
        with problems.each():
            migrations = project.migrations
        report.counts["migrations"] = len(migrations)
    models_read = False
    seeds: list[Seed] = []
    with problems.each():
        seeds = project.seeds  # their names and types files; each CSV is read when it loads
    with problems.each():
        # the graph refuses a cycle, and a seed loading a table a model builds
        report.counts["models"] = len(ModelGraph(project.models, seeds).models)
        models_read = True
    with problems.each():
        report.counts["checks"] = len(project.checks)
        if models_read:  # a gate must name a model and read only it
            project.gates  # noqa: B018  (reading the gates validates them)
    unit_tests_dir = project.settings.unit_tests_dir
    if models_read and unit_tests_dir is not None and unit_tests_dir.is_dir():
        with problems.each():
            report.counts["unit tests"] = len(project.unit_tests)
    if models_read and not problems.found:
        from runner.pii.flow import pii_leaks

        with problems.each():
            for leak in pii_leaks(project):
                problems.add(ProjectFileError(str(leak)))
    report.errors += [str(problem) for problem in problems.found]
    return migrations


def _squawk(project: Project, files: list[str], transactional: bool, shown: dict[str, str]) -> list[Finding]:
    settings = project.settings
    excluded = [*ALWAYS_EXCLUDED, *settings.squawk_exclude]
    command = [_squawk_binary(), "--reporter", "json", "--exclude", ",".join(excluded)]
    if transactional:
        command.append("--assume-in-transaction")
    if settings.squawk_pg_version:
        command += ["--pg-version", settings.squawk_pg_version]
    # stdin is not a terminal either way; squawk reads the files named, never stdin, when given some.
    done = subprocess.run([*command, *files], cwd=settings.root, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, check=False)
    try:
        found: list[dict[str, Any]] = json.loads(done.stdout)
    except json.JSONDecodeError:
        said = (done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}").splitlines()[0]
        raise ConfigError(
            f"{settings.root / 'setup.cfg'}: squawk refused its [weir] squawk_* settings: {said}"
            f" (rule names: {RULES_URL})"
        ) from None
    return [
        Finding(
            path=shown.get(item["file"], item["file"]),
            line=int(item["line"]) + 1,  # squawk's JSON counts lines and columns from 0
            column=int(item["column"]) + 1,
            rule=item["rule_name"],
            message=item["message"],
            help=item.get("help"),
        )
        for item in found
    ]


def _squawk_binary() -> str:
    found = _tool_binary("squawk")
    if found is None:
        raise ConfigError("squawk is not installed: pip install squawk-cli (Weir's setup installs it)")
    return found


def _tool_binary(name: str) -> str | None:
    # pip installs a tool's script beside this interpreter's scripts, which need not be on PATH.
    beside = Path(sysconfig.get_path("scripts")) / name
    return str(beside) if beside.is_file() else shutil.which(name)
