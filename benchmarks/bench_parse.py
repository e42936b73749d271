"""DAG parse time: the project's DAG folder against a one-task DAG of Airflow's tutorial shape.

Both folders are parsed with ``DagBag`` in this one process, alternating, and the medians
are compared. Two figures for the project's folder:

- cold: before each parse the project's modules and its cached catalog and settings are
  dropped, so the parse pays what a fresh dag-processor child pays for the project: its
  imports, reading the DAG plan cached on disk (``integration_monitor.dags.plan``), and
  building the DAGs. Airflow itself stays imported, as it is in the dag-processor before it
  forks. This is the figure the target is judged on.
- cold without the plan cache: the same, with the cache switched off, so the catalog is read
  and validated at every parse, as happens once after each change to a catalog file.
- warm: the project's modules stay imported, so only the DAG construction is left.

The scaled catalog (4× the databases) is parsed cold as well, to show how parse time grows
with the catalog. Four files without the project's code show the part that is Airflow's
own: 18 DAGs of the project's shapes (16 of four TaskFlow tasks, two of one task), 16 DAGs
of one classic task each, 16 DAGs without tasks, and one DAG whose four tasks are mapped
over 16 databases. After the parses the script checks that neither pandas nor Great
Expectations was imported.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import PROJECT_ROOT, Result, argument_parser, finish, ratio

PLAN_CACHE_ENV = "INTEGRATION_MONITOR_CACHE_DIR"

# The TaskFlow tutorial's shape (decorated DAG, one @task), reduced to one task.
TUTORIAL_DAG = '''"""A one-task DAG in the shape of Airflow's TaskFlow tutorial."""

import pendulum

from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2021, 1, 1, tz="UTC"), catchup=False, tags=["example"])
def tutorial_taskflow_api():
    @task()
    def extract():
        """Return a small order summary."""
        return {"1001": 301.27, "1002": 433.21, "1003": 502.22}

    extract()


tutorial_taskflow_api()
'''

# The project's DAG shapes without the project: 16 DAGs of four chained tasks and two of one
# task, built in a loop with no catalog. Its parse time is Airflow's own cost for that many
# DAGs and tasks, the floor under the project's figure.
SAME_SHAPE_DAGS = '''"""DAGs shaped like the project's, built without the project's code."""

import pendulum

from airflow.sdk import dag, task

for number in range(16):

    @dag(dag_id=f"same_shape_{number}", schedule="*/15 * * * *", start_date=pendulum.datetime(2025, 7, 1, tz="UTC"),
         catchup=False, max_active_runs=1, tags=["example"], default_args={"retries": 2})
    def same_shape():
        @task()
        def fetch():
            return {}

        @task()
        def validate(measurement):
            return measurement

        @task(trigger_rule="all_done")
        def record():
            return {}

        @task(trigger_rule="all_done")
        def outcome(recorded):
            return None

        recorded = record()
        validate(fetch()) >> recorded
        outcome(recorded)

    same_shape()


@dag(dag_id="same_shape_rollup", schedule=None, start_date=pendulum.datetime(2025, 7, 1, tz="UTC"), catchup=False)
def same_shape_rollup():
    @task()
    def evaluate_services():
        return {}

    evaluate_services()


same_shape_rollup()


@dag(dag_id="same_shape_maintenance", schedule="30 19 * * *", start_date=pendulum.datetime(2025, 7, 1, tz="UTC"),
     catchup=False)
def same_shape_maintenance():
    @task()
    def compact_store():
        return {}

    compact_store()


same_shape_maintenance()
'''

# The minimum cost of a DAG per database: 16 DAGs with one classic task each, and 16 without tasks.
ONE_TASK_DAGS = '''"""16 DAGs of one classic task each."""

import pendulum

from airflow.sdk import DAG, BaseOperator


class Check(BaseOperator):
    def execute(self, context):
        return None


