"""HTTP exchanges with bounded retries, size limits and failure classification."""

from __future__ import annotations

import email.utils
import logging
import random
import re
import socket
import ssl
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from integration_monitor.fetch.config import EndpointConfig
from integration_monitor.fetch.errors import RETRYABLE_KINDS, FailureKind, FetchError
from integration_monitor.fetch.payload import PayloadError, decode_json

logger = logging.getLogger(__name__)

USER_AGENT = "integration-monitor/0.1"
CHUNK_BYTES = 64 * 1024
# Enough of an error body to read its error code. The rest is not read.
ERROR_BODY_BYTES = 16 * 1024
# Statuses whose Retry-After header is honoured (RFC 9110 defines it for 503 and 3xx,
# RFC 6585 for 429).
RETRY_AFTER_STATUSES = frozenset({429, 503})

# Only short identifier-like error codes from the server go into a reason: free text could
# echo request data. A run of six or more digits could be a personal number.
_ERROR_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_ .:-]{0,63}$")
_LONG_DIGIT_RUN = re.compile(r"\d{6}")


@dataclass
class ExchangeStats:
    """Totals over every HTTP exchange of one fetch call, retries included."""

    latency_ms: float = 0.0
    requests: int = 0
    max_attempts_used: int = 0


@dataclass(frozen=True)
class Exchange:
    status: int
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    attempts: int

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")


def build_session() -> requests.Session:
    """Return a session whose adapter never retries, because request_with_retries does."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=4, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    return session


def request_with_retries(
    session: requests.Session,
    config: EndpointConfig,
    method: str,
    url: str,
    *,
    stats: ExchangeStats,
    label: str,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    data: Mapping[str, str] | None = None,
    max_bytes: int | None = None,
) -> Exchange:
    """Send one request, retrying refusals, timeouts, 5xx and 429, and return a 2xx exchange.

    Every attempt gets a new X-Request-ID. Between attempts the wait grows exponentially from
    ``config.backoff_seconds`` with up to 10 % jitter, or follows Retry-After, and never
    exceeds ``config.max_backoff_seconds``. Raises FetchError with the failing attempt's kind.
    ``label`` names the request in logs, so it must not contain record values or secrets.
    """
    limit = max_bytes or config.max_response_bytes
    for attempt in range(1, config.max_attempts + 1):
        request_id = str(uuid.uuid4())
        logger.info(
            "Requesting %s: %s %s (attempt %d/%d, request id %s)",
            label, method, urlsplit(url).path, attempt, config.max_attempts, request_id,
        )
        outcome = _attempt(
            session,
            config,
            _PlannedRequest(method, url, {**(headers or {}), "X-Request-ID": request_id}, params, data, limit),
            stats=stats,
            label=label,
            attempt=attempt,
        )
        if isinstance(outcome, Exchange):
            return outcome

        failure, retry_after = outcome
        if failure.kind not in RETRYABLE_KINDS or attempt == config.max_attempts:
            logger.warning(
                "Request for %s failed after %d attempt(s): %s (%s)", label, attempt, failure.kind, failure.reason
            )
            raise _finished(failure, stats, attempt)

        delay = backoff_delay(config, attempt, retry_after)
        logger.warning(
            "Request for %s failed: %s (%s); retrying in %.2f s (attempt %d/%d)",
            label, failure.kind, failure.reason, delay, attempt, config.max_attempts,
        )
        time.sleep(delay)

    raise AssertionError("unreachable: the last attempt returns or raises")


@dataclass(frozen=True)
class _PlannedRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(repr=False)
    params: Mapping[str, Any] | None
    data: Mapping[str, str] | None = field(repr=False)
    max_bytes: int


def _attempt(
    session: requests.Session,
    config: EndpointConfig,
    request: _PlannedRequest,
    *,
    stats: ExchangeStats,
    label: str,
    attempt: int,
) -> Exchange | tuple[FetchError, float | None]:
    """Send the request once and return the 2xx exchange, or the failure and its Retry-After."""
    started = time.perf_counter()
    try:
        status, headers, body = _exchange(session, config, request)
    except requests.RequestException as error:
        kind, reason = classify_exception(error, config, request.url)
        return FetchError(kind, reason), None
    except _OversizedResponse as oversized:
        return FetchError(FailureKind.OVERSIZED, str(oversized), http_status=oversized.status), None
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        stats.latency_ms += elapsed_ms
        stats.requests += 1
        stats.max_attempts_used = max(stats.max_attempts_used, attempt)

    logger.info("Response for %s: HTTP %d, %d bytes in %.0f ms", label, status, len(body), elapsed_ms)
    if 200 <= status < 300:
        return Exchange(status=status, headers=headers, body=body, attempts=attempt)

    failure = classify_status(status, headers, body, urlsplit(request.url).path)
    retry_after = parse_retry_after(headers.get("Retry-After")) if status in RETRY_AFTER_STATUSES else None
    return failure, retry_after


def backoff_delay(config: EndpointConfig, attempt: int, retry_after: float | None) -> float:
    """Return the seconds to wait after failed attempt number ``attempt`` (1-based)."""
    if retry_after is not None:
        base = retry_after
    else:
        base = config.backoff_seconds * 2 ** min(attempt - 1, 30)
    jitter = random.uniform(0, 0.1 * base)  # noqa: S311 - spreads retries, not a secret
    return min(base + jitter, config.max_backoff_seconds)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Return the wait in seconds that a Retry-After header requests, or None if invalid.

    The header is either a number of seconds or an HTTP date (RFC 9110, section 10.2.3).
    A date in the past means no wait.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def classify_status(status: int, headers: Mapping[str, str], body: bytes, path: str) -> FetchError:
    """Turn a non-2xx status into a FetchError, with the server's error code if it sent one."""
    reason = f"HTTP {status} from {path}"
    code = _error_code(body, headers.get("Content-Type"))
    if code:
        reason += f" ({code})"

    if status in (401, 403):
        kind = FailureKind.UNAUTHORIZED
    elif status == 429:
        kind = FailureKind.RATE_LIMITED
    elif 500 <= status < 600:
        kind = FailureKind.HTTP_5XX
    elif 400 <= status < 500:
        kind = FailureKind.HTTP_4XX
    else:
        # Redirects are not followed, because the API contract has none and a redirect to
        # another host would take the service and agency headers with it.
        kind = FailureKind.INVALID_PAYLOAD
        reason = f"unexpected HTTP {status} from {path}"
    return FetchError(kind, reason, http_status=status)


