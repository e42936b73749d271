"""Secrets stay out of logs, the stub's admin API needs its token, untrusted signatures never count.

These tests use the shared monitor of the fault tests (``tests.faults.monitor``): its sweep logs,
Airflow's metadata database and the status store are what an operator or an attacker could read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.faults.monitor import SharedMonitor
from tests.surfaces import section

pytestmark = pytest.mark.airflow

SECRET_NAMES = ("STUB_CLIENT_SECRET", "STUB_ADMIN_TOKEN", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY",
                "AIRFLOW__API__SECRET_KEY")
BEARER = re.compile(r"Bearer\s+[A-Za-z0-9_\-.~+/]{16,}")
ADMIN_CALLS = [
    ("GET", "/admin/scenarios", None),
    ("GET", "/admin/ports", None),
    ("PUT", "/admin/scenarios/dan_cu", {"fault": "refused"}),
    ("POST", "/admin/scenarios/load", {"name": "appendix-2025"}),
    ("POST", "/admin/reset", None),
]


def _readable_files(monitor: SharedMonitor) -> list[Path]:
    """Files an operator can read: task logs, Airflow's metadata database and the status store.

    The stub server's log is the national database's side, and ``local-secrets.env`` and
    ``airflow.cfg`` are where the secrets are meant to be.
    """
    logs = [path for path in (monitor.var / "logs").rglob("*") if path.is_file() and path.name != "stubs.log"]
    databases = [path for path in monitor.var.rglob("*.db*") if path.is_file()]
    return sorted({*logs, *databases})


@pytest.fixture(scope="module")
def debug_sweep(monitor: SharedMonitor) -> Any:
    """A sweep with Airflow's logging at DEBUG, where a careless log line would show the most."""
    monitor.set_scenarios({"tong_hop_tai_chinh": {"fault": "unauthorized"}, "ly_lich_tu_phap": {"fault": "refused"}})
    with monitor.environment({"AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG"}):
        return monitor.sweep("monitor_tong_hop_tai_chinh", "monitor_ly_lich_tu_phap", "monitor_can_cuoc")


def _secrets(monitor: SharedMonitor) -> dict[str, str]:
    return {name: monitor.env[name] for name in SECRET_NAMES if len(monitor.env.get(name) or "") >= 16}


def _lines_with_secrets(text: str, secrets: dict[str, str]) -> list[str]:
    return [line for line in text.splitlines() if any(value in line for value in secrets.values())]


def test_secrets_never_reach_logs_or_databases(monitor: SharedMonitor, debug_sweep: Any) -> None:
    secrets = _secrets(monitor)
    assert "STUB_CLIENT_SECRET" in secrets
    found: list[str] = []
    files = [path for path in _readable_files(monitor) if path != debug_sweep.log_path]
    for path in files:
        content = path.read_bytes()
        found += [f"{name} in {path}" for name, value in secrets.items() if value.encode() in content]
        if path.suffix == ".log" and BEARER.search(content.decode("utf-8", errors="replace")):
            found.append(f"a bearer token in {path}")
    for number, body in enumerate(monitor.webhook.snapshot()):
        if any(value in body for value in secrets.values()):
            found.append(f"a secret in webhook message {number}")

    section.record("secrets", "the stub client secret, the stub admin token, the JWT secret, the Fernet key and the "
                   "API secret key searched in the task logs of every sweep at INFO level, Airflow's metadata "
                   "database, the status store and the alert messages",
                   f"found: {len(found)}")
    assert found == []


