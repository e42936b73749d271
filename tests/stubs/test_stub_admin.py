"""The admin API: token and loopback checks, validation of scenario bodies, load and reset."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from integration_monitor.catalog.models import Catalog
from integration_monitor.signatures import LocalPki
from integration_monitor.stubs.scenario import load_scenario
from integration_monitor.stubs.server import BackgroundStubServer, StubServer
from tests.stubs.conftest import ADMIN_TOKEN, StubClient, make_settings

ADMIN_CALLS = [
    ("GET", "/admin/scenarios", None),
    ("PUT", "/admin/scenarios/dan_cu", {"fault": "http_500"}),
    ("POST", "/admin/scenarios/load", {"name": "test-mixed"}),
    ("POST", "/admin/reset", None),
    ("GET", "/admin/ports", None),
]


def port_refused(base_url: str) -> bool:
    parts = urlsplit(base_url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
@pytest.mark.parametrize("token", [None, "wrong-token", ""], ids=["no-token", "wrong-token", "empty-token"])
def test_admin_rejects_bad_token(stub: StubClient, method: str, path: str, body: Any, token: str | None) -> None:
    response = stub.admin(method, path, token=token, json=body)
    assert response.status_code == 403
    assert response.json()["error"] == "invalid_admin_token"
    assert stub.records("dan_cu").status_code == 200


def test_admin_disabled_without_configured_token(stub_catalog: Catalog, stub_pki: LocalPki) -> None:
    server = StubServer(stub_catalog, make_settings(admin_token=None, total=10), pki=stub_pki)
    with BackgroundStubServer(server):
        response = httpx.get(f"{server.base_url}/admin/scenarios", headers={"X-Admin-Token": ADMIN_TOKEN}, trust_env=False)
    assert response.status_code == 403
    assert response.json()["error"] == "admin_disabled"


@pytest.mark.anyio
async def test_admin_rejects_non_loopback_client(stub_catalog: Catalog, stub_pki: LocalPki) -> None:
    # In-process ASGI call that claims a documentation-range client address; nothing is sent on a network.
    server = StubServer(stub_catalog, make_settings(total=10), pki=stub_pki)
    transport = httpx.ASGITransport(app=server.app, client=("192.0.2.10", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://stub") as client:
        response = await client.get("/admin/scenarios", headers={"X-Admin-Token": ADMIN_TOKEN})
        loopback = httpx.ASGITransport(app=server.app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=loopback, base_url="http://stub") as local_client:
            allowed = await local_client.get("/admin/scenarios", headers={"X-Admin-Token": ADMIN_TOKEN})
    server.runtime.store.close()
    assert response.status_code == 403
    assert response.json()["error"] == "not_loopback"
    assert allowed.status_code == 200


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


BAD_ENTRIES = [
    ({"fault": "sometimes"}, "databases.dan_cu.fault"),
    ({"fault": "slow", "fault_options": {"delay_seconds": -1}}, "databases.dan_cu.fault_options.delay_seconds"),
    ({"signature": {"mode": "missing", "share": 1.5}}, "databases.dan_cu.signature.share"),
    ({"completeness": [{"fields": ["KHONG_CO"], "missing_share": 0.2}]}, "KHONG_CO is not a field of dan_cu"),
    ({"completeness": [{"fields": [], "missing_share": 0.2}]}, "databases.dan_cu.completeness.0.fields"),
    ({"completeness": [{"fields": ["EMAIL"], "missing_share": 0.2, "style": "bold"}]}, "completeness.0.style"),
    ({"fault_options": {"rename": {"EMAIL": "bad name"}}}, "databases.dan_cu.fault_options.rename"),
    ({"fault_options": {"rename": {"EMAIL": "HO_VA_TEN"}}}, "HO_VA_TEN already is a field of dan_cu"),
    ({"fault_options": {"drop": ["KHONG_CO"]}}, "databases.dan_cu.fault_options.drop"),
    ({"deny_services": [99]}, "service 99 is not in the catalog"),
    ({"deny_services": ["all"]}, "databases.dan_cu.deny_services.0"),
    ({"flapping": "often"}, "databases.dan_cu.flapping"),
    ({"colour": "red"}, "databases.dan_cu.colour"),
    (["fault", "refused"], "databases.dan_cu: expected a mapping"),
]


@pytest.mark.parametrize(("body", "expected"), BAD_ENTRIES)
def test_bad_entry_is_422(stub: StubClient, body: Any, expected: str) -> None:
    response = stub.admin("PUT", "/admin/scenarios/dan_cu", json=body)
    assert response.status_code == 422
    payload = response.json()
    assert payload["error"] == "invalid_scenario"
    assert expected in payload["detail"]
    assert stub.admin("GET", "/admin/scenarios").json()["databases"]["dan_cu"] == {}


def test_not_json_body_is_422(stub: StubClient) -> None:
    response = stub.admin("PUT", "/admin/scenarios/dan_cu", data=b"{fault: refused")
    assert response.status_code == 422
    assert "invalid JSON" in response.json()["detail"]


def test_signature_fault_on_unsigned_database_is_422(stub: StubClient) -> None:
    response = stub.admin("PUT", "/admin/scenarios/khach_hang_evn", json={"signature": {"mode": "invalid"}})
    assert response.status_code == 422
    assert "databases.khach_hang_evn.signature" in response.json()["detail"]


def test_put_unknown_database_is_404(stub: StubClient) -> None:
    assert stub.admin("PUT", "/admin/scenarios/khong_co", json={"fault": "empty"}).status_code == 404


def test_put_then_show(stub: StubClient) -> None:
    entry = {"fault": "rate_limited", "flapping": True, "fault_options": {"retry_after": 5}}
    response = stub.admin("PUT", "/admin/scenarios/dan_cu", json=entry)
    assert response.status_code == 200
    assert response.json() == {"database": "dan_cu", "scenario": entry}
    snapshot = stub.admin("GET", "/admin/scenarios").json()
    assert snapshot["databases"]["dan_cu"] == entry
    assert snapshot["databases"]["dat_dai"] == {}
    assert snapshot["modified"] is True


def test_put_null_makes_healthy(stub: StubClient) -> None:
    stub.set_scenario("dan_cu", {"fault": "http_500"})
    assert stub.admin("PUT", "/admin/scenarios/dan_cu", json=None).status_code == 200
    assert stub.records("dan_cu").status_code == 200


def test_load_by_name(stub: StubClient) -> None:
    response = stub.admin("POST", "/admin/scenarios/load", json={"name": "test-mixed"})
    assert response.status_code == 200
    snapshot = response.json()
    assert snapshot["name"] == "test-mixed"
    assert snapshot["databases"]["dat_dai"] == {"fault": "refused"}
    assert port_refused(stub.port_url("dat_dai"))
    assert stub.records("dang_ky_doanh_nghiep", service=20).status_code == 403
    emails = [record["EMAIL"] for record in stub.records("dan_cu", limit=200).json()["records"]]
    assert abs(emails.count(None) - 100) <= 3


def test_load_invalid_file_is_422(stub: StubClient) -> None:
    response = stub.admin("POST", "/admin/scenarios/load", json={"name": "test-bad"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "databases.dan_cu.fault" in detail
    assert "test-bad.yaml" in detail


def test_load_unknown_name_is_404(stub: StubClient) -> None:
    response = stub.admin("POST", "/admin/scenarios/load", json={"name": "khong-co"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "../etc/passwd"},
        {"name": "x.yaml"},
        {"name": "Bad Name"},
        {"name": 5},
        {"name": "test-mixed", "scenario": {}},
        {"other": 1},
        [],
    ],
)
def test_load_bad_body_is_422(stub: StubClient, body: Any) -> None:
    response = stub.admin("POST", "/admin/scenarios/load", json=body)
    assert response.status_code == 422


def test_load_whole_scenario(stub: StubClient) -> None:
    scenario = {"name": "inline", "databases": {"dan_cu": {"fault": "empty"}, "dat_dai": {"fault": "http_503"}}}
    response = stub.admin("POST", "/admin/scenarios/load", json={"scenario": scenario})
    assert response.status_code == 200
    assert stub.records("dan_cu").json()["records"] == []
    assert stub.records("dat_dai", service=5).status_code == 503


def test_load_whole_scenario_unknown_database_is_422(stub: StubClient) -> None:
    scenario = {"name": "inline", "databases": {"khong_co": {"fault": "empty"}}}
    response = stub.admin("POST", "/admin/scenarios/load", json={"scenario": scenario})
    assert response.status_code == 422
    assert "databases.khong_co: unknown database code" in response.json()["detail"]


def test_load_replaces_previous_entries(stub: StubClient) -> None:
    stub.set_scenario("giay_phep_lai_xe", {"fault": "http_500"})
    assert stub.admin("POST", "/admin/scenarios/load", json={"name": "test-mixed"}).status_code == 200
    assert stub.records("giay_phep_lai_xe", service=12).status_code == 200


def test_reset_makes_everything_healthy(stub: StubClient) -> None:
    stub.admin("POST", "/admin/scenarios/load", json={"name": "test-mixed"})
    response = stub.admin("POST", "/admin/reset")
    assert response.status_code == 200
    assert all(entry == {} for entry in response.json()["databases"].values())
    assert stub.records("dat_dai", service=5, base_url=stub.port_url("dat_dai")).status_code == 200


def test_ports_lists_every_database(stub: StubClient, stub_catalog: Catalog) -> None:
    ports = stub.admin("GET", "/admin/ports").json()
    assert list(ports) == [database.code for database in stub_catalog.databases]
    assert len(set(ports.values())) == len(ports)
    for url in ports.values():
        assert url.startswith("http://127.0.0.1:")
        assert stub.session.get(f"{url}/healthz", timeout=5).status_code == 200


def test_startup_scenario_applies(stub_catalog: Catalog, stub_pki: LocalPki, scenarios_dir: Any) -> None:
    scenario = load_scenario("test-mixed", stub_catalog, scenarios_dir)
    server = StubServer(stub_catalog, make_settings(total=10), scenario=scenario, pki=stub_pki)
    with BackgroundStubServer(server):
        assert port_refused(server.port_map()["dat_dai"])
        assert not port_refused(server.port_map()["dan_cu"])
