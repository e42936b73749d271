"""The status store under parallel writers and a PostgreSQL restart in the middle of a sweep.

Writers are separate processes that start together at a barrier and each store checks through
the record step's own ``record_check``, the way concurrent record tasks do. The restart test
stops and starts this machine's PostgreSQL server (``pg_ctlcluster``) while a sweep writes to
a store database on it, and starts the server again in a ``finally`` block whatever happens.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.conftest import postgres_admin_url
from tests.faults import render_table
from tests.faults.monitor import SharedMonitor, SweepResult

WRITERS = 6
CHECKS_PER_WRITER = 12
SHARED_RUN = "shared-run"
RESTART_DAGS = ("can_cuoc", "dinh_danh_dien_tu", "giay_phep_lai_xe", "xuat_nhap_canh", "tong_hop_tai_chinh",
                "bao_tro_xa_hoi", "ly_lich_tu_phap", "nguoi_co_cong", "dat_dai", "viec_lam")
MAX_DOWNTIME_SECONDS = 60.0

ROW_ORDER = ("writers_sqlite", "writers_postgresql", "postgres_restart")


def _write_checks(store_url: str, alerting: str, worker: int, barrier: Any, errors: Any) -> None:
    """Store checks and decide alerts as record tasks do, after every writer reached the barrier."""
    os.environ["INTEGRATION_MONITOR_STORE_URL"] = store_url
    os.environ["INTEGRATION_MONITOR_ALERTING"] = alerting
    from integration_monitor.alerts.hooks import on_database_recorded
    from integration_monitor.pipeline.record_step import record_check
    from integration_monitor.store.records import CheckResult

    barrier.wait(60)
    for number in range(CHECKS_PER_WRITER):
        now = dt.datetime.now(dt.UTC)
        run_id = f"writer-{worker}-run-{number}"
        try:
            # Every writer reports the same broken database: one incident must open and alert once,
            # not once per writer.
            recorded = record_check(CheckResult("dat_dai", run_id, now, "BROKEN", "refused", "connection refused"),
                                    store_url)
            on_database_recorded(recorded, {"run_id": run_id})
            # And every writer stores a check of the same run: the last one wins, nothing is doubled.
            record_check(CheckResult("dan_cu", SHARED_RUN, now, "OK", record_count=worker), store_url)
        except Exception as error:  # noqa: BLE001 - the parent asserts that there were none
            errors.append(f"writer {worker}, check {number}: {type(error).__name__}: {str(error)[:300]}")


def _run_writers(store_url: str, alerting: Path) -> list[str]:
    # Alerts are decided and recorded in the alert history, with no channel to deliver them.
    alerting.write_text("failure_threshold: 1\nreminder_interval_minutes: 0\nchannels: []\n", encoding="utf-8")
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(WRITERS)
        errors = manager.list()
        processes = [context.Process(target=_write_checks, args=(store_url, str(alerting), worker, barrier, errors))
                     for worker in range(WRITERS)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(300)
        assert all(process.exitcode == 0 for process in processes), [process.exitcode for process in processes]
        return list(errors)


def _count(store_url: str, sql: str) -> int:
    engine = create_engine(store_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture()
def pg_store() -> Iterator[str]:
    """A migrated store database of its own on the local PostgreSQL, dropped afterwards.

    Each statement uses a new connection, so that a server restart during the test leaves no
    stale pooled connection behind for the drop.
    """
    from integration_monitor.store.migrate import upgrade

    name = f"im_faults_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    url = postgres_admin_url().rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        from integration_monitor.store.engine import get_engine

        get_engine.cache_clear()
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(statement: str) -> None:
    engine = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def test_sqlite_store_uses_wal_and_busy_timeout(tmp_path: Path) -> None:
    from integration_monitor.store.engine import get_engine

    engine = get_engine(f"sqlite:///{tmp_path / 'status.db'}")
    with engine.connect() as connection:
        journal_mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        busy_timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    engine.dispose()
    assert journal_mode == "wal"
    assert busy_timeout >= 5000


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_parallel_writers_lose_and_double_nothing(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if backend == "sqlite":
        from integration_monitor.store.migrate import upgrade

        store_url = f"sqlite:///{tmp_path / 'status.db'}"
        upgrade(store_url)
    else:
        store_url = request.getfixturevalue("pg_store")

    started = time.monotonic()
    errors = _run_writers(store_url, tmp_path / "alerting.yaml")
    seconds = time.monotonic() - started

    checks = _count(store_url, "select count(*) from database_checks where database_code = 'dat_dai'")
    shared = _count(store_url, f"select count(*) from database_checks where run_id = '{SHARED_RUN}'")
    incidents = _count(store_url, "select count(*) from incidents where subject = 'dat_dai'")
    openings = _count(store_url, "select count(*) from alerts where subject = 'dat_dai' and kind = 'opened'")
    _record(f"writers_{backend}",
            f"{WRITERS} processes × {CHECKS_PER_WRITER} checks of the same broken database with alert decisions, "
            f"plus the same run of another database from every process ({backend})",
            f"errors: {len(errors)}; checks stored: {checks} of {WRITERS * CHECKS_PER_WRITER}; rows of the shared "
            f"run: {shared}; incidents opened: {incidents}; opening alerts: {openings}")
    print(f"{backend}: {WRITERS * CHECKS_PER_WRITER * 2} writes by {WRITERS} processes in {seconds:.1f} s")

    assert errors == []
    assert checks == WRITERS * CHECKS_PER_WRITER
    assert shared == 1
    assert incidents == 1
    assert openings == 1


# --- PostgreSQL restarted in the middle of a sweep --------------------------------------------


def _cluster_version() -> str:
    versions = sorted(os.listdir("/etc/postgresql"))
    assert versions, "no PostgreSQL cluster under /etc/postgresql"
    return versions[-1]


def _pg_ctl(action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", _cluster_version(), "main", action],
                          capture_output=True, text=True, timeout=120, check=False)


def _wait_for_postgres(timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _admin("select 1")
            return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.5)
    raise AssertionError(f"PostgreSQL did not accept connections within {timeout:.0f} s after start")


def _latest_runs(monitor: SharedMonitor, codes: tuple[str, ...]) -> dict[str, tuple[str, str, str | None]]:
    """Return each DAG's newest run id, its state and its record task's state, from Airflow's database."""
    latest = {}
    with sqlite3.connect(monitor.airflow.paths.airflow_home / "airflow.db") as connection:
        for code in codes:
            run_id, state = connection.execute(
                "select run_id, state from dag_run where dag_id = ? order by id desc limit 1", (f"monitor_{code}",)
            ).fetchone()
            record = connection.execute(
                "select state from task_instance where dag_id = ? and run_id = ? and task_id = 'record'",
                (f"monitor_{code}", run_id),
            ).fetchone()
            latest[code] = (run_id, state, record[0] if record else None)
    return latest


