"""HTTP fetch layer: polls a national database's endpoint and classifies every failure.

Records stay in memory in the returned Batch. Logs and errors carry counts, sizes, timings
and status codes, never record values, the client secret or a token.
"""

from integration_monitor.fetch.access_token import TokenCache, token_cache
from integration_monitor.fetch.client import AccessResult, Batch, fetch_batch, fetch_ca_certificate, probe_access
from integration_monitor.fetch.config import EndpointConfig
from integration_monitor.fetch.errors import FailureKind, FetchError
from integration_monitor.fetch.payload import MAX_NESTING_DEPTH, MAX_NUMBER_DIGITS

__all__ = [
    "MAX_NESTING_DEPTH",
    "MAX_NUMBER_DIGITS",
    "AccessResult",
    "Batch",
    "EndpointConfig",
    "FailureKind",
    "FetchError",
    "TokenCache",
    "fetch_batch",
    "fetch_ca_certificate",
    "probe_access",
    "token_cache",
]
