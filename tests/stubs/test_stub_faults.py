"""Each connection and payload fault, observed over real HTTP as the monitor would see it."""

from __future__ import annotations

import datetime as dt
import errno
import json
import socket
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest
import requests

from integration_monitor.signatures import TrustStore, verify_record
from tests.stubs.conftest import TEST_TOTAL, StubClient

NOW = dt.datetime.now(dt.UTC)


def connect(base_url: str) -> None:
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5):
        pass


def wait_until(condition, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def refused(base_url: str) -> bool:
    try:
        connect(base_url)
    except ConnectionRefusedError:
        return True
    return False


# --- connection faults ------------------------------------------------------------------


def test_refused_closes_only_that_port(stub: StubClient) -> None:
    land = stub.port_url("dat_dai")
    assert stub.records("dat_dai", service=5, base_url=land).status_code == 200

    stub.set_scenario("dat_dai", {"fault": "refused"})
    with pytest.raises(ConnectionRefusedError) as raised:
        connect(land)
    assert raised.value.errno == errno.ECONNREFUSED
    with pytest.raises(requests.ConnectionError):
        stub.records("dat_dai", service=5, base_url=land, timeout=5)

    assert stub.records("dan_cu", base_url=stub.port_url("dan_cu")).status_code == 200
    assert stub.records("dan_cu").status_code == 200


def test_refused_database_through_main_port_is_502(stub: StubClient) -> None:
    stub.set_scenario("dat_dai", {"fault": "refused"})
    response = stub.records("dat_dai", service=5)
    assert response.status_code == 502
    assert "Bad Gateway" in response.text


def test_refused_port_reopens_when_scenario_changes(stub: StubClient) -> None:
    land = stub.port_url("dat_dai")
    stub.set_scenario("dat_dai", {"fault": "refused"})
    assert refused(land)
    stub.set_scenario("dat_dai", {"fault": "http_500"})
    assert stub.records("dat_dai", service=5, base_url=land).status_code == 500
    stub.set_scenario("dat_dai", {"fault": "refused"})
    assert refused(land)
    stub.reset()
    assert stub.records("dat_dai", service=5, base_url=land).status_code == 200


def test_refused_closes_kept_alive_connections(stub: StubClient) -> None:
    land = stub.port_url("dat_dai")
    session = requests.Session()
    session.trust_env = False
    headers = stub.headers(service=5)
    assert session.get(f"{land}/api/v1/dat_dai/records", headers=headers, timeout=5).status_code == 200

    stub.set_scenario("dat_dai", {"fault": "refused"})
    time.sleep(0.5)
    with pytest.raises(requests.ConnectionError):
        session.get(f"{land}/api/v1/dat_dai/records", headers=headers, timeout=5)
    session.close()


def test_refused_flapping_serves_one_request_between_closed_spells(stub: StubClient) -> None:
    land = stub.port_url("dat_dai")
    stub.set_scenario("dat_dai", {"fault": "refused", "flapping": True})
    assert refused(land)

    token = stub.token()
    assert wait_until(lambda: not refused(land))
    assert stub.records("dat_dai", service=5, base_url=land, token=token).status_code == 200
    assert wait_until(lambda: refused(land), timeout=2)
    assert wait_until(lambda: not refused(land), timeout=3)


def test_slow_delays_response(stub: StubClient) -> None:
    stub.set_scenario("dan_cu", {"fault": "slow", "fault_options": {"delay_seconds": 0.6}})
    token = stub.token()
    started = time.monotonic()
    assert stub.records("dan_cu", limit=5, token=token).status_code == 200
    assert time.monotonic() - started >= 0.6
    with pytest.raises(requests.ReadTimeout):
        stub.records("dan_cu", limit=5, token=token, timeout=0.2)


def test_slow_does_not_block_other_databases(stub: StubClient) -> None:
    stub.set_scenario("dan_cu", {"fault": "slow", "fault_options": {"delay_seconds": 3}})
    with pytest.raises(requests.ReadTimeout):
        stub.records("dan_cu", limit=5, timeout=0.3)
    started = time.monotonic()
    assert stub.records("dat_dai", service=5, limit=5).status_code == 200
    assert time.monotonic() - started < 1.0


# --- status faults ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "content_type"),
    [
        ("http_500", 500, "application/json"),
        ("http_502", 502, "text/html"),
        ("http_503", 503, "text/html"),
        ("unauthorized", 401, "application/json"),
        ("forbidden", 403, "application/json"),
    ],
)
def test_status_faults(stub: StubClient, fault: str, status: int, content_type: str) -> None:
    stub.set_scenario("dan_cu", {"fault": fault})
    response = stub.records("dan_cu")
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith(content_type)
    assert stub.records("dat_dai", service=5).status_code == 200


def test_unauthorized_says_invalid_token(stub: StubClient) -> None:
    stub.set_scenario("dan_cu", {"fault": "unauthorized"})
    response = stub.records("dan_cu")
    assert response.json()["error"] == "invalid_token"
    assert "invalid_token" in response.headers["WWW-Authenticate"]


def test_rate_limited_has_retry_after(stub: StubClient) -> None:
    stub.set_scenario("dan_cu", {"fault": "rate_limited", "fault_options": {"retry_after": 17}})
    response = stub.records("dan_cu")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "17"
    assert response.json()["error"] == "rate_limited"


def test_rate_limited_default_retry_after(stub: StubClient) -> None:
    stub.set_scenario("dan_cu", {"fault": "rate_limited"})
    assert stub.records("dan_cu").headers["Retry-After"] == "30"


