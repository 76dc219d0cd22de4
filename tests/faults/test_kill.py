"""kill -9 at any point of migrate, build, check and run, then a re-run: as if never interrupted.

Hypothesis picks the point: the Nth statement the weir process sends, killed just before it
reaches the server or while the server runs it (tests/faults/weir_killed_at.py). The re-run
must exit as an uninterrupted run does and leave the same content (rows of every relation,
the catalog, Weir's migration and model records, the last check results), and nothing may be
left behind: no advisory lock, session, temporary table, shadow relation or INVALID index.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import psycopg
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

TRIALS = int(os.environ.get("WEIR_FAULT_TRIALS", "3"))


@dataclass(frozen=True)
class Uninterrupted:
    """What one run of a command from a given state does when nothing hurts it."""

    exit_code: int
    statements: int
    content: dict[str, Any]


def survives_kill(databases, weir_process, count_statements, content, leftovers, record_trial,
                  command: list[str], states: dict[str, str]) -> None:
    """Kill `weir COMMAND` at points hypothesis draws, from each of `states` (name -> template database)."""
    uninterrupted: dict[str, Uninterrupted] = {}

    def run_through(state: str) -> Uninterrupted:
        if state not in uninterrupted:
            name = databases.create(template=states[state])
            finished = weir_process(databases.dsn(name), *command)
            with psycopg.connect(databases.dsn(name), autocommit=True) as conn:
                uninterrupted[state] = Uninterrupted(finished.returncode, count_statements(finished), content(conn))
            databases.drop(name)
        return uninterrupted[state]

    # No shrinking: each step is a trial of seconds; the failing example is reported as drawn.
    @settings(max_examples=TRIALS, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
    @given(data=st.data())
    def trial(data: st.DataObject) -> None:
        state = data.draw(st.sampled_from(sorted(states)), label="state")
        expected = run_through(state)
        point = data.draw(st.integers(1, expected.statements), label="killed at statement")
        mode = data.draw(st.sampled_from(["before", "during"]), label="mode")
        name = databases.create(template=states[state])
        dsn = databases.dsn(name)
        try:
            killed = weir_process(dsn, *command, kill_at=point, mode=mode)
            # Not killed only if this run sent fewer statements than the uninterrupted one.
            assert killed.returncode in (-9, expected.exit_code), killed.stderr
            rerun = weir_process(dsn, *command)
            assert rerun.returncode == expected.exit_code, rerun.stderr
            with psycopg.connect(dsn, autocommit=True) as conn:
                assert leftovers(conn) == {}
                assert content(conn) == expected.content
        finally:
            databases.drop(name)
        shown = " ".join(word for word in command if word != "--threads" and not word.isdigit())
        record_trial("kill", command=shown, state=state, statement=point, of=expected.statements,
                     mode=mode, killed=killed.returncode == -9)

    trial()


def test_migrate_killed_anywhere_then_rerun_applies_each_migration_once(
        databases, weir_process, count_statements, content, leftovers, record_trial):
    states = {"empty database": databases.warehouse(migrated_to=None)}
    survives_kill(databases, weir_process, count_statements, content, leftovers, record_trial, ["migrate"], states)


def test_build_killed_anywhere_then_rerun_builds_what_an_uninterrupted_build_does(
        databases, weir_process, count_statements, content, leftovers, record_trial):
    states = {
        "first build": databases.warehouse(loaded=True),
        "after a change batch": databases.warehouse(loaded=True, built=True, batches=1),
    }
    survives_kill(databases, weir_process, count_statements, content, leftovers, record_trial,
                  ["build", "--threads", "2"], states)


def test_atomic_build_killed_anywhere_then_rerun_builds_what_an_uninterrupted_one_does(
        databases, weir_process, count_statements, content, leftovers, record_trial):
    # Killed while models are built aside or while the release swaps them: nothing was visible, nothing is left.
    states = {
        "first build": databases.warehouse(loaded=True),
        "after a change batch": databases.warehouse(loaded=True, built=True, batches=1),
    }
    survives_kill(databases, weir_process, count_statements, content, leftovers, record_trial,
                  ["build", "--atomic"], states)


def test_check_killed_anywhere_then_rerun_records_the_same_results(
        databases, weir_process, count_statements, content, leftovers, record_trial):
    states = {"built": databases.warehouse(loaded=True, built=True, batches=1)}
    survives_kill(databases, weir_process, count_statements, content, leftovers, record_trial,
                  ["check", "--threads", "2"], states)


def test_run_killed_anywhere_then_rerun_migrates_builds_and_checks_as_one_run_does(
        databases, weir_process, count_statements, content, leftovers, record_trial):
    # The last migration (CREATE INDEX CONCURRENTLY on loaded orders) is left to the run.
    states = {"one migration pending": databases.warehouse(migrated_to="0004", loaded=True)}
    survives_kill(databases, weir_process, count_statements, content, leftovers, record_trial, ["run"], states)