@pytest.mark.postgres
@pytest.mark.airflow
def test_postgres_restart_mid_sweep_loses_nothing(monitor: SharedMonitor, pg_store: str) -> None:
    if not Path("/etc/postgresql").is_dir():
        pytest.skip("no local PostgreSQL cluster to restart")
    monitor.set_scenarios({})
    outcome: list[SweepResult] = []
    variables = {"INTEGRATION_MONITOR_STORE_URL": pg_store, "INTEGRATION_MONITOR_RETRIES": "2",
                 "INTEGRATION_MONITOR_RETRY_DELAY_SECONDS": "2"}

    with monitor.environment(variables):
        sweep = threading.Thread(target=lambda: outcome.append(monitor.sweep(*(f"monitor_{code}" for code in RESTART_DAGS))))
        sweep.start()
        try:
            deadline = time.monotonic() + 600
            while _count(pg_store, "select count(*) from database_checks") < 2:
                assert sweep.is_alive(), "the sweep ended before it stored two checks"
                assert time.monotonic() < deadline, "the sweep stored no checks to restart under"
                time.sleep(0.2)
            before = _ids(pg_store)
            stopped = _pg_ctl("stop")
            assert stopped.returncode == 0, stopped.stderr
            down_at = time.monotonic()
            # Stay down until a task has failed on the stopped server, so the restart hits a write.
            while time.monotonic() - down_at < MAX_DOWNTIME_SECONDS and not _store_error_logged(monitor):
                time.sleep(0.2)
            downtime = time.monotonic() - down_at
        finally:
            started = _pg_ctl("start")
            _wait_for_postgres()
        assert started.returncode == 0, started.stderr
        sweep.join(900)
    assert outcome, "the sweep failed; see the sweep logs"

    after = _ids(pg_store)
    runs = _latest_runs(monitor, RESTART_DAGS)
    stored_runs = {row[1] for row in after}
    recovered = sorted(code for code, (run_id, _, _) in runs.items() if run_id in stored_runs)
    failed_with_reason = sorted(code for code, (run_id, state, record) in runs.items()
                                if run_id not in stored_runs and state == "failed" and record == "failed")
    retried = _retried_record_tasks(monitor, runs)
    _record("postgres_restart",
            f"PostgreSQL stopped in the middle of a sweep of {len(RESTART_DAGS)} DAGs writing to it, until a task "
            "failed on it, then started (task retries 2, retry delay 2 s)",
            f"rows written before the stop kept: {before <= after}; record tasks retried after the restart: "
            f"{'1 or more' if retried else 'none'}; runs stored: {len(recovered)} of {len(RESTART_DAGS)}; runs "
            f"failed with the record task's error in Airflow: {len(failed_with_reason)}")
    print(f"PostgreSQL was down for {downtime:.1f} s; {retried} record tasks retried")

    assert _store_error_logged(monitor), "no task wrote while the server was down"
    assert before <= after, "rows written before the restart are gone"
    assert sorted(recovered + failed_with_reason) == sorted(RESTART_DAGS), runs


