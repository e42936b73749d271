"""The JSON API: the same data as the pages, for scripts and the ministries' own tools.

Text for operators in the responses (names, reasons, task summaries) follows ``lang``
(``vi`` by default). Times are UTC in ISO 8601, and ratios are shares from 0 to 1.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from integration_monitor.dashboard.aggregate import hour_floor
from integration_monitor.dashboard.database_view import database_detail, database_hours, hour_point
from integration_monitor.dashboard.incidents import incidents_view
from integration_monitor.dashboard.matrix import build_matrix
from integration_monitor.dashboard.models import ServiceHourly
from integration_monitor.dashboard.rendering import refresh_history, view_context
from integration_monitor.dashboard.schemas import (
    DatabaseDetail,
    HourPoint,
    IncidentsView,
    Matrix,
    ServiceDetail,
    TaskEvidence,
    Window,
)
from integration_monitor.dashboard.service_view import service_detail
from integration_monitor.dashboard.tasks_view import all_tasks

router = APIRouter(prefix="/api", tags=["dashboard"])

MAX_HOURS_SPAN = dt.timedelta(days=93)

Language = Annotated[Literal["vi", "en"] | None, Query(description="Language of operator text, vi by default")]
Since = Annotated[dt.datetime | None, Query(alias="from", description="Start, ISO 8601 (default: 7 days ago)")]
Until = Annotated[dt.datetime | None, Query(alias="to", description="End, ISO 8601, excluded (default: now)")]


class ServiceHourPoint(BaseModel):
    hour_start: dt.datetime
    evaluations: int
    ready_share: float | None
    block_kinds: dict[str, int]


@router.get("/matrix", response_model=Matrix, summary="Services × national databases status matrix")
def api_matrix(request: Request, lang: Language = None) -> Matrix:
    """Return the latest status of every database and service, with one cell per database a service reads."""
    return build_matrix(view_context(request, lang))


@router.get("/services/{number}", response_model=ServiceDetail, summary="One public service")
def api_service(request: Request, number: int, lang: Language = None) -> ServiceDetail:
    """Return the service's databases and required fields with completeness and signatures, its
    timelines over 24 h, 7 d and 30 d, open and past incidents, and its tasks with live evidence."""
    ctx = view_context(request, lang)
    refresh_history(request)
    try:
        return service_detail(ctx, number)
    except KeyError:
        raise HTTPException(404, f"no public service number {number}") from None


@router.get("/services/{number}/hours", response_model=list[ServiceHourPoint], summary="A service's verdicts per hour")
def api_service_hours(request: Request, number: int, since: Since = None, until: Until = None) -> list[ServiceHourPoint]:
    """Return the rollup verdicts summed per UTC hour, over a period of at most 93 days."""
    ctx = view_context(request)
    start, end = _period(since, until, ctx.now)
    if number not in {service.number for service in ctx.catalog.services}:
        raise HTTPException(404, f"no public service number {number}")
    refresh_history(request)
    with ctx.factory() as session:
        rows = session.scalars(
            select(ServiceHourly)
            .where(ServiceHourly.service_number == number, ServiceHourly.hour_start >= hour_floor(start),
                   ServiceHourly.hour_start < end)
            .order_by(ServiceHourly.hour_start)
        )
        return [ServiceHourPoint(hour_start=row.hour_start, evaluations=row.evaluations,
                                 ready_share=row.ready_count / row.evaluations if row.evaluations else None,
                                 block_kinds=dict(row.block_kinds or {})) for row in rows]


@router.get("/databases/{code}", response_model=DatabaseDetail, summary="One national database")
def api_database(request: Request, code: str, window: Window = Window.WEEK, lang: Language = None) -> DatabaseDetail:
    """Return the latest check and fields, availability over 24 h, 7 d and 30 d, the hourly trend
    over ``window``, incidents and maintenance windows."""
    ctx = view_context(request, lang)
    refresh_history(request)
    try:
        return database_detail(ctx, code, window)
    except KeyError:
        raise HTTPException(404, f"no national database with code {code!r}") from None


@router.get("/databases/{code}/hours", response_model=list[HourPoint], summary="A database's checks per hour")
def api_database_hours(request: Request, code: str, since: Since = None, until: Until = None) -> list[HourPoint]:
    """Return the checks summed per UTC hour, over a period of at most 93 days."""
    ctx = view_context(request)
    start, end = _period(since, until, ctx.now)
    if code not in {database.code for database in ctx.catalog.databases}:
        raise HTTPException(404, f"no national database with code {code!r}")
    refresh_history(request)
    with ctx.factory() as session:
        return [hour_point(row) for row in database_hours(session, code, start, end)]


@router.get("/tasks", response_model=list[TaskEvidence], summary="The appendix's tasks with live evidence")
def api_tasks(request: Request, lang: Language = None) -> list[TaskEvidence]:
    """Return every task of the appendix with its responsible bodies, its deadline, and the latest
    checks of the databases those bodies own for the task's service."""
    return all_tasks(view_context(request, lang))


@router.get("/incidents", response_model=IncidentsView, summary="Open incidents and maintenance windows")
def api_incidents(request: Request, lang: Language = None) -> IncidentsView:
    """Return open incidents, incidents closed in the last 7 days, and current and future maintenance windows."""
    return incidents_view(view_context(request, lang))


@router.get("/openapi.json", include_in_schema=False)
def api_openapi(request: Request) -> dict[str, Any]:
    return request.app.openapi()


def _period(since: dt.datetime | None, until: dt.datetime | None, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    end = _aware(until, "to") if until is not None else now
    start = _aware(since, "from") if since is not None else end - dt.timedelta(days=7)
    if start >= end:
        raise HTTPException(422, f"'from' {start.isoformat()} is not before 'to' {end.isoformat()}")
    if end - start > MAX_HOURS_SPAN:
        raise HTTPException(422, f"the period is longer than {MAX_HOURS_SPAN.days} days; use the history export")
    return start, end


def _aware(moment: dt.datetime, name: str) -> dt.datetime:
    if moment.tzinfo is None:
        raise HTTPException(422, f"'{name}' needs a time zone, e.g. 2025-06-30T00:00:00+07:00")
    return moment.astimezone(dt.UTC)
