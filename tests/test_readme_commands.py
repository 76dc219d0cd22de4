"""The README's console examples, run as shown against the example project in a scratch database.

Each ```console block is a list of `$ command` lines, each followed by the output it shows.
A scenario per block prepares what its text says (data loaded, a broken file, ...), then
every command runs as a real `weir` process and its output is compared with the README's,
line by line, after masking what varies from run to run: times, durations (a progress line's too), timestamps and
the `target:` line, which here names the scratch database (and whitespace, which tabulate
widens with them). A leading `VAR=value` is set in the command's environment. A line `...` in the README stands for
any number of lines. Rows of a `--threads` build may come in any order.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[1]
WEIR = str(Path(sys.executable).with_name("weir"))
SCALE = 100_000  # the scale make demo loads, which the README's build table shows


@dataclass(frozen=True)
class Command:
    line: str  # as typed after "$ "
    output: tuple[str, ...]


def console_blocks() -> list[tuple[Command, ...]]:
    """Return the README's console blocks that hold commands, each as its commands with their output."""
    text = ROOT.joinpath("README.md").read_text()
    blocks = []
    for found in re.finditer(r"^( *)```console\n(.*?)^\1```", text, re.S | re.M):
        indent = len(found.group(1))
        commands: list[Command] = []
        for line in (raw[indent:] for raw in found.group(2).splitlines()):
            if line.startswith("$ "):
                commands.append(Command(line[2:], ()))
            elif commands:
                commands[-1] = Command(commands[-1].line, (*commands[-1].output, line))
        if commands:
            blocks.append(tuple(commands))
    return blocks