def _store_error_logged(monitor: SharedMonitor) -> bool:
    newest = max(monitor.sweep_logs.glob("sweep-*.log"), key=lambda path: path.stat().st_mtime)
    return b"OperationalError" in newest.read_bytes()


def _retried_record_tasks(monitor: SharedMonitor, runs: dict[str, tuple[str, str, str | None]]) -> int:
    with sqlite3.connect(monitor.airflow.paths.airflow_home / "airflow.db") as connection:
        return sum(
            connection.execute("select count(*) from task_instance where dag_id = ? and run_id = ? "
                               "and task_id = 'record' and try_number > 1", (f"monitor_{code}", run_id)).fetchone()[0]
            for code, (run_id, _, _) in runs.items()
        )


def _ids(store_url: str) -> set[tuple[str, str]]:
    engine = create_engine(store_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return {(row[0], row[1]) for row in connection.execute(text("select database_code, run_id from database_checks"))}
    finally:
        engine.dispose()


def _record(key: str, tried: str, result: str) -> None:
    render_table.write_row(
        "store_concurrency", key, [tried, result], order=ROW_ORDER,
        title="Parallel writers and a PostgreSQL restart (tests/faults/test_store_concurrency.py)",
        intro=(
            "Writers are separate processes released together by a barrier, each storing checks through the record "
            "step's `record_check`. The SQLite store runs in WAL mode with a busy timeout; the PostgreSQL store is a "
            "database of its own on the local server."
        ),
        columns=["what was tried", "what the store holds afterwards"],
        notes=(
            "On PostgreSQL, `save_check` and `track_incident` take a transaction-level advisory lock per database "
            "or service, so concurrent writers of one subject wait for each other. SQLite has one write lock per "
            "file, taken by the first write of each transaction.",
            "The alert engine starts its decision about an incident with an update that takes the incident's row "
            "lock (PostgreSQL) or the write lock (SQLite), so one incident gets one opening alert.",
            "The restart test stops this machine's PostgreSQL server with `pg_ctlcluster`. Other work on that "
            "server during those seconds sees its connections closed.",
        ),
    )
