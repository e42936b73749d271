"""Personal-data canary: no marker value from the stub databases leaks out of the fetch task.

The shared monitor's stub server replaces every personal field's value with a marker: a
prefix unique to the test session followed by the record index (``--canary``). After sweeps
through every scenario and fault, the test searches every place the monitor writes:

- each table of the status store and of Airflow's metadata database (XCom, rendered task
  fields, the log table, DAG run conf), and the raw database files;
- every task log, and the alert messages that reached the webhook;
- the dashboard's CSV and Excel exports;
- every other file under the monitor's folder, where Great Expectations would write, and the
  files that the test session changed anywhere in the repository.
"""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, inspect, text

from integration_monitor.catalog.loader import project_root
from tests.faults import render_table
from tests.faults.monitor import SharedMonitor

pytestmark = pytest.mark.airflow

SESSION_STARTED = time.time()

# Signature, content and payload faults that push record values through error paths.
PRIVACY_FAULTS: dict[str, dict[str, Any]] = {
    "kham_chua_benh": {"signature": {"mode": "invalid", "share": 0.5},
                       "completeness": [{"fields": ["XML1_HO_TEN"], "missing_share": 0.5, "style": "mixed"}]},
    "dan_cu": {"signature": {"mode": "malformed", "share": 1.0}},
    "ho_tich": {"signature": {"mode": "unknown_ca", "share": 0.5}},
    "bao_hiem": {"signature": {"mode": "expired", "share": 0.5}},
    "can_cuoc": {"signature": {"mode": "missing", "share": 0.5}},
    "khach_hang_evn": {"fault": "duplicates", "fault_options": {"duplicate_share": 0.3}},
    "ly_lich_tu_phap": {"fault": "malformed_json"},
    "viec_lam": {"fault": "truncated"},
    "xuat_nhap_canh": {"fault": "wrong_charset"},
    "giay_phep_lai_xe": {"fault": "maintenance_html"},
    "dinh_danh_dien_tu": {"deny_services": [12]},
    "bao_tro_xa_hoi": {"fault": "http_500"},
    "nguoi_co_cong": {"fault": "empty"},
}


@dataclass
class Finding:
    place: str
    count: int
    sample: str


@dataclass
class Search:
    """What was searched in one kind of place, and the markers found there."""

    name: str
    items: int = 0
    findings: list[Finding] = field(default_factory=list)

    def scan(self, place: str, content: bytes | str, monitor: SharedMonitor) -> None:
        self.items += 1
        data = content if isinstance(content, str) else content.decode("utf-8", errors="replace")
        matches = monitor.canary_pattern.findall(data)
        if matches:
            self.findings.append(Finding(place, len(matches), matches[0]))


def _drift_fields(catalog) -> dict[str, str]:  # type: ignore[no-untyped-def]
    personal = [spec.code for spec in catalog.database("dat_dai").fields if spec.personal]
    return {personal[0]: f"{personal[0]}_MOI"}


@pytest.fixture(scope="module")
def swept(monitor: SharedMonitor, catalog) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    served = _markers_served(monitor)

    monitor.load_scenario("appendix-2025")
    monitor.sweep()
    faults = dict(PRIVACY_FAULTS)
    faults["dat_dai"] = {"fault": "schema_drift", "fault_options": {"rename": _drift_fields(catalog)}}
    monitor.set_scenarios(faults)
    monitor.sweep()
    if "fault-matrix" not in monitor.completed:
        from tests.faults.test_fault_matrix import fault_list

        first = [item for item in fault_list(next(iter(_drift_fields(catalog)))) if item.sweep == 1]
        monitor.set_scenarios({item.database: item.entry for item in first})
        monitor.sweep()
    monitor.set_scenarios({})
    monitor.sweep()

    exports = _exports(monitor)
    return {"served": served, "exports": exports}


def _markers_served(monitor: SharedMonitor) -> int:
    """Read one page from the stub as the monitor would and count its markers (the positive control)."""
    stub = monitor.airflow.stub
    token = requests.post(f"{stub.url}/oauth2/token", timeout=30, data={
        "grant_type": "client_credentials", "client_id": monitor.env["STUB_CLIENT_ID"],
        "client_secret": monitor.env["STUB_CLIENT_SECRET"]}).json()["access_token"]
    response = requests.get(f"{stub.url}/api/v1/can_cuoc/records", params={"page": 1, "limit": 5}, timeout=60,
                            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "canary-check",
                                     "X-Service-Code": "DVC-08", "X-Agency-Code": "VPCP"})
    assert response.status_code == 200, response.text
    return len(monitor.canary_pattern.findall(response.text))


def _exports(monitor: SharedMonitor) -> dict[str, bytes]:
    folder = monitor.var / "exports"
    folder.mkdir(exist_ok=True)
    today = time.strftime("%Y-%m-%d")
    requests_ = {
        "matrix.csv": ["--what", "matrix", "--format", "csv"],
        "matrix.xlsx": ["--what", "matrix", "--format", "xlsx"],
        "history-databases.csv": ["--what", "history", "--from", today, "--to", today, "--format", "csv",
                                  "--subject", "databases"],
        "history-services.csv": ["--what", "history", "--from", today, "--to", today, "--format", "csv",
                                 "--subject", "services"],
        "history.xlsx": ["--what", "history", "--from", today, "--to", today, "--granularity", "hour",
                         "--format", "xlsx"],
    }
    files = {}
    for name, arguments in requests_.items():
        output = folder / name
        completed = subprocess.run([sys.executable, "-m", "integration_monitor.cli", "export", *arguments,
                                    "--output", str(output)], env=monitor.env, capture_output=True, text=True,
                                   timeout=300, check=False)
        assert completed.returncode == 0, f"export {name} failed: {completed.stderr[-2000:]}"
        files[name] = output.read_bytes()
    return files


