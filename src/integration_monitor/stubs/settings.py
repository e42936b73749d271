"""Settings of one stub server run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from integration_monitor.signatures import KeyAlgorithm
from integration_monitor.stubs.auth import ClientCredentials

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8700
DEFAULT_SEED = 2025
DEFAULT_TOTAL = 5000
DEFAULT_TOKEN_LIFETIME = 3600
# 800 blocks of 100 records cover the default 16 databases of 5000 records each.
DEFAULT_CACHE_BLOCKS = 800
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True)
class StubSettings:
    credentials: ClientCredentials
    admin_token: str | None = field(default=None, repr=False)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    seed: int = DEFAULT_SEED
    total: int = DEFAULT_TOTAL
    token_lifetime_seconds: int = DEFAULT_TOKEN_LIFETIME
    key_algorithm: KeyAlgorithm = KeyAlgorithm.ECDSA_P256
    pki_dir: Path | None = None
    cache_blocks: int = DEFAULT_CACHE_BLOCKS
    scenarios_dir: Path | None = None
    # Build and sign every block in the background after start-up, so later reads are fast.
    warm_up: bool = False
    # Marks every personal field's value with this prefix and the record index (leak tests).
    canary_prefix: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is out of range 0..65535")
        if self.total < 0:
            raise ValueError(f"total {self.total} must not be negative")
        if self.token_lifetime_seconds < 1:
            raise ValueError("token lifetime must be at least 1 second")
        if self.cache_blocks < 1:
            raise ValueError("cache must hold at least 1 block")
