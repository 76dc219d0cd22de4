"""Find the Weir project and read its `[weir]` section of setup.cfg, once, into typed and validated Settings.

setup.cfg is read as UTF-8 (a byte-order mark is dropped); every value is checked against
its type and range (RANGES), and a key Weir does not know is refused, naming the closest one
it does: a misspelt `lock_timout` silently left at its default would be worse than an error.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from runner.errors import ConfigError
from runner.project.cadence import SLA_EXAMPLE, parse_sla, schedule_problem

SECTION = "weir"


@dataclass(frozen=True)
class Timeouts:
    """How long a statement may wait for a lock or run, and how often a lock timeout is retried."""

    lock_timeout: str
    statement_timeout: str
    lock_retries: int


@dataclass(frozen=True)
class Alerts:
    """The alert sinks: a webhook whose URL is in an environment variable, a command; each with a floor severity."""

    webhook_env: str | None = None  # the environment variable's name
    webhook_min_severity: str = "warn"  # "warn" sends warnings and errors, "error" only errors
    on_failure: str | None = None  # a shell command given each event as JSON on stdin
    on_failure_min_severity: str = "warn"
    tries: int = 3  # deliveries of one event to one sink, the first included


@dataclass(frozen=True)
class Retries:
    """How a step (a model, a check, a migration) that met a transient fault is tried again."""

    tries: int  # in all, the first included: 1 never retries
    base_delay: float  # seconds before the first retry; each next waits twice as long ...
    max_delay: float  # ... up to this many seconds


DEFAULTS = {
    "migrations": "migrations",
    "models": "models",
    "checks": "checks",
    "lock_timeout": "5s",
    "lock_retries": "4",
    "statement_timeout": "30min",
    "lock_wait": "5min",
    "check_timeout": "5min",
    # Ten tries wait at least 41 s in all (jitter shaves at most a quarter off each wait),
    # so a step rides out a server restart or a 30 s outage.
    "retry_tries": "10",
    "retry_base_delay": "500ms",
    "retry_max_delay": "10s",
    "squawk_exclude": "",
    "squawk_start_after": "0",
    "squawk_pg_version": "",
    # weir seed: seeds/<schema>/<name>.csv loads into <schema>.<name> (runner.build.seeds)
    "seeds": "seeds",
    "analyst_role": "",
    "unit_tests": "unit_tests",  # weir test: unit test files, unit_tests/<schema>/<model>__<case>.sql
    # The cadence of every model whose header does not say (runner.project.cadence); empty: none.
    "schedule": "",
    "sla": "",
    # Alert sinks (runner.observe.alerts): the NAME of the environment variable holding the
    # webhook's URL (never the URL: setup.cfg is committed), and a command fed each event.
    "alert_webhook_env": "",
    "alert_webhook_min_severity": "warn",
    "on_failure": "",
    "on_failure_min_severity": "warn",
    "alert_tries": "3",
    # weir build/run --atomic by default: every model's new version visible at once, or none (runner.build.release)
    "atomic": "false",
}

# PostgreSQL's own interval units for timeouts, so the value can go straight into SET.
_DURATION = re.compile(r"^\s*(\d+)\s*(us|ms|s|min|h|d)?\s*$")
_DURATION_EXAMPLES = {"lock_timeout": "5s, 500ms or 30min", "statement_timeout": "5s, 500ms or 30min",
                      "lock_wait": "5s, 500ms or 30min", "check_timeout": "30s, 500ms or 5min",
                      "retry_base_delay": "500ms, 1s or 2min", "retry_max_delay": "10s, 500ms or 2min"}
_MILLISECONDS = {"us": 0.001, "ms": 1, "": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_MAX_MILLISECONDS = 2_147_483_647  # PostgreSQL's largest lock_timeout and statement_timeout (INT_MAX ms)


@dataclass(frozen=True)
class Range:
    """The values a whole-number or duration setting may take, both ends included (durations in ms)."""

    low: int
    high: int
    meaning: str = ""  # what the value counts, said when it is out of range


# The range of every number and duration in [weir], checked when setup.cfg is read. Adding a
# setting: give it a default in DEFAULTS, a field in Settings, read it in load_settings with
# _whole_number or _duration, and its range here. A duration not listed may be 0 (PostgreSQL
# reads that as no limit) up to PostgreSQL's largest; a whole number not listed, 0 or more.
RANGES: dict[str, Range] = {
    "lock_retries": Range(0, 100, "retries of a statement that hit lock_timeout"),
    "retry_tries": Range(1, 100, "tries of a step after a transient fault; 1 never retries"),
    "squawk_start_after": Range(0, 10**9, "a migration number"),
    "alert_tries": Range(1, 10, "tries to deliver one alert to one sink"),
}
_DEFAULT_DURATION = Range(0, _MAX_MILLISECONDS, "0 means no limit")
_DEFAULT_WHOLE_NUMBER = Range(0, 2**31 - 1)


@dataclass(frozen=True)
class Settings:
    """Where a project's files are and how its runs behave: setup.cfg's [weir] section, validated."""

    root: Path
    migrations_dir: Path
    models_dir: Path
    checks_dir: Path
    lock_timeout: str = DEFAULTS["lock_timeout"]
    lock_retries: int = int(DEFAULTS["lock_retries"])
    statement_timeout: str = DEFAULTS["statement_timeout"]
    lock_wait: str = DEFAULTS["lock_wait"]  # how long a run waits for another run's lock
    check_timeout: str = DEFAULTS["check_timeout"]  # the statement_timeout of every check
    retries: Retries = Retries(10, 0.5, 10.0)  # of a step that met a transient fault (runner.db.retry)
    squawk_exclude: tuple[str, ...] = ()  # weir lint: squawk rules left out besides Weir's own
    squawk_start_after: int = 0  # weir lint: migrations numbered up to this one are not squawk-linted
    squawk_pg_version: str | None = None  # weir lint: the PostgreSQL version squawk's rules assume
    seeds: str = DEFAULTS["seeds"]  # weir seed: the CSV seeds' directory, relative to root
    analyst_role: str | None = None  # weir grants: the role that sees masked views only
    unit_tests_dir: Path | None = None  # weir test: unit test files; None means <root>/unit_tests
    schedule: str | None = None  # each model's schedule unless its header says (runner.project.cadence)
    sla: timedelta | None = None  # each model's freshness SLA unless its header says
    alerts: Alerts = Alerts()  # where alerts go (runner.observe.alerts)
    atomic: bool = False  # builds release every model at once, or none, unless --no-atomic

    @property
    def seeds_dir(self) -> Path:
        """Where the CSV seeds are: seeds/<schema>/<name>.csv."""
        return self.root / self.seeds

    @property
    def timeouts(self) -> Timeouts:
        """The lock and statement timeouts migrations run with."""
        return Timeouts(self.lock_timeout, self.statement_timeout, self.lock_retries)

    @property
    def state_dir(self) -> Path:
        """Weir's local working directory (embedded server data and sockets)."""
        return self.root / ".weir"


