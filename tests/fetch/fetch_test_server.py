"""A scriptable national-database endpoint on 127.0.0.1 for the fetch tests.

By default it behaves like the stub API contract: client-credentials tokens, paged records
and a CA certificate. A test queues ``Reply`` objects to make the next responses fail in a
chosen way, and reads ``endpoint.requests`` to see what the client sent.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from integration_monitor.fetch import EndpointConfig

CLIENT_ID = "monitor"
CLIENT_SECRET = "fetch-test-secret-7Qx9"
DATABASE = "dan_cu"
SERVICE = "DVC-07"

# Synthetic people. The tests check that none of these values reaches a log.
FAMILY_NAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Đặng"]
GIVEN_NAMES = ["Thị Ánh", "Văn Đức", "Ngọc Hương", "Quốc Bảo", "Thu Thủy"]


def make_record(index: int) -> dict[str, Any]:
    return {
        "_id": f"rec-{index:05d}-x",
        "ho_ten": f"{FAMILY_NAMES[index % len(FAMILY_NAMES)]} {GIVEN_NAMES[index % len(GIVEN_NAMES)]}",
        "so_dinh_danh": f"0791{index:08d}",
        "ngay_sinh": f"19{60 + index % 40}-0{1 + index % 9}-1{index % 10}",
        "noi_thuong_tru": "Phường Bến Thành, Thành phố Hồ Chí Minh",
    }


@dataclass
class Reply:
    """One scripted response. ``body=None`` means the normal response for the request."""

    status: int = 200
    body: bytes | None = None
    content_type: str | None = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    declared_length: int | None = None
    send_length: bool = True
    close_without_response: bool = False

    @classmethod
    def json(cls, document: Any, status: int = 200, **options: Any) -> Reply:
        return cls(status=status, body=json.dumps(document, ensure_ascii=False).encode("utf-8"), **options)


@dataclass
class SeenRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    arrived: float


class FakeEndpoint:
    """State and behaviour of the scripted endpoint, shared with the handler threads."""

    def __init__(self) -> None:
        self.base_url = ""
        self.records = [make_record(index) for index in range(250)]
        self.token_lifetime: float = 3600
        self.record_replies: deque[Reply] = deque()
        self.token_replies: deque[Reply] = deque()
        self.ca_pem = b""
        self.requests: list[SeenRequest] = []
        self.issued_tokens: list[str] = []
        # Responses that the client stopped reading before the server finished sending.
        self.abandoned_responses = 0
        self._valid_tokens: dict[str, float] = {}
        self._lock = threading.Lock()

    def revoke_tokens(self) -> None:
        with self._lock:
            self._valid_tokens.clear()

    def data_requests(self) -> list[SeenRequest]:
        return [seen for seen in self.requests if "/records" in seen.path]

    def token_requests(self) -> list[SeenRequest]:
        return [seen for seen in self.requests if seen.path == "/oauth2/token"]

    def respond(self, seen: SeenRequest) -> Reply:
        with self._lock:
            self.requests.append(seen)
        if seen.path == "/oauth2/token" and seen.method == "POST":
            return self._scripted(self.token_replies) or self._issue_token(seen)
        if seen.path.endswith("/records") and seen.method == "GET":
            return self._scripted(self.record_replies) or self._records_page(seen)
        if seen.path == "/pki/ca.pem":
            return Reply(body=self.ca_pem, content_type="application/x-pem-file")
        return Reply.json({"error": "not_found"}, status=404)

    def _scripted(self, queue: deque[Reply]) -> Reply | None:
        with self._lock:
            return queue.popleft() if queue else None

    def _issue_token(self, seen: SeenRequest) -> Reply:
        form = {key: values[0] for key, values in parse_qs(seen.body.decode("utf-8")).items()}
        if form.get("grant_type") != "client_credentials":
            return Reply.json({"error": "unsupported_grant_type"}, status=400)
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return Reply.json({"error": "invalid_client"}, status=401)

        token = uuid.uuid4().hex
        with self._lock:
            self._valid_tokens[token] = time.monotonic() + self.token_lifetime
            self.issued_tokens.append(token)
        return Reply.json({"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime})

    def _records_page(self, seen: SeenRequest) -> Reply:
        token = seen.headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            expiry = self._valid_tokens.get(token)
        if expiry is None or time.monotonic() > expiry:
            return Reply.json({"error": "invalid_token"}, status=401)
        for header in ("x-request-id", "x-service-code", "x-agency-code"):
            if not seen.headers.get(header):
                return Reply.json({"error": "missing_header", "detail": header}, status=400)

        page = int(seen.query.get("page", "1"))
        limit = int(seen.query.get("limit", "100"))
        start = (page - 1) * limit
        chunk = self.records[start : start + limit]
        has_next = start + limit < len(self.records)
        return Reply.json(
            {
                "database": seen.path.split("/")[3],
                "page": page,
                "limit": limit,
                "total": len(self.records),
                "next_page": page + 1 if has_next else None,
                "request_id": seen.headers.get("x-request-id"),
                "records": chunk,
            }
        )


class _Handler(BaseHTTPRequestHandler):
    server: _EndpointServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        seen = SeenRequest(
            method=self.command,
            path=parts.path,
            query={key: values[0] for key, values in parse_qs(parts.query).items()},
            headers={key.lower(): value for key, value in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
            arrived=time.monotonic(),
        )
        reply = self.server.endpoint.respond(seen)
        try:
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            # The client gave up first, as the timeout and size tests intend.
            self.server.endpoint.abandoned_responses += 1

    def _send(self, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        if reply.close_without_response:
            self.close_connection = True
            return
        body = reply.body if reply.body is not None else b""
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.send_length:
            self.send_header("Content-Length", str(reply.declared_length or len(body)))
        self.end_headers()
        for start in range(0, len(body), 16 * 1024):
            self.wfile.write(body[start : start + 16 * 1024])
        self.wfile.flush()


class _EndpointServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, endpoint: FakeEndpoint, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.endpoint = endpoint
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # Failed TLS handshakes land here when the client rejects the certificate.


@dataclass(frozen=True)
class CertificateFiles:
    pem: bytes
    cert_path: Path
    key_path: Path


def make_certificate(folder: Path) -> CertificateFiles:
    """Create a self-signed CA certificate that is also valid for the server 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fetch test CA")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    cert_path = folder / "ca.pem"
    key_path = folder / "ca.key"
    cert_path.write_bytes(pem)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return CertificateFiles(pem=pem, cert_path=cert_path, key_path=key_path)


def serve(endpoint: FakeEndpoint, scheme: str, tls: ssl.SSLContext | None = None) -> Iterator[FakeEndpoint]:
    """Serve the endpoint on a free loopback port in a thread until the generator closes."""
    server = _EndpointServer(endpoint, tls)
    endpoint.base_url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def config_for(base_url: str, **overrides: Any) -> EndpointConfig:
    """Settings with short timeouts and waits, so that retry tests stay fast."""
    settings: dict[str, Any] = {
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        "max_attempts": 3,
        "backoff_seconds": 0.01,
        "max_backoff_seconds": 0.5,
        **overrides,
    }
    return EndpointConfig(base_url=base_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **settings)
