"""What a run shows while it runs: a live line on a terminal, or one JSON event per step.

- On a terminal: one line, rewritten in place, naming each running model and check with its
  elapsed time (a ticker thread redraws it), and one line per finished model or check.
- Off a terminal (a CI log, an orchestrator's task log): one line per finished model or
  check, as it finishes, so a long run shows where it is before its table.
- `--log-format json`: one JSON object per line on stderr for each step (started, finished,
  retried, waiting), for log shippers, instead of the text.
- `-q`: none of it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from runner.build.report import BuildEvent
    from runner.checks.results import CheckResult

TICK_SECONDS = 0.5


class Progress:
    """Shows the steps of one command as they start and end."""

    def __init__(self, command: str, *, log_format: str = "text", mode: str = "auto", quiet: bool = False,
                 stream: TextIO | None = None) -> None:
        self.command, self.stream = command, stream or sys.stderr
        self.json = log_format == "json"
        tty = self.stream.isatty()
        if quiet or self.json:
            mode = "off"
        elif mode == "auto":
            mode = "live" if tty else "lines"
        self.mode = mode  # live | lines | off
        self.running: dict[str, float] = {}  # step -> when it started (monotonic)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ticker: threading.Thread | None = None
        self.drawn = False

    def __enter__(self) -> Progress:
        if self.mode == "live":
            self.ticker = threading.Thread(target=self._tick, name="weir-progress", daemon=True)
            self.ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.ticker is not None:
            self.ticker.join()
        with self.lock:
            self._clear()

    # The callbacks the build, check and run commands pass to the library.

    def build_event(self, event: BuildEvent) -> bool:
        """Show a build event; return whether the usual text line should also be said."""
        if event.kind == "started" and event.model:
            self.started(event.model)
        elif event.kind == "finished" and event.result is not None:
            result = event.result
            rows = result.inserted + result.updated + result.deleted
            self.finished(result.model, result.status, result.seconds, model=result.model, kind=result.kind,
                          rows=rows, inserted=result.inserted, updated=result.updated, deleted=result.deleted,
                          error=result.error, note=result.note or None)
        elif event.kind in ("waiting", "retrying", "cleanup"):
            self.emit(event.kind, model=event.model, message=event.message)
        elif event.kind == "released" and event.lock_window is not None:
            self.emit("released", message=event.message, lock_window_ms=round(event.lock_window * 1000, 1))
        return not self.json

    def check_started(self, name: str) -> None:
        """Show a check that started."""
        self.started(f"check {name}")

    def check_result(self, result: CheckResult) -> None:
        """Show a check that finished."""
        self.finished(f"check {result.name}", result.status, result.seconds, check=result.name,
                      severity=result.severity, violations=result.count, error=result.error)

    def message(self, text: str) -> None:
        """Show a line the library says (a retry, a wait): as JSON, or as the text it is."""
        if self.json:
            self.emit("message", message=text)
        else:
            with self.lock:
                self._clear()
                print(text, file=self.stream, flush=True)

    # The steps.

    def started(self, step: str) -> None:
        """Note that `step` started."""
        with self.lock:
            self.running[step] = time.monotonic()
        self.emit("started", step=step)

    def finished(self, step: str, status: str, seconds: float, **fields: Any) -> None:
        """Note that `step` ended in `status` after `seconds`."""
        with self.lock:
            self.running.pop(step, None)
            if self.mode in ("live", "lines"):
                self._clear()
                rows = f", {fields['rows']} rows" if fields.get("rows") else ""
                print(f"{status:>15}  {step} ({seconds:.2f}s{rows})", file=self.stream, flush=True)
                self._draw()
        self.emit("finished", step=step, status=status, seconds=round(seconds, 3), **fields)

    def emit(self, event: str, **fields: Any) -> None:
        """Write one JSON event line when --log-format json."""
        if not self.json:
            return
        record = {"time": datetime.now().astimezone().isoformat(timespec="milliseconds"), "command": self.command,
                  "event": event, **{key: value for key, value in fields.items() if value is not None}}
        with self.lock:
            print(json.dumps(record, default=str), file=self.stream, flush=True)

    def _tick(self) -> None:
        while not self.stop.wait(TICK_SECONDS):
            with self.lock:
                self._draw()

    def _draw(self) -> None:
        if self.mode != "live":
            return
        now = time.monotonic()
        steps = ", ".join(f"{step} {now - began:.0f}s" for step, began in self.running.items())
        if steps:
            self.stream.write(f"\r\x1b[2Krunning: {steps}"[:200])
            self.stream.flush()
            self.drawn = True

    def _clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self.drawn = False
