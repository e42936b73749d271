"""Every connection and payload fault of the stub server, injected into real DAG runs.

Three sweeps run all sixteen monitoring DAGs. The first puts one fault on each database. The
second repeats most faults, because an open incident must not alert twice, and moves the rest
onto the databases that stayed OK. The third makes every database healthy again. Each fault
must end in its named kind, a stored check, one opening alert and, after the reset, a closed
incident with one recovery alert. The observations are written to ``results/fault_matrix.json``, from
which ``render_table.py`` regenerates ``docs/faults.md``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.faults import render_table
from tests.faults.monitor import SharedMonitor

pytestmark = pytest.mark.airflow

SLOW_READ_TIMEOUT = 2.0
SLOW_DELAY_SECONDS = 6.0
OVERSIZED_LIMIT_BYTES = 1024 * 1024
OVERSIZED_BODY_MB = 2.0


@dataclass(frozen=True)
class Fault:
    """One fault, the database it is injected into, and what the monitor must make of it."""

    label: str
    database: str
    entry: dict[str, Any]
    status: str
    failure_kind: str | None
    http_status: int | None = None
    connection: dict[str, Any] = field(default_factory=dict)
    # When the fault is injected: in the first sweep (and repeated in the second), or only in the second.
    sweep: int = 1

    @property
    def opens_incident(self) -> bool:
        return self.status != "OK"


def fault_list(drift_field: str) -> list[Fault]:
    return [
        Fault("wrong_charset", "dan_cu", {"fault": "wrong_charset"}, "OK", None, 200),
        Fault("flapping", "can_cuoc", {"fault": "http_503", "flapping": True}, "OK", None, 200),
        Fault("duplicates", "khach_hang_evn", {"fault": "duplicates", "fault_options": {"duplicate_share": 0.2}},
              "DEGRADED", None, 200),
        Fault("slow", "dinh_danh_dien_tu",
              {"fault": "slow", "fault_options": {"delay_seconds": SLOW_DELAY_SECONDS}}, "BROKEN", "timeout",
              connection={"read_timeout": SLOW_READ_TIMEOUT}),
        Fault("refused", "giay_phep_lai_xe", {"fault": "refused"}, "BROKEN", "refused"),
        Fault("http_502", "xuat_nhap_canh", {"fault": "http_502"}, "BROKEN", "http_5xx", 502),
        Fault("http_503", "bao_hiem", {"fault": "http_503"}, "BROKEN", "http_5xx", 503),
        Fault("rate_limited", "dang_ky_doanh_nghiep", {"fault": "rate_limited", "fault_options": {"retry_after": 1}},
              "BROKEN", "rate_limited", 429),
        Fault("unauthorized", "tong_hop_tai_chinh", {"fault": "unauthorized"}, "BROKEN", "unauthorized", 401),
        Fault("forbidden", "kham_chua_benh", {"fault": "forbidden"}, "BROKEN", "unauthorized", 403),
        Fault("maintenance_html", "bao_tro_xa_hoi", {"fault": "maintenance_html"}, "BROKEN", "invalid_payload", 200),
        Fault("malformed_json", "ho_tich", {"fault": "malformed_json"}, "BROKEN", "invalid_payload", 200),
        Fault("truncated", "ly_lich_tu_phap", {"fault": "truncated"}, "BROKEN", "truncated", 200),
        Fault("oversized", "viec_lam", {"fault": "oversized", "fault_options": {"size_mb": OVERSIZED_BODY_MB}},
              "BROKEN", "oversized", 200, connection={"max_response_bytes": OVERSIZED_LIMIT_BYTES}),
        Fault("empty", "nguoi_co_cong", {"fault": "empty"}, "NO_DATA", "empty", 200),
        Fault("schema_drift", "dat_dai",
              {"fault": "schema_drift", "fault_options": {"rename": {drift_field: f"{drift_field}_MOI"}}},
              "DEGRADED", "schema_drift", 200),
        # Second sweep only, on the databases that the first sweep left OK. No database is left for
        # HTTP 500: 502 and 503 above cover HTTP 5xx, and the canary sweeps in tests/privacy run 500.
        Fault("signature_unknown_ca", "dan_cu", {"signature": {"mode": "unknown_ca", "share": 1.0}},
              "DEGRADED", None, 200, sweep=2),
        Fault("signature_expired", "can_cuoc", {"signature": {"mode": "expired", "share": 1.0}},
              "DEGRADED", None, 200, sweep=2),
    ]


@dataclass
class MatrixRun:
    faults: list[Fault]
    checks: list[dict[str, dict[str, Any]]]  # per sweep: database code -> its check of that sweep
    states: list[dict[str, str]]  # per sweep: DAG id -> DAG run state
    task_states: list[dict[str, dict[str, str]]]  # per sweep: database code -> task id -> state
    rollup_runs: list[str]  # per sweep: run id of the service rollup
    seconds: list[float]

    def fault(self, label: str) -> Fault:
        return next(item for item in self.faults if item.label == label)

    def check(self, label: str) -> dict[str, Any]:
        fault = self.fault(label)
        return self.checks[fault.sweep - 1][fault.database]


def _faults_of_sweep(faults: list[Fault], sweep: int) -> list[Fault]:
    if sweep == 1:
        return [item for item in faults if item.sweep == 1]
    if sweep == 2:
        moved = {item.database for item in faults if item.sweep == 2}
        return [item for item in faults if item.sweep == 2 or item.database not in moved]
    return []


def _latest_checks(monitor: SharedMonitor) -> dict[str, dict[str, Any]]:
    rows = monitor.rows(
        "select c.* from database_checks c join (select database_code, max(id) as id from database_checks "
        "group by database_code) newest on newest.id = c.id"
    )
    return {row["database_code"]: row for row in rows}


def _task_states(monitor: SharedMonitor, run_ids: dict[str, str]) -> dict[str, dict[str, str]]:
    database = monitor.airflow.paths.airflow_home / "airflow.db"
    states: dict[str, dict[str, str]] = {}
    with sqlite3.connect(database) as connection:
        for code, run_id in run_ids.items():
            rows = connection.execute(
                "select task_id, state from task_instance where dag_id = ? and run_id = ?", (f"monitor_{code}", run_id)
            ).fetchall()
            states[code] = {task_id: state for task_id, state in rows}
    return states


@pytest.fixture(scope="module")
def matrix(monitor: SharedMonitor, catalog) -> MatrixRun:  # type: ignore[no-untyped-def]
    drift_field = next(entry for entry in catalog.service(20).databases if entry.database == "dat_dai").required_fields[0]
    faults = fault_list(drift_field)
    monitor.close_incidents(*(database.code for database in catalog.databases))
    checks, states, task_states, rollup_runs, seconds = [], [], [], [], []
    previous: dict[str, dict[str, Any]] = {}

    for sweep in (1, 2, 3):
        injected = _faults_of_sweep(faults, sweep)
        monitor.set_scenarios({item.database: item.entry for item in injected})
        overrides: dict[str, str] = {}
        for item in injected:
            if item.connection:
                overrides.update(monitor.connection_env(item.database, **item.connection))
        with monitor.environment(overrides):
            result = monitor.sweep()

        latest = _latest_checks(monitor)
        stale = sorted(code for code, row in latest.items() if previous.get(code, {}).get("id") == row["id"])
        assert not stale, f"sweep {sweep} stored no new check for {stale}; see {result.log_path}"
        previous = latest
        checks.append(latest)
        states.append(result.states)
        task_states.append(_task_states(monitor, {code: row["run_id"] for code, row in latest.items()}))
        rollup_runs.append(monitor.rows("select run_id from service_statuses order by id desc limit 1")[0]["run_id"])
        seconds.append(result.seconds)

    monitor.completed.add("fault-matrix")
    run = MatrixRun(faults, checks, states, task_states, rollup_runs, seconds)
    render_table.write_section("fault_matrix", _artefact(monitor, run))
    return run


def _alerts(monitor: SharedMonitor) -> list[dict[str, Any]]:
    return monitor.rows("select a.id, a.incident_id, a.subject, a.kind, a.outcome, a.failure_kind, a.status "
                        "from alerts a where a.scope = 'database' order by a.id")


def _incidents(monitor: SharedMonitor, database: str) -> list[dict[str, Any]]:
    return monitor.rows("select * from incidents where scope = 'database' and subject = :code order by id",
                        code=database)


_PORT = re.compile(r"127\.0\.0\.1:\d+")
# Byte counts and JSON columns vary between runs, because signature values vary in length.
_LARGE_NUMBER = re.compile(r"\b\d{4,}\b")


def normalised(reason: str | None) -> str | None:
    """Return a stored reason without the parts that change from run to run."""
    if reason is None:
        return None
    return _LARGE_NUMBER.sub("<n>", _PORT.sub("127.0.0.1:<port>", reason))


def _artefact(monitor: SharedMonitor, run: MatrixRun) -> dict[str, Any]:
    alerts = _alerts(monitor)
    rows = []
    for fault in run.faults:
        check = run.check(fault.label)
        first_run = run.checks[fault.sweep - 1][fault.database]["run_id"]
        incident_ids = {item["id"] for item in _incidents(monitor, fault.database) if item["opened_by_run"] == first_run}
        kinds = [alert["kind"] for alert in alerts if alert["incident_id"] in incident_ids]
        injected = dict(fault.entry)
        if fault.connection:
            injected["connection"] = fault.connection
        rows.append([
            fault.label,
            fault.database,
            injected,
            f"{fault.status} / {fault.failure_kind or '—'}",
            f"{check['status']} / {check['failure_kind'] or '—'}",
            check["http_status"],
            check["attempts"],
            normalised(check["reason"]),
            kinds or "none",
            run.task_states[fault.sweep - 1][fault.database].get("record"),
            run.checks[2][fault.database]["status"],
        ])
    return {
        "title": "Fault matrix (tests/faults/test_fault_matrix.py)",
        "intro": (
            "Each stub fault is set on one national database through the stub's admin API, then every "
            "monitoring DAG runs once. The first sweep injects the faults marked sweep 1, the second "
            "repeats them (the open incident must not alert again) and injects the rest, the third resets "
            "every database. Connections use `max_attempts` 2 and `read_timeout` 5 s unless the row sets "
            "other extras; alerts go to a webhook receiver through an Apprise channel."
        ),
        "columns": ["fault", "database", "injected", "expected status / kind", "observed status / kind",
                    "HTTP", "attempts", "reason stored", "alerts of the incident", "record task",
                    "after reset"],
        "rows": rows,
        "notes": [
            "`wrong_charset` (UTF-8 labelled ISO-8859-1) is read as UTF-8, as RFC 8259 requires for JSON, so the "
            "database stays OK.",
            "`flapping` fails every other request; the fetch retries and the check is OK with 2 attempts.",
            "`duplicates` is stored as `duplicate_count`. A share of repeated records above `max_duplicate_share` "
            "(default 1 %) degrades the database and alerts, but blocks no service, because every field is still "
            "complete. The status model has no failure kind for it, so `failure_kind` is empty.",
            "Signature faults are stored as `signature_valid_ratio` 0 with the per-reason counts in "
            "`signature_failures`; the database is DEGRADED and every service reading it is blocked with "
            "`signature_invalid`. The status model has no failure kind for signatures, so `failure_kind` is empty.",
            "An alert's outcome is `sent` only when the webhook accepted it.",
        ],
    }


def _labels() -> list[str]:
    return [item.label for item in fault_list("FIELD")]


@pytest.mark.parametrize("label", _labels())
def test_fault_is_classified(matrix: MatrixRun, label: str) -> None:
    fault = matrix.fault(label)
    check = matrix.check(label)
    assert (check["status"], check["failure_kind"]) == (fault.status, fault.failure_kind), check["reason"]
    if fault.http_status is not None:
        assert check["http_status"] == fault.http_status
    if fault.status != "OK":
        assert check["reason"], "a failed check must carry a reason"


def test_every_run_records_a_status(matrix: MatrixRun) -> None:
    for sweep, per_database in enumerate(matrix.task_states, start=1):
        for code, tasks in per_database.items():
            assert tasks.get("record") == "success", f"sweep {sweep}, {code}: {tasks}"
    for sweep, checks in enumerate(matrix.checks, start=1):
        assert len({row["run_id"] for row in checks.values()}) == len(checks), f"sweep {sweep} reused a run id"


def test_broken_database_fails_its_run(matrix: MatrixRun) -> None:
    for fault in matrix.faults:
        state = matrix.states[fault.sweep - 1][f"monitor_{fault.database}"]
        expected = "failed" if fault.status in {"BROKEN", "NO_DATA"} else "success"
        assert state == expected, f"{fault.label}: run {state}"


def test_flapping_is_retried(matrix: MatrixRun) -> None:
    assert matrix.check("flapping")["attempts"] >= 2


def test_duplicates_are_counted(matrix: MatrixRun) -> None:
    check = matrix.check("duplicates")
    assert check["duplicate_count"] > 0
    assert "repeated records" in (check["reason"] or "")


def test_timeout_stays_near_read_timeout(matrix: MatrixRun) -> None:
    latency_s = matrix.check("slow")["latency_ms"] / 1000
    attempts = matrix.check("slow")["attempts"]
    assert attempts == 2
    assert latency_s < attempts * (SLOW_READ_TIMEOUT + 1.5)


def test_incident_alerts_once(monitor: SharedMonitor, matrix: MatrixRun) -> None:
    alerts = _alerts(monitor)
    for fault in matrix.faults:
        first_run = matrix.checks[fault.sweep - 1][fault.database]["run_id"]
        opened = [item for item in _incidents(monitor, fault.database) if item["opened_by_run"] == first_run]
        if not fault.opens_incident:
            assert opened == [], f"{fault.label} opened an incident"
            continue
        assert len(opened) == 1, f"{fault.label}: {len(opened)} incidents"
        incident = opened[0]
        kinds = sorted(alert["kind"] for alert in alerts if alert["incident_id"] == incident["id"])
        assert kinds == ["opened", "recovered"], f"{fault.label}: alerts {kinds}"
        outcomes = {alert["outcome"] for alert in alerts if alert["incident_id"] == incident["id"]}
        assert outcomes == {"sent"}, f"{fault.label}: {outcomes}"


def test_repeated_fault_continues_its_incident(monitor: SharedMonitor, matrix: MatrixRun) -> None:
    repeated = [fault for fault in matrix.faults if fault.sweep == 1 and fault.opens_incident
                and fault.database not in {item.database for item in matrix.faults if item.sweep == 2}]
    assert len(repeated) >= 10
    for fault in repeated:
        incidents = _incidents(monitor, fault.database)
        second_run = matrix.checks[1][fault.database]["run_id"]
        assert not any(item["opened_by_run"] == second_run for item in incidents), fault.label
        assert matrix.checks[1][fault.database]["status"] == fault.status


def test_webhook_received_each_alert(monitor: SharedMonitor, matrix: MatrixRun) -> None:
    sent = [alert for alert in _alerts(monitor) if alert["outcome"] == "sent"]
    bodies = monitor.webhook.snapshot()
    assert len(bodies) >= len(sent)
    for code in {fault.database for fault in matrix.faults if fault.opens_incident}:
        assert any(code in body for body in bodies), f"no webhook message names {code}"


def test_reset_recovers_everything(monitor: SharedMonitor, matrix: MatrixRun) -> None:
    after = matrix.checks[2]
    assert {code: row["status"] for code, row in after.items() if row["status"] != "OK"} == {}
    assert all(state == "success" for state in matrix.states[2].values()), matrix.states[2]
    still_open = monitor.rows("select subject from incidents where closed_at is null")
    assert still_open == []


def test_signature_faults_never_count_as_valid(monitor: SharedMonitor, matrix: MatrixRun) -> None:
    for label in ("signature_unknown_ca", "signature_expired"):
        check = matrix.check(label)
        assert check["signature_present_ratio"] == 1.0, label
        assert check["signature_valid_ratio"] == 0.0, label


def test_signature_faults_block_services(monitor: SharedMonitor, matrix: MatrixRun, catalog) -> None:  # type: ignore[no-untyped-def]
    second_run = {row["service_number"]: row for row in monitor.rows(
        "select service_number, reasons from service_statuses where run_id = :run_id", run_id=matrix.rollup_runs[1]
    )}
    for label in ("signature_unknown_ca", "signature_expired"):
        database = matrix.fault(label).database
        for service in catalog.services_reading(database):
            reasons = second_run[service.number]["reasons"]
            reasons = json.loads(reasons) if isinstance(reasons, str) else reasons
            kinds = {reason["kind"] for reason in reasons if reason["database"] == database}
            assert kinds == {"signature_invalid"}, f"{label}, service {service.number}: {kinds}"
