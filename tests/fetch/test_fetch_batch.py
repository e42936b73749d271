"""Healthy fetches against a real HTTP server: paging, headers, tokens, access probes, CA."""

from __future__ import annotations

import logging
import time
import unicodedata
import uuid

import pytest
import requests
from tests.fetch.fetch_test_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    DATABASE,
    SERVICE,
    CertificateFiles,
    FakeEndpoint,
    Reply,
    config_for,
    make_record,
)

from integration_monitor.fetch import FailureKind, FetchError, fetch_batch, fetch_ca_certificate, probe_access


@pytest.mark.parametrize(
    ("record_count", "batch_size", "expected_records", "expected_pages"),
    [
        (250, 250, 250, 3),
        (250, 500, 250, 3),
        (250, 150, 150, 2),
        (80, 500, 80, 1),
        (100, 100, 100, 1),
    ],
)
def test_paging_to_batch_size(
    endpoint: FakeEndpoint, record_count: int, batch_size: int, expected_records: int, expected_pages: int
) -> None:
    endpoint.records = [make_record(index) for index in range(record_count)]

    batch = fetch_batch(config_for(endpoint.base_url, batch_size=batch_size, page_size=100), DATABASE, SERVICE)

    assert len(batch.records) == expected_records
    assert batch.pages == expected_pages
    assert batch.records == endpoint.records[:expected_records]
    assert [seen.query["page"] for seen in endpoint.data_requests()] == [str(n) for n in range(1, expected_pages + 1)]
    assert {seen.query["limit"] for seen in endpoint.data_requests()} == {"100"}


def test_batch_measurements(endpoint: FakeEndpoint) -> None:
    batch = fetch_batch(config_for(endpoint.base_url), DATABASE, SERVICE)

    assert batch.http_status == 200
    assert batch.attempts == 1
    assert batch.total == 250
    assert batch.duplicate_keys == 0
    assert batch.latency_ms > 0
    assert batch.bytes_read > 250 * 100


def test_request_headers(endpoint: FakeEndpoint) -> None:
    config = config_for(endpoint.base_url, agency_code="BTC", page_size=100)

    fetch_batch(config, DATABASE, SERVICE)

    data_requests = endpoint.data_requests()
    token = endpoint.issued_tokens[0]
    for seen in data_requests:
        assert seen.path == f"/api/v1/{DATABASE}/records"
        assert seen.headers["authorization"] == f"Bearer {token}"
        assert seen.headers["x-service-code"] == SERVICE
        assert seen.headers["x-agency-code"] == "BTC"
        assert seen.headers["accept"] == "application/json"
        assert uuid.UUID(seen.headers["x-request-id"]).version == 4
    assert len({seen.headers["x-request-id"] for seen in data_requests}) == len(data_requests)


