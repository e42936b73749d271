"""Fixtures for the alert tests: local receivers, a migrated SQLite store and channel settings."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.alerts.receivers import Inbox, SmtpReceiver, WebhookReceiver, free_port

T0 = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)
POLL = dt.timedelta(minutes=15)


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver(Inbox()).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(Inbox()).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port with no listener, so connecting to it is refused."""
    return free_port()


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated SQLite store that the code under test finds through INTEGRATION_MONITOR_STORE_URL."""
    from integration_monitor.store.engine import get_engine
    from integration_monitor.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'status.db'}"
    monkeypatch.setenv("INTEGRATION_MONITOR_STORE_URL", url)
    # get_engine() caches the engine for the argument None, so a new store URL in the environment needs a clear.
    get_engine.cache_clear()
    upgrade(url)
    yield url
    get_engine.cache_clear()


def smtp_connection(port: int) -> str:
    return json.dumps({
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "giam-sat@example.com",
                  "retry_limit": 0, "timeout": 5},
    })


def apprise_connection(port: int, tag: str = "ops") -> str:
    return json.dumps({"conn_type": "apprise", "extra": {"config": [{"path": f"json://127.0.0.1:{port}/hook", "tag": tag}]}})


@pytest.fixture
def configure_alerting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Return a function that writes an alerting file and points INTEGRATION_MONITOR_ALERTING at it."""

    def configure(**settings: Any) -> Path:
        path = tmp_path / "alerting.yaml"
        path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
        monkeypatch.setenv("INTEGRATION_MONITOR_ALERTING", str(path))
        return path

    return configure


@pytest.fixture
def two_channels(
    monkeypatch: pytest.MonkeyPatch, smtp_receiver: SmtpReceiver, webhook_receiver: WebhookReceiver
) -> list[dict[str, Any]]:
    """Airflow Connections for the local receivers, and the channel entries that use them."""
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_TEST", smtp_connection(smtp_receiver.port))
    monkeypatch.setenv("AIRFLOW_CONN_APPRISE_TEST", apprise_connection(webhook_receiver.port))
    return [
        {"name": "webhook", "type": "apprise", "conn_id": "apprise_test", "tag": "ops"},
        {"name": "email", "type": "smtp", "conn_id": "smtp_test", "to": ["truc-ban@example.com"]},
    ]
