"""Build one monitoring DAG per national database, the service rollup DAG and the store compaction DAG.

The DAGs are built from a plan (``plan.py``), which contains what they need from the catalog
and the settings. The plan is cached between parses. When a catalog or settings file
changes, the catalog is validated again, so a broken catalog fails the DAG file with a
message naming the bad entry. With a cached plan the file imports only the Airflow SDK and
the standard library. pandas, Great Expectations and HTTP code load inside the tasks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from typing import Any

from airflow.sdk import DAG, Asset, AssetAny, get_current_context, get_parsing_context, task

from integration_monitor.dags.plan import DagPlan, DatabasePlan, load_plan

START_DATE = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
ROLLUP_DAG_ID = "monitor_services"
COMPACTION_DAG_ID = "maintain_status_store"
PROJECT_TAG = "integration-monitor"
GOVERNMENT_OFFICE = "Văn phòng Chính phủ"  # owner of the DAGs that span every ministry


def database_dag_id(database_code: str) -> str:
    return f"monitor_{database_code}"


def database_asset(database_code: str) -> Asset:
    return Asset(name=f"national_db_{database_code}", uri=f"integration-monitor://database/{database_code}")


def _default_args(plan: DagPlan, owner: str) -> dict[str, Any]:
    return {
        "owner": owner,
        "retries": plan.retries,
        "retry_delay": dt.timedelta(seconds=plan.retry_delay_seconds),
        "retry_exponential_backoff": 2.0,
    }


def _common_arguments(plan: DagPlan, owner: str) -> dict[str, Any]:
    """Return the DAG arguments that every monitoring DAG shares."""
    return {
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "default_args": _default_args(plan, owner),
    }


def build_database_dag(database: DatabasePlan, plan: DagPlan) -> DAG:
    code = database.code
    with DAG(
        dag_id=database_dag_id(code),
        description=f"Giám sát kết nối {database.name}",
        schedule=database.schedule,
        **_common_arguments(plan, database.owner),
        tags=[PROJECT_TAG, "CSDL", database.owner],
        doc_md=database.doc_md,
    ) as dag:

        @task(task_id="fetch")
        def fetch() -> dict[str, Any]:
            from integration_monitor.pipeline.tasks import fetch_task

            return fetch_task(code, get_current_context())

        @task(task_id="validate", retries=0)
        def validate(measurement: dict[str, Any]) -> dict[str, Any]:
            from integration_monitor.pipeline.tasks import validate_task

            return validate_task(code, measurement)

        @task(task_id="record", trigger_rule="all_done", outlets=[database_asset(code)])
        def record() -> dict[str, Any]:
            from integration_monitor.pipeline.tasks import record_task

            return record_task(code, get_current_context())

        @task(task_id="outcome", trigger_rule="all_done", retries=0)
        def outcome(recorded: dict[str, Any]) -> None:
            from integration_monitor.pipeline.tasks import outcome_task

            outcome_task(recorded)

        recorded = record()
        validate(fetch()) >> recorded
        outcome(recorded)
    return dag


def build_rollup_dag(plan: DagPlan) -> DAG:
    with DAG(
        dag_id=ROLLUP_DAG_ID,
        description="Tổng hợp trạng thái toàn trình của các dịch vụ công",
        schedule=AssetAny(*(database_asset(database.code) for database in plan.databases)),
        **_common_arguments(plan, GOVERNMENT_OFFICE),
        tags=[PROJECT_TAG, "dịch vụ công"],
        doc_md=plan.rollup_doc_md,
    ) as dag:

        @task(task_id="evaluate_services")
        def evaluate_services() -> dict[str, Any]:
            from integration_monitor.pipeline.tasks import rollup_task

            return rollup_task(get_current_context())

        evaluate_services()
    return dag


def build_compaction_dag(plan: DagPlan) -> DAG:
    compaction = plan.compaction
    with DAG(
        dag_id=COMPACTION_DAG_ID,
        description="Thu gọn kho trạng thái: xóa dữ liệu thô cũ đã được tổng hợp theo giờ",
        schedule=compaction.schedule,
        **_common_arguments(plan, GOVERNMENT_OFFICE),
        tags=[PROJECT_TAG, "bảo trì"],
        doc_md=compaction.doc_md,
    ) as dag:

        @task(task_id="compact_store")
        def compact_store() -> dict[str, Any]:
            from integration_monitor.pipeline.tasks import compact_task

            return compact_task(compaction.keep_days, compaction.keep_detail_days)

        compact_store()
    return dag


def build_all_dags() -> dict[str, DAG]:
    """Return every monitoring DAG keyed by DAG id, for a DAG file's globals.

    When Airflow parses the file to run a task, its parsing context names the task's DAG,
    and only that DAG is built, so a task does not wait for every DAG's construction. The
    dag-processor parses without a DAG id and gets every DAG.
    """
    plan = load_plan()
    builders: dict[str, Callable[[], DAG]] = {
        database_dag_id(database.code): partial(build_database_dag, database, plan) for database in plan.databases
    }
    builders[ROLLUP_DAG_ID] = partial(build_rollup_dag, plan)
    builders[COMPACTION_DAG_ID] = partial(build_compaction_dag, plan)

    wanted = get_parsing_context().dag_id
    if wanted in builders:
        return {wanted: builders[wanted]()}
    return {dag_id: build() for dag_id, build in builders.items()}
