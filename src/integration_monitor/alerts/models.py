"""Tables of the alert history and of maintenance windows, in the status store.

Alerts carry statuses, failure kinds, counts and service numbers, never record values.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from integration_monitor.store.models import Base, UtcDateTime


class AlertKind(StrEnum):
    OPENED = "opened"  # first notice of an incident, once it has lasted the failure threshold
    REMINDER = "reminder"  # the incident is still open after the reminder interval
    RECOVERED = "recovered"  # the incident closed, with the outage duration


class AlertOutcome(StrEnum):
    """Summary of an alert's deliveries."""

    SENT = "sent"  # every channel delivered
    PARTIAL = "partial"  # some channels delivered, some failed
    FAILED = "failed"  # every channel failed
    SUPPRESSED = "suppressed"  # a maintenance window or silence was active
    NO_CHANNEL = "no_channel"  # no configured channel matches the incident


class DeliveryOutcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class WindowKind(StrEnum):
    MAINTENANCE = "maintenance"  # planned work announced by the database's owner
    SILENCE = "silence"  # an operator mutes a known problem


class MaintenanceWindow(Base):
    """A period during which alerts about one national database are suppressed."""

    __tablename__ = "maintenance_windows"
    __table_args__ = (Index("ix_maintenance_windows_database", "database_code", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    database_code: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    # Set by ``maintenance end``: the window stops suppressing from this moment.
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    ended_by: Mapped[str | None] = mapped_column(String(120))

    @property
    def effective_end(self) -> dt.datetime:
        return min(self.ends_at, self.ended_at) if self.ended_at is not None else self.ends_at

    def is_active(self, at: dt.datetime) -> bool:
        return self.starts_at <= at < self.effective_end


class Alert(Base):
    """One alert about one incident: an opening notice, a reminder or a recovery notice."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_incident", "incident_id", "kind"),
        Index("ix_alerts_subject", "scope", "subject", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(16))  # "database" or "service", as in incidents
    subject: Mapped[str] = mapped_column(String(64))  # database code or service number
    kind: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[str] = mapped_column(String(250))
    # Time of the check or rollup that triggered the alert; reminders are spaced on it.
    event_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(24))
    failure_kind: Mapped[str | None] = mapped_column(String(32))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    databases: Mapped[list[str]] = mapped_column(JSON, default=list)  # database codes the alert names
    affected_services: Mapped[list[int]] = mapped_column(JSON, default=list)
    outage_seconds: Mapped[float | None] = mapped_column(Float)
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False)
    maintenance_id: Mapped[int | None] = mapped_column(ForeignKey("maintenance_windows.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)  # in the default language, for the history

    deliveries: Mapped[list[AlertDelivery]] = relationship(
        back_populates="alert", cascade="all, delete-orphan", passive_deletes=True, order_by="AlertDelivery.id"
    )


class AlertDelivery(Base):
    """The result of sending one alert through one channel."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (Index("ix_alert_deliveries_alert", "alert_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64))
    channel_type: Mapped[str] = mapped_column(String(16))
    conn_id: Mapped[str] = mapped_column(String(250))
    language: Mapped[str] = mapped_column(String(8))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)  # why it failed, or which window suppressed it
    attempted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    duration_ms: Mapped[float | None] = mapped_column(Float)

    alert: Mapped[Alert] = relationship(back_populates="deliveries")
