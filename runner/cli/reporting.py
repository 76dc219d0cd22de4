"""The machine-readable outputs of a command (--json, --junit), written even when it stops early.

A CI job that asked for a JUnit file gets one whatever happened: when the database is down
or a project file is malformed, the file holds one <error> testcase saying why, and --json
prints the envelope with its `error`, before the usual one-line message on stderr.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click

from runner.errors import EXIT_FAIL, WeirError
from runner.reports.envelope import Envelope, dumps


@contextmanager
def reported(command: str, junit: Path | None = None, as_json: bool = False) -> Iterator[Envelope]:
    """Yield the run's envelope; if the block fails with a Weir or database error, report it, then re-raise."""
    envelope = Envelope(command, datetime.now().astimezone())
    try:
        yield envelope
    except Exception as exc:
        exit_code = _exit_code(exc)
        if exit_code is None:
            raise
        message = _one_line(exc)
        if junit is not None:
            from runner.reports import junit as junit_xml

            stopped = junit_xml.Case(f"weir {command}", "weir", 0.0, "error", message, message)
            junit_xml.write([junit_xml.Suite(f"weir {command}", envelope.started, cases=[stopped])], junit)
        if as_json:
            click.echo(dumps(envelope.document("error", exit_code, None, message)))
        raise


def _exit_code(exc: Exception) -> int | None:
    if isinstance(exc, WeirError):
        return exc.exit_code
    import psycopg

    return EXIT_FAIL if isinstance(exc, psycopg.Error) else None


def _one_line(exc: Exception) -> str:
    from runner.db.connection import redact

    text = str(exc).strip()
    return redact(text.splitlines()[0]) if text else type(exc).__name__
