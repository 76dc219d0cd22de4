"""Help that teaches: shared options at the top, and examples under every command that really parse."""

from __future__ import annotations

import shlex

import click
import pytest

from runner.cli import cli


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += commands(command, (*prefix, name))
    return found


def test_top_level_help_lists_the_shared_options(weir) -> None:
    shown = weir("--help").stdout
    for option in ("--project DIR", "--dsn DSN", "--debug"):
        assert option in shown
    assert "shared: every command takes them" in " ".join(shown.split())


@pytest.mark.parametrize("path", commands(cli), ids=" ".join)
def test_every_command_ends_its_help_with_examples_that_parse(path: tuple[str, ...], weir) -> None:
    shown = weir(*path, "--help")
    assert shown.exit_code == 0, shown.output
    examples = shown.stdout.rpartition("Examples:\n")[2]
    lines = [line.strip().split("  #")[0].strip() for line in examples.splitlines() if line.strip()]
    assert lines, f"weir {' '.join(path)} --help shows no example"
    for line in lines:
        for part in line.replace("&&", "|").replace("||", "|").split("|"):
            words = shlex.split(part.replace('"$(weir db url)"', "URL"))
            if words[:1] != ["weir"]:
                continue  # psql, jq
            # Unknown options or missing values fail parsing before --help is acted on.
            parsed = weir(*words[1:], "--help")
            assert parsed.exit_code == 0, f"{part.strip()!r}: {parsed.output}"
