"""Checks: SQL assertions run read-only (`weir check`), gates run inside a model's build, and their reports.

Every check's SELECT runs through runner/checks/query.py, whoever runs it; what a run or a
gate found is recorded through runner/state/checks.py and runner/state/gates.py.
"""

from runner.checks.gates import GateResult, prepare_gates, record_gate_results, run_gates
from runner.checks.quarantine import rejected_table
from runner.checks.report import json_results, render_text, write_junit
from runner.checks.results import CheckReport, CheckResult
from runner.checks.run import checks_to_run, run_checks

__all__ = [
    "CheckReport",
    "CheckResult",
    "GateResult",
    "checks_to_run",
    "prepare_gates",
    "record_gate_results",
    "rejected_table",
    "json_results",
    "render_text",
    "run_checks",
    "run_gates",
    "write_junit",
]
