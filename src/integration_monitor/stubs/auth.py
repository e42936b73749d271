"""Client credentials and bearer tokens of the stub token endpoint."""

from __future__ import annotations

import hmac
import os
import secrets
import time
from dataclasses import dataclass, field

CLIENT_ID_ENV = "STUB_CLIENT_ID"
CLIENT_SECRET_ENV = "STUB_CLIENT_SECRET"
ADMIN_TOKEN_ENV = "STUB_ADMIN_TOKEN"
DEFAULT_CLIENT_ID = "monitor"
DEV_CLIENT_SECRET = "monitor-dev-secret"

# Past this many tokens, expired ones are dropped, then the oldest.
MAX_LIVE_TOKENS = 10_000


class MissingCredentialsError(RuntimeError):
    pass


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str = field(repr=False)

    def matches(self, client_id: str, client_secret: str) -> bool:
        # Both comparisons always run, so the response time does not tell which one failed.
        id_ok = hmac.compare_digest(client_id.encode(), self.client_id.encode())
        secret_ok = hmac.compare_digest(client_secret.encode(), self.client_secret.encode())
        return id_ok and secret_ok


def credentials_from_environment(dev_credentials: bool) -> ClientCredentials:
    """Read ``STUB_CLIENT_ID`` and ``STUB_CLIENT_SECRET``.

    Without a secret in the environment, ``dev_credentials`` selects ``monitor`` /
    ``monitor-dev-secret``; otherwise :class:`MissingCredentialsError` is raised.
    """
    client_id = os.environ.get(CLIENT_ID_ENV) or DEFAULT_CLIENT_ID
    secret = os.environ.get(CLIENT_SECRET_ENV)
    if secret:
        return ClientCredentials(client_id, secret)
    if dev_credentials:
        return ClientCredentials(DEFAULT_CLIENT_ID, DEV_CLIENT_SECRET)
    raise MissingCredentialsError(
        f"{CLIENT_SECRET_ENV} is not set: set it, or pass --dev-credentials to use "
        f"{DEFAULT_CLIENT_ID}/{DEV_CLIENT_SECRET}"
    )


class TokenStore:
    """Opaque bearer tokens with a lifetime, kept in memory."""

    def __init__(self, lifetime_seconds: int) -> None:
        self.lifetime_seconds = lifetime_seconds
        self._expiry: dict[str, float] = {}

    def issue(self) -> str:
        now = time.monotonic()
        if len(self._expiry) >= MAX_LIVE_TOKENS:
            self._expiry = {token: expiry for token, expiry in self._expiry.items() if expiry > now}
        while len(self._expiry) >= MAX_LIVE_TOKENS:
            del self._expiry[next(iter(self._expiry))]
        token = secrets.token_urlsafe(32)
        self._expiry[token] = now + self.lifetime_seconds
        return token

    def is_valid(self, token: str) -> bool:
        expiry = self._expiry.get(token)
        if expiry is None:
            return False
        if expiry <= time.monotonic():
            del self._expiry[token]
            return False
        return True


def admin_token_from_environment() -> str | None:
    return os.environ.get(ADMIN_TOKEN_ENV) or None


def admin_token_matches(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
