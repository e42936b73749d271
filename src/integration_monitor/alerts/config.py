"""Alerting settings: when an incident alerts, and through which channels.

They live in ``include/alerting.yaml``; ``INTEGRATION_MONITOR_ALERTING`` names another file.
Channel credentials and addresses of servers stay in Airflow Connections, whose ids the
file names.
"""

from __future__ import annotations

import datetime as dt
import os
from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from integration_monitor.alerts.models import AlertKind
from integration_monitor.catalog.errors import CatalogError
from integration_monitor.catalog.loader import project_root

ALERTING_ENV = "INTEGRATION_MONITOR_ALERTING"


class ChannelType(StrEnum):
    APPRISE = "apprise"  # AppriseNotifier: e-mail, Slack, Teams, Telegram, json:// webhooks, ...
    SMTP = "smtp"  # SmtpNotifier: e-mail through an SMTP server


class ServiceAlerts(StrEnum):
    # Alert for a service only when a blocking reason names a database without an open incident.
    UNCOVERED = "uncovered"
    OFF = "off"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelConfig(_Strict):
    """One destination of alerts, backed by one Airflow Connection."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    type: ChannelType
    conn_id: str = Field(min_length=1, max_length=250)
    enabled: bool = True
    # None: the INTEGRATION_MONITOR_LANG environment variable, else Vietnamese.
    language: Literal["vi", "en"] | None = None
    # Owner codes from the catalog (e.g. bo_y_te); empty means every owner.
    owners: tuple[str, ...] = ()
    # Database codes; empty means every database.
    databases: tuple[str, ...] = ()
    events: tuple[AlertKind, ...] = (AlertKind.OPENED, AlertKind.REMINDER, AlertKind.RECOVERED)
    # SMTP only: recipients, and the sender when the connection's ``from_email`` extra is unset.
    to: tuple[str, ...] = ()
    from_email: str | None = None
    # Apprise only: the tag that selects URLs of the connection's ``config`` extra.
    tag: str = "all"

    @model_validator(mode="after")
    def _check_type_fields(self) -> ChannelConfig:
        if self.type is ChannelType.SMTP and not self.to:
            raise ValueError(f"channel {self.name}: an smtp channel needs at least one address in 'to'")
        if self.type is ChannelType.APPRISE and (self.to or self.from_email):
            raise ValueError(f"channel {self.name}: 'to' and 'from_email' apply to smtp channels only")
        return self

    def matches(self, owner_codes: set[str], database_codes: set[str], kind: AlertKind) -> bool:
        """Return whether this channel takes an alert about these owners and databases."""
        if not self.enabled or kind not in self.events:
            return False
        if self.owners and not owner_codes & set(self.owners):
            return False
        return not self.databases or bool(database_codes & set(self.databases))


class AlertingConfig(_Strict):
    # Consecutive non-OK checks before an incident's first alert (flap control). With 1 it alerts at once.
    failure_threshold: int = Field(default=1, ge=1, le=100)
    # Minutes between reminders while an incident stays open; 0 turns reminders off.
    reminder_interval_minutes: float = Field(default=240.0, ge=0)
    service_alerts: ServiceAlerts = ServiceAlerts.UNCOVERED
    # None: the dashboard_url of include/monitoring.yaml.
    dashboard_url: str | None = None
    channels: tuple[ChannelConfig, ...] = ()

    @field_validator("channels")
    @classmethod
    def _check_unique_names(cls, channels: tuple[ChannelConfig, ...]) -> tuple[ChannelConfig, ...]:
        names = [channel.name for channel in channels]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"channel names must be unique, repeated: {', '.join(duplicates)}")
        return channels

    @property
    def reminder_interval(self) -> dt.timedelta | None:
        if self.reminder_interval_minutes == 0:
            return None
        return dt.timedelta(minutes=self.reminder_interval_minutes)

    def resolved_dashboard_url(self) -> str:
        if self.dashboard_url:
            return self.dashboard_url
        from integration_monitor.pipeline.settings import load_settings

        return load_settings().dashboard_url

    def channel(self, name: str) -> ChannelConfig:
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(name)


def alerting_path() -> Path:
    return Path(os.environ.get(ALERTING_ENV) or project_root() / "include" / "alerting.yaml")


def load_alerting_config(path: Path | str | None = None, known_owners: set[str] | None = None,
                         known_databases: set[str] | None = None) -> AlertingConfig:
    """Read and validate the alerting file. A missing file means no channels.

    Raises ``CatalogError`` naming the file and the bad key. With ``known_owners`` and
    ``known_databases`` given, channel filters must name codes that exist in the catalog.
    """
    file = Path(path) if path else alerting_path()
    if not file.is_file():
        return AlertingConfig()
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise CatalogError(file, "file", f"invalid YAML: {error}") from None
    try:
        config = AlertingConfig.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors())
        raise CatalogError(file, "alerting", problems) from None

    for channel in config.channels:
        unknown_owners = sorted(set(channel.owners) - known_owners) if known_owners is not None else []
        unknown_databases = sorted(set(channel.databases) - known_databases) if known_databases is not None else []
        if unknown_owners:
            raise CatalogError(file, f"channels.{channel.name}.owners", f"unknown owner codes: {', '.join(unknown_owners)}")
        if unknown_databases:
            raise CatalogError(file, f"channels.{channel.name}.databases",
                               f"unknown database codes: {', '.join(unknown_databases)}")
    return config


def channel_language(channel: ChannelConfig) -> str:
    from integration_monitor.i18n import resolve_language

    return resolve_language(channel.language)

