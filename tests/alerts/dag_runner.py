"""Run monitoring DAGs through ``dag.test()`` on request, in one long-lived process.

Reads one JSON command per line on stdin: ``{"dag_id": "monitor_dat_dai", "env": {...}}``.
For each command it applies ``env`` to the process environment, where an empty value removes
the variable. It parses the DAG folder again, so that settings read at parse time (retries)
follow the environment. Then it runs the DAG and the service rollup and prints one line,
``RESULT {"states": {dag id: state}}`` or ``RESULT {"error": ...}``. Airflow's own logs go to
the same output, hence the prefix.

Keeping one process saves Airflow's import and first ``dag.test()`` start-up for every run.
The environment must already point Airflow at a prepared home (see ``local.sweep``).
"""

from __future__ import annotations

import json
import os
import sys
import traceback

RESULT_PREFIX = "RESULT "


def run_command(command: dict[str, object]) -> dict[str, str]:
    from airflow.models.dagbag import DagBag

    from integration_monitor.dags.factory import ROLLUP_DAG_ID

    for key, value in dict(command.get("env") or {}).items():
        if value:
            os.environ[key] = str(value)
        else:
            os.environ.pop(key, None)

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    states: dict[str, str] = {}
    for dag_id in (str(command["dag_id"]), ROLLUP_DAG_ID):
        run = bag.get_dag(dag_id).test()
        states[dag_id] = str(getattr(run, "state", "unknown"))
    return states


def main() -> int:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            result: dict[str, object] = {"states": run_command(json.loads(line))}
        except Exception as error:  # noqa: BLE001 - the test reads the error from the result line
            result = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
        sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