def test_deny_services_only_those(stub: StubClient) -> None:
    stub.set_scenario("dang_ky_doanh_nghiep", {"deny_services": [20]})
    denied = stub.records("dang_ky_doanh_nghiep", service=20)
    assert denied.status_code == 403
    assert denied.json()["error"] == "service_not_connected"
    assert stub.records("dang_ky_doanh_nghiep", service=1).status_code == 200


# --- payload faults ---------------------------------------------------------------------


def test_maintenance_html_is_200(stub: StubClient) -> None:
    stub.set_scenario("dan_cu", {"fault": "maintenance_html"})
    response = stub.records("dan_cu")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "bảo trì" in response.text
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_malformed_json(stub: StubClient) -> None:
    stub.set_scenario("dan_cu", {"fault": "malformed_json"})
    response = stub.records("dan_cu", limit=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.content.startswith(b'{"database":"dan_cu"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_truncated_body_stops_mid_array(stub: StubClient) -> None:
    stub.set_scenario("dan_cu", {"fault": "truncated"})
    response = stub.records("dan_cu", limit=50)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert b'"records":[{' in response.content
    assert not response.content.endswith(b"]}")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    stub.reset()
    healthy_length = len(stub.records("dan_cu", limit=50).content)
    assert len(response.content) < healthy_length


def test_oversized_body(stub: StubClient) -> None:
    stub.set_scenario("dan_cu", {"fault": "oversized", "fault_options": {"size_mb": 3}})
    response = stub.records("dan_cu", limit=10, stream=True)
    declared = int(response.headers["Content-Length"])
    assert declared >= 3 * 1024 * 1024
    body = response.content
    assert len(body) == declared
    parsed = json.loads(body)
    assert len(parsed["records"]) > 10


def test_wrong_charset_label(stub: StubClient) -> None:
    stub.set_scenario("dan_cu", {"fault": "wrong_charset"})
    response = stub.records("dan_cu", limit=20)
    assert response.headers["Content-Type"] == "application/json; charset=iso-8859-1"
    names = [record["HO_VA_TEN"] for record in json.loads(response.content.decode("utf-8"))["records"]]
    assert any(not name.isascii() for name in names)
    assert response.encoding == "iso-8859-1"
    assert response.text != response.content.decode("utf-8")


def test_empty_result(stub: StubClient) -> None:
    stub.set_scenario("dan_cu", {"fault": "empty"})
    body = stub.records("dan_cu").json()
    assert body["records"] == []
    assert body["total"] == 0
    assert body["next_page"] is None


def test_schema_drift_renames_and_drops(stub: StubClient) -> None:
    options = {"rename": {"HO_VA_TEN": "HoVaTen"}, "drop": ["EMAIL"]}
    stub.set_scenario("dan_cu", {"fault": "schema_drift", "fault_options": options})
    trust = TrustStore.from_pem(stub.session.get(f"{stub.base_url}/pki/ca.pem", timeout=10).content)
    records = stub.records("dan_cu", limit=20).json()["records"]
    for record in records:
        assert "HoVaTen" in record
        assert "HO_VA_TEN" not in record
        assert "EMAIL" not in record
        assert verify_record(record, trust, NOW).valid


def test_schema_drift_on_xml_database(stub: StubClient) -> None:
    options = {"rename": {"XML7_NGAY_RA": "NGAY_RA_VIEN"}}
    stub.set_scenario("kham_chua_benh", {"fault": "schema_drift", "fault_options": options})
    trust = TrustStore.from_pem(stub.session.get(f"{stub.base_url}/pki/ca.pem", timeout=10).content)
    record = stub.records("kham_chua_benh", limit=1).json()["records"][0]
    assert "NGAY_RA_VIEN" in record
    assert verify_record(record, trust, NOW).valid


def test_duplicates_share(stub: StubClient) -> None:
    stub.set_scenario("dan_cu", {"fault": "duplicates", "fault_options": {"duplicate_share": 0.2}})
    records = stub.records("dan_cu", limit=500).json()["records"]
    counts = Counter(record["_id"] for record in records)
    duplicated = sum(count - 1 for count in counts.values())
    assert len(records) == 500
    assert 95 <= duplicated <= 105


def test_page_body_after_faults_are_cleared(stub: StubClient) -> None:
    stub.set_scenario("dan_cu", {"fault": "malformed_json"})
    stub.reset()
    assert len(stub.records("dan_cu", limit=TEST_TOTAL).json()["records"]) == TEST_TOTAL


# --- flapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "status"), [("http_503", 503), ("rate_limited", 429)])
def test_flapping_alternates(stub: StubClient, fault: str, status: int) -> None:
    stub.set_scenario("dan_cu", {"fault": fault, "flapping": True})
    token = stub.token()
    statuses = [stub.records("dan_cu", limit=5, token=token).status_code for _ in range(6)]
    assert statuses == [status, 200, status, 200, status, 200]


def test_flapping_counts_per_database(stub: StubClient) -> None:
    stub.set_scenario("dan_cu", {"fault": "http_500", "flapping": True})
    stub.set_scenario("dat_dai", {"fault": "http_500", "flapping": True})
    token = stub.token()
    assert stub.records("dan_cu", token=token).status_code == 500
    assert stub.records("dat_dai", service=5, token=token).status_code == 500
    assert stub.records("dan_cu", token=token).status_code == 200
    assert stub.records("dat_dai", service=5, token=token).status_code == 200