for number in range(16):
    with DAG(dag_id=f"one_task_{number}", schedule="*/15 * * * *", start_date=pendulum.datetime(2025, 7, 1, tz="UTC"),
             catchup=False, max_active_runs=1, tags=["example"], default_args={"retries": 2}) as one_task:
        Check(task_id="check")
    globals()[one_task.dag_id] = one_task
'''

EMPTY_DAGS = '''"""16 DAGs without tasks."""

import pendulum

from airflow.sdk import DAG

for number in range(16):
    empty = DAG(dag_id=f"empty_{number}", schedule="*/15 * * * *", start_date=pendulum.datetime(2025, 7, 1, tz="UTC"),
                catchup=False, max_active_runs=1, tags=["example"], default_args={"retries": 2})
    globals()[empty.dag_id] = empty
'''

# One DAG for every database: the four steps as TaskFlow tasks mapped over 16 database codes.
MAPPED_DAG = '''"""One DAG whose four tasks are mapped over 16 databases."""

import pendulum

from airflow.sdk import dag, task


@dag(dag_id="mapped_databases", schedule="*/15 * * * *", start_date=pendulum.datetime(2025, 7, 1, tz="UTC"),
     catchup=False, max_active_runs=1, tags=["example"], default_args={"retries": 2})
def mapped_databases():
    @task()
    def fetch(code):
        return {}

    @task()
    def validate(measurement):
        return measurement

    @task(trigger_rule="all_done")
    def record(measurement):
        return {}

    @task(trigger_rule="all_done")
    def outcome(recorded):
        return None

    codes = [f"database_{number}" for number in range(16)]
    outcome.expand(recorded=record.expand(measurement=validate.expand(measurement=fetch.expand(code=codes))))


