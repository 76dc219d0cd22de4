"""Run the weir command and kill -9 it at a chosen statement: `python weir_killed_at.py N MODE WEIR_ARGS...`.

A fault trial needs a point reached, not a delay after start, so that the same N kills the
same run at the same place every time (and hypothesis can shrink a failing one). N counts
the statements this process sends, on any thread (each `execute` or `executemany`):
- MODE "before": the process dies just before statement N reaches the server;
- MODE "during": statement N is sent and the process dies while the server runs it (or just
  after it returns, when it is quicker than the watcher).
The process sends itself SIGKILL, exactly what `kill -9` does: no handler, no cleanup runs.
N = 0 never kills; the process runs to its end and prints `weir-statements: S` on stderr,
the number it sent, so a trial knows the range of points to draw from.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from typing import Any

import psycopg
from psycopg import pq

KILL_AT = int(sys.argv[1])
MODE = sys.argv[2]
_sent = 0
_count_lock = threading.Lock()
_original_execute = psycopg.Cursor.execute
_original_executemany = psycopg.Cursor.executemany


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_while_running(cursor: psycopg.Cursor[Any], returned: threading.Event) -> None:
    """Kill the process once the server is running this cursor's statement, or once it has returned."""
    while not returned.is_set():
        if cursor.connection.pgconn.transaction_status == pq.TransactionStatus.ACTIVE:
            break
    _die()


def _counted(original: Any) -> Any:
    def send(cursor: psycopg.Cursor[Any], *args: Any, **kwargs: Any) -> Any:
        global _sent
        with _count_lock:
            _sent += 1
            number = _sent
        if number != KILL_AT:
            return original(cursor, *args, **kwargs)
        if MODE == "before":
            _die()
        returned = threading.Event()
        threading.Thread(target=_kill_while_running, args=(cursor, returned), daemon=True).start()
        try:
            return original(cursor, *args, **kwargs)
        finally:
            returned.set()

    return send


psycopg.Cursor.execute = _counted(_original_execute)  # type: ignore[method-assign]
psycopg.Cursor.executemany = _counted(_original_executemany)  # type: ignore[method-assign]
if KILL_AT == 0:
    atexit.register(lambda: print(f"weir-statements: {_sent}", file=sys.stderr))

sys.argv = ["weir", *sys.argv[3:]]
from runner.cli import main  # noqa: E402  (after the hooks, as a user's process would import it)

main()