def test_token_request_form(endpoint: FakeEndpoint) -> None:
    fetch_batch(config_for(endpoint.base_url), DATABASE, SERVICE)

    (token_request,) = endpoint.token_requests()
    assert token_request.method == "POST"
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = dict(pair.split("=", 1) for pair in token_request.body.decode().split("&"))
    assert form == {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


def test_token_reused_until_expiry(endpoint: FakeEndpoint) -> None:
    config = config_for(endpoint.base_url)

    fetch_batch(config, DATABASE, SERVICE)
    fetch_batch(config, DATABASE, SERVICE)
    probe_access(config, DATABASE, SERVICE)

    assert len(endpoint.token_requests()) == 1


def test_token_refreshed_after_expiry(endpoint: FakeEndpoint) -> None:
    endpoint.token_lifetime = 1
    config = config_for(endpoint.base_url)

    fetch_batch(config, DATABASE, SERVICE)
    fetch_batch(config, DATABASE, SERVICE)
    assert len(endpoint.token_requests()) == 1

    time.sleep(1.0)
    batch = fetch_batch(config, DATABASE, SERVICE)

    assert len(endpoint.token_requests()) == 2
    assert len(batch.records) == 250
    assert all(seen.headers["authorization"] == f"Bearer {endpoint.issued_tokens[1]}" for seen in endpoint.data_requests()[-3:])


def test_revoked_token_replaced_once(endpoint: FakeEndpoint) -> None:
    config = config_for(endpoint.base_url)
    fetch_batch(config, DATABASE, SERVICE)
    endpoint.revoke_tokens()

    batch = fetch_batch(config, DATABASE, SERVICE)

    assert len(batch.records) == 250
    assert len(endpoint.token_requests()) == 2


def test_token_cache_separates_clients(endpoint: FakeEndpoint) -> None:
    config = config_for(endpoint.base_url)
    other_client = type(config)(**{**config.__dict__, "client_id": "another-client"})

    fetch_batch(config, DATABASE, SERVICE)
    with pytest.raises(FetchError):
        fetch_batch(other_client, DATABASE, SERVICE)

    assert len(endpoint.token_requests()) == 2


@pytest.mark.parametrize(
    ("token_body", "expected"),
    [
        (b"<html>login</html>", "token response: invalid JSON: Expecting value at line 1 column 1"),
        (b'{"token_type": "Bearer"}', "token response has no access_token"),
        (b'{"access_token": "abc", "token_type": "MAC"}', "token response has a token_type other than Bearer"),
        (b'{"access_token": "abc", "expires_in": -5}', "token response has an invalid expires_in"),
    ],
)
def test_unusable_token_response(endpoint: FakeEndpoint, token_body: bytes, expected: str) -> None:
    endpoint.token_replies.append(Reply(body=token_body))

    with pytest.raises(FetchError) as caught:
        fetch_batch(config_for(endpoint.base_url), DATABASE, SERVICE)

    assert caught.value.kind is FailureKind.INVALID_PAYLOAD
    assert caught.value.reason == expected
    assert endpoint.data_requests() == []


def test_token_endpoint_retried_on_503(endpoint: FakeEndpoint) -> None:
    endpoint.token_replies.append(Reply.json({"error": "busy"}, status=503))

    batch = fetch_batch(config_for(endpoint.base_url), DATABASE, SERVICE)

    assert len(batch.records) == 250
    assert len(endpoint.token_requests()) == 2
    assert batch.attempts == 2


def test_duplicate_keys_counted(endpoint: FakeEndpoint) -> None:
    body = b'{"records": [{"_id": "a", "ho_ten": "A", "ho_ten": "B"}, {"_id": "b", "_id": "c"}], "next_page": null}'
    endpoint.record_replies.append(Reply(body=body))

    batch = fetch_batch(config_for(endpoint.base_url), DATABASE, SERVICE)

    assert batch.duplicate_keys == 2
    assert batch.records == [{"_id": "a", "ho_ten": "B"}, {"_id": "c"}]


def test_record_keys_normalised_to_nfc(endpoint: FakeEndpoint) -> None:
    decomposed_key = unicodedata.normalize("NFD", "họ_tên")
    decomposed_value = unicodedata.normalize("NFD", "Nguyễn")
    endpoint.record_replies.append(Reply.json({"records": [{decomposed_key: decomposed_value}], "next_page": None}))

    batch = fetch_batch(config_for(endpoint.base_url), DATABASE, SERVICE)

    assert decomposed_key != "họ_tên"
    assert list(batch.records[0]) == ["họ_tên"]
    assert batch.records[0]["họ_tên"] == decomposed_value, "values are left as sent, for signature checks"


def test_caller_session_used_and_left_open(endpoint: FakeEndpoint) -> None:
    with requests.Session() as session:
        fetch_batch(config_for(endpoint.base_url), DATABASE, SERVICE, session=session)
        fetch_batch(config_for(endpoint.base_url), DATABASE, SERVICE, session=session)

        assert session.get(f"{endpoint.base_url}/pki/ca.pem", timeout=2).status_code == 200


@pytest.mark.parametrize(("database", "service"), [("dan_cu/../admin", SERVICE), ("Dan Cu", SERVICE), (DATABASE, "DVC-01\r\nX: y"), (DATABASE, "")])
def test_invalid_codes_rejected(endpoint: FakeEndpoint, database: str, service: str) -> None:
    with pytest.raises(ValueError):
        fetch_batch(config_for(endpoint.base_url), database, service)

    assert endpoint.requests == []


def test_probe_access_allowed(endpoint: FakeEndpoint) -> None:
    result = probe_access(config_for(endpoint.base_url), DATABASE, "DVC-12")

    assert result.allowed is True
    assert result.failure_kind is None
    assert result.http_status == 200
    assert result.latency_ms > 0
    (seen,) = endpoint.data_requests()
    assert seen.query == {"page": "1", "limit": "1"}
    assert seen.headers["x-service-code"] == "DVC-12"


def test_probe_access_forbidden(endpoint: FakeEndpoint) -> None:
    endpoint.record_replies.append(Reply.json({"error": "service_not_allowed"}, status=403))

    result = probe_access(config_for(endpoint.base_url), DATABASE, "DVC-03")

    assert result.allowed is False
    assert result.failure_kind is FailureKind.UNAUTHORIZED
    assert result.http_status == 403


def test_probe_access_allowed_without_records(endpoint: FakeEndpoint) -> None:
    endpoint.records = []

    result = probe_access(config_for(endpoint.base_url), DATABASE, SERVICE)

    assert result.allowed is True


def test_probe_access_refused(closed_port: int) -> None:
    result = probe_access(config_for(f"http://127.0.0.1:{closed_port}", max_attempts=1), DATABASE, SERVICE)

    assert result.allowed is False
    assert result.failure_kind is FailureKind.REFUSED
    assert result.http_status is None


def test_ca_certificate_from_url(endpoint: FakeEndpoint, certificate: CertificateFiles) -> None:
    pem = fetch_ca_certificate(config_for(endpoint.base_url))

    assert pem == certificate.pem
    assert endpoint.token_requests() == []


def test_ca_certificate_absolute_url(endpoint: FakeEndpoint, certificate: CertificateFiles) -> None:
    config = config_for(f"{endpoint.base_url}/gateway", ca_pem_url=f"{endpoint.base_url}/pki/ca.pem")

    assert fetch_ca_certificate(config) == certificate.pem


def test_ca_certificate_from_file(certificate: CertificateFiles, closed_port: int) -> None:
    config = config_for(f"http://127.0.0.1:{closed_port}", ca_bundle_path=str(certificate.cert_path))

    assert fetch_ca_certificate(config) == certificate.pem


def test_ca_certificate_not_pem(endpoint: FakeEndpoint) -> None:
    endpoint.ca_pem = b"<html>not here</html>"

    with pytest.raises(FetchError) as caught:
        fetch_ca_certificate(config_for(endpoint.base_url))

    assert caught.value.kind is FailureKind.INVALID_PAYLOAD
    assert caught.value.reason == f"{endpoint.base_url}/pki/ca.pem contains no PEM certificate"


def test_logs_without_values_or_secrets(endpoint: FakeEndpoint, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="integration_monitor.fetch")
    config = config_for(endpoint.base_url)

    fetch_batch(config, DATABASE, SERVICE)
    endpoint.record_replies.append(Reply.json({"error": "upstream"}, status=502))
    endpoint.revoke_tokens()
    fetch_batch(config, DATABASE, SERVICE)
    endpoint.record_replies.append(Reply(body=b'{"records": [{"ho_ten": "Nguy\xc3'))
    with pytest.raises(FetchError):
        fetch_batch(config, DATABASE, SERVICE)

    text = caplog.text
    assert f"/api/v1/{DATABASE}/records" in text
    assert "attempt 2/3" in text
    assert "HTTP 502" in text
    assert CLIENT_SECRET not in text
    for token in endpoint.issued_tokens:
        assert token not in text
    for record in endpoint.records:
        for value in record.values():
            assert value not in text
    assert "Nguy" not in text


def test_batch_repr_hides_records(endpoint: FakeEndpoint) -> None:
    batch = fetch_batch(config_for(endpoint.base_url), DATABASE, SERVICE)

    assert endpoint.records[0]["ho_ten"] not in repr(batch)
    assert "pages=3" in repr(batch)