def test_debug_logs_leak_only_airflow_test_supervisor(monitor: SharedMonitor, debug_sweep: Any) -> None:
    text = debug_sweep.log_path.read_text(encoding="utf-8", errors="replace")
    leaking = _lines_with_secrets(text, _secrets(monitor))
    # NOTE: Airflow 3.3.2's in-process supervisor, which dag.test() and `airflow tasks test` use,
    # logs each MaskSecret request at DEBUG level before it registers the mask, so the connection
    # password appears in that line. The real supervisor of the scheduler's executors omits the body.
    upstream = [line for line in leaking if "Sending request" in line and "MaskSecret(" in line]
    ours = [line for line in leaking if line not in upstream]
    markers = monitor.canary_pattern.findall(text)
    section.record("debug", "the same secrets, and the canary markers, in the task log of a sweep run with "
                   "AIRFLOW__LOGGING__LOGGING_LEVEL=DEBUG (dag.test(), as `integration-monitor demo` runs it)",
                   "lines with a secret from Airflow's in-process test supervisor (`Sending request "
                   f"msg=MaskSecret(...)`): {'some' if upstream else 'none'}; from any other code: {len(ours)}; "
                   f"canary markers: {len(markers)}")
    assert "[debug" in text, "the DEBUG sweep logged nothing at DEBUG level"
    assert ours == []
    assert markers == [], "a personal value reached the DEBUG log"


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
@pytest.mark.parametrize("token", [None, "", "wrong-token"], ids=["no-token", "empty-token", "wrong-token"])
def test_stub_admin_refuses_without_token(monitor: SharedMonitor, method: str, path: str, body: Any,
                                          token: str | None) -> None:
    import requests

    monitor.set_scenarios({"dat_dai": {"fault": "http_503"}})
    headers = {} if token is None else {"X-Admin-Token": token}
    response = requests.request(method, f"{monitor.airflow.stub.url}{path}", json=body, headers=headers, timeout=30)
    assert response.status_code == 403
    assert monitor.airflow.stub.admin_token not in response.text

    current = monitor.admin("GET", "/admin/scenarios").json()
    assert json.dumps(current).count("http_503") == 1, "a refused admin call changed the scenario"


def test_stub_admin_row(monitor: SharedMonitor) -> None:
    import requests

    refused = 0
    for method, path, body in ADMIN_CALLS:
        for headers in ({}, {"X-Admin-Token": ""}, {"X-Admin-Token": "wrong-token"}):
            response = requests.request(method, f"{monitor.airflow.stub.url}{path}", json=body, headers=headers,
                                        timeout=30)
            refused += response.status_code == 403
    section.record("admin", f"each admin call of the running stub server ({len(ADMIN_CALLS)} calls) without a token, "
                   "with an empty one and with a wrong one",
                   f"refused with HTTP 403: {refused} of {len(ADMIN_CALLS) * 3}; scenario unchanged")
    assert refused == len(ADMIN_CALLS) * 3


def test_untrusted_signatures_never_count(monitor: SharedMonitor, catalog) -> None:  # type: ignore[no-untyped-def]
    cases = {"ly_lich_tu_phap": "unknown_ca", "xuat_nhap_canh": "expired"}
    monitor.set_scenarios({code: {"signature": {"mode": mode, "share": 1.0}} for code, mode in cases.items()})
    monitor.sweep(*(f"monitor_{code}" for code in cases))
    rollup = monitor.rows("select run_id from service_statuses order by id desc limit 1")[0]["run_id"]

    results = []
    for code, mode in cases.items():
        check = monitor.rows("select * from database_checks where database_code = :code order by id desc limit 1",
                             code=code)[0]
        failures = check["signature_failures"]
        failures = json.loads(failures) if isinstance(failures, str) else failures
        verdicts = monitor.rows("select service_number, reasons from service_statuses where run_id = :run",
                                run=rollup)
        blocked = []
        for service in catalog.services_reading(code):
            reasons = next(row["reasons"] for row in verdicts if row["service_number"] == service.number)
            reasons = json.loads(reasons) if isinstance(reasons, str) else reasons
            blocked.append({reason["kind"] for reason in reasons if reason["database"] == code})
        results.append((code, mode, check, failures, blocked))

    section.record("signatures", "every record of ly_lich_tu_phap signed under an unknown CA with the real CA's name, "
                   "every record of xuat_nhap_canh signed with an expired certificate, through a DAG run",
                   "; ".join(f"{mode}: status {check['status']}, signature_valid_ratio {check['signature_valid_ratio']}, "
                             f"failures {failures}, services blocked with {sorted(set().union(*blocked))}"
                             for _, mode, check, failures, blocked in results))
    for code, mode, check, failures, blocked in results:
        assert check["signature_present_ratio"] == 1.0, code
        assert check["signature_valid_ratio"] == 0.0, code
        assert check["status"] == "DEGRADED", code
        assert sum(failures.values()) == check["record_count"], failures
        assert all(kinds == {"signature_invalid"} for kinds in blocked), (code, blocked)
