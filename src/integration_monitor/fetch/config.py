"""Endpoint settings for one national database, usually read from an Airflow Connection."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

MIB = 1024 * 1024

# The stub API contract allows 1..1000 records per page.
MAX_PAGE_SIZE = 1000

_HEADER_VALUE = re.compile(r"^[\x21-\x7e]+(?: [\x21-\x7e]+)*$")
_API_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,16}$")


class ConnectionLike(Protocol):
    """The attributes of ``airflow.models.Connection`` that the fetch layer reads."""

    host: str | None
    port: int | None
    schema: str | None
    login: str | None
    password: str | None

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class EndpointConfig:
    """How to reach one national database's endpoint and how far to trust it.

    ``ca_pem_url`` is the signing CA certificate's location, resolved against ``base_url``
    unless it is an absolute URL. ``ca_bundle_path`` replaces it with a local file. Both are
    for signature checks. TLS trust is separate: ``tls_ca_bundle_path`` if set, otherwise the
    default bundle of ``requests`` (or ``REQUESTS_CA_BUNDLE``), and none if ``verify_tls`` is
    false.
    """

    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    agency_code: str = "VPCP"
    api_version: str = "v1"
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 3
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    max_response_bytes: int = 32 * MIB
    batch_size: int = 500
    page_size: int = 100
    ca_pem_url: str = "/pki/ca.pem"
    ca_bundle_path: str | None = None
    verify_tls: bool = True
    tls_ca_bundle_path: str | None = None

    def __post_init__(self) -> None:
        _validate_base_url(self.base_url)
        _require(bool(self.client_id), "client_id is empty")
        _require(bool(self.client_secret), "client_secret is empty")
        _require(bool(_HEADER_VALUE.match(self.agency_code)), "agency_code must be printable ASCII without line breaks")
        _require(bool(_API_VERSION.match(self.api_version)), f"api_version {self.api_version!r} is invalid")
        _require(self.connect_timeout > 0, "connect_timeout must be greater than 0 seconds")
        _require(self.read_timeout > 0, "read_timeout must be greater than 0 seconds")
        _require(self.max_attempts >= 1, "max_attempts must be at least 1")
        _require(self.backoff_seconds >= 0, "backoff_seconds must not be negative")
        _require(self.max_backoff_seconds >= 0, "max_backoff_seconds must not be negative")
        _require(self.max_response_bytes >= 1, "max_response_bytes must be at least 1")
        _require(self.batch_size >= 1, "batch_size must be at least 1")
        _require(1 <= self.page_size <= MAX_PAGE_SIZE, f"page_size must be between 1 and {MAX_PAGE_SIZE}")

    @property
    def token_url(self) -> str:
        return self._resolve("/oauth2/token")

    @property
    def ca_url(self) -> str:
        return self._resolve(self.ca_pem_url)

    def records_url(self, database_code: str) -> str:
        return self._resolve(f"/api/{self.api_version}/{database_code}/records")

    @property
    def tls_verify(self) -> bool | str:
        """The ``verify`` argument for ``requests``."""
        if not self.verify_tls:
            return False
        return self.tls_ca_bundle_path or True

    def _resolve(self, path_or_url: str) -> str:
        if urlsplit(path_or_url).scheme:
            return path_or_url
        # Appended rather than joined, so that a gateway prefix in base_url is kept.
        return self.base_url.rstrip("/") + "/" + path_or_url.lstrip("/")

    @classmethod
    def from_connection(cls, conn: ConnectionLike) -> EndpointConfig:
        """Build the settings from an Airflow Connection of type ``http``.

        host, port and schema (``http`` or ``https``) give the base URL; login and password
        are the OAuth2 client id and secret. The extra JSON may set any other field of this
        class. Values given as text, as the Airflow UI stores them, are converted. Raises
        ValueError naming the connection and the field when something is missing or invalid.
        """
        conn_id = getattr(conn, "conn_id", None) or "<unnamed>"
        if not conn.login:
            raise ValueError(f"connection {conn_id}: login (the OAuth2 client id) is missing")
        if not conn.password:
            raise ValueError(f"connection {conn_id}: password (the OAuth2 client secret) is missing")

        options = _options_from_extra(conn_id, dict(conn.extra_dejson or {}))
        base_url = _base_url_from_connection(conn_id, conn)
        try:
            return cls(base_url=base_url, client_id=conn.login, client_secret=conn.password, **options)
        except ValueError as error:
            raise ValueError(f"connection {conn_id}: {error}") from None


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise ValueError(problem)


def _validate_base_url(base_url: str) -> None:
    parts = urlsplit(base_url)
    _require(parts.scheme in ("http", "https"), f"base_url {base_url!r} must start with http:// or https://")
    _require(bool(parts.hostname), f"base_url {base_url!r} has no host")
    # Credentials in the URL would end up in logs and error messages.
    _require(parts.username is None and parts.password is None, "base_url must not contain credentials")
    _require(not parts.query and not parts.fragment, "base_url must not contain a query or fragment")


def _base_url_from_connection(conn_id: str, conn: ConnectionLike) -> str:
    host = (conn.host or "").strip()
    if not host:
        raise ValueError(f"connection {conn_id}: host is missing")
    if "://" in host:
        return host.rstrip("/")

    scheme = (conn.schema or "https").strip().lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"connection {conn_id}: schema must be http or https, not {scheme!r}")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = f":{int(conn.port)}" if conn.port else ""
    return f"{scheme}://{host}{port}"


# Every field that a connection's extra JSON may set, with the type it is converted to.
_EXTRA_TYPES: dict[str, type] = {
    "agency_code": str,
    "api_version": str,
    "connect_timeout": float,
    "read_timeout": float,
    "max_attempts": int,
    "backoff_seconds": float,
    "max_backoff_seconds": float,
    "max_response_bytes": int,
    "batch_size": int,
    "page_size": int,
    "ca_pem_url": str,
    "ca_bundle_path": str,
    "verify_tls": bool,
    "tls_ca_bundle_path": str,
}

_TRUE_WORDS = {"true", "yes", "on", "1"}
_FALSE_WORDS = {"false", "no", "off", "0"}


def _options_from_extra(conn_id: str, extra: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(name for name in extra if name not in _EXTRA_TYPES)
    if unknown:
        logger.warning("Connection %s: ignoring unknown extra fields %s", conn_id, ", ".join(unknown))

    options: dict[str, Any] = {}
    for name, expected in _EXTRA_TYPES.items():
        if name in extra and extra[name] is not None:
            options[name] = _convert_extra(conn_id, name, extra[name], expected)
    return options


def _convert_extra(conn_id: str, name: str, value: Any, expected: type) -> Any:
    problem = f"connection {conn_id}: extra field {name} must be {expected.__name__}, got {value!r}"
    if expected is bool:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise ValueError(problem)

    if expected is str:
        if not isinstance(value, str):
            raise ValueError(problem)
        return value

    # bool is a subclass of int, but `"batch_size": true` is a mistake, not 1.
    if isinstance(value, bool):
        raise ValueError(problem)
    try:
        number = expected(str(value).strip()) if isinstance(value, str) else value
        if expected is int and isinstance(number, float):
            if not number.is_integer():
                raise ValueError(problem)
            number = int(number)
        return expected(number)
    except (TypeError, ValueError):
        raise ValueError(problem) from None
