"""The fetch layer against the real stub server, started in this process on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from integration_monitor.catalog.models import Catalog
from integration_monitor.fetch import (
    EndpointConfig,
    FailureKind,
    FetchError,
    fetch_batch,
    fetch_ca_certificate,
    probe_access,
)
from integration_monitor.service_codes import service_code
from integration_monitor.signatures import KeyAlgorithm, LocalPki, TrustStore, verify_record
from integration_monitor.stubs.auth import ClientCredentials
from integration_monitor.stubs.server import BackgroundStubServer, StubServer
from integration_monitor.stubs.settings import StubSettings

CLIENT_ID = "monitor-fetch-test"
CLIENT_SECRET = "secret-" + uuid.uuid4().hex
ADMIN_TOKEN = "admin-" + uuid.uuid4().hex
DATABASE = "dan_cu"


@pytest.fixture(scope="module")
def stub_pki() -> LocalPki:
    return LocalPki.generate(KeyAlgorithm.ECDSA_P256)


@pytest.fixture(scope="module")
def stub(catalog: Catalog, stub_pki: LocalPki) -> Iterator[StubServer]:
    settings = StubSettings(
        credentials=ClientCredentials(CLIENT_ID, CLIENT_SECRET),
        admin_token=ADMIN_TOKEN,
        host="127.0.0.1",
        port=0,
        total=300,
    )
    with BackgroundStubServer(StubServer(catalog, settings, pki=stub_pki)) as server:
        yield server


@pytest.fixture(autouse=True)
def healthy_stub(stub: StubServer) -> Iterator[None]:
    yield
    admin(stub, "POST", "/admin/reset")


def admin(stub: StubServer, method: str, path: str, **kwargs: Any) -> None:
    response = requests.request(
        method, f"{stub.base_url}{path}", headers={"X-Admin-Token": ADMIN_TOKEN}, timeout=10, **kwargs
    )
    assert response.status_code == 200, response.text


def set_fault(stub: StubServer, entry: dict[str, Any]) -> None:
    admin(stub, "PUT", f"/admin/scenarios/{DATABASE}", json=entry)


def config_for(stub: StubServer, **overrides: Any) -> EndpointConfig:
    settings: dict[str, Any] = {
        "batch_size": 250,
        "page_size": 100,
        "read_timeout": 5.0,
        "max_attempts": 2,
        "backoff_seconds": 0.01,
        "max_backoff_seconds": 0.2,
        **overrides,
    }
    return EndpointConfig(stub.port_map()[DATABASE], CLIENT_ID, CLIENT_SECRET, **settings)


@pytest.fixture(scope="module")
def service(catalog: Catalog) -> str:
    return service_code(catalog.services_reading(DATABASE)[0].number)


def test_stub_healthy_fetch(stub: StubServer, stub_pki: LocalPki, service: str) -> None:
    config = config_for(stub)

    batch = fetch_batch(config, DATABASE, service)

    assert len(batch.records) == 250
    assert batch.pages == 3
    assert batch.http_status == 200
    assert batch.total == 300
    assert batch.attempts == 1
    assert len({record["_id"] for record in batch.records}) == 250

    ca_pem = fetch_ca_certificate(config)
    assert ca_pem == stub_pki.ca_pem
    trust = TrustStore.from_pem(ca_pem)
    checks = [verify_record(record, trust, dt.datetime.now(dt.UTC)) for record in batch.records[:20]]
    assert all(check.valid for check in checks), [check.reason for check in checks if not check.valid]


def test_stub_wrong_charset_same_records(stub: StubServer, service: str) -> None:
    config = config_for(stub)
    healthy = fetch_batch(config, DATABASE, service)
    set_fault(stub, {"fault": "wrong_charset"})

    relabelled = fetch_batch(config, DATABASE, service)

    assert relabelled.records == healthy.records
    text = " ".join(str(value) for record in relabelled.records for value in record.values())
    assert any(letter in text for letter in "ăâđêôơưĂÂĐÊÔƠƯ")
    assert "Ã" not in text


@pytest.mark.parametrize(
    ("entry", "kind", "http_status"),
    [
        ({"fault": "http_503"}, FailureKind.HTTP_5XX, 503),
        ({"fault": "http_500"}, FailureKind.HTTP_5XX, 500),
        ({"fault": "rate_limited", "fault_options": {"retry_after": 0}}, FailureKind.RATE_LIMITED, 429),
        ({"fault": "unauthorized"}, FailureKind.UNAUTHORIZED, 401),
        ({"fault": "forbidden"}, FailureKind.UNAUTHORIZED, 403),
        ({"fault": "maintenance_html"}, FailureKind.INVALID_PAYLOAD, 200),
        ({"fault": "malformed_json"}, FailureKind.INVALID_PAYLOAD, 200),
        ({"fault": "truncated"}, FailureKind.TRUNCATED, 200),
        ({"fault": "empty"}, FailureKind.EMPTY, 200),
        ({"fault": "oversized", "fault_options": {"size_mb": 2}}, FailureKind.OVERSIZED, 200),
        ({"fault": "refused"}, FailureKind.REFUSED, None),
    ],
)
def test_stub_fault_classified(
    stub: StubServer, service: str, entry: dict[str, Any], kind: FailureKind, http_status: int | None
) -> None:
    set_fault(stub, entry)

    with pytest.raises(FetchError) as caught:
        fetch_batch(config_for(stub, max_response_bytes=1024 * 1024), DATABASE, service)

    assert caught.value.kind is kind
    assert caught.value.http_status == http_status


def test_stub_slow_times_out(stub: StubServer, service: str) -> None:
    set_fault(stub, {"fault": "slow", "fault_options": {"delay_seconds": 1.5}})

    with pytest.raises(FetchError) as caught:
        fetch_batch(config_for(stub, read_timeout=0.3, max_attempts=1), DATABASE, service)

    assert caught.value.kind is FailureKind.TIMEOUT


def test_stub_denied_service_probe(stub: StubServer, catalog: Catalog) -> None:
    services = catalog.services_reading(DATABASE)
    denied, allowed = services[0].number, services[1].number
    set_fault(stub, {"deny_services": [denied]})

    denied_result = probe_access(config_for(stub), DATABASE, service_code(denied))
    allowed_result = probe_access(config_for(stub), DATABASE, service_code(allowed))

    assert denied_result.allowed is False
    assert denied_result.failure_kind is FailureKind.UNAUTHORIZED
    assert denied_result.http_status == 403
    assert allowed_result.allowed is True