def classify_exception(error: requests.RequestException, config: EndpointConfig, url: str) -> tuple[FailureKind, str]:
    """Map a failed exchange to a failure kind and a short reason."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    where = f"{host}:{parts.port}" if parts.port else host

    if isinstance(error, requests.exceptions.SSLError):
        return FailureKind.TLS, f"TLS handshake with {where} failed: {_ssl_problem(error)}"
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return FailureKind.TIMEOUT, f"connecting to {where} timed out after {config.connect_timeout:g} s"
    if isinstance(error, requests.exceptions.ReadTimeout):
        return FailureKind.TIMEOUT, f"{where} sent no data for {config.read_timeout:g} s (read timeout)"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return FailureKind.TRUNCATED, f"response from {where} ended before its declared length"
    if isinstance(error, requests.exceptions.ContentDecodingError):
        return FailureKind.INVALID_PAYLOAD, f"response from {where} could not be decompressed"

    causes = list(_causes(error))
    if _any_instance(causes, (urllib3.exceptions.NameResolutionError, socket.gaierror)):
        return FailureKind.DNS, f"host name {host} could not be resolved"
    if _any_instance(causes, (ConnectionRefusedError,)):
        return FailureKind.REFUSED, f"connection refused by {where}"
    if _any_instance(causes, (ssl.SSLError, urllib3.exceptions.SSLError)):
        return FailureKind.TLS, f"TLS with {where} failed: {_ssl_problem(error)}"
    if _any_instance(causes, (urllib3.exceptions.ReadTimeoutError, TimeoutError)):
        return FailureKind.TIMEOUT, f"{where} sent no data for {config.read_timeout:g} s (read timeout)"
    connect_failure = _first_instance(causes, urllib3.exceptions.NewConnectionError)
    if connect_failure is not None:
        # Unreachable network or host: the endpoint cannot be reached, like a refusal.
        return FailureKind.REFUSED, f"could not connect to {where}: {_os_problem(causes)}"
    return FailureKind.TRUNCATED, f"connection to {where} closed before the response was complete"


class _OversizedResponse(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _exchange(
    session: requests.Session, config: EndpointConfig, request: _PlannedRequest
) -> tuple[int, Mapping[str, str], bytes]:
    response = session.request(
        request.method,
        request.url,
        headers=dict(request.headers),
        params=request.params,
        data=request.data,
        timeout=(config.connect_timeout, config.read_timeout),
        verify=config.tls_verify,
        stream=True,
        allow_redirects=False,
    )
    with response:
        if response.status_code >= 300:
            return response.status_code, response.headers, _read_error_body(response)
        return response.status_code, response.headers, _read_limited_body(response, request.max_bytes)


def _read_limited_body(response: requests.Response, limit: int) -> bytes:
    """Read the body, stopping as soon as it exceeds ``limit`` bytes after decompression."""
    # NOTE: read_timeout bounds each socket read, not the whole body, so a server that sends
    # a few bytes at a time can hold a fetch open until the Airflow task's execution timeout.
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _OversizedResponse(
            f"response declares {int(declared)} bytes, more than the limit of {limit} bytes",
            response.status_code,
        )

    body = bytearray()
    for chunk in response.iter_content(CHUNK_BYTES):
        body += chunk
        if len(body) > limit:
            raise _OversizedResponse(
                f"response exceeds the limit of {limit} bytes; reading stopped", response.status_code
            )
    return bytes(body)


def _read_error_body(response: requests.Response) -> bytes:
    body = bytearray()
    try:
        for chunk in response.iter_content(CHUNK_BYTES):
            body += chunk
            if len(body) >= ERROR_BODY_BYTES:
                break
    except requests.RequestException:
        # The status already identifies the failure, so a broken error body is ignored.
        logger.debug("Error body could not be read completely", exc_info=True)
    return bytes(body[:ERROR_BODY_BYTES])


def _error_code(body: bytes, content_type: str | None) -> str | None:
    try:
        document = decode_json(body, content_type).value
    except PayloadError:
        return None
    if not isinstance(document, dict):
        return None
    code = document.get("error")
    if isinstance(code, str) and _ERROR_CODE.match(code) and not _LONG_DIGIT_RUN.search(code):
        return code
    return None


def _finished(failure: FetchError, stats: ExchangeStats, attempts: int) -> FetchError:
    return FetchError(
        failure.kind,
        failure.reason if attempts == 1 else f"{failure.reason} after {attempts} attempts",
        http_status=failure.http_status,
        latency_ms=round(stats.latency_ms, 1),
        attempts=attempts,
    )


def _causes(error: BaseException) -> Iterator[BaseException]:
    """Yield the error and every exception it wraps, through causes, contexts and args."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        pending.extend(item for item in linked if isinstance(item, BaseException))


def _any_instance(causes: list[BaseException], types: tuple[type[BaseException], ...]) -> bool:
    return any(isinstance(cause, types) for cause in causes)


def _first_instance(causes: list[BaseException], kind: type[BaseException]) -> BaseException | None:
    return next((cause for cause in causes if isinstance(cause, kind)), None)


def _ssl_problem(error: BaseException) -> str:
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError) and cause.verify_message:
            return f"certificate verify failed ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError) and cause.reason:
            return str(cause.reason).lower().replace("_", " ")
    return "TLS error"


def _os_problem(causes: list[BaseException]) -> str:
    for cause in causes:
        if isinstance(cause, OSError) and not isinstance(cause, urllib3.exceptions.HTTPError) and cause.strerror:
            return cause.strerror.lower()
    return "connection failed"
