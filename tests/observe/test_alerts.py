"""Alerts from `weir run` and `weir freshness`, received by a real local HTTP server and a real command."""

from __future__ import annotations

import json
from pathlib import Path

from tests.observe.conftest import alerting_project

SINKS = "alert_webhook_env = WEIR_TEST_WEBHOOK\non_failure = {command}\non_failure_min_severity = error\n"


def test_a_failing_run_alerts_the_webhook_and_the_command_each_at_its_severity(
    project: Path, db, dsn, weir, write_files, webhook, hook_command
) -> None:
    command, events_file = hook_command
    alerting_project(project, db, write_files, SINKS.format(command=command), weir, dsn)
    result = weir("run", "--project", str(project), "--dsn", dsn, env={"WEIR_TEST_WEBHOOK": webhook.url})
    assert result.exit_code == 1, result.output
    assert "weir: alert" not in result.stderr  # every delivery succeeded

    assert len(webhook.received) == 1 and webhook.headers == ["application/json"]
    payload = webhook.received[0]
    assert payload["text"].startswith("weir run: 4 alerts (error)\n")
    assert (payload["weir_alert"], payload["command"], payload["severity"]) == (1, "run", "error")
    kinds = {(event["kind"], event["severity"], event["model"] or event["check"]) for event in payload["events"]}
    assert kinds == {
        ("model-failed", "error", "marts.broken"),
        ("gate-kept-last-good", "error", "marts.gated"),
        ("quarantined", "warn", "marts.orders"),
        ("check-warned", "warn", "few_negatives"),
    }
    failed = next(event for event in payload["events"] if event["kind"] == "model-failed")
    assert "models/marts/broken.sql:2: division by zero" in failed["message"]

    # The command's min severity is error: it gets the two errors only, as one JSON document on stdin.
    lines = events_file.read_text().splitlines()
    assert len(lines) == 1
    received = json.loads(lines[0])
    assert sorted(event["kind"] for event in received["events"]) == ["gate-kept-last-good", "model-failed"]
    assert received["text"].startswith("weir run: 2 alerts (error)")


def test_a_failed_delivery_is_retried_then_reported_and_never_changes_the_exit_code(
    project: Path, db, dsn, weir, write_files, webhook, tmp_path
) -> None:
    alerting_project(project, db, write_files, "alert_webhook_env = WEIR_TEST_WEBHOOK\n"
                     "on_failure = exit 3\nalert_tries = 2\n", weir, dsn)
    webhook.fail_first = 1  # the first POST gets HTTP 500, the retry gets through
    result = weir("run", "--project", str(project), "--dsn", dsn, env={"WEIR_TEST_WEBHOOK": webhook.url})
    assert result.exit_code == 1  # the run's own outcome
    assert (webhook.requests, len(webhook.received)) == (2, 1)
    assert "weir: alert to on_failure command 'exit 3' failed after 2 tries: exit code 3" in result.stderr
    assert "webhook" not in result.stderr

    webhook.fail_first = 10
    again = weir("run", "--project", str(project), "--dsn", dsn, env={"WEIR_TEST_WEBHOOK": webhook.url})
    assert again.exit_code == 1
    assert "weir: alert to webhook $WEIR_TEST_WEBHOOK failed after 2 tries: HTTP 500" in again.stderr
    assert webhook.url not in again.output  # the URL is the secret: never printed


def test_an_unset_webhook_variable_is_said_and_a_good_run_sends_nothing(
    project: Path, db, dsn, weir, write_files, webhook, hook_command
) -> None:
    command, events_file = hook_command
    alerting_project(project, db, write_files, SINKS.format(command=command), weir, dsn)
    result = weir("build", "--project", str(project), "--dsn", dsn, "--select", "marts.broken", env={})
    assert result.exit_code == 1
    assert "alert not sent: alert_webhook_env names WEIR_TEST_WEBHOOK, which is not set" in result.stderr
    assert json.loads(events_file.read_text())["events"][0]["kind"] == "model-failed"

    events_file.unlink()
    ok = weir("build", "--project", str(project), "--dsn", dsn, "--select", "marts.orders",
              env={"WEIR_TEST_WEBHOOK": webhook.url})
    assert ok.exit_code == 0, ok.output
    # Quarantined rows are a warning: the webhook (min warn) hears of it, the command (min error) does not.
    assert [event["kind"] for event in webhook.received[0]["events"]] == ["quarantined"]
    assert not events_file.exists()


