"""One national database: availability, latency and completeness trends, failures, incidents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, case, func, select
from sqlalchemy.orm import Session

from integration_monitor.dashboard.aggregate import hour_floor
from integration_monitor.dashboard.context import ViewContext
from integration_monitor.dashboard.incidents import maintenance_windows, open_incident_starts, subject_incidents
from integration_monitor.dashboard.models import DatabaseHourly
from integration_monitor.dashboard.schemas import (
    DatabaseDetail,
    FieldFigure,
    HourPoint,
    ServiceAccessItem,
    Window,
    WindowFigures,
)
from integration_monitor.dashboard.labels import check_problems
from integration_monitor.store.repository import latest_checks
from integration_monitor.store.repository import SCOPE_DATABASE


def database_hours(session: Session, code: str, start: dt.datetime, end: dt.datetime) -> list[Row[Any]]:
    """Return the hourly rows of one database whose hour overlaps ``[start, end)`` (primary-key range).

    The rows carry the columns of ``DatabaseHourly`` as attributes. They are not ORM objects,
    because a 30-day window reads 720 of them and building an ORM object per row cost more
    than the query itself.
    """
    return list(session.execute(
        select(*DatabaseHourly.__table__.columns)
        .where(DatabaseHourly.database_code == code, DatabaseHourly.hour_start >= hour_floor(start),
               DatabaseHourly.hour_start < end)
        .order_by(DatabaseHourly.hour_start)
    ))


def window_figures(rows: Sequence[Row[Any]], window: Window, now: dt.datetime) -> WindowFigures:
    """Sum the hourly rows of the window's hours; the first hour counts whole."""
    first_hour = hour_floor(now - window.length)
    selected = [row for row in rows if row.hour_start >= first_hour]
    checks = sum(row.checks for row in selected)
    usable = sum(row.ok_count + row.degraded_count for row in selected)
    ok = sum(row.ok_count for row in selected)
    latency = _weighted(selected, "latency_mean_ms")
    completeness = _weighted(selected, "completeness_mean")
    return WindowFigures(
        window=window,
        checks=checks,
        availability=usable / checks if checks else None,
        ok_share=ok / checks if checks else None,
        broken_count=sum(row.broken_count for row in selected),
        no_data_count=sum(row.no_data_count for row in selected),
        latency_mean_ms=latency,
        completeness_mean=completeness,
    )


def window_figures_in_store(session: Session, code: str, window: Window, now: dt.datetime) -> WindowFigures:
    """Return what :func:`window_figures` returns, summed by the database instead of in Python.

    The answer is one row whatever the window's length, so a 30-day window costs about what
    a 7-day one does, however full the window is.
    """
    hourly = DatabaseHourly
    latency_known = hourly.latency_mean_ms.is_not(None)
    completeness_known = hourly.completeness_mean.is_not(None)
    sums = session.execute(
        select(
            func.coalesce(func.sum(hourly.checks), 0),
            func.coalesce(func.sum(hourly.ok_count + hourly.degraded_count), 0),
            func.coalesce(func.sum(hourly.ok_count), 0),
            func.coalesce(func.sum(hourly.broken_count), 0),
            func.coalesce(func.sum(hourly.no_data_count), 0),
            func.sum(case((latency_known, hourly.latency_mean_ms * hourly.checks))),
            func.sum(case((latency_known, hourly.checks))),
            func.sum(case((completeness_known, hourly.completeness_mean * hourly.checks))),
            func.sum(case((completeness_known, hourly.checks))),
        ).where(hourly.database_code == code, hourly.hour_start >= hour_floor(now - window.length),
                hourly.hour_start < now)
    ).one()
    checks, usable, ok, broken, no_data, latency_sum, latency_checks, completeness_sum, completeness_checks = sums
    return WindowFigures(
        window=window,
        checks=int(checks),
        availability=int(usable) / int(checks) if checks else None,
        ok_share=int(ok) / int(checks) if checks else None,
        broken_count=int(broken),
        no_data_count=int(no_data),
        latency_mean_ms=float(latency_sum) / int(latency_checks) if latency_checks else None,
        completeness_mean=float(completeness_sum) / int(completeness_checks) if completeness_checks else None,
    )


def _weighted(rows: Sequence[Row[Any]], attribute: str) -> float | None:
    pairs = [(getattr(row, attribute), row.checks) for row in rows if getattr(row, attribute) is not None]
    total = sum(weight for _value, weight in pairs)
    return sum(value * weight for value, weight in pairs) / total if total else None


def hour_point(row: Row[Any]) -> HourPoint:
    return HourPoint(
        hour_start=row.hour_start,
        checks=row.checks,
        availability=(row.ok_count + row.degraded_count) / row.checks if row.checks else None,
        latency_mean_ms=row.latency_mean_ms,
        latency_max_ms=row.latency_max_ms,
        completeness_mean=row.completeness_mean,
        completeness_min=row.completeness_min,
        failure_kinds=dict(row.failure_kinds or {}),
    )


def database_detail(ctx: ViewContext, code: str, trend_window: Window = Window.WEEK) -> DatabaseDetail:
    """Build the database page's data. Raise ``KeyError`` for an unknown database code."""
    database = ctx.catalog.database(code)
    readers = ctx.catalog.services_reading(code)
    with ctx.factory() as session:
        check = latest_checks(session, [code]).get(code)
        rows = database_hours(session, code, ctx.now - trend_window.length, ctx.now)
        windows = [window_figures_in_store(session, code, window, ctx.now) for window in Window]
        since = open_incident_starts(session).get((SCOPE_DATABASE, code))
        current, past = subject_incidents(ctx, session, SCOPE_DATABASE, code)
    _available, maintenance = maintenance_windows(ctx, [code])

    fields = []
    if check is not None:
        for row in sorted(check.fields, key=lambda item: (item.passed, item.completeness)):
            fields.append(FieldFigure(code=row.field_code, label=ctx.field_label(database, row.field_code),
                                      present=row.present, completeness=row.completeness,
                                      missing_count=row.missing_count, threshold=row.threshold, passed=row.passed))
    access = {row.service_number: row for row in check.access} if check is not None else {}
    trend_start = hour_floor(ctx.now - trend_window.length)
    problems = check_problems(ctx, check)

    return DatabaseDetail(
        code=code,
        name=ctx.database_name(database),
        owner=ctx.owner_name(database.owner),
        signed=database.signed,
        status=check.status if check is not None else None,
        failure_kind=check.failure_kind if check is not None else None,
        reason=check.reason if check is not None else None,
        problems=problems,
        checked_at=check.checked_at if check is not None else None,
        latency_ms=check.latency_ms if check is not None else None,
        record_count=check.record_count if check is not None else None,
        unhealthy_since=since,
        signature_present_ratio=check.signature_present_ratio if check is not None else None,
        signature_valid_ratio=check.signature_valid_ratio if check is not None else None,
        fields=fields,
        services=[
            ServiceAccessItem(
                number=service.number,
                name=ctx.service_name(service),
                allowed=access[service.number].allowed if service.number in access else None,
                http_status=access[service.number].http_status if service.number in access else None,
            )
            for service in readers
        ],
        windows=windows,
        trend_window=trend_window,
        trend=[hour_point(row) for row in rows if row.hour_start >= trend_start],
        open_incidents=current,
        past_incidents=past,
        maintenance=maintenance,
    )
