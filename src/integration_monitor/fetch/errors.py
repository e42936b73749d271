"""Failure kinds and the exception that carries them out of the fetch layer."""

from __future__ import annotations

from enum import StrEnum


class FailureKind(StrEnum):
    """Reason that a national database's endpoint could not deliver a usable batch.

    The values are stored in the status store and shown to operators, so they must not change.
    """

    REFUSED = "refused"
    DNS = "dns"
    TLS = "tls"
    TIMEOUT = "timeout"
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"
    INVALID_PAYLOAD = "invalid_payload"
    TRUNCATED = "truncated"
    OVERSIZED = "oversized"
    # Detected by the caller, which compares the record keys with the catalog.
    SCHEMA_DRIFT = "schema_drift"
    EMPTY = "empty"


# Failures that a later attempt may not repeat. Payload failures are excluded: a server that
# sends a broken body usually sends the same broken body again.
RETRYABLE_KINDS = frozenset(
    {FailureKind.REFUSED, FailureKind.TIMEOUT, FailureKind.HTTP_5XX, FailureKind.RATE_LIMITED}
)


class FetchError(Exception):
    """A fetch failed with a known kind.

    ``reason`` is a short English sentence for logs and the status store. It never contains
    record values, the client secret or a token. ``latency_ms`` is the time spent in HTTP
    exchanges before the failure, and ``attempts`` is the number of attempts of the request
    that failed.
    """

    def __init__(
        self,
        kind: FailureKind,
        reason: str,
        *,
        http_status: int | None = None,
        latency_ms: float = 0.0,
        attempts: int = 1,
    ) -> None:
        super().__init__(f"{kind.value}: {reason}")
        self.kind = kind
        self.reason = reason
        self.http_status = http_status
        self.latency_ms = latency_ms
        self.attempts = attempts
