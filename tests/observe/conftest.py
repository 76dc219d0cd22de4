"""A real HTTP server that records what is POSTed to it, and a project with something to alert on."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Hook:
    """What the local webhook server received, and how many of its first answers are failures."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    fail_first: int = 0  # answer this many requests with HTTP 500 before accepting
    requests: int = 0


@pytest.fixture
def webhook() -> Iterator[Hook]:
    """A webhook server on 127.0.0.1 (a free port) in a thread, as Slack's incoming webhook would be."""
    hook = Hook("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.requests += 1
            if hook.requests <= hook.fail_first:
                self.send_response(500)
                self.end_headers()
                return
            hook.received.append(json.loads(body))
            hook.headers.append(self.headers["Content-Type"])
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield hook
    server.shutdown()
    server.server_close()
    thread.join()


HOOK_SCRIPT = """\
import pathlib, sys
out = pathlib.Path(sys.argv[1])
out.write_text(out.read_text() + sys.stdin.read() + "\\n" if out.exists() else sys.stdin.read() + "\\n")
"""


@pytest.fixture
def hook_command(tmp_path: Path) -> tuple[str, Path]:
    """A real command for on_failure: a script appending its stdin to a file; returns (command, file)."""
    script, out = tmp_path / "hook.py", tmp_path / "events.jsonl"
    script.write_text(HOOK_SCRIPT)
    import sys

    return f"{sys.executable} {script} {out}", out


def alerting_project(project: Path, db: Any, write_files: Any, settings: str, weir: Any, dsn: str) -> None:
    """A project whose `weir run` fails a model, fails a gate, quarantines rows and warns in a check.

    marts.gated is built once while its data is good, so its failed gate keeps that version.
    """
    db.execute("CREATE TABLE public.source (id int PRIMARY KEY, amount int)")
    db.execute("INSERT INTO public.source VALUES (1, 10), (3, 0)")
    (project / "setup.cfg").write_text("[weir]\nlock_timeout = 1s\nretry_tries = 1\n" + settings)
    write_files(project, {
        "models/marts/orders.sql": "-- weir: kind=table, unique_key=id\nSELECT id, amount FROM public.source\n",
        "models/marts/gated.sql": "-- weir: kind=table\nSELECT id, amount FROM public.source\n",
        "models/marts/broken.sql": "-- weir: kind=table\nSELECT id / 0 AS boom FROM public.source\n",
        "checks/no_zero.sql": "-- weir: gate=marts.orders, quarantine=true\n"
                              "SELECT * FROM marts.orders WHERE amount = 0\n",
        "checks/positive.sql": "-- weir: gate=marts.gated\nSELECT * FROM marts.gated WHERE amount < 0\n",
        "checks/few_negatives.sql": "-- weir: severity=warn\nSELECT * FROM public.source WHERE amount < 0\n",
    })
    assert weir("build", "--select", "marts.gated", "--project", str(project), "--dsn", dsn).exit_code == 0
    db.execute("INSERT INTO public.source VALUES (2, -5)")
