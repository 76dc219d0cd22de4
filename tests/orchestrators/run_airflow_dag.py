"""Load the DAGs in a folder into an Airflow DagBag and run DAG `weir` once with dag.test(); print JSON.

    .venv-airflow/bin/python tests/orchestrators/run_airflow_dag.py DAGS_FOLDER [--load-only]

Run by tests/orchestrators/test_orchestrators.py in Airflow's own virtual environment, with
AIRFLOW_HOME in the test's temporary directory and its metadata database migrated.
"""

from __future__ import annotations

import json
import sys

from airflow.models.dagbag import DagBag


def main(folder: str, run: bool) -> None:
    """Print the import errors, the DAG's tasks with their upstream tasks, and each task's final state."""
    bag = DagBag(folder, include_examples=False)
    report: dict[str, object] = {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}}
    dag = bag.dags.get("weir")
    if dag is not None:
        report["dag_ids"] = sorted(bag.dags)
        report["tasks"] = {dag_id: sorted(bag.dags[dag_id].task_ids) for dag_id in sorted(bag.dags)}
        report["schedules"] = {dag_id: str(bag.dags[dag_id].schedule_interval) for dag_id in sorted(bag.dags)}
        report["schedule"] = str(dag.schedule_interval)
        report["upstream"] = {task.task_id: sorted(task.upstream_task_ids) for task in dag.tasks}
        report["retries"] = {task.task_id: task.retries for task in dag.tasks}
    if dag is not None and run:
        dag_run = dag.test()
        report["run_state"] = str(dag_run.state)
        report["states"] = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    print("REPORT " + json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1], "--load-only" not in sys.argv[2:])