def find_project_root(start: Path) -> Path:
    """Return `start` or its nearest parent whose setup.cfg has a [weir] section.

    A directory without such a parent is a project of its own, with defaults.
    """
    start = start.resolve()
    for candidate in (start, *start.parents):
        if _has_weir_section(candidate / "setup.cfg"):
            return candidate
    return start


def load_settings(project: Path | None = None) -> Settings:
    """Read the settings of the project at `project`, or found from the current directory.

    Raises ConfigError naming setup.cfg and the key for a value that is malformed or out of
    its range, or a key Weir does not know (with the closest one it does).
    """
    if project is not None:
        root = Path(project).resolve()
        if not root.is_dir():
            raise ConfigError(f"--project {project}: no such directory")
    else:
        root = find_project_root(Path.cwd())
    path = root / "setup.cfg"
    values = dict(DEFAULTS)
    values.update(_read_section(path))
    for key in ("migrations", "models", "checks", "seeds", "unit_tests"):
        if not values[key]:
            raise ConfigError(f"{path}: [weir] {key} is empty; name the directory, e.g. {key} = {DEFAULTS[key]}")
    return Settings(
        root=root,
        migrations_dir=root / values["migrations"],
        models_dir=root / values["models"],
        checks_dir=root / values["checks"],
        lock_timeout=_duration(path, values, "lock_timeout"),
        statement_timeout=_duration(path, values, "statement_timeout"),
        lock_wait=_duration(path, values, "lock_wait"),
        lock_retries=_whole_number(path, "lock_retries", values["lock_retries"], "is not a whole number"),
        check_timeout=_duration(path, values, "check_timeout"),
        retries=_retries(path, values),
        squawk_exclude=tuple(
            part.strip() for part in values["squawk_exclude"].replace("\n", ",").split(",") if part.strip()
        ),
        squawk_start_after=_whole_number(
            path, "squawk_start_after", values["squawk_start_after"].strip() or "0", "is not a migration number"
        ),
        squawk_pg_version=values["squawk_pg_version"].strip() or None,  # squawk itself checks it
        seeds=values["seeds"],
        analyst_role=values["analyst_role"].strip() or None,
        unit_tests_dir=root / values["unit_tests"],
        schedule=_schedule(path, values["schedule"]),
        sla=_sla(path, values["sla"]),
        alerts=_alerts(path, values),
        atomic=_boolean(path, "atomic", values["atomic"]),
    )