def test_an_sla_breach_alerts(project: Path, db, dsn, weir, write_files, webhook) -> None:
    (project / "setup.cfg").write_text("[weir]\nalert_webhook_env = WEIR_TEST_WEBHOOK\n")
    write_files(project, {"models/marts/a.sql": "-- weir: sla=1 hour\nSELECT 1 AS id\n"})
    result = weir("freshness", "--project", str(project), "--dsn", dsn, env={"WEIR_TEST_WEBHOOK": webhook.url})
    assert result.exit_code == 1
    (event,) = webhook.received[0]["events"]
    assert (event["kind"], event["model"], event["details"]["status"]) == ("sla-breach", "marts.a", "breach")


def test_a_run_stopped_by_a_database_error_alerts_run_failed(project: Path, dsn, weir, webhook, write_files) -> None:
    (project / "setup.cfg").write_text("[weir]\nalert_webhook_env = WEIR_TEST_WEBHOOK\nretry_tries = 1\n")
    write_files(project, {"models/marts/a.sql": "SELECT 1 AS id\n"})
    # Nothing listens on port 1: the connection fails, as a down database would.
    result = weir("build", "--project", str(project), "--dsn", "postgresql://weir@127.0.0.1:1/none?connect_timeout=2",
                  env={"WEIR_TEST_WEBHOOK": webhook.url})
    assert result.exit_code != 0
    (event,) = webhook.received[0]["events"]
    assert (event["kind"], event["severity"]) == ("run-failed", "error")
    assert event["message"].startswith("weir build stopped: ")

    mistyped = weir("build", "--select", "nope", "--project", str(project), "--dsn", dsn,
                    env={"WEIR_TEST_WEBHOOK": webhook.url})
    assert mistyped.exit_code == 2
    assert len(webhook.received) == 1  # a usage error is not an alert


def test_weir_alert_sends_one_event_to_each_sink_at_its_severity(
    project: Path, weir, webhook, hook_command
) -> None:
    command, events_file = hook_command
    (project / "setup.cfg").write_text("[weir]\n" + SINKS.format(command=command))
    sent = weir("alert", "Airflow task weir.marts.orders   failed for good", "--model", "marts.orders",
                "--project", str(project), env={"WEIR_TEST_WEBHOOK": webhook.url})
    assert sent.exit_code == 0 and sent.output == ""
    (payload,) = webhook.received
    assert (payload["command"], payload["severity"]) == ("alert", "error")
    assert [(event["kind"], event["message"], event["model"]) for event in payload["events"]] == [
        ("task-failed", "Airflow task weir.marts.orders failed for good", "marts.orders")]
    assert json.loads(events_file.read_text())["events"] == payload["events"]

    events_file.unlink()
    warned = weir("alert", "late", "--severity", "warn", "--kind", "note", "--project", str(project),
                  env={"WEIR_TEST_WEBHOOK": webhook.url})
    assert warned.exit_code == 0
    assert webhook.received[1]["events"][0]["kind"] == "note"
    assert not events_file.exists()  # the command's min severity is error


def test_weir_alert_without_a_sink_says_nothing_was_sent(project: Path, weir) -> None:
    (project / "setup.cfg").write_text("[weir]\n")
    result = weir("alert", "late", "--project", str(project))
    assert result.exit_code == 0  # a failure callback must not fail for it
    assert result.stderr.strip() == ("weir: alert not sent: setup.cfg names no alert sink;"
                                     " set alert_webhook_env or on_failure under [weir]")
