"""`--metrics FILE`: a run's numbers in Prometheus text exposition, for node_exporter's textfile collector.

Every series is a gauge: the file describes the last run, and the collector re-reads it on
each scrape. The file is written to a temporary file in the same directory and renamed over
the old one, so a scrape never sees half a file (the textfile collector's convention).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.build.report import BuildReport
    from runner.checks.results import CheckReport
    from runner.observe.sla import Freshness


@dataclass
class Metrics:
    """Gauges by name: their help text, and each sample's labels and value."""

    helps: dict[str, str] = field(default_factory=dict)
    samples: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)

    def gauge(self, name: str, help_text: str, labels: dict[str, str], value: float) -> None:
        """Add one sample of gauge `name`."""
        self.helps.setdefault(name, help_text)
        self.samples.setdefault(name, []).append((labels, value))

    def text(self) -> str:
        """Return the exposition text: HELP and TYPE, then the samples, of each gauge."""
        lines = []
        for name, help_text in self.helps.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            for labels, value in self.samples[name]:
                inner = ",".join(f'{key}="{_escape(text)}"' for key, text in labels.items())
                lines.append(f"{name}{{{inner}}} {_number(value)}" if inner else f"{name} {_number(value)}")
        return "\n".join(lines) + "\n"


MODEL_STATUSES = ("success", "skipped", "failed", "upstream-failed")
CHECK_STATUSES = ("pass", "warn", "fail", "error")


def run_metrics(
    command: str,
    seconds: float,
    ok: bool,
    build: BuildReport | None = None,
    retries: dict[str, int] | None = None,
    checks: CheckReport | None = None,
    freshness: Iterable[Freshness] = (),
) -> Metrics:
    """Return the metrics of one run of `command` (build, check or run)."""
    metrics = Metrics()
    for result in build.results if build else []:
        schema = result.model.split(".", 1)[0]
        labels = {"model": result.model, "schema": schema}
        metrics.gauge("weir_model_rows", "Rows the model's last build inserted, updated or deleted.", labels,
                      result.inserted + result.updated + result.deleted)
        metrics.gauge("weir_model_duration_seconds", "Seconds the model's build took.", labels, result.seconds)
        metrics.gauge("weir_model_retries", "Times the model's build was tried again after a transient fault.",
                      labels, (retries or {}).get(result.model, 0))
        for status in MODEL_STATUSES:
            metrics.gauge("weir_model_status", "1 for the status the model's build ended in, else 0.",
                          {**labels, "status": status}, 1 if result.status == status else 0)
    if build is not None and build.lock_window is not None:
        metrics.gauge("weir_release_lock_window_seconds",
                      "Seconds an atomic build's release held locks, from its first lock to COMMIT.", {},
                      build.lock_window)
    for check in checks.results if checks else []:
        labels = {"check": check.name, "severity": check.severity}
        if check.count is not None:
            metrics.gauge("weir_check_violations", "Rows the check returned (violations).", labels, check.count)
        metrics.gauge("weir_check_duration_seconds", "Seconds the check took.", labels, check.seconds)
        for status in CHECK_STATUSES:
            metrics.gauge("weir_check_status", "1 for the status the check ended in, else 0.",
                          {**labels, "status": status}, 1 if check.status == status else 0)
    for entry in freshness:
        labels = {"model": entry.model, "schema": entry.schema}
        if entry.lag is not None:
            metrics.gauge("weir_model_freshness_lag_seconds", "Age of the model's newest data (sla_column or"
                          " last build), by the database's clock.", labels, entry.lag.total_seconds())
        if entry.sla is not None:
            metrics.gauge("weir_model_freshness_sla_seconds", "The model's freshness SLA.", labels,
                          entry.sla.total_seconds())
            metrics.gauge("weir_model_freshness_breach", "1 when the model is past its freshness SLA.", labels,
                          1 if entry.status == "breach" else 0)
    run = {"command": command}
    if build is not None:
        for status in MODEL_STATUSES:
            metrics.gauge("weir_run_models", "Models of the run that ended in each status.", {**run, "status": status},
                          sum(result.status == status for result in build.results))
    if checks is not None:
        for status in CHECK_STATUSES:
            metrics.gauge("weir_run_checks", "Checks of the run that ended in each status.", {**run, "status": status},
                          sum(check.status == status for check in checks.results))
    metrics.gauge("weir_run_duration_seconds", "Seconds the whole run took.", run, seconds)
    metrics.gauge("weir_run_success", "1 when the run succeeded (exit code 0), else 0.", run, 1 if ok else 0)
    metrics.gauge("weir_run_finished_timestamp_seconds", "When the run finished, in Unix time.", run, time.time())
    return metrics


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