def _schedule(path: Path, value: str) -> str | None:
    problem = schedule_problem(value) if value.strip() else None
    if problem:
        raise ConfigError(f"{path}: [weir] {problem}")
    return " ".join(value.split()) or None


def _sla(path: Path, value: str) -> timedelta | None:
    if not value.strip():
        return None
    sla = parse_sla(value)
    if sla is None:
        raise ConfigError(f"{path}: [weir] sla = {value!r} is not an interval; {SLA_EXAMPLE}")
    return sla


_SEVERITIES = ("warn", "error")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _alerts(path: Path, values: dict[str, str]) -> Alerts:
    env = values["alert_webhook_env"].strip()
    if env and not _ENV_NAME.match(env):
        raise ConfigError(
            f"{path}: [weir] alert_webhook_env = {env!r} is not an environment variable's name; name the"
            " variable that holds the URL, e.g. alert_webhook_env = WEIR_SLACK_WEBHOOK (never the URL itself)"
        )
    for key in ("alert_webhook_min_severity", "on_failure_min_severity"):
        if values[key].strip().lower() not in _SEVERITIES:
            raise ConfigError(f"{path}: [weir] {key} = {values[key]!r} is not warn or error; write warn or error")
    return Alerts(
        webhook_env=env or None,
        webhook_min_severity=values["alert_webhook_min_severity"].strip().lower(),
        on_failure=values["on_failure"].strip() or None,
        on_failure_min_severity=values["on_failure_min_severity"].strip().lower(),
        tries=_whole_number(path, "alert_tries", values["alert_tries"], "is not a whole number"),
    )


def _duration(path: Path, values: dict[str, str], key: str) -> str:
    """Return setting `key` as PostgreSQL takes a duration, e.g. "5min", or raise ConfigError.

    The value must lie in RANGES[key] (in milliseconds), by default 0 to PostgreSQL's largest.
    """
    match = _DURATION.match(values[key])
    example = _DURATION_EXAMPLES.get(key, "5s, 500ms or 30min")
    if not match:
        raise ConfigError(
            f"{path}: [weir] {key} = {values[key]!r} is not a duration; use a number with a unit, e.g. {example}"
        )
    allowed = RANGES.get(key, _DEFAULT_DURATION)
    milliseconds = int(match.group(1)) * _MILLISECONDS[match.group(2) or ""]
    if not allowed.low <= milliseconds <= allowed.high:
        raise ConfigError(
            f"{path}: [weir] {key} = {values[key]!r} is out of range: between {allowed.low}ms and"
            f" {allowed.high}ms ({_human(allowed.high)}){_meaning(allowed)}; e.g. {example}"
        )
    return values[key].replace(" ", "")


