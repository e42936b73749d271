"""Retry waits: exponential backoff with jitter, and Retry-After parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integration_monitor.fetch import EndpointConfig
from integration_monitor.fetch.transport import backoff_delay, parse_retry_after

NOW = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)


def settings(**overrides: float) -> EndpointConfig:
    return EndpointConfig("http://127.0.0.1:9", "monitor", "secret", **overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize(("attempt", "base"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0)])
def test_backoff_doubles_with_jitter(attempt: int, base: float) -> None:
    config = settings(backoff_seconds=0.5, max_backoff_seconds=60)

    delays = [backoff_delay(config, attempt, None) for _ in range(200)]

    assert min(delays) >= base
    assert max(delays) <= base * 1.1
    assert len(set(delays)) > 1, "jitter spreads the waits"


def test_backoff_capped() -> None:
    config = settings(backoff_seconds=1.0, max_backoff_seconds=3.0)

    assert backoff_delay(config, 10, None) == 3.0
    assert backoff_delay(config, 10_000, None) == 3.0
    assert backoff_delay(config, 1, 500.0) == 3.0


def test_backoff_follows_retry_after() -> None:
    config = settings(backoff_seconds=0.01, max_backoff_seconds=30)

    delay = backoff_delay(config, 1, 2.0)

    assert 2.0 <= delay <= 2.2


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("Mon, 02 Mar 2026 08:00:05 GMT", 5.0),
        ("Mon, 02 Mar 2026 07:59:00 GMT", 0.0),
        ("soon", None),
        ("-3", None),
        ("1.5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected
