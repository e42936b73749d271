"""Hourly aggregates of the status store that keep the dashboard's history views fast.

The raw tables grow by one row per database per check (about 1.7 million database checks a
year at a 5-minute interval for 16 databases). The history pages, uptime figures and exports
read these hourly rows instead: 24 per database per day.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from integration_monitor.store.models import Base, UtcDateTime


class DatabaseHourly(Base):
    """The checks of one national database within one UTC hour, summed up."""

    __tablename__ = "dashboard_database_hourly"
    __table_args__ = (Index("ix_dashboard_database_hourly_hour", "hour_start", "database_code"),)

    database_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour_start: Mapped[dt.datetime] = mapped_column(UtcDateTime(), primary_key=True)
    checks: Mapped[int] = mapped_column(Integer)
    ok_count: Mapped[int] = mapped_column(Integer)
    degraded_count: Mapped[int] = mapped_column(Integer)
    broken_count: Mapped[int] = mapped_column(Integer)
    no_data_count: Mapped[int] = mapped_column(Integer)
    latency_mean_ms: Mapped[float | None] = mapped_column(Float)
    latency_max_ms: Mapped[float | None] = mapped_column(Float)
    # Mean over the hour's checks of each check's mean field completeness, and the lowest
    # completeness of any field in any check of the hour.
    completeness_mean: Mapped[float | None] = mapped_column(Float)
    completeness_min: Mapped[float | None] = mapped_column(Float)
    signature_present_mean: Mapped[float | None] = mapped_column(Float)
    signature_valid_mean: Mapped[float | None] = mapped_column(Float)
    record_count: Mapped[int] = mapped_column(Integer)
    failure_kinds: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class ServiceHourly(Base):
    """The rollup verdicts of one public service within one UTC hour, summed up."""

    __tablename__ = "dashboard_service_hourly"
    __table_args__ = (Index("ix_dashboard_service_hourly_hour", "hour_start", "service_number"),)

    service_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    hour_start: Mapped[dt.datetime] = mapped_column(UtcDateTime(), primary_key=True)
    evaluations: Mapped[int] = mapped_column(Integer)
    ready_count: Mapped[int] = mapped_column(Integer)
    block_kinds: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class AggregationState(Base):
    """How far the hourly tables have read one raw table: the highest row id already summed."""

    __tablename__ = "dashboard_aggregation_state"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
