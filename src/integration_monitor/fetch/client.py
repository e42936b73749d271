"""Fetch a batch of records, probe a service's access and get the signing CA certificate."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
from cryptography import x509

from integration_monitor.fetch.access_token import get_access_token, token_cache
from integration_monitor.fetch.config import EndpointConfig
from integration_monitor.fetch.errors import FailureKind, FetchError
from integration_monitor.fetch.payload import PayloadError, RecordsPage, decode_json, parse_records_page
from integration_monitor.fetch.transport import Exchange, ExchangeStats, build_session, request_with_retries

logger = logging.getLogger(__name__)

CA_CERTIFICATE_BYTES = 1024 * 1024

_DATABASE_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SERVICE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

T = TypeVar("T")


@dataclass
class Batch:
    """Records of one fetch, kept in memory only, with what it cost to get them.

    ``latency_ms`` is the time spent in HTTP exchanges (token request and retries included,
    waits between attempts excluded). ``attempts`` is the largest number of attempts any
    single request needed, so 1 means nothing was retried. ``duplicate_keys`` counts keys
    that appeared twice in one JSON object, where the last value was kept.
    """

    records: list[dict[str, Any]] = field(repr=False)
    latency_ms: float
    http_status: int
    pages: int
    attempts: int
    bytes_read: int
    duplicate_keys: int = 0
    total: int | None = None


@dataclass(frozen=True)
class AccessResult:
    """Whether the endpoint lets one public service read one database."""

    allowed: bool
    failure_kind: FailureKind | None
    http_status: int | None
    latency_ms: float


def fetch_batch(
    config: EndpointConfig,
    database_code: str,
    service_code: str,
    *,
    session: requests.Session | None = None,
) -> Batch:
    """Fetch up to ``config.batch_size`` records of a database, page by page.

    Pages of ``config.page_size`` records are requested until the batch is full or the
    endpoint reports no next page. Raises FetchError with kind ``empty`` when the endpoint
    returns no records, and with the failure's kind for anything else that goes wrong.
    """
    _validate_codes(database_code, service_code)
    stats = ExchangeStats()
    records: list[dict[str, Any]] = []
    page_number = 1
    pages = bytes_read = duplicate_keys = 0
    status = 0
    total: int | None = None

    with _session_for(session) as active:
        while True:
            exchange, page = _get_records_page(
                active, config, database_code, service_code, page_number, config.page_size, stats
            )
            pages += 1
            bytes_read += len(exchange.body)
            duplicate_keys += page.duplicate_keys
            status = exchange.status
            total = page.total if page.total is not None else total
            records.extend(page.records)

            if len(records) >= config.batch_size or page.next_page is None or not page.records:
                break
            if page.next_page <= page_number:
                raise _failure(
                    FailureKind.INVALID_PAYLOAD,
                    f"next_page {page.next_page} does not follow page {page_number}",
                    exchange,
                    stats,
                )
            page_number = page.next_page

    del records[config.batch_size :]
    if duplicate_keys:
        logger.warning("Database %s: %d duplicate JSON keys, last value kept", database_code, duplicate_keys)
    if not records:
        raise FetchError(
            FailureKind.EMPTY,
            f"{database_code} returned no records",
            http_status=status,
            latency_ms=round(stats.latency_ms, 1),
            attempts=stats.max_attempts_used,
        )

    logger.info(
        "Fetched %d records of %s in %d pages: %d bytes, %.0f ms, %d requests",
        len(records), database_code, pages, bytes_read, stats.latency_ms, stats.requests,
    )
    return Batch(
        records=records,
        latency_ms=round(stats.latency_ms, 1),
        http_status=status,
        pages=pages,
        attempts=stats.max_attempts_used,
        bytes_read=bytes_read,
        duplicate_keys=duplicate_keys,
        total=total,
    )


def probe_access(
    config: EndpointConfig,
    database_code: str,
    service_code: str,
    *,
    session: requests.Session | None = None,
) -> AccessResult:
    """Request one record as ``service_code`` and report whether the endpoint allowed it.

    A page with no records still counts as allowed, because access was granted. Any failure
    gives ``allowed=False`` with its kind, which is ``unauthorized`` for 401 and 403.
    """
    _validate_codes(database_code, service_code)
    stats = ExchangeStats()
    try:
        with _session_for(session) as active:
            exchange, _ = _get_records_page(active, config, database_code, service_code, 1, 1, stats)
    except FetchError as error:
        logger.info("Service %s access to %s: %s (%s)", service_code, database_code, error.kind, error.reason)
        return AccessResult(False, error.kind, error.http_status, error.latency_ms)

    logger.info("Service %s access to %s: allowed", service_code, database_code)
    return AccessResult(True, None, exchange.status, round(stats.latency_ms, 1))


def fetch_ca_certificate(config: EndpointConfig, *, session: requests.Session | None = None) -> bytes:
    """Return the signing CA certificate(s) in PEM form.

    Reads ``config.ca_bundle_path`` when it is set (an OSError propagates), otherwise GETs
    ``config.ca_url`` without a token. Raises FetchError with kind ``invalid_payload`` when
    the content is not PEM certificates, and the transport's kind when the request fails.
    """
    if config.ca_bundle_path:
        pem = Path(config.ca_bundle_path).read_bytes()
        _check_pem_certificates(pem, config.ca_bundle_path, http_status=None, latency_ms=0.0)
        return pem

    stats = ExchangeStats()
    with _session_for(session) as active:
        exchange = request_with_retries(
            active,
            config,
            "GET",
            config.ca_url,
            stats=stats,
            label="CA certificate",
            max_bytes=min(config.max_response_bytes, CA_CERTIFICATE_BYTES),
        )
    _check_pem_certificates(exchange.body, config.ca_url, http_status=exchange.status, latency_ms=stats.latency_ms)
    return exchange.body


def _get_records_page(
    session: requests.Session,
    config: EndpointConfig,
    database_code: str,
    service_code: str,
    page_number: int,
    limit: int,
    stats: ExchangeStats,
) -> tuple[Exchange, RecordsPage]:
    label = f"{database_code} records page {page_number}"

    def send(token: str) -> Exchange:
        return request_with_retries(
            session,
            config,
            "GET",
            config.records_url(database_code),
            stats=stats,
            label=label,
            headers={
                "Authorization": f"Bearer {token}",
                "X-Service-Code": service_code,
                "X-Agency-Code": config.agency_code,
            },
            params={"page": page_number, "limit": limit},
        )

    exchange = _with_token_refresh(session, config, stats, send)
    try:
        decoded = decode_json(exchange.body, exchange.content_type)
        page = parse_records_page(decoded)
    except PayloadError as error:
        logger.warning("Payload of %s rejected: %s (%s)", label, error.kind, error.reason)
        raise _failure(error.kind, error.reason, exchange, stats) from None
    return exchange, page


def _with_token_refresh(
    session: requests.Session, config: EndpointConfig, stats: ExchangeStats, send: Callable[[str], T]
) -> T:
    """Call ``send`` with a token, and once more with a new token if the first gets 401.

    A cached token can be revoked before it expires, for example when the server restarts.
    """
    token = get_access_token(session, config, stats)
    try:
        return send(token)
    except FetchError as error:
        if error.http_status != 401:
            raise
        logger.info("Token rejected with HTTP 401; requesting a new token")
        token_cache.discard(config)
    return send(get_access_token(session, config, stats))


@contextmanager
def _session_for(session: requests.Session | None) -> Iterator[requests.Session]:
    """Yield the caller's session, or a new one that is closed afterwards."""
    if session is not None:
        yield session
        return
    owned = build_session()
    try:
        yield owned
    finally:
        owned.close()


def _failure(kind: FailureKind, reason: str, exchange: Exchange, stats: ExchangeStats) -> FetchError:
    return FetchError(
        kind, reason, http_status=exchange.status, latency_ms=round(stats.latency_ms, 1), attempts=exchange.attempts
    )


def _check_pem_certificates(pem: bytes, source: str, *, http_status: int | None, latency_ms: float) -> None:
    try:
        certificates = x509.load_pem_x509_certificates(pem)
    except ValueError:
        certificates = []
    if not certificates:
        raise FetchError(
            FailureKind.INVALID_PAYLOAD,
            f"{source} contains no PEM certificate",
            http_status=http_status,
            latency_ms=round(latency_ms, 1),
        )


def _validate_codes(database_code: str, service_code: str) -> None:
    # The database code becomes a URL path segment and the service code a header value.
    if not _DATABASE_CODE.match(database_code):
        raise ValueError(f"database code {database_code!r} must be lowercase letters, digits and underscores")
    if not _SERVICE_CODE.match(service_code):
        raise ValueError(f"service code {service_code!r} must be letters, digits, '.', '_' or '-', e.g. DVC-01")
