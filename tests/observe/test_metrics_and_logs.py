"""`--metrics FILE` parsed by prometheus_client's own text parser; `--log-format json`; progress lines."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from runner.build.report import BuildEvent, ModelResult
from runner.observe.progress import Progress
from tests.observe.conftest import alerting_project


def samples(path: Path) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Parse a metrics file: each gauge's samples by their sorted labels."""
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(path.read_text()):
        assert family.type == "gauge", family.name
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_run_metrics_parse_with_the_prometheus_parser(project: Path, db, dsn, weir, write_files, tmp_path) -> None:
    alerting_project(project, db, write_files, "", weir, dsn)
    (project / "models" / "marts" / "orders.sql").write_text(
        "-- weir: kind=table, unique_key=id, sla=1 hour\nSELECT id, amount FROM public.source\n")
    path = tmp_path / "textfile" / "weir.prom"
    path.parent.mkdir()
    result = weir("run", "--project", str(project), "--dsn", dsn, "--metrics", str(path))
    assert result.exit_code == 1
    found = samples(path)
    orders = (("model", "marts.orders"), ("schema", "marts"))
    assert found["weir_model_rows"][orders] == 2  # 3 rows, one quarantined
    assert found["weir_model_duration_seconds"][orders] > 0
    assert found["weir_model_retries"][orders] == 0
    assert found["weir_model_status"][(*orders, ("status", "success"))] == 1
    assert found["weir_model_status"][(("model", "marts.broken"), ("schema", "marts"), ("status", "failed"))] == 1
    warned = (("check", "few_negatives"), ("severity", "warn"))
    assert found["weir_check_violations"][warned] == 1
    assert found["weir_check_status"][(*warned, ("status", "warn"))] == 1
    assert found["weir_check_duration_seconds"][warned] >= 0
    assert 0 <= found["weir_model_freshness_lag_seconds"][orders] < 60
    assert found["weir_model_freshness_sla_seconds"][orders] == 3600
    assert found["weir_model_freshness_breach"][orders] == 0
    run = (("command", "run"),)
    assert found["weir_run_models"][(*run, ("status", "failed"))] == 2
    assert found["weir_run_checks"][(*run, ("status", "warn"))] == 1
    assert found["weir_run_success"][run] == 0
    assert found["weir_run_duration_seconds"][run] > 0
    assert [entry.name for entry in path.parent.iterdir()] == ["weir.prom"]  # no temporary file left behind

    ok = weir("build", "--select", "marts.orders", "--project", str(project), "--dsn", dsn, "--metrics", str(path))
    assert ok.exit_code == 0
    rebuilt = samples(path)
    assert rebuilt["weir_run_success"] == {(("command", "build"),): 1}
    assert set(rebuilt["weir_model_rows"]) == {orders}  # the file is the last run's, replaced whole


def test_log_format_json_is_one_event_per_step_on_stderr(project: Path, db, dsn, weir, write_files) -> None:
    alerting_project(project, db, write_files, "", weir, dsn)
    result = weir("run", "--project", str(project), "--dsn", dsn, "--log-format", "json")
    assert result.exit_code == 1
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    finished = {event["step"]: event for event in events if event["event"] == "finished"}
    assert finished["marts.broken"]["status"] == "failed"
    assert "division by zero" in finished["marts.broken"]["error"]
    assert finished["marts.orders"]["rows"] == 2
    assert finished["check few_negatives"]["violations"] == 1
    started = [event["step"] for event in events if event["event"] == "started"]
    assert sorted(started) == ["check few_negatives", "check no_zero", "check positive",
                               "marts.broken", "marts.gated", "marts.orders"]
    assert events[-1]["event"] == "run_finished" and events[-1]["ok"] is False
    assert all(event["command"] == "run" and "time" in event for event in events)


def test_progress_is_a_live_line_on_a_terminal_and_finished_lines_off_it() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    done = ModelResult("marts.a", "table", "success", inserted=5, seconds=0.25)
    terminal = Terminal()
    with Progress("build", stream=terminal) as shown:
        shown.build_event(BuildEvent("started", "marts.a"))
        shown._draw()  # what the ticker thread does every half second
        assert re.search(r"\r\x1b\[2Krunning: marts\.a \d+s$", terminal.getvalue())
        shown.build_event(BuildEvent("finished", "marts.a", result=done))
    assert terminal.getvalue().endswith("success  marts.a (0.25s, 5 rows)\n")

    piped, off, quiet = io.StringIO(), io.StringIO(), Terminal()
    for stream, options in ((piped, {}), (off, {"mode": "off"}), (quiet, {"quiet": True})):
        with Progress("build", stream=stream, **options) as shown:  # type: ignore[arg-type]
            shown.build_event(BuildEvent("started", "marts.a"))
            shown.build_event(BuildEvent("finished", "marts.a", result=done))
    assert piped.getvalue() == "        success  marts.a (0.25s, 5 rows)\n"  # off a terminal: a line per step
    assert (off.getvalue(), quiet.getvalue()) == ("", "")


def test_a_metrics_file_that_cannot_be_written_is_said_and_the_run_goes_on(project: Path, dsn, weir, write_files):
    write_files(project, {"models/marts/a.sql": "SELECT 1 AS id\n"})
    result = weir("build", "--project", str(project), "--dsn", dsn, "--metrics", str(project / "nope" / "m.prom"))
    assert result.exit_code == 0
    assert "weir: --metrics " in result.stderr and "cannot be written" in result.stderr
