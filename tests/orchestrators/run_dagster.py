"""Load a generated Dagster module as Definitions and materialize every asset and check; print JSON.

    .venv-dagster/bin/python tests/orchestrators/run_dagster.py MODULE_FILE [--checks-only]

Run by tests/orchestrators/test_orchestrators.py in Dagster's own virtual environment.
"""

from __future__ import annotations

import importlib.util
import json
import sys

import dagster as dg


def main(path: str, checks_only: bool) -> None:
    """Print the definitions' assets, checks and schedules, and what materializing all of them did."""
    spec = importlib.util.spec_from_file_location("weir_dagster_definitions", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    defs = module.defs
    report: dict[str, object] = {"is_definitions": isinstance(defs, dg.Definitions)}
    graph = defs.resolve_asset_graph()
    report["assets"] = sorted(key.to_user_string() for key in graph.get_all_asset_keys())
    report["checks"] = sorted(f"{key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys)
    report["schedules"] = {
        schedule.name: schedule.cron_schedule for schedule in (defs.schedules or [])
    }
    if checks_only:  # the asset checks alone, on what is already built
        checks = list(graph.asset_check_keys)
        selection = dg.AssetSelection.checks(*checks)
        result = dg.materialize([*defs.assets, *defs.asset_checks], selection=selection, raise_on_error=False)
    else:
        result = dg.materialize([*defs.assets, *defs.asset_checks], raise_on_error=False)
    report["success"] = result.success
    report["materialized"] = sorted(
        event.asset_key.to_user_string() for event in result.get_asset_materialization_events()
    )
    report["evaluations"] = {
        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}": {
            "passed": evaluation.passed, "severity": evaluation.severity.value,
        }
        for evaluation in result.get_asset_check_evaluations()
    }
    print("REPORT " + json.dumps(report, sort_keys=True, default=str))


if __name__ == "__main__":
    main(sys.argv[1], "--checks-only" in sys.argv[2:])
