"""The production topology without Docker: Airflow's metadata and the status store on PostgreSQL,
the CeleryExecutor with a Redis broker and a real Celery worker, and a full sweep of every
database DAG through the scheduler."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from integration_monitor.local.distributed import (
    DistributedAirflow,
    DistributedSettings,
    free_port_block,
    listening_sockets,
)
from integration_monitor.local.runtime import free_port
from tests.conftest import postgres_admin_url

pytestmark = [pytest.mark.distributed, pytest.mark.postgres, pytest.mark.airflow, pytest.mark.timeout(1800)]

log = logging.getLogger(__name__)

REDIS_URL = "redis://127.0.0.1:6379/0"
ROLLUP_DAG_ID = "monitor_services"
TERMINAL_STATES = {"success", "failed"}


def wait_until(condition, timeout: float, description: str, check=None, interval: float = 3.0):  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it returns a true value, calling ``check`` first on every round."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check is not None:
            check()
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"{description} did not finish within {timeout:.0f} s")


@pytest.fixture()
def celery_dependencies() -> None:
    """Fail with the fix when the installed packages cannot run Airflow on PostgreSQL with Celery."""
    import importlib.util

    if importlib.util.find_spec("asyncpg") is None:
        pytest.fail("asyncpg is not installed: Airflow 3.3 opens its metadata database on PostgreSQL "
                    "through postgresql+asyncpg as well; add asyncpg to pyproject.toml and requirements.lock")
    try:
        from celery.backends.database import retry  # noqa: F401
    except ImportError:
        import celery

        pytest.fail(f"celery {celery.__version__} lacks celery.backends.database.retry, which the Celery "
                    "provider imports to start a worker; pin celery<5.7 in pyproject.toml and requirements.lock")


@pytest.fixture()
def run_name() -> str:
    return f"im_dist_{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def fresh_databases(run_name: str) -> Iterator[tuple[str, str]]:
    """Create the run's metadata and status store databases, and drop them afterwards."""
    admin = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    names = (f"{run_name}_airflow", f"{run_name}_store")
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    base = postgres_admin_url().rsplit("/", 1)[0]
    try:
        yield f"{base}/{names[0]}", f"{base}/{names[1]}"
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture()
def redis_cleanup(run_name: str) -> Iterator[None]:
    """Delete every Redis key of the run afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    try:
        yield
    finally:
        keys = list(client.scan_iter(match=f"{run_name}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def test_full_sweep_runs_on_celery_worker(tmp_path: Path, catalog, celery_dependencies, run_name, fresh_databases,
                                          redis_cleanup):
    import redis

    metadata_url, store_url = fresh_databases
    settings = DistributedSettings(
        run_name=run_name, metadata_url=metadata_url, store_url=store_url, broker_url=REDIS_URL,
        work_dir=tmp_path, stub_base_port=free_port_block(len(catalog.databases) + 1), api_port=free_port(),
    )
    database_dag_ids = sorted(f"monitor_{database.code}" for database in catalog.databases)
    sweep_run_id = f"sweep_{run_name}"
    timings: dict[str, float] = {}
    started = time.monotonic()

    with DistributedAirflow(settings) as topology:
        timings["start"] = time.monotonic() - started
        topology.wait_for_dags({*database_dag_ids, ROLLUP_DAG_ID})
        timings["dags parsed"] = time.monotonic() - started

        topology.unpause(ROLLUP_DAG_ID)
        for dag_id in database_dag_ids:
            topology.unpause(dag_id)
            topology.trigger(dag_id, sweep_run_id)

        def all_database_runs_finished() -> dict[str, str] | None:
            states = {dag_id: topology.run_state(dag_id, sweep_run_id) for dag_id in database_dag_ids}
            return states if set(states.values()) <= TERMINAL_STATES else None

        database_states = wait_until(all_database_runs_finished, 1200, "the sweep of every database DAG",
                                     check=topology.check_processes)
        timings["database runs"] = time.monotonic() - started

        metadata = create_engine(metadata_url)

        def rollup_settled() -> list[dict] | None:
            with metadata.connect() as connection:
                queued = connection.execute(text(
                    "SELECT count(*) FROM asset_dag_run_queue WHERE target_dag_id = :dag_id"),
                    {"dag_id": ROLLUP_DAG_ID}).scalar_one()
            runs = topology.dag_runs(ROLLUP_DAG_ID)
            if queued or not runs or any(run["state"] not in TERMINAL_STATES for run in runs):
                return None
            return runs

        rollup_runs = wait_until(rollup_settled, 600, "the asset-triggered rollup", check=topology.check_processes)
        timings["rollup"] = time.monotonic() - started

        expected_tasks = {(dag_id, task["task_id"]) for dag_id in database_dag_ids
                          for task in topology.api("GET", f"/api/v2/dags/{dag_id}/tasks").json()["tasks"]}
        sockets = listening_sockets(topology.started_pids())
        broker_keys = list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"{run_name}:*", count=1000))
        worker_log = (settings.logs / "worker.log").read_text(encoding="utf-8", errors="replace")

    log.info("distributed sweep timings (s): %s", {name: round(value, 1) for name, value in timings.items()})

    # Every socket that the run's processes listen on is on loopback.
    assert sockets, "no listening socket found: the check would pass for nothing"
    addresses = {address for address, _pid in sockets}
    assert f"127.0.0.1:{settings.api_port}" in addresses
    assert f"127.0.0.1:{settings.stub_base_port}" in addresses
    for address, pid in sockets:
        assert address.startswith("127.0.0.1:"), f"process {pid} listens on {address}"

    # The broker traffic stayed under the run's key prefix.
    assert broker_keys, "no Redis key carries the run's prefix"

    # One check per database for the sweep run, written by the record tasks.
    store = create_engine(store_url)
    with store.connect() as connection:
        checks = connection.execute(text(
            "SELECT database_code, status FROM database_checks WHERE run_id = :run_id"),
            {"run_id": sweep_run_id}).all()
        statuses = connection.execute(text("SELECT service_number, run_id FROM service_statuses")).all()
    store.dispose()
    assert sorted(code for code, _status in checks) == sorted(database.code for database in catalog.databases)
    assert {status for _code, status in checks} <= {"OK", "DEGRADED", "BROKEN", "NO_DATA"}

    # Service statuses come from the asset-triggered rollup runs, for every service.
    rollup_run_ids = {run["dag_run_id"] for run in rollup_runs}
    assert all(run["run_type"] == "asset_triggered" for run in rollup_runs), rollup_runs
    assert {run_id for _number, run_id in statuses} <= rollup_run_ids
    assert {number for number, _run_id in statuses} == {service.number for service in catalog.services}

    # Every task ran through Celery: on the run's queue, with a Celery task id, and the worker
    # log names each of those task ids.
    with metadata.connect() as connection:
        task_instances = connection.execute(text(
            "SELECT dag_id, task_id, run_id, state, queue, external_executor_id FROM task_instance")).all()
    metadata.dispose()
    sweep_rows = [row for row in task_instances if row.run_id == sweep_run_id]
    assert {(row.dag_id, row.task_id) for row in sweep_rows} == expected_tasks
    record_states = {row.dag_id: row.state for row in sweep_rows if row.task_id == "record"}
    assert record_states == {dag_id: "success" for dag_id in database_dag_ids}, database_states
    ran = [row for row in task_instances if row.state in {"success", "failed"}]
    assert ran
    for row in ran:
        assert row.queue == settings.queue, f"{row.dag_id}.{row.task_id} ran on queue {row.queue}"
        assert row.external_executor_id, f"{row.dag_id}.{row.task_id} has no Celery task id"
        assert row.external_executor_id in worker_log, f"the worker log does not mention {row.dag_id}.{row.task_id}"
    assert re.search(rf"{re.escape(run_name)}@\S+ ready", worker_log), "the worker never reported ready"