_VOLATILE = [
    (re.compile(r"^target: .*"), "target: <where the command connected>"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?([+-]\d\d(:\d\d)?| UTC)?"), "<timestamp>"),
    (re.compile(r"\(\d+ ms\)"), "(<ms>)"),
    (re.compile(r"\(\d+\.\d\ds\b"), "(<seconds>s"),  # a progress line's time
    (re.compile(r"\b\d+\.\d\d s\b"), "<seconds> s"),
    (re.compile(r"(?<![\w.])\d+\.\d\d$"), "<seconds>"),  # the seconds column of a build table
]


def masked(line: str) -> str:
    line = " ".join(line.split())
    for pattern, mask in _VOLATILE:
        line = pattern.sub(mask, line)
    return line


def assert_shown(command: Command, printed: str) -> None:
    """Compare what a command printed with what the README shows, masked; `...` matches any lines."""
    actual = [masked(line) for line in printed.rstrip("\n").splitlines()]
    expected = [masked(line) for line in command.output if line.strip()]
    actual = [line for line in actual if line]
    if "--threads" in command.line:
        actual, expected = sorted(actual), sorted(expected)
    position = 0
    for number, line in enumerate(expected):
        if line == "...":
            following = expected[number + 1] if number + 1 < len(expected) else None
            while position < len(actual) and actual[position] != following:
                position += 1
            continue
        assert position < len(actual) and actual[position] == line, (
            f"$ {command.line}\nREADME shows: {line!r}\nweir printed:\n" + "\n".join(actual))
        position += 1
    assert position == len(actual), f"$ {command.line}: weir printed more:\n" + "\n".join(actual[position:])


class Scenario:
    """A copy of the example project, a scratch database, and `weir` as a real process."""

    def __init__(self, tmp_path: Path, dsn: str, db: psycopg.Connection) -> None:
        self.project = tmp_path / "warehouse"
        self.project.mkdir()
        for name in ("migrations", "models", "checks", "seeds", "unit_tests"):
            shutil.copytree(ROOT / name, self.project / name)
        shutil.copy(ROOT / "setup.cfg", self.project / "setup.cfg")
        self.dsn = dsn
        self.db = db

    def weir(self, line: str, check: bool = False) -> str:
        words = shlex.split(line)
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", "WEIR_DSN": self.dsn}
        while "=" in words[0]:
            name, _, value = words.pop(0).partition("=")
            environment[name] = value
        assert words[0] == "weir", line
        done = subprocess.run([WEIR, *words[1:]], cwd=self.project, env=environment, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=600)
        if check:
            assert done.returncode == 0, done.stdout
        return done.stdout

    def play(self, block: tuple[Command, ...]) -> None:
        for command in block:
            assert_shown(command, self.weir(command.line))


def demo_first_build(scenario: Scenario, scale: int = SCALE) -> None:
    """What make demo does before its second build: migrate, load, build, one change batch."""
    scenario.weir("weir migrate", check=True)
    scenario.weir(f"weir sample load --scale {scale}", check=True)
    scenario.weir("weir build --threads 2", check=True)
    scenario.weir("weir sample change --batch 1", check=True)


def broken_second_migration(scenario: Scenario) -> None:
    migrations = scenario.project / "migrations"
    for path in migrations.iterdir():
        path.unlink()
    (migrations / "0001_customers.sql").write_text("CREATE TABLE customers (id int PRIMARY KEY);\n")
    (migrations / "0001_customers.rollback.sql").write_text("DROP TABLE customers;\n")
    (migrations / "0002_broken.sql").write_text(
        "-- a view over a table nobody created\n\nCREATE VIEW broken AS\nSELECT * FROM nowhere;\n")
    (migrations / "0002_broken.rollback.sql").write_text("DROP VIEW broken;\n")


def orders_without_items(scenario: Scenario) -> None:
    """The example warehouse, migrated and loaded, after two orders were written without their lines."""
    scenario.weir("weir migrate", check=True)
    scenario.weir("weir sample load --scale 1000", check=True)
    scenario.db.execute("INSERT INTO raw.orders (customer_id, ordered_at, created_at, updated_at)"
                        " SELECT customer_id, at, at, at FROM (VALUES (7, timestamptz '2023-12-30 09:15+00'),"
                        " (12, timestamptz '2023-12-30 09:20+00')) AS glitch (customer_id, at)")


def built(scenario: Scenario) -> None:
    """The example warehouse, built after a change batch (at a small scale: the block shows no counts)."""
    demo_first_build(scenario, scale=2000)
    scenario.weir("weir build", check=True)


def unsafe_plan_migration(scenario: Scenario) -> None:
    (scenario.project / "migrations" / "0007_plan.sql").write_text(
        "-- every customer gets a plan\n\nALTER TABLE raw.customers\nADD COLUMN plan text NOT NULL;\n")
    (scenario.project / "migrations" / "0007_plan.rollback.sql").write_text(
        "ALTER TABLE raw.customers DROP COLUMN plan;\n")


def ragged_seed(scenario: Scenario) -> None:
    """The example's country seed with a fourth value on its fourth line."""
    path = scenario.project / "seeds" / "ref" / "countries.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = lines[3].rstrip("\n") + ",EU\n"
    path.write_text("".join(lines))


def nothing(scenario: Scenario) -> None:
    """The example project as it is, on an empty database."""


def key(block: tuple[Command, ...]) -> str:
    """A block's first command and the first line it shows after the target: what tells the blocks apart."""
    shown = [line for line in block[0].output if not line.strip().startswith("target:")]
    return f"{block[0].line} -> {shown[0] if shown else ''}"


# Each block -> what its text says was done before it.
SCENARIOS: dict[str, Callable[[Scenario], None]] = {
    "weir build --threads 2 ->         skipped  staging.stg_customers (0.03s)": demo_first_build,
    "weir migrate -> applied 0001_raw_schema (1 ms)": nothing,
    "weir migrate --dry-run -> would apply 0001_raw_schema: 4 catalog change(s)": nothing,
    "weir migrate -> applied 0001_customers (2 ms)": broken_second_migration,
    "weir check --select tag:raw ->            pass  check raw/customers_email_unique (0.02s)": orders_without_items,
    "weir run -> ...": built,
    "PGPASSWORD=... weir status -> ...": nothing,
    "weir seed --show-types -> seed           column        type    from": nothing,
    "weir seed -> weir: seeds/ref/countries.csv:4:4: the row has more values than the header's 3 columns; remove the extra ones, or quote a value that holds a comma": ragged_seed,  # noqa: E501
    'weir grants --role analyst -> CREATE SCHEMA IF NOT EXISTS "marts_masked";': built,
    "weir lint -> migrations/0007_plan.sql:4:1: adding-required-field: Adding a new column that is `NOT NULL` and has no default value to an existing table effectively makes it required. Make the field nullable or add a non-VOLATILE DEFAULT": unsafe_plan_migration,  # noqa: E501
}
# Blocks about the embedded server, which a scratch database on the test server cannot show.
NOT_RUN = {"weir db status -> running: pid 5022, socket /home/me/warehouse/.weir/pgdata, port 5432"}


def test_every_console_block_has_a_scenario() -> None:
    assert sorted(key(block) for block in console_blocks()) == sorted([*SCENARIOS, *NOT_RUN])


@pytest.mark.parametrize("block", [block for block in console_blocks() if key(block) not in NOT_RUN],
                         ids=lambda block: block[0].line)
def test_console_block_shows_what_weir_prints(block, tmp_path: Path, dsn: str, db: psycopg.Connection) -> None:
    scenario = Scenario(tmp_path, dsn, db)
    SCENARIOS[key(block)](scenario)
    scenario.play(block)
