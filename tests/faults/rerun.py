"""Re-run DAG runs and single tasks through Airflow, for the re-run tests.

``python -m tests.faults.rerun dag LOGICAL_DATE DAG_ID...`` runs each DAG with ``dag.test()``
at a fixed logical date and run-after time. A second call with the same date deletes that run
from Airflow's database, creates it again under the same run id and runs every task again.

``python -m tests.faults.rerun tasks RUN_ID DAG_ID TASK_ID...`` runs each task of the run again
with ``airflow tasks test``, in the order given, in one process.

Each finished DAG run or task prints one line ``RERUN <dag id>\\t<task id or ->\\t<run id>\\t<state or ->``.
The environment must point Airflow at a prepared home (see ``integration_monitor.local.sweep``).
"""

from __future__ import annotations

import datetime as dt
import os
import sys

PREFIX = "RERUN "


def rerun_dags(logical_date: str, dag_ids: list[str]) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    when = dt.datetime.fromisoformat(logical_date)
    for dag_id in dag_ids:
        # The run id comes from run_after, so a fixed run_after gives the same run id every time.
        run = bag.get_dag(dag_id).test(run_after=when, logical_date=when)
        print(f"{PREFIX}{dag_id}\t-\t{run.run_id}\t{run.state}", flush=True)


def rerun_tasks(run_id: str, dag_id: str, task_ids: list[str]) -> None:
    from airflow.cli import cli_parser

    parser = cli_parser.get_parser()
    for task_id in task_ids:
        args = parser.parse_args(["tasks", "test", dag_id, task_id, run_id])
        args.func(args)
        # ``airflow tasks test`` does not store the task's state, so none is printed.
        print(f"{PREFIX}{dag_id}\t{task_id}\t{run_id}\t-", flush=True)


def main(argv: list[str]) -> int:
    command, *rest = argv
    if command == "dag":
        rerun_dags(rest[0], rest[1:])
    elif command == "tasks":
        rerun_tasks(rest[0], rest[1], rest[2:])
    else:
        raise SystemExit(f"unknown command {command!r}: use dag or tasks")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