def _retries(path: Path, values: dict[str, str]) -> Retries:
    """Return the retry settings, each range-checked, or raise ConfigError naming the key."""
    tries = _whole_number(path, "retry_tries", values["retry_tries"], "is not a whole number")
    base, most = (_seconds(_duration(path, values, key)) for key in ("retry_base_delay", "retry_max_delay"))
    if most < base:
        raise ConfigError(
            f"{path}: [weir] retry_max_delay = {values['retry_max_delay']!r} is below retry_base_delay"
            f" = {values['retry_base_delay']!r}; make it at least as long"
        )
    return Retries(tries, base, most)


def _seconds(duration: str) -> float:
    """Return a duration validated by _duration, e.g. "500ms", in seconds (no unit: milliseconds, as in PostgreSQL)."""
    number = re.match(r"\d+", duration)
    assert number is not None  # _duration checked the form
    return int(number.group()) * _MILLISECONDS[duration[number.end():]] / 1000


def _boolean(path: Path, key: str, value: str) -> bool:
    word = value.strip().lower()
    if word in ("true", "yes", "on", "1"):
        return True
    if word in ("false", "no", "off", "0", ""):
        return False
    raise ConfigError(f"{path}: [weir] {key} = {value.strip()} is not true or false; write {key} = true or false")


def _whole_number(path: Path, key: str, value: str, problem: str) -> int:
    """Return setting `key`'s `value` as an int in RANGES[key] (by default 0 or more), or raise ConfigError.

    `problem` is what the message says of a value that is not a whole number.
    """
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{path}: [weir] {key} = {value!r} {problem}") from None
    allowed = RANGES.get(key, _DEFAULT_WHOLE_NUMBER)
    if not allowed.low <= number <= allowed.high:
        raise ConfigError(
            f"{path}: [weir] {key} = {value!r} is out of range: from {allowed.low} to {allowed.high}{_meaning(allowed)}"
        )
    return number


def _meaning(allowed: Range) -> str:
    return f" ({allowed.meaning})" if allowed.meaning else ""


def _human(milliseconds: int) -> str:
    return f"about {milliseconds // 86_400_000} days" if milliseconds >= 86_400_000 else f"{milliseconds}ms"


def _has_weir_section(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        return _parse(path).has_section(SECTION)
    except configparser.Error:
        return False


def _read_section(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        parser = _parse(path)
    except configparser.Error as exc:
        first_line = str(exc).splitlines()[0]
        raise ConfigError(f"{path}: cannot be read: {first_line}") from None
    if not parser.has_section(SECTION):
        return {}
    section = {key: value.strip() for key, value in parser.items(SECTION)}
    for key in section:
        if key not in DEFAULTS:
            # Refused, not ignored: a misspelt lock_timout would otherwise leave the default in force.
            raise ConfigError(f"{path}: [weir] {key} is not a Weir setting; {_closest(key)}")
    return section


def _parse(path: Path) -> configparser.ConfigParser:
    """Parse setup.cfg as UTF-8, without a byte-order mark if it has one; raise ConfigError if not UTF-8."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from None
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text, source=str(path))
    return parser


def _closest(key: str) -> str:
    import difflib  # only for a misspelt key

    close = difflib.get_close_matches(key, list(DEFAULTS), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]}?"
    return "known settings: " + ", ".join(sorted(DEFAULTS))
