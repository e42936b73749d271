"""The stub HTTP API over real HTTP: tokens, headers, paging, determinism and signatures."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from typing import Any

import pytest
import requests

from integration_monitor.catalog.models import Catalog
from integration_monitor.signatures import LocalPki, SignatureFailure, TrustStore, verify_record
from integration_monitor.stubs.server import BackgroundStubServer, StubServer
from tests.stubs.conftest import CLIENT_ID, CLIENT_SECRET, TEST_TOTAL, StubClient, make_settings

NOW = dt.datetime.now(dt.UTC)


def without_signature(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key != "_signature"}


# --- token flow -------------------------------------------------------------------------


def test_token_with_form_credentials(stub: StubClient) -> None:
    response = stub.session.post(
        f"{stub.base_url}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        timeout=10,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert len(body["access_token"]) >= 32
    assert response.headers["Cache-Control"] == "no-store"


def test_token_with_basic_auth(stub: StubClient) -> None:
    response = stub.session.post(
        f"{stub.base_url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=10,
    )
    assert response.status_code == 200
    assert stub.records("dan_cu", token=response.json()["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [(CLIENT_ID, "wrong-secret"), ("someone-else", CLIENT_SECRET), (CLIENT_ID, "")],
    ids=["wrong-secret", "wrong-id", "empty-secret"],
)
def test_token_wrong_credentials(stub: StubClient, client_id: str, secret: str) -> None:
    response = stub.session.post(
        f"{stub.base_url}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_token_wrong_grant_type(stub: StubClient) -> None:
    response = stub.session.post(
        f"{stub.base_url}/oauth2/token",
        data={"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_records_need_a_valid_token(stub: StubClient) -> None:
    url = f"{stub.base_url}/api/v1/dan_cu/records"
    headers = stub.headers()
    for authorization in (None, "Bearer not-a-token", "Basic abc"):
        sent = {key: value for key, value in headers.items() if key != "Authorization"}
        if authorization:
            sent["Authorization"] = authorization
        response = stub.session.get(url, headers=sent, timeout=10)
        assert response.status_code == 401, authorization
        assert response.json()["error"] == "invalid_token"


def test_token_expires(stub_catalog: Catalog, stub_pki: LocalPki) -> None:
    server = StubServer(stub_catalog, make_settings(token_lifetime_seconds=1, total=50), pki=stub_pki)
    with BackgroundStubServer(server):
        session = requests.Session()
        session.trust_env = False
        client = StubClient(server, session)
        token = client.token()
        assert client.records("dan_cu", token=token).status_code == 200
        time.sleep(1.2)
        expired = client.records("dan_cu", token=token)
        assert expired.status_code == 401
        assert "expired" in expired.json()["detail"]
        assert client.records("dan_cu").status_code == 200


def test_token_on_database_port(stub: StubClient) -> None:
    token = stub.token(stub.port_url("dat_dai"))
    assert stub.records("dat_dai", service=5, token=token, base_url=stub.port_url("dat_dai")).status_code == 200


# --- headers ----------------------------------------------------------------------------


def get_with(stub: StubClient, database: str, **changes: str | None) -> requests.Response:
    headers = stub.headers()
    for name, value in changes.items():
        header = name.replace("_", "-")
        if value is None:
            headers.pop(header, None)
        else:
            headers[header] = value
    return stub.session.get(f"{stub.base_url}/api/v1/{database}/records", headers=headers, timeout=10)


@pytest.mark.parametrize("header", ["X-Request-ID", "X-Service-Code", "X-Agency-Code"])
def test_missing_header_is_400(stub: StubClient, header: str) -> None:
    response = get_with(stub, "dan_cu", **{header.replace("-", "_"): None})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "missing_header"
    assert header in body["detail"]


def test_request_id_too_long(stub: StubClient) -> None:
    assert get_with(stub, "dan_cu", X_Request_ID="r" * 64).status_code == 200
    response = get_with(stub, "dan_cu", X_Request_ID="r" * 65)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_header"


def test_request_id_echoed(stub: StubClient) -> None:
    response = get_with(stub, "dan_cu", X_Request_ID="req-42")
    assert response.json()["request_id"] == "req-42"
    assert response.headers["X-Request-ID"] == "req-42"


@pytest.mark.parametrize("code", ["DVC-99", "DVC-1", "dvc-01", "DVC-00", "01"])
def test_unknown_service_code_is_400(stub: StubClient, code: str) -> None:
    response = get_with(stub, "dan_cu", X_Service_Code=code)
    assert response.status_code == 400
    assert response.json()["error"] == "unknown_service"


def test_service_not_reading_database_is_403(stub: StubClient) -> None:
    response = get_with(stub, "dat_dai", X_Service_Code="DVC-01")
    assert response.status_code == 403
    assert response.json()["error"] == "service_not_allowed"
    assert get_with(stub, "dat_dai", X_Service_Code="DVC-05").status_code == 200


def test_unknown_database_is_404(stub: StubClient) -> None:
    response = get_with(stub, "khong_co")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_unknown_path_is_json_404(stub: StubClient) -> None:
    response = stub.session.get(f"{stub.base_url}/api/v2/dan_cu/records", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


# --- paging -----------------------------------------------------------------------------


def test_default_page(stub: StubClient) -> None:
    response = stub.session.get(f"{stub.base_url}/api/v1/dan_cu/records", headers=stub.headers(), timeout=30)
    body = response.json()
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert (body["database"], body["page"], body["limit"], body["total"]) == ("dan_cu", 1, 100, TEST_TOTAL)
    assert body["next_page"] == 2
    assert len(body["records"]) == 100


def test_pages_cover_all_records_once(stub: StubClient) -> None:
    seen = []
    page: int | None = 1
    while page is not None:
        body = stub.records("dat_dai", page=page, limit=250, service=5).json()
        seen.extend(record["_id"] for record in body["records"])
        page = body["next_page"]
    assert len(seen) == TEST_TOTAL
    assert len(set(seen)) == TEST_TOTAL


def test_paging_is_stable_across_limits(stub: StubClient) -> None:
    big = stub.records("dan_cu", page=1, limit=200).json()["records"]
    second = stub.records("dan_cu", page=2, limit=50).json()["records"]
    assert second == big[50:100]


def test_page_past_end_is_empty(stub: StubClient) -> None:
    body = stub.records("dan_cu", page=100, limit=100).json()
    assert body["records"] == []
    assert body["next_page"] is None
    assert body["total"] == TEST_TOTAL


@pytest.mark.parametrize("limit", ["0", "1001", "-5", "abc", "1.5"])
def test_limit_out_of_bounds_is_400(stub: StubClient, limit: str) -> None:
    response = stub.session.get(
        f"{stub.base_url}/api/v1/dan_cu/records", params={"limit": limit}, headers=stub.headers(), timeout=10
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_parameter"


@pytest.mark.parametrize("page", ["0", "-1", "x"])
def test_page_out_of_bounds_is_400(stub: StubClient, page: str) -> None:
    response = stub.session.get(
        f"{stub.base_url}/api/v1/dan_cu/records", params={"page": page}, headers=stub.headers(), timeout=10
    )
    assert response.status_code == 400


def test_limit_bounds_accepted(stub: StubClient) -> None:
    assert len(stub.records("dan_cu", limit=1).json()["records"]) == 1
    assert len(stub.records("dan_cu", limit=1000).json()["records"]) == TEST_TOTAL


# --- determinism ------------------------------------------------------------------------


def records_of(catalog: Catalog, pki: LocalPki, seed: int) -> list[dict[str, Any]]:
    server = StubServer(catalog, make_settings(seed=seed, total=120), pki=pki)
    with BackgroundStubServer(server):
        session = requests.Session()
        session.trust_env = False
        client = StubClient(server, session)
        page = client.records("kham_chua_benh", page=2, limit=40).json()["records"]
        page += client.records("dan_cu", page=3, limit=40).json()["records"]
    return [without_signature(record) for record in page]


def test_same_seed_across_restarts(stub_catalog: Catalog, stub_pki: LocalPki) -> None:
    assert records_of(stub_catalog, stub_pki, 31) == records_of(stub_catalog, stub_pki, 31)


def test_other_seed_other_records(stub_catalog: Catalog, stub_pki: LocalPki) -> None:
    first = records_of(stub_catalog, stub_pki, 31)
    second = records_of(stub_catalog, stub_pki, 32)
    assert [record["_id"] for record in first] != [record["_id"] for record in second]


# --- CA and signatures ------------------------------------------------------------------


def published_trust(stub: StubClient) -> TrustStore:
    response = stub.session.get(f"{stub.base_url}/pki/ca.pem", timeout=10)
    assert response.status_code == 200
    assert response.text.startswith("-----BEGIN CERTIFICATE-----")
    return TrustStore.from_pem(response.content)


def test_healthz(stub: StubClient) -> None:
    assert stub.session.get(f"{stub.base_url}/healthz", timeout=10).json() == {"status": "ok"}


@pytest.mark.parametrize(("database", "service"), [("dan_cu", 1), ("kham_chua_benh", 1), ("dat_dai", 5)])
def test_signatures_verify_with_published_ca(stub: StubClient, database: str, service: int) -> None:
    trust = published_trust(stub)
    records = stub.records(database, limit=100, service=service).json()["records"]
    checks = [verify_record(record, trust, NOW) for record in records]
    assert all(check.valid for check in checks), [check.detail for check in checks if not check.valid][:3]


def test_health_records_are_xml_signed(stub: StubClient) -> None:
    record = stub.records("kham_chua_benh", limit=1).json()["records"][0]
    assert record["_signature"]["algorithm"] == "XMLDSIG-RSA-SHA256"


@pytest.mark.parametrize(("database", "service"), [("dan_cu", 1), ("kham_chua_benh", 1)])
def test_changed_field_fails_verification(stub: StubClient, database: str, service: int) -> None:
    trust = published_trust(stub)
    record = stub.records(database, limit=1, service=service).json()["records"][0]
    field = "HO_VA_TEN" if database == "dan_cu" else "HO_TEN"
    record[field] = record[field] + " X"
    expected = SignatureFailure.INVALID if database == "dan_cu" else SignatureFailure.CONTENT_MISMATCH
    assert verify_record(record, trust, NOW).reason == expected


def test_unsigned_database_has_null_signature(stub: StubClient) -> None:
    records = stub.records("khach_hang_evn", service=22).json()["records"]
    assert all(record["_signature"] is None for record in records)


@pytest.mark.parametrize("mode", ["missing", "malformed", "invalid", "unknown_ca", "expired"])
@pytest.mark.parametrize(("database", "service"), [("dan_cu", 1), ("kham_chua_benh", 1)])
def test_signature_fault_modes(stub: StubClient, mode: str, database: str, service: int) -> None:
    stub.set_scenario(database, {"signature": {"mode": mode, "share": 0.25}})
    trust = published_trust(stub)
    records = stub.records(database, limit=200, service=service).json()["records"]
    reasons = Counter(verify_record(record, trust, NOW).reason for record in records)
    assert set(reasons) == {None, SignatureFailure(mode)}
    assert 45 <= reasons[SignatureFailure(mode)] <= 55


def test_signature_share_one_hits_every_record(stub: StubClient) -> None:
    stub.set_scenario("dan_cu", {"signature": {"mode": "expired"}})
    trust = published_trust(stub)
    records = stub.records("dan_cu", limit=50).json()["records"]
    assert all(verify_record(record, trust, NOW).reason == SignatureFailure.EXPIRED for record in records)


# --- completeness -----------------------------------------------------------------------

BLANK_VALUES = {
    "null": {None},
    "empty": {""},
    "whitespace": {"   "},
    "filler": {"N/A", "-"},
    "mixed": {None, "", "   ", "N/A", "-"},
}


@pytest.mark.parametrize("style", list(BLANK_VALUES))
def test_completeness_share_and_style(stub: StubClient, style: str) -> None:
    fields = ["HO_VA_TEN", "EMAIL"]
    stub.set_scenario("dan_cu", {"completeness": [{"fields": fields, "missing_share": 0.3, "style": style}]})
    records = stub.records("dan_cu", limit=TEST_TOTAL).json()["records"]

    blanked = [record for record in records if record["HO_VA_TEN"] in BLANK_VALUES[style] or record["HO_VA_TEN"] is None]
    assert abs(len(blanked) - 0.3 * TEST_TOTAL) <= 3
    for record in blanked:
        assert record["HO_VA_TEN"] in BLANK_VALUES[style]
        assert record["EMAIL"] in BLANK_VALUES[style]
    if style == "mixed":
        seen = {record["HO_VA_TEN"] for record in blanked}
        assert seen == BLANK_VALUES["mixed"]


def test_blanked_records_still_verify(stub: StubClient) -> None:
    stub.set_scenario("kham_chua_benh", {"completeness": [{"fields": ["XML7_NGAY_RA"], "missing_share": 0.5}]})
    trust = published_trust(stub)
    records = stub.records("kham_chua_benh", limit=60).json()["records"]
    assert any(record["XML7_NGAY_RA"] in BLANK_VALUES["mixed"] for record in records)
    assert all(verify_record(record, trust, NOW).valid for record in records)


def test_two_rules_blank_independently(stub: StubClient) -> None:
    rules = [
        {"fields": ["EMAIL"], "missing_share": 0.5, "style": "null"},
        {"fields": ["SO_DIEN_THOAI"], "missing_share": 0.1, "style": "empty"},
    ]
    stub.set_scenario("dan_cu", {"completeness": rules})
    records = stub.records("dan_cu", limit=TEST_TOTAL).json()["records"]
    assert abs(sum(record["EMAIL"] is None for record in records) - 300) <= 3
    assert abs(sum(record["SO_DIEN_THOAI"] == "" for record in records) - 60) <= 3


def test_warm_up_fills_cache(stub_catalog: Catalog, stub_pki: LocalPki) -> None:
    server = StubServer(stub_catalog, make_settings(total=150, warm_up=True), pki=stub_pki)
    with BackgroundStubServer(server):
        expected = 2 * len(stub_catalog.databases)
        deadline = time.monotonic() + 30
        while server.runtime.store.cached_blocks < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.runtime.store.cached_blocks == expected


def test_small_responses_are_not_delayed(stub: StubClient) -> None:
    # Without TCP_NODELAY each small response waits about 40 ms for the client's delayed ACK.
    durations = []
    for _ in range(21):
        started = time.perf_counter()
        assert stub.session.get(f"{stub.base_url}/healthz", timeout=5).status_code == 200
        durations.append(time.perf_counter() - started)
    assert sorted(durations)[10] < 0.025