mapped_databases()
'''

PROJECT_MODULE_PREFIXES = ("integration_monitor",)


def forget_project_modules() -> None:
    """Drop the project's modules and the DAG file modules, so the next parse imports them again."""
    for name in list(sys.modules):
        if name.startswith(PROJECT_MODULE_PREFIXES) or name.startswith("unusual_prefix_"):
            del sys.modules[name]


def parse(folder: Path, cold: bool = False) -> Callable[[], int]:
    from airflow.dag_processing.dagbag import DagBag

    def action() -> int:
        if cold:
            forget_project_modules()
        bag = DagBag(dag_folder=str(folder))
        if bag.import_errors:
            raise RuntimeError(f"DAG import errors in {folder}: {bag.import_errors}")
        return len(bag.dag_ids)

    return action


def timed(action: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    count = action()
    return time.perf_counter() - started, count


def with_environment(values: dict[str, str], action: Callable[[], int]) -> Callable[[], int]:
    def wrapped() -> int:
        previous = {key: os.environ.get(key) for key in values}
        os.environ.update(values)
        try:
            return action()
        finally:
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    return wrapped


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="parses of each folder (default: %(default)s)")
    args = parser.parse_args()
    repeat = 5 if args.quick else args.repeat

    import logging

    logging.getLogger("airflow").setLevel(logging.WARNING)
    from airflow.dag_processing.dagbag import DagBag  # noqa: F401 - Airflow is imported before timing

    from scaled_catalog import scaled_environment, write_scaled_project

    result = Result("parse")
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as work:
        tutorial = Path(work) / "tutorial"
        tutorial.mkdir()
        (tutorial / "tutorial_taskflow_api.py").write_text(TUTORIAL_DAG, encoding="utf-8")
        same_shape = Path(work) / "same_shape"
        same_shape.mkdir()
        (same_shape / "same_shape_dags.py").write_text(SAME_SHAPE_DAGS, encoding="utf-8")
        floors = {}
        for name, text in (("one_task", ONE_TASK_DAGS), ("empty", EMPTY_DAGS), ("mapped", MAPPED_DAG)):
            floors[name] = Path(work) / name
            floors[name].mkdir()
            (floors[name] / f"{name}_dags.py").write_text(text, encoding="utf-8")
        # The plan cache goes to this run's folder, so earlier runs and other catalogs do not count.
        os.environ[PLAN_CACHE_ENV] = str(Path(work) / "plan-cache")
        scaled_root = write_scaled_project(Path(work) / "scaled", 4)

        sides: dict[str, Callable[[], int]] = {
            "tutorial": parse(tutorial),
            "project_cold": parse(PROJECT_ROOT / "dags", cold=True),
            "project_cold_without_plan_cache": with_environment({PLAN_CACHE_ENV: "off"},
                                                                parse(PROJECT_ROOT / "dags", cold=True)),
            "project_warm": parse(PROJECT_ROOT / "dags"),
            "same_shape_without_project": parse(same_shape),
            "sixteen_dags_one_classic_task": parse(floors["one_task"]),
            "sixteen_dags_no_task": parse(floors["empty"]),
            "one_dag_mapped_over_16": parse(floors["mapped"]),
            "scaled_4x_cold": with_environment(scaled_environment(scaled_root),
                                               parse(scaled_root / "dags", cold=True)),
        }
        for action in sides.values():
            action()  # first parses import Airflow's and the project's modules
        times: dict[str, list[float]] = {name: [] for name in sides}
        counts: dict[str, int] = {}
        for repetition in range(repeat):
            order = list(sides) if repetition % 2 == 0 else list(reversed(sides))
            for name in order:
                seconds, counts[name] = timed(sides[name])
                times[name].append(seconds)
        forget_project_modules()
        parse(PROJECT_ROOT / "dags")()

    medians = {name: statistics.median(values) for name, values in times.items()}
    for name in sides:
        result.figure(f"{name}_dags", counts[name])
        result.figure(f"{name}_median_ms", medians[name] * 1000)
    heavy = [name for name in ("pandas", "great_expectations", "numpy", "scipy") if name in sys.modules]
    result.figure("heavy_modules_after_parse", heavy or "none")

    result.target("project DAG folder parse (cold) / tutorial DAG parse", ratio(medians["project_cold"],
                  medians["tutorial"]), 5, strict=True,
                  note=f"{counts['project_cold']} DAGs (16 of 4 tasks, 2 of 1) against 1 DAG of 1 task")
    result.target("project DAG folder parse (warm) / tutorial DAG parse", ratio(medians["project_warm"],
                  medians["tutorial"]), 5, strict=True, note="modules and catalog already loaded")
    result.figure("scaled_4x_cold_over_project_cold", ratio(medians["scaled_4x_cold"], medians["project_cold"]))
    result.figure("same_shape_over_tutorial", ratio(medians["same_shape_without_project"], medians["tutorial"]))
    result.figure("project_cold_over_same_shape", ratio(medians["project_cold"], medians["same_shape_without_project"]))
    result.figure("project_cold_without_plan_cache_over_tutorial",
                  ratio(medians["project_cold_without_plan_cache"], medians["tutorial"]))
    for floor in ("sixteen_dags_one_classic_task", "sixteen_dags_no_task", "one_dag_mapped_over_16"):
        result.figure(f"{floor}_over_tutorial", ratio(medians[floor], medians["tutorial"]))
    result.notes.append(
        "same_shape_without_project is Airflow's own cost of building 18 DAGs of these shapes: "
        f"{ratio(medians['same_shape_without_project'], medians['tutorial']):.1f}× the tutorial before any "
        "project code runs; a DAG per database costs at least "
        f"{ratio(medians['sixteen_dags_no_task'], medians['tutorial']):.1f}× with no task at all and "
        f"{ratio(medians['sixteen_dags_one_classic_task'], medians['tutorial']):.1f}× with one classic task each, "
        f"one DAG mapped over 16 databases {ratio(medians['one_dag_mapped_over_16'], medians['tutorial']):.1f}×")
    return finish(result, args.result)


if __name__ == "__main__":
    sys.exit(main())
