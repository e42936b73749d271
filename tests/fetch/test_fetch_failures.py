"""Each failure kind, produced by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from email.utils import format_datetime
from datetime import UTC, datetime, timedelta

import pytest
from tests.fetch.fetch_test_server import DATABASE, SERVICE, CertificateFiles, FakeEndpoint, Reply, config_for

from integration_monitor.fetch import FailureKind, FetchError, fetch_batch


def fetch_error(endpoint_url: str, **overrides: object) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch_batch(config_for(endpoint_url, **overrides), DATABASE, SERVICE)
    return caught.value


def test_refused_on_closed_port(closed_port: int) -> None:
    error = fetch_error(f"http://127.0.0.1:{closed_port}", max_attempts=2)

    assert error.kind is FailureKind.REFUSED
    assert error.attempts == 2
    assert f"127.0.0.1:{closed_port}" in error.reason
    assert error.http_status is None


def test_dns_failure_classified(monkeypatch: pytest.MonkeyPatch) -> None:
    # The resolver is replaced so that no query leaves the machine.
    real_getaddrinfo = socket.getaddrinfo

    def failing_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host == "national-db.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", failing_getaddrinfo)
    error = fetch_error("http://national-db.invalid:8701", max_attempts=3)

    assert error.kind is FailureKind.DNS
    assert error.attempts == 1, "a name that does not resolve is not retried"
    assert "national-db.invalid" in error.reason


def test_tls_untrusted_certificate(tls_endpoint: FakeEndpoint) -> None:
    error = fetch_error(tls_endpoint.base_url)

    assert error.kind is FailureKind.TLS
    assert "certificate verify failed" in error.reason
    assert error.attempts == 1
    assert tls_endpoint.requests == []


def test_tls_trusted_with_bundle(tls_endpoint: FakeEndpoint, certificate: CertificateFiles) -> None:
    config = config_for(tls_endpoint.base_url, tls_ca_bundle_path=str(certificate.cert_path))

    batch = fetch_batch(config, DATABASE, SERVICE)

    assert len(batch.records) == 250
    assert tls_endpoint.token_requests()


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A listener that never accepts, with its backlog filled, so new connects time out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


def test_connect_timeout(full_backlog: int) -> None:
    started = time.monotonic()
    error = fetch_error(f"http://127.0.0.1:{full_backlog}", connect_timeout=0.3, max_attempts=2)
    elapsed = time.monotonic() - started

    assert error.kind is FailureKind.TIMEOUT
    assert "timed out after 0.3 s" in error.reason
    assert error.attempts == 2
    assert 0.6 <= elapsed < 2.0


def test_read_timeout(endpoint: FakeEndpoint) -> None:
    endpoint.record_replies.extend([Reply(delay=1.5), Reply(delay=1.5)])

    started = time.monotonic()
    error = fetch_error(endpoint.base_url, read_timeout=0.3, max_attempts=2)
    elapsed = time.monotonic() - started

    assert error.kind is FailureKind.TIMEOUT
    assert "read timeout" in error.reason
    assert error.attempts == 2
    assert len(endpoint.data_requests()) == 2
    assert 0.6 <= elapsed < 2.5, "the client does not wait for the 1.5 s responses"
    assert error.latency_ms >= 600


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_retried_then_success(endpoint: FakeEndpoint, status: int) -> None:
    endpoint.record_replies.extend([Reply.json({"error": "upstream"}, status=status)] * 2)

    batch = fetch_batch(config_for(endpoint.base_url, max_attempts=3), DATABASE, SERVICE)

    assert len(batch.records) == 250
    assert batch.attempts == 3
    first_page_ids = [seen.headers["x-request-id"] for seen in endpoint.data_requests()[:3]]
    assert len(set(first_page_ids)) == 3, "every attempt carries its own request id"


def test_server_error_exhausts_attempts(endpoint: FakeEndpoint) -> None:
    endpoint.record_replies.extend([Reply.json({"error": "maintenance"}, status=503)] * 3)

    error = fetch_error(endpoint.base_url, max_attempts=3)

    assert error.kind is FailureKind.HTTP_5XX
    assert error.http_status == 503
    assert error.attempts == 3
    assert error.reason.endswith("(maintenance) after 3 attempts")
    assert len(endpoint.data_requests()) == 3


def wait_between_data_requests(endpoint: FakeEndpoint) -> float:
    first, second = endpoint.data_requests()[:2]
    return second.arrived - first.arrived


def test_retry_after_seconds_honoured(endpoint: FakeEndpoint) -> None:
    endpoint.record_replies.append(Reply.json({"error": "slow_down"}, status=429, headers={"Retry-After": "1"}))

    batch = fetch_batch(config_for(endpoint.base_url, max_backoff_seconds=5), DATABASE, SERVICE)

    assert batch.attempts == 2
    assert 1.0 <= wait_between_data_requests(endpoint) < 2.0


def test_retry_after_http_date_honoured(endpoint: FakeEndpoint) -> None:
    retry_at = datetime.now(UTC) + timedelta(seconds=2)
    header = format_datetime(retry_at, usegmt=True)
    endpoint.record_replies.append(Reply.json({"error": "slow_down"}, status=429, headers={"Retry-After": header}))

    fetch_batch(config_for(endpoint.base_url, max_backoff_seconds=5), DATABASE, SERVICE)

    # An HTTP date has whole seconds, so the wait is between one and two seconds.
    assert 0.9 <= wait_between_data_requests(endpoint) < 3.0


def test_retry_after_capped_by_max_backoff(endpoint: FakeEndpoint) -> None:
    endpoint.record_replies.append(Reply.json({"error": "slow_down"}, status=429, headers={"Retry-After": "120"}))

    fetch_batch(config_for(endpoint.base_url, max_backoff_seconds=0.3), DATABASE, SERVICE)

    assert 0.3 <= wait_between_data_requests(endpoint) < 1.5


def test_rate_limited_after_attempts(endpoint: FakeEndpoint) -> None:
    endpoint.record_replies.extend([Reply.json({"error": "too_many_requests"}, status=429)] * 2)

    error = fetch_error(endpoint.base_url, max_attempts=2)

    assert error.kind is FailureKind.RATE_LIMITED
    assert error.http_status == 429
    assert error.attempts == 2


def test_forbidden_not_retried(endpoint: FakeEndpoint) -> None:
    endpoint.record_replies.append(Reply.json({"error": "service_not_allowed"}, status=403))

    error = fetch_error(endpoint.base_url)

    assert error.kind is FailureKind.UNAUTHORIZED
    assert error.http_status == 403
    assert "service_not_allowed" in error.reason
    assert len(endpoint.data_requests()) == 1


def test_unauthorized_after_token_refresh(endpoint: FakeEndpoint) -> None:
    endpoint.record_replies.extend([Reply.json({"error": "invalid_token"}, status=401)] * 2)

    error = fetch_error(endpoint.base_url)

    assert error.kind is FailureKind.UNAUTHORIZED
    assert error.http_status == 401
    assert len(endpoint.data_requests()) == 2, "one retry with a new token, then give up"
    assert len(endpoint.token_requests()) == 2


def test_wrong_client_secret(endpoint: FakeEndpoint) -> None:
    config = config_for(endpoint.base_url)
    wrong = type(config)(**{**config.__dict__, "client_secret": "not-the-secret"})

    with pytest.raises(FetchError) as caught:
        fetch_batch(wrong, DATABASE, SERVICE)

    assert caught.value.kind is FailureKind.UNAUTHORIZED
    assert caught.value.reason.startswith("token request failed: HTTP 401")
    assert "invalid_client" in caught.value.reason
    assert len(endpoint.token_requests()) == 1
    assert endpoint.data_requests() == []


@pytest.mark.parametrize("status", [400, 404, 409])
def test_client_error_not_retried(endpoint: FakeEndpoint, status: int) -> None:
    endpoint.record_replies.append(Reply.json({"error": "rejected", "detail": "x"}, status=status))

    error = fetch_error(endpoint.base_url)

    assert error.kind is FailureKind.HTTP_4XX
    assert error.http_status == status
    assert error.attempts == 1
    assert len(endpoint.data_requests()) == 1


def test_error_detail_not_in_reason(endpoint: FakeEndpoint) -> None:
    endpoint.record_replies.append(
        Reply.json({"error": "079112345678 not found", "detail": "Nguyễn Thị Ánh"}, status=404)
    )

    error = fetch_error(endpoint.base_url)

    assert error.reason == f"HTTP 404 from /api/v1/{DATABASE}/records"


def test_redirect_not_followed(endpoint: FakeEndpoint) -> None:
    endpoint.record_replies.append(Reply(status=302, body=b"", headers={"Location": "/elsewhere"}))

    error = fetch_error(endpoint.base_url)

    assert error.kind is FailureKind.INVALID_PAYLOAD
    assert error.http_status == 302
    assert not any(seen.path == "/elsewhere" for seen in endpoint.requests)


def test_html_maintenance_page(endpoint: FakeEndpoint) -> None:
    page = "<html><body><h1>Hệ thống đang bảo trì</h1></body></html>".encode()
    endpoint.record_replies.append(Reply(body=page, content_type="text/html; charset=utf-8"))

    error = fetch_error(endpoint.base_url)

    assert error.kind is FailureKind.INVALID_PAYLOAD
    assert error.http_status == 200
    assert "text/html" in error.reason
    assert len(endpoint.data_requests()) == 1, "payload failures are not retried"


def test_malformed_json(endpoint: FakeEndpoint) -> None:
    endpoint.record_replies.append(Reply(body=b'{"records": [{"ho_ten": "A",, }]}'))

    error = fetch_error(endpoint.base_url)

    assert error.kind is FailureKind.INVALID_PAYLOAD
    assert error.reason.startswith("invalid JSON: Expecting property name")


def test_truncated_json_closed_connection(endpoint: FakeEndpoint) -> None:
    body = Reply.json({"records": [{"ho_ten": "Trần Văn Đức"}] * 20}).body
    assert body is not None
    endpoint.record_replies.append(Reply(body=body[: len(body) // 2], send_length=False))

    error = fetch_error(endpoint.base_url)

    assert error.kind is FailureKind.TRUNCATED
    assert error.http_status == 200


def test_truncated_body_shorter_than_length(endpoint: FakeEndpoint) -> None:
    body = Reply.json({"records": [{"ho_ten": "Trần Văn Đức"}] * 20}).body
    assert body is not None
    endpoint.record_replies.append(Reply(body=body[:100], declared_length=len(body)))

    error = fetch_error(endpoint.base_url)

    assert error.kind is FailureKind.TRUNCATED
    assert "declared length" in error.reason


def test_connection_closed_without_response(endpoint: FakeEndpoint) -> None:
    endpoint.record_replies.append(Reply(close_without_response=True))

    error = fetch_error(endpoint.base_url)

    assert error.kind is FailureKind.TRUNCATED
    assert error.reason.startswith("connection to 127.0.0.1:")
    assert error.http_status is None


def test_oversized_declared_length(endpoint: FakeEndpoint) -> None:
    endpoint.record_replies.append(Reply(body=b"[" + b"1," * 50_000 + b"1]"))

    error = fetch_error(endpoint.base_url, max_response_bytes=10_000)

    assert error.kind is FailureKind.OVERSIZED
    assert "declares 100003 bytes" in error.reason


def test_oversized_stream_stops_reading(endpoint: FakeEndpoint) -> None:
    # 40 MB is more than the loopback socket buffers, so the server notices the early close.
    endpoint.record_replies.append(Reply(body=b"[" + b"1," * 20_000_000 + b"1]", send_length=False))

    error = fetch_error(endpoint.base_url, max_response_bytes=100_000)
    deadline = time.monotonic() + 5
    while endpoint.abandoned_responses == 0 and time.monotonic() < deadline:
        time.sleep(0.05)

    assert error.kind is FailureKind.OVERSIZED
    assert "reading stopped" in error.reason
    assert endpoint.abandoned_responses == 1


@pytest.mark.parametrize("charset", ["iso-8859-1", "windows-1252", "ascii"])
def test_wrong_charset_still_utf8(endpoint: FakeEndpoint, charset: str) -> None:
    records = [{"_id": "a1", "ho_ten": "Nguyễn Thị Ánh", "noi_sinh": "Thừa Thiên Huế"}]
    endpoint.record_replies.append(
        Reply.json({"records": records, "next_page": None}, content_type=f"application/json; charset={charset}")
    )

    batch = fetch_batch(config_for(endpoint.base_url), DATABASE, SERVICE)

    assert batch.records[0]["ho_ten"] == "Nguyễn Thị Ánh"
    assert batch.records[0]["noi_sinh"] == "Thừa Thiên Huế"


def test_invalid_utf8_names_offset(endpoint: FakeEndpoint) -> None:
    prefix = '{"records": [{"ho_ten": "Lê '.encode()
    endpoint.record_replies.append(Reply(body=prefix + b"\xc3\x28" + b'"}]}'))

    error = fetch_error(endpoint.base_url)

    assert error.kind is FailureKind.INVALID_PAYLOAD
    assert error.reason == f"response body is not valid UTF-8 at byte offset {len(prefix)}"


def test_empty_records(endpoint: FakeEndpoint) -> None:
    endpoint.record_replies.append(Reply.json({"records": [], "total": 0, "next_page": None}))

    error = fetch_error(endpoint.base_url)

    assert error.kind is FailureKind.EMPTY
    assert error.http_status == 200
    assert DATABASE in error.reason


def nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_at_limit_accepted(endpoint: FakeEndpoint) -> None:
    # Depth 1 is the page object, 2 the records list, 3 each record.
    endpoint.record_replies.append(Reply.json({"records": [{"sau": nested(61)}], "next_page": None}))

    batch = fetch_batch(config_for(endpoint.base_url), DATABASE, SERVICE)

    assert len(batch.records) == 1


@pytest.mark.parametrize("depth", [62, 100_000])
def test_nesting_too_deep(endpoint: FakeEndpoint, depth: int) -> None:
    if depth > 1000:
        body = b'{"records": [{"sau": ' + b"[" * depth + b"]" * depth + b"}]}"
        endpoint.record_replies.append(Reply(body=body))
    else:
        endpoint.record_replies.append(Reply.json({"records": [{"sau": nested(depth)}], "next_page": None}))

    error = fetch_error(endpoint.base_url)

    assert error.kind is FailureKind.INVALID_PAYLOAD
    assert error.reason == "JSON nesting is deeper than 64 levels"


def test_number_at_digit_limit_accepted(endpoint: FakeEndpoint) -> None:
    body = b'{"records": [{"so": ' + b"9" * 4300 + b"}]}"
    endpoint.record_replies.append(Reply(body=body))

    batch = fetch_batch(config_for(endpoint.base_url), DATABASE, SERVICE)

    assert batch.records[0]["so"] == int("9" * 4300)


@pytest.mark.parametrize("number", [b"9" * 4301, b"-" + b"1" * 5000, b"1." + b"5" * 4400, b"1e999", b"NaN"])
def test_huge_number_rejected(endpoint: FakeEndpoint, number: bytes) -> None:
    endpoint.record_replies.append(Reply(body=b'{"records": [{"so": ' + number + b"}]}"))

    error = fetch_error(endpoint.base_url)

    assert error.kind is FailureKind.INVALID_PAYLOAD
    assert error.http_status == 200


def test_huge_number_reason(endpoint: FakeEndpoint) -> None:
    endpoint.record_replies.append(Reply(body=b'{"records": [{"so": ' + b"7" * 4301 + b"}]}"))

    error = fetch_error(endpoint.base_url)

    assert error.reason == "number with 4301 digits exceeds the limit of 4,300 digits"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([{"ho_ten": "A"}], "top-level JSON value is a list, expected an object"),
        ({"data": []}, "'records' is missing, expected a list of objects"),
        ({"records": {"ho_ten": "A"}}, "'records' is an object, expected a list of objects"),
        ({"records": [{"ho_ten": "A"}, "B"]}, "record 1 is a string, expected an object"),
        ({"records": [{"ho_ten": "A"}], "next_page": "2"}, "'next_page' is a string, expected a whole number >= 1"),
    ],
)
def test_wrong_shape(endpoint: FakeEndpoint, document: object, expected: str) -> None:
    endpoint.record_replies.append(Reply.json(document))

    error = fetch_error(endpoint.base_url)

    assert error.kind is FailureKind.INVALID_PAYLOAD
    assert error.reason == expected


def test_next_page_must_advance(endpoint: FakeEndpoint) -> None:
    endpoint.record_replies.append(Reply.json({"records": [{"_id": "a"}], "next_page": 1}))

    error = fetch_error(endpoint.base_url)

    assert error.kind is FailureKind.INVALID_PAYLOAD
    assert error.reason == "next_page 1 does not follow page 1"
