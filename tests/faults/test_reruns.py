"""Re-runs and overlapping runs leave the same rows: one check per database per run, one incident.

A run is re-run in two ways. Each task runs alone again with ``airflow tasks test``, and the
whole run runs again with ``dag.test()`` at the same logical date, which creates the run again
under the same run id. Then two sweeps of the same DAGs run at the same time.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from typing import Any

import pytest

from integration_monitor.catalog.loader import project_root
from tests.faults import render_table
from tests.faults.monitor import SharedMonitor, SweepResult
from tests.faults.rerun import PREFIX

pytestmark = pytest.mark.airflow

FAILING = "tong_hop_tai_chinh"  # read by service 6 only
HEALTHY = "can_cuoc"  # read by service 8 only
TASKS = ("fetch", "validate", "record", "outcome")
LOGICAL_DATE = "2026-01-05T03:00:00+00:00"
OVERLAP_HEALTHY = ("giay_phep_lai_xe", "xuat_nhap_canh")
OVERLAP_FAILING = {"nguoi_co_cong": {"fault": "empty"}, "ly_lich_tu_phap": {"fault": "http_500"}}

ROW_ORDER = ("tasks", "run", "overlap")


def rerun(monitor: SharedMonitor, *arguments: str) -> list[list[str]]:
    completed = subprocess.run([sys.executable, "-m", "tests.faults.rerun", *arguments], env=monitor.env,
                               cwd=project_root(), capture_output=True, text=True, timeout=600, check=False)
    log = monitor.sweep_logs / f"rerun-{len(list(monitor.sweep_logs.glob('rerun-*')))+1:03d}.log"
    log.write_text(completed.stdout + completed.stderr, encoding="utf-8")
    assert completed.returncode == 0, f"rerun failed; see {log}"
    return [line[len(PREFIX):].split("\t") for line in completed.stdout.splitlines() if line.startswith(PREFIX)]


def snapshot(monitor: SharedMonitor, run_ids: dict[str, str]) -> dict[str, Any]:
    """Return everything the store keeps about these runs, without ids, times and latencies."""
    runs = tuple(run_ids.values())
    databases = tuple(run_ids)
    in_runs = ", ".join(f"'{run}'" for run in runs)
    in_databases = ", ".join(f"'{code}'" for code in databases)
    return {
        "checks": monitor.rows(
            "select database_code, run_id, status, failure_kind, reason, http_status, attempts, record_count, "
            "duplicate_count, signature_present_ratio, signature_valid_ratio, expectations_evaluated, "
            f"expectations_failed from database_checks where run_id in ({in_runs}) order by database_code"),
        "fields": monitor.rows(
            "select c.database_code, f.field_code, f.present, f.completeness, f.missing_count, f.threshold, f.passed "
            f"from field_checks f join database_checks c on c.id = f.check_id where c.run_id in ({in_runs}) "
            "order by c.database_code, f.field_code"),
        "access": monitor.rows(
            "select c.database_code, a.service_number, a.allowed, a.failure_kind, a.http_status from service_access a "
            f"join database_checks c on c.id = a.check_id where c.run_id in ({in_runs}) "
            "order by c.database_code, a.service_number"),
        "incidents": monitor.rows(
            "select id, subject, status, failure_kind, opened_by_run, closed_by_run, closed_at is null as still_open "
            f"from incidents where scope = 'database' and subject in ({in_databases}) "
            f"and (opened_by_run in ({in_runs}) or closed_by_run in ({in_runs})) order by id"),
        "alerts": monitor.rows(
            "select a.incident_id, a.kind, count(*) as alerts from alerts a join incidents i on i.id = a.incident_id "
            f"where a.scope = 'database' and a.subject in ({in_databases}) "
            f"and (i.opened_by_run in ({in_runs}) or i.closed_by_run in ({in_runs})) "
            "group by a.incident_id, a.kind order by a.incident_id, a.kind"),
    }


@pytest.fixture(scope="module")
def first_run(monitor: SharedMonitor) -> dict[str, Any]:
    monitor.close_incidents(FAILING, HEALTHY)
    monitor.set_scenarios({FAILING: {"fault": "http_503"}})
    lines = rerun(monitor, "dag", LOGICAL_DATE, f"monitor_{FAILING}", f"monitor_{HEALTHY}")
    run_ids = {dag_id.removeprefix("monitor_"): run_id for dag_id, _, run_id, _ in lines}
    states = {dag_id: state for dag_id, _, _, state in lines}
    return {"run_ids": run_ids, "states": states, "rows": snapshot(monitor, run_ids)}


def test_first_run_is_recorded(first_run: dict[str, Any]) -> None:
    rows = first_run["rows"]
    assert [(row["database_code"], row["status"]) for row in rows["checks"]] == [(HEALTHY, "OK"), (FAILING, "BROKEN")]
    opened = [row for row in rows["incidents"] if row["opened_by_run"] == first_run["run_ids"][FAILING]]
    assert len(opened) == 1
    assert [(row["kind"], row["alerts"]) for row in rows["alerts"] if row["incident_id"] == opened[0]["id"]] == [
        ("opened", 1)
    ]
    assert first_run["states"] == {f"monitor_{FAILING}": "failed", f"monitor_{HEALTHY}": "success"}


def test_each_task_rerun_keeps_rows(monitor: SharedMonitor, first_run: dict[str, Any]) -> None:
    for code, run_id in first_run["run_ids"].items():
        rerun(monitor, "tasks", run_id, f"monitor_{code}", *TASKS)
    after = snapshot(monitor, first_run["run_ids"])
    _record("tasks", "each task of a run again with `airflow tasks test` (fetch, validate, record, outcome)",
            _summary(first_run["rows"], after))
    assert after == first_run["rows"]


def test_whole_run_rerun_keeps_rows(monitor: SharedMonitor, first_run: dict[str, Any]) -> None:
    lines = rerun(monitor, "dag", LOGICAL_DATE, f"monitor_{FAILING}", f"monitor_{HEALTHY}")
    run_ids = {dag_id.removeprefix("monitor_"): run_id for dag_id, _, run_id, _ in lines}
    assert run_ids == first_run["run_ids"]
    after = snapshot(monitor, run_ids)
    _record("run", "the whole run again: `dag.test()` at the same logical date (same run id)",
            _summary(first_run["rows"], after))
    assert after == first_run["rows"]


def test_overlapping_sweeps_count_once(monitor: SharedMonitor) -> None:
    monitor.close_incidents(*OVERLAP_HEALTHY, *OVERLAP_FAILING)
    monitor.set_scenarios(dict(OVERLAP_FAILING))
    started = dt.datetime.now(dt.UTC)
    dag_ids = [f"monitor_{code}" for code in (*OVERLAP_HEALTHY, *OVERLAP_FAILING)]
    results: list[SweepResult] = []
    threads = [threading.Thread(target=lambda: results.append(monitor.sweep(*dag_ids))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2, "a sweep failed; see the sweep logs"

    checks = monitor.rows("select database_code, run_id, count(*) as rows_of_run from database_checks "
                          "where checked_at >= :started group by database_code, run_id", started=started)
    per_database = {code: sorted(row["rows_of_run"] for row in checks if row["database_code"] == code)
                    for code in (*OVERLAP_HEALTHY, *OVERLAP_FAILING)}
    incidents = {code: monitor.rows("select id from incidents where scope = 'database' and subject = :code "
                                    "and opened_at >= :started", code=code, started=started)
                 for code in OVERLAP_FAILING}
    openings = {code: monitor.rows("select count(*) as alerts from alerts where scope = 'database' and subject = :code "
                                   "and kind = 'opened' and event_at >= :started", code=code, started=started)[0]["alerts"]
                for code in OVERLAP_FAILING}
    service_incidents = monitor.rows("select subject, count(*) as opened from incidents where scope = 'service' "
                                     "and opened_at >= :started group by subject having count(*) > 1", started=started)
    _record("overlap", "two sweeps of the same four DAGs at the same time (two databases failing)",
            f"checks per database and run: {per_database}; incidents opened: "
            f"{ {code: len(rows) for code, rows in incidents.items()} }; opening alerts: {openings}")

    assert per_database == {code: [1, 1] for code in per_database}
    assert {code: len(rows) for code, rows in incidents.items()} == {code: 1 for code in OVERLAP_FAILING}
    assert openings == {code: 1 for code in OVERLAP_FAILING}
    assert service_incidents == []


def _summary(before: dict[str, Any], after: dict[str, Any]) -> str:
    if before == after:
        counts = ", ".join(f"{name} {len(rows)}" for name, rows in before.items())
        return f"identical rows (rows per table: {counts})"
    changed = [name for name in before if before[name] != after[name]]
    return f"rows changed in: {', '.join(changed)}"


def _record(key: str, tried: str, result: str) -> None:
    render_table.write_row(
        "reruns", key, [tried, result], order=ROW_ORDER,
        title="Re-runs and overlapping sweeps (tests/faults/test_reruns.py)",
        intro=(
            f"`monitor_{FAILING}` (HTTP 503, so BROKEN with an open incident) and `monitor_{HEALTHY}` (healthy) run "
            f"once at logical date {LOGICAL_DATE}; the store's rows for those runs, their incidents and alerts are "
            "the reference. Row ids, times and latencies are left out of the comparison."
        ),
        columns=["what was re-run", "what the store holds afterwards"],
    )
