"""Tables of the status store: only counts, ratios, statuses and reasons, never record values."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always returned timezone-aware, SQLite included."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the status store; pass an aware UTC datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class DatabaseCheck(Base):
    """One poll of one national database in one DAG run."""

    __tablename__ = "database_checks"
    __table_args__ = (
        UniqueConstraint("database_code", "run_id", name="uq_database_checks_run"),
        Index("ix_database_checks_code_time", "database_code", "checked_at"),
        Index("ix_database_checks_time", "checked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    database_code: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str] = mapped_column(String(250))
    checked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))
    failure_kind: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    http_status: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_count: Mapped[int] = mapped_column(Integer, default=0)
    signature_present_ratio: Mapped[float | None] = mapped_column(Float)
    signature_valid_ratio: Mapped[float | None] = mapped_column(Float)
    signature_failures: Mapped[dict[str, int] | None] = mapped_column(JSON)
    expectations_evaluated: Mapped[int | None] = mapped_column(Integer)
    expectations_failed: Mapped[int | None] = mapped_column(Integer)

    fields: Mapped[list[FieldCheck]] = relationship(
        back_populates="check", cascade="all, delete-orphan", passive_deletes=True
    )
    access: Mapped[list[ServiceAccess]] = relationship(
        back_populates="check", cascade="all, delete-orphan", passive_deletes=True
    )


class FieldCheck(Base):
    """Completeness of one required field in one database check."""

    __tablename__ = "field_checks"
    __table_args__ = (UniqueConstraint("check_id", "field_code", name="uq_field_checks_field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("database_checks.id", ondelete="CASCADE"))
    field_code: Mapped[str] = mapped_column(String(64))
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    completeness: Mapped[float] = mapped_column(Float)
    missing_count: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean)

    check: Mapped[DatabaseCheck] = relationship(back_populates="fields")


class ServiceAccess(Base):
    """Whether a database answered a request carrying one service's code."""

    __tablename__ = "service_access"
    __table_args__ = (UniqueConstraint("check_id", "service_number", name="uq_service_access_service"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("database_checks.id", ondelete="CASCADE"))
    service_number: Mapped[int] = mapped_column(Integer)
    allowed: Mapped[bool] = mapped_column(Boolean)
    failure_kind: Mapped[str | None] = mapped_column(String(32))
    http_status: Mapped[int | None] = mapped_column(Integer)

    check: Mapped[DatabaseCheck] = relationship(back_populates="access")


class ServiceStatusRow(Base):
    """A public service's end-to-end verdict computed by one rollup run."""

    __tablename__ = "service_statuses"
    __table_args__ = (
        UniqueConstraint("service_number", "run_id", name="uq_service_statuses_run"),
        Index("ix_service_statuses_number_time", "service_number", "evaluated_at"),
        Index("ix_service_statuses_time", "evaluated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_number: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str] = mapped_column(String(250))
    evaluated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    ready: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(24))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Incident(Base):
    """A period during which a database or a service was not healthy."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_subject", "scope", "subject", "opened_at"),
        Index("ix_incidents_open", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # "database" or "service"
    subject: Mapped[str] = mapped_column(String(64))  # database code or service number
    status: Mapped[str] = mapped_column(String(24))
    failure_kind: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    opened_by_run: Mapped[str] = mapped_column(String(250))
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    closed_by_run: Mapped[str | None] = mapped_column(String(250))