def _texts_of_export(name: str, content: bytes) -> Iterator[tuple[str, bytes]]:
    if name.endswith(".xlsx"):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            for member in archive.namelist():
                yield f"{name}:{member}", archive.read(member)
    else:
        yield name, content


def _database_rows(url: str) -> Iterator[tuple[str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            for table in inspect(connection).get_table_names():
                for row in connection.execute(text(f'select * from "{table}"')):
                    yield table, repr(tuple(row))
    finally:
        engine.dispose()


def _airflow_rows(path: Path) -> Iterator[tuple[str, str]]:
    with sqlite3.connect(path) as connection:
        connection.text_factory = lambda raw: raw.decode("utf-8", errors="replace")
        tables = [row[0] for row in connection.execute("select name from sqlite_master where type = 'table'")]
        for table in tables:
            for row in connection.execute(f'select * from "{table}"'):
                yield table, repr(row)


@pytest.fixture(scope="module")
def searches(monitor: SharedMonitor, swept: dict[str, Any]) -> dict[str, Search]:
    found = {name: Search(name) for name in (
        "status store tables", "Airflow metadata tables", "database files (raw bytes)", "task logs",
        "alert messages (webhook)", "dashboard exports", "other files under the monitor's folder",
        "files changed in the repository")}

    for table, row in _database_rows(monitor.store_url):
        found["status store tables"].scan(f"store.{table}", row, monitor)
    airflow_db = monitor.airflow.paths.airflow_home / "airflow.db"
    for table, row in _airflow_rows(airflow_db):
        found["Airflow metadata tables"].scan(f"airflow.{table}", row, monitor)

    for path in sorted(monitor.var.rglob("*")):
        if not path.is_file():
            continue
        if path.name.endswith((".db", ".db-wal", ".db-shm", ".db-journal")):
            found["database files (raw bytes)"].scan(str(path), path.read_bytes(), monitor)
        elif path.name == "stubs.log" or "exports" in path.parts:
            continue
        elif "logs" in path.relative_to(monitor.var).parts:
            found["task logs"].scan(str(path), path.read_bytes(), monitor)
        else:
            found["other files under the monitor's folder"].scan(str(path), path.read_bytes(), monitor)

    for number, body in enumerate(monitor.webhook.snapshot()):
        found["alert messages (webhook)"].scan(f"webhook message {number}", body, monitor)
    for name, content in swept["exports"].items():
        for place, member in _texts_of_export(name, content):
            found["dashboard exports"].scan(place, member, monitor)

    repository = project_root()
    for path in repository.rglob("*"):
        parts = path.relative_to(repository).parts
        if parts and parts[0] in {".git", ".venv", "node_modules"} or not path.is_file():
            continue
        try:
            if path.stat().st_mtime >= SESSION_STARTED and path.stat().st_size < 200 * 1024 * 1024:
                found["files changed in the repository"].scan(str(path), path.read_bytes(), monitor)
        except OSError:
            continue

    render_table.write_section("canary", _artefact(found, swept))
    return found


def _artefact(found: dict[str, Search], swept: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": "Personal-data canary (tests/privacy/test_canary.py)",
        "intro": (
            "The stub server runs with `--canary PREFIX`: every personal field's value becomes PREFIX, the record "
            "index in six digits and the original value. Sweeps then run the `appendix-2025` scenario and every "
            "signature fault (missing, malformed, invalid, unknown CA, expired). They also run schema drift of a "
            "personal field, duplicates, malformed, truncated and mislabelled bodies, HTML, HTTP 500, an empty "
            "database and a denied service. The fault matrix and the hostile bodies, whose records carry the same "
            "markers, run in the same session, and a healthy sweep ends it. Then the places below are searched for "
            "PREFIX followed by six digits."
        ),
        "columns": ["where", "markers found"],
        "rows": [[search.name, sum(finding.count for finding in search.findings)] for search in found.values()],
        "notes": [
            "Positive control: a page of five records read straight from the stub carries markers "
            f"({'yes' if swept['served'] else 'no'}), so a leak would be found.",
            "The stub server's own log (`var/logs/stubs.log`) is the national database's side and is not searched.",
            "Raw database files are searched too, so values left in free pages of SQLite would count.",
        ],
    }


def test_stub_serves_canary_values(swept: dict[str, Any]) -> None:
    assert swept["served"] >= 5


def test_scanner_finds_a_planted_marker(monitor: SharedMonitor) -> None:
    search = Search("control")
    search.scan("planted", f"... {monitor.canary_prefix}000042 Nguyễn Văn A ...", monitor)
    assert [finding.count for finding in search.findings] == [1]


@pytest.mark.parametrize("place", [
    "status store tables", "Airflow metadata tables", "database files (raw bytes)", "task logs",
    "alert messages (webhook)", "dashboard exports", "other files under the monitor's folder",
    "files changed in the repository",
])
def test_no_marker_leaks(searches: dict[str, Search], place: str) -> None:
    search = searches[place]
    assert search.findings == [], [f"{item.place}: {item.count} × {item.sample}" for item in search.findings[:10]]


def test_places_were_searched(searches: dict[str, Search]) -> None:
    for name in ("status store tables", "Airflow metadata tables", "database files (raw bytes)", "task logs",
                 "alert messages (webhook)", "dashboard exports"):
        assert searches[name].items > 0, f"nothing searched in {name}"
