"""OAuth2 client-credentials tokens, cached per token URL and client until shortly before expiry."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from integration_monitor.fetch.config import EndpointConfig
from integration_monitor.fetch.errors import FailureKind, FetchError
from integration_monitor.fetch.payload import PayloadError, decode_json
from integration_monitor.fetch.transport import ExchangeStats, request_with_retries

logger = logging.getLogger(__name__)

TOKEN_RESPONSE_BYTES = 64 * 1024
# A token is dropped this long before it expires, so that a request never races expiry.
# Short-lived tokens use a tenth of their lifetime instead.
REFRESH_MARGIN_SECONDS = 30.0
# RFC 6749 makes expires_in optional. Without it the lifetime is unknown, so the token is
# reused only briefly.
DEFAULT_LIFETIME_SECONDS = 60.0
# RFC 6749 section 5.2 lets a token endpoint reject invalid credentials with 400 and one of
# these error codes.
_CREDENTIAL_ERRORS = ("invalid_client", "unauthorized_client", "invalid_grant")


@dataclass(frozen=True)
class _CachedToken:
    value: str = field(repr=False)
    refresh_at: float


class TokenCache:
    """Thread-safe access tokens keyed by token URL, client id and a hash of the secret."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, str], _CachedToken] = {}
        self._lock = threading.Lock()

    def get(self, config: EndpointConfig) -> str | None:
        with self._lock:
            cached = self._tokens.get(_cache_key(config))
        if cached is None or time.monotonic() >= cached.refresh_at:
            return None
        return cached.value

    def put(self, config: EndpointConfig, token: str, lifetime_seconds: float) -> None:
        margin = min(REFRESH_MARGIN_SECONDS, lifetime_seconds / 10)
        refresh_at = time.monotonic() + lifetime_seconds - margin
        with self._lock:
            self._tokens[_cache_key(config)] = _CachedToken(token, refresh_at)

    def discard(self, config: EndpointConfig) -> None:
        with self._lock:
            self._tokens.pop(_cache_key(config), None)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


token_cache = TokenCache()


def get_access_token(session: requests.Session, config: EndpointConfig, stats: ExchangeStats) -> str:
    """Return a cached bearer token for the endpoint, or request a new one.

    Raises FetchError: ``unauthorized`` when the endpoint rejects the client credentials,
    ``invalid_payload`` when the token response is unusable, or the transport's kind.
    """
    cached = token_cache.get(config)
    if cached is not None:
        return cached

    try:
        exchange = request_with_retries(
            session,
            config,
            "POST",
            config.token_url,
            stats=stats,
            label=f"token for client {config.client_id}",
            data={
                "grant_type": "client_credentials",
                "client_id": config.client_id,
                "client_secret": config.client_secret,
            },
            max_bytes=TOKEN_RESPONSE_BYTES,
        )
    except FetchError as error:
        raise _credential_rejection(error) from None

    token, lifetime = _parse_token_response(exchange.body, exchange.content_type, exchange.status, stats)
    token_cache.put(config, token, lifetime)
    logger.info("Obtained a token for client %s, valid for %.0f s", config.client_id, lifetime)
    return token


def _parse_token_response(
    body: bytes, content_type: str | None, status: int, stats: ExchangeStats
) -> tuple[str, float]:
    def rejected(reason: str, kind: FailureKind = FailureKind.INVALID_PAYLOAD) -> FetchError:
        return FetchError(kind, reason, http_status=status, latency_ms=round(stats.latency_ms, 1))

    try:
        document: Any = decode_json(body, content_type).value
    except PayloadError as error:
        raise rejected(f"token response: {error.reason}", error.kind) from None
    if not isinstance(document, dict):
        raise rejected("token response is not a JSON object")

    token = document.get("access_token")
    if not isinstance(token, str) or not token.strip():
        raise rejected("token response has no access_token")
    token_type = document.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise rejected("token response has a token_type other than Bearer")

    expires_in = document.get("expires_in")
    if expires_in is None:
        return token, DEFAULT_LIFETIME_SECONDS
    if isinstance(expires_in, str) and expires_in.strip().isdigit():
        expires_in = int(expires_in)
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)) or expires_in <= 0:
        raise rejected("token response has an invalid expires_in")
    return token, float(expires_in)


def _credential_rejection(error: FetchError) -> FetchError:
    if error.http_status == 400 and any(code in error.reason for code in _CREDENTIAL_ERRORS):
        kind = FailureKind.UNAUTHORIZED
    else:
        kind = error.kind
    return FetchError(
        kind,
        f"token request failed: {error.reason}",
        http_status=error.http_status,
        latency_ms=error.latency_ms,
        attempts=error.attempts,
    )


def _cache_key(config: EndpointConfig) -> tuple[str, str, str]:
    # A changed secret gets a new token instead of reusing one issued for the old secret.
    secret_digest = hashlib.sha256(config.client_secret.encode("utf-8")).hexdigest()
    return config.token_url, config.client_id, secret_digest
