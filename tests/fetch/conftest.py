"""Fixtures for the fetch tests: scripted endpoints on 127.0.0.1 and a clean token cache."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import pytest
from tests.fetch.fetch_test_server import CertificateFiles, FakeEndpoint, make_certificate, serve

from integration_monitor.fetch import token_cache


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return make_certificate(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def endpoint(certificate: CertificateFiles) -> Iterator[FakeEndpoint]:
    fake = FakeEndpoint()
    fake.ca_pem = certificate.pem
    yield from serve(fake, "http")


@pytest.fixture
def tls_endpoint(certificate: CertificateFiles) -> Iterator[FakeEndpoint]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.cert_path, certificate.key_path)
    fake = FakeEndpoint()
    fake.ca_pem = certificate.pem
    yield from serve(fake, "https", context)


@pytest.fixture
def closed_port() -> int:
    """A loopback port with no listener, so connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def fresh_token_cache() -> Iterator[None]:
    token_cache.clear()
    yield
    token_cache.clear()
