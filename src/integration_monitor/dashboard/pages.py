"""HTML pages: the matrix, a service, a database, the appendix's tasks, incidents, exports."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from markupsafe import Markup

from integration_monitor.dashboard import charts
from integration_monitor.dashboard.context import ViewContext
from integration_monitor.dashboard.database_view import database_detail
from integration_monitor.dashboard.exports import DEFAULT_DAYS, MAX_DAILY_DAYS, MAX_HOURLY_DAYS
from integration_monitor.dashboard.formatting import format_number, format_ratio, format_time, local_time
from integration_monitor.dashboard.incidents import incidents_view
from integration_monitor.dashboard.labels import failure_kind_label, timeline_state_label
from integration_monitor.dashboard.matrix import build_matrix
from integration_monitor.dashboard.rendering import refresh_history, render, view_context
from integration_monitor.dashboard.schemas import DatabaseDetail, HourPoint, Timeline, Window
from integration_monitor.dashboard.service_view import service_detail
from integration_monitor.dashboard.tasks_view import all_tasks

router = APIRouter(include_in_schema=False)

STATIC_FILES = {"dashboard.css": "text/css", "icon.svg": "image/svg+xml"}


@router.get("/", response_class=HTMLResponse, name="matrix_page")
def matrix_page(request: Request) -> HTMLResponse:
    ctx = view_context(request)
    return render(request, "matrix.html", ctx, matrix=build_matrix(ctx))


@router.get("/services/{number}", response_class=HTMLResponse, name="service_page")
def service_page(request: Request, number: int) -> HTMLResponse:
    ctx = view_context(request)
    fresh = refresh_history(request)
    try:
        detail = service_detail(ctx, number)
    except KeyError:
        raise HTTPException(404, ctx._("No public service number {number}.", number=number)) from None
    bars = {timeline.window.value: _timeline_chart(ctx, detail.number, timeline) for timeline in detail.timelines}
    return render(request, "service.html", ctx, detail=detail, timeline_charts=bars, history_fresh=fresh)


@router.get("/databases/{code}", response_class=HTMLResponse, name="database_page")
def database_page(request: Request, code: str, window: Window = Window.WEEK) -> HTMLResponse:
    ctx = view_context(request)
    fresh = refresh_history(request)
    try:
        detail = database_detail(ctx, code, window)
    except KeyError:
        raise HTTPException(404, ctx._("No national database with code {code}.", code=code)) from None
    return render(request, "database.html", ctx, detail=detail, history_fresh=fresh,
                  charts=_database_charts(ctx, detail), windows=list(Window),
                  failure_buckets=_failure_buckets(ctx, detail))


@router.get("/tasks", response_class=HTMLResponse, name="tasks_page")
def tasks_page(request: Request) -> HTMLResponse:
    ctx = view_context(request)
    return render(request, "tasks.html", ctx, tasks=all_tasks(ctx))


@router.get("/incidents", response_class=HTMLResponse, name="incidents_page")
def incidents_page(request: Request) -> HTMLResponse:
    ctx = view_context(request)
    return render(request, "incidents.html", ctx, view=incidents_view(ctx))


@router.get("/exports", response_class=HTMLResponse, name="exports_page")
def exports_page(request: Request) -> HTMLResponse:
    ctx = view_context(request)
    today = local_time(ctx.now).date()
    return render(request, "exports.html", ctx, default_to=today.isoformat(),
                  default_from=(today - dt.timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
                  max_hourly_days=MAX_HOURLY_DAYS, max_daily_days=MAX_DAILY_DAYS)


@router.get("/api-docs", response_class=HTMLResponse, name="api_docs_page")
def api_docs_page(request: Request) -> HTMLResponse:
    ctx = view_context(request)
    schema = request.app.openapi()
    operations = [
        {"path": path, "method": method.upper(), "summary": operation.get("summary", ""),
         "description": operation.get("description", ""),
         "parameters": operation.get("parameters", [])}
        for path, methods in schema.get("paths", {}).items()
        for method, operation in methods.items()
    ]
    return render(request, "api_docs.html", ctx, operations=operations)


@router.get("/static/{name}", name="static")
def static_file(name: str) -> FileResponse:
    from integration_monitor.dashboard.app import STATIC_DIR

    if name not in STATIC_FILES:
        raise HTTPException(404, "File not found.")
    return FileResponse(STATIC_DIR / name, media_type=STATIC_FILES[name],
                        headers={"Cache-Control": "private, max-age=300"})


def not_found_page(request: Request, detail: str) -> HTMLResponse:
    ctx = view_context(request)
    return render(request, "not_found.html", ctx, status_code=404, detail=detail)


def _tick_label(ctx: ViewContext, span: dt.timedelta):  # type: ignore[no-untyped-def]
    def label(moment: dt.datetime) -> str:
        local = local_time(moment)
        if span <= dt.timedelta(days=2):
            return local.strftime("%H:%M")
        return local.strftime("%d/%m") if ctx.language == "vi" else local.strftime("%m-%d")

    return label


def _timeline_chart(ctx: ViewContext, number: int, timeline: Timeline) -> Markup:
    _ = ctx._
    bars = []
    for segment in timeline.segments:
        text = f"{format_time(segment.start, ctx.language)} – {format_time(segment.end, ctx.language)}: " \
               f"{timeline_state_label(ctx, segment.state)}"
        if segment.state == "mixed" and segment.ready_share is not None:
            text += f" ({format_ratio(segment.ready_share, ctx.language, 0)})"
        bars.append(charts.TimelineBar(segment.start, segment.end, segment.state, text))
    title = _("Status of service {number} over the last {window}", number=number, window=_window_label(ctx, timeline.window))
    description = _("End-to-end ready {share} of the time.", share=format_ratio(timeline.ready_share, ctx.language))
    return charts.timeline_svg(f"timeline-{timeline.window.value}", bars, timeline.start, timeline.end, title,
                               description, _tick_label(ctx, timeline.end - timeline.start))


def _window_label(ctx: ViewContext, window: Window) -> str:
    _ = ctx._
    return {Window.DAY: _("24 hours"), Window.WEEK: _("7 days"), Window.MONTH: _("30 days")}[window]


def _database_charts(ctx: ViewContext, detail: DatabaseDetail) -> dict[str, Markup]:
    _ = ctx._
    end = ctx.now
    start = end - detail.trend_window.length
    ticks = _tick_label(ctx, end - start)
    points = detail.trend
    window = _window_label(ctx, detail.trend_window)
    highest = max((point.latency_max_ms or 0 for point in points), default=0) or 1000

    latency = charts.line_chart_svg(
        "latency-chart",
        [charts.Series(_("Mean latency"), [(_middle(point), point.latency_mean_ms) for point in points]),
         charts.Series(_("Highest latency"), [(_middle(point), point.latency_max_ms) for point in points])],
        start, end, y_max=_round_up(highest),
        y_label=lambda value: f"{format_number(value, ctx.language)} ms",
        title=_("Latency over the last {window}", window=window),
        description=_("Mean and highest response time per hour, in milliseconds."),
        tick_label=ticks,
    )
    lowest = min((point.completeness_min for point in points if point.completeness_min is not None), default=0.9)
    floor = min(0.9, int(lowest * 10) / 10)
    completeness = charts.line_chart_svg(
        "completeness-chart",
        [charts.Series(_("Mean completeness"), [(_middle(point), point.completeness_mean) for point in points]),
         charts.Series(_("Lowest field completeness"), [(_middle(point), point.completeness_min) for point in points])],
        start, end, y_min=floor, y_max=1.0,
        y_label=lambda value: format_ratio(value, ctx.language, 0),
        title=_("Completeness over the last {window}", window=window),
        description=_("Mean completeness of the checked fields and the lowest single field, per hour."),
        tick_label=ticks,
    )
    buckets = [(bucket_start, bucket_end, counts) for bucket_start, bucket_end, counts in _failure_buckets(ctx, detail)]
    failures = charts.stacked_bars_svg(
        "failures-chart", buckets, start, end,
        title=_("Failure kinds over the last {window}", window=window),
        description=_("Number of failed checks per period, by failure kind."),
        kind_label=lambda kind: failure_kind_label(ctx, kind),
        tick_label=ticks,
    )
    return {"latency": latency, "completeness": completeness, "failures": failures}


def _failure_buckets(ctx: ViewContext, detail: DatabaseDetail) -> list[tuple[dt.datetime, dt.datetime, dict[str, int]]]:
    """Group the failure kinds per hour over 24 hours, else per day of Vietnam time."""
    per_day = detail.trend_window != Window.DAY
    buckets: dict[dt.datetime, Counter] = {}
    for point in detail.trend:
        key = point.hour_start
        if per_day:
            local = local_time(point.hour_start)
            key = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)
        buckets.setdefault(key, Counter()).update(point.failure_kinds)
    size = dt.timedelta(days=1) if per_day else dt.timedelta(hours=1)
    return [(key, key + size, dict(counts)) for key, counts in sorted(buckets.items()) if counts]


def _middle(point: HourPoint) -> dt.datetime:
    return point.hour_start + dt.timedelta(minutes=30)


def _round_up(value: float) -> float:
    for step in (100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000):
        if value <= step:
            return float(step)
    return float(value)
