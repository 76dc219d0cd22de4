"""Alerts: what went wrong in a run, sent to the sinks setup.cfg names.

Events: a model that failed (`model-failed`), a gate that failed so the model kept its last
good version (`gate-kept-last-good`), rows a gate quarantined (`quarantined`), a check that
failed or warned (`check-failed`, `check-warned`, `check-error`), a run that stopped
(`run-failed`) and a freshness SLA breach (`sla-breach`). Each has a severity, error or warn,
as checks do; each sink sends the events at or above its own min severity.

Sinks: a webhook (alert_webhook_env names the environment variable with its URL; Slack's
incoming-webhook JSON, `text` plus Weir's structured `events`) and a command (on_failure,
run by the shell, the same JSON on stdin). One message per run, holding all its events.
A delivery that fails is tried again with backoff, then reported on stderr; it never stops
the run or changes its exit code: the run's outcome is the data's, not the pager's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runner.project.settings import Alerts

if TYPE_CHECKING:
    from runner.build.report import BuildReport
    from runner.checks.results import CheckReport
    from runner.observe.sla import Freshness

ERROR, WARN = "error", "warn"
_RANK = {WARN: 0, ERROR: 1}
TIMEOUT_SECONDS = 10.0  # of one delivery; an unreachable sink must not hold the run for long
BASE_DELAY = 0.25  # seconds before the first retry of a delivery; each next waits twice as long


@dataclass(frozen=True)
class Event:
    """One thing worth telling someone about."""

    kind: str  # model-failed | gate-kept-last-good | quarantined | check-failed | check-warned | ...
    severity: str  # error | warn
    message: str  # one line, as Weir prints it
    model: str | None = None
    check: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def build_events(report: BuildReport) -> list[Event]:
    """Return the events of a build: failed models, gates that kept the last good version, quarantines."""
    events = []
    for result in report.results:
        if result.status == "failed":
            error = result.error or ""
            gate = ": gate failed:" in error or ": gate could not run" in error
            kind = "gate-kept-last-good" if gate else "model-failed"
            events.append(Event(kind, ERROR, result.error or f"{result.model} failed", model=result.model,
                                details={"run_id": report.run_id}))
        if "quarantined" in result.note:
            events.append(Event("quarantined", WARN, f"{result.model}: {result.note}", model=result.model,
                                details={"run_id": report.run_id}))
    return events


def check_events(report: CheckReport) -> list[Event]:
    """Return the events of a check run: each check that failed, warned or could not run."""
    kinds = {"fail": "check-failed", "warn": "check-warned", "error": "check-error"}
    events = []
    for result in report.results:
        if result.status in kinds:
            severity = WARN if result.status == "warn" else ERROR
            message = result.error or f"{result.display}: {result.count} violations ({result.status})"
            events.append(Event(kinds[result.status], severity, message, check=result.name,
                                details={"run_id": report.run_id, "violations": result.count}))
    return events


def breach_events(breaches: Iterable[Freshness]) -> list[Event]:
    """Return an sla-breach event per model past its freshness SLA."""
    return [
        Event("sla-breach", ERROR, f"{entry.model}: lag {entry.row[4] or 'unknown (never built)'} is past its"
              f" SLA of {entry.row[1]}", model=entry.model, details=entry.as_json())
        for entry in breaches
    ]


def payload(events: list[Event], command: str) -> dict[str, Any]:
    """Return the JSON document a sink receives: Slack's `text`, then Weir's structured fields."""
    severity = max((event.severity for event in events), key=_RANK.__getitem__)
    lines = [f"weir {command}: {len(events)} alert{'s' if len(events) != 1 else ''} ({severity})"]
    lines += [f"• [{event.severity}] {event.message}" for event in events]
    return {
        "text": "\n".join(lines),
        "weir_alert": 1,
        "command": command,
        "severity": severity,
        "host": os.uname().nodename,
        "time": datetime.now().astimezone().isoformat(timespec="seconds"),
        "events": [asdict(event) for event in events],
    }


def notify(
    alerts: Alerts,
    events: list[Event],
    command: str,
    *,
    environ: Mapping[str, str] | None = None,
    warn: Callable[[str], None] | None = None,
) -> None:
    """Send `events` to every configured sink whose min severity they reach; never raise.

    `warn` receives a one-line message for each delivery that failed for good (default: stderr).
    """
    environ = os.environ if environ is None else environ
    say = warn or _stderr
    if alerts.webhook_env:
        chosen = _at_least(events, alerts.webhook_min_severity)
        url = environ.get(alerts.webhook_env, "").strip()
        if chosen and not url:
            say(f"weir: alert not sent: alert_webhook_env names {alerts.webhook_env}, which is not set;"
                " export it with the webhook's URL")
        elif chosen:
            body = json.dumps(payload(chosen, command), default=str).encode()
            _deliver(lambda: _post(url, body), f"webhook ${alerts.webhook_env}", alerts.tries, say)
    if alerts.on_failure:
        chosen = _at_least(events, alerts.on_failure_min_severity)
        if chosen:
            text = json.dumps(payload(chosen, command), default=str)
            hook = alerts.on_failure
            _deliver(lambda: _run_hook(hook, text), f"on_failure command {hook!r}", alerts.tries, say)


def alert_breaches(alerts: Alerts, breaches: list[Freshness]) -> None:
    """Notify the sinks of freshness SLA breaches, if any."""
    if breaches:
        notify(alerts, breach_events(breaches), "freshness")


def _at_least(events: list[Event], floor: str) -> list[Event]:
    return [event for event in events if _RANK[event.severity] >= _RANK[floor]]


def _deliver(send: Callable[[], None], sink: str, tries: int, say: Callable[[str], None]) -> None:
    for attempt in range(1, tries + 1):
        try:
            send()
            return
        except Exception as exc:  # noqa: BLE001 -- whatever a sink does, the run goes on
            if attempt == tries:
                say(f"weir: alert to {sink} failed after {tries} tr{'ies' if tries > 1 else 'y'}: {exc}")
                return
            time.sleep(BASE_DELAY * 2 ** (attempt - 1))


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (the user's URL)
            response.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        # The URL is a secret (a Slack webhook's path is its key): name the reason, never the URL.
        raise RuntimeError(str(exc.reason)) from None


def _run_hook(command: str, text: str) -> None:
    done = subprocess.run(command, shell=True, input=text, text=True, capture_output=True,  # noqa: S602 (setup.cfg's)
                          timeout=TIMEOUT_SECONDS * 3, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [""])[-1]
        raise RuntimeError(f"exit code {done.returncode}{': ' + last if last else ''}")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)
