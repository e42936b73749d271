"""One public service: its databases and fields, its status timeline, incidents and tasks."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, Select, Text, and_, case, cast, distinct, func, literal, or_, select
from sqlalchemy.orm import Session

from integration_monitor.catalog.models import Service
from integration_monitor.dashboard.aggregate import HOUR, hour_floor
from integration_monitor.dashboard.context import ViewContext
from integration_monitor.dashboard.incidents import open_incident_starts, subject_incidents
from integration_monitor.dashboard.matrix import cell_status
from integration_monitor.dashboard.models import ServiceHourly
from integration_monitor.dashboard.schemas import (
    FieldFigure,
    ServiceDatabaseDetail,
    ServiceDetail,
    Timeline,
    TimelineSegment,
    Window,
)
from integration_monitor.dashboard.latest import load_latest_snapshot
from integration_monitor.report import StatusSnapshot, describe_reason
from integration_monitor.store.models import DatabaseCheck, ServiceStatusRow
from integration_monitor.store.repository import SCOPE_SERVICE

# A verdict stands for at most this long; a longer silence shows as "no result".
VERDICT_VALIDITY = dt.timedelta(hours=1)


def service_detail(ctx: ViewContext, number: int) -> ServiceDetail:
    """Build the service page's data. Raise ``KeyError`` for an unknown service number."""
    from integration_monitor.dashboard.tasks_view import service_tasks

    service = ctx.catalog.service(number)
    with ctx.factory() as session:
        snapshot, checks = load_latest_snapshot(ctx.catalog, session)
        since = open_incident_starts(session).get((SCOPE_SERVICE, str(number)))
        timelines = [service_timeline(session, number, window, ctx.now) for window in Window]
        current, past = subject_incidents(ctx, session, SCOPE_SERVICE, str(number))
    verdict = snapshot.services[number]

    return ServiceDetail(
        number=number,
        name=ctx.service_name(service),
        managing_body=ctx.owner_name(service.managing_body),
        end_to_end_per_appendix=service.end_to_end_per_appendix,
        ready=verdict.ready,
        evaluated_at=verdict.evaluated_at,
        not_ready_since=since if verdict.ready is False else None,
        reasons=[describe_reason(reason, ctx.catalog, ctx.language) for reason in verdict.reasons],
        databases=[_database_detail(ctx, snapshot, service, code, checks.get(code)) for code in service.database_codes()],
        timelines=timelines,
        open_incidents=current,
        past_incidents=past,
        tasks=service_tasks(ctx, service, snapshot, checks),
    )


def _database_detail(
    ctx: ViewContext, snapshot: StatusSnapshot, service: Service, code: str, check: DatabaseCheck | None
) -> ServiceDatabaseDetail:
    from integration_monitor.thresholds import thresholds_for

    database = ctx.catalog.database(code)
    entry = next(item for item in service.databases if item.database == code)
    limits = thresholds_for(code)
    by_field = {row.field_code: row for row in check.fields} if check is not None else {}
    fields = []
    for field_code in entry.required_fields:
        row = by_field.get(field_code)
        fields.append(FieldFigure(
            code=field_code,
            label=ctx.field_label(database, field_code),
            present=row.present if row is not None else None,
            completeness=row.completeness if row is not None else None,
            missing_count=row.missing_count if row is not None else None,
            threshold=row.threshold if row is not None else limits.field(field_code),
            passed=row.passed if row is not None else None,
        ))
    access = None
    if check is not None:
        rows = [row for row in check.access if row.service_number == service.number]
        access = rows[0].allowed if rows else None
    blocking = [reason for reason in snapshot.services[service.number].reasons if reason.database == code]
    return ServiceDatabaseDetail(
        code=code,
        name=ctx.database_name(database),
        owner=ctx.owner_name(database.owner),
        wording_in_appendix=entry.wording_in_appendix,
        field_count_in_appendix=entry.field_count_in_appendix,
        status=cell_status(snapshot, service.number, code),
        checked_at=check.checked_at if check is not None else None,
        failure_kind=check.failure_kind if check is not None else None,
        reason=check.reason if check is not None else None,
        access_allowed=access,
        signed=database.signed,
        signature_present_ratio=check.signature_present_ratio if check is not None else None,
        signature_valid_ratio=check.signature_valid_ratio if check is not None else None,
        signature_present_threshold=limits.signature_present if database.signed else None,
        signature_valid_threshold=limits.signature_valid if database.signed else None,
        fields=fields,
        blocking=[describe_reason(reason, ctx.catalog, ctx.language) for reason in blocking],
    )


def service_timeline(session: Session, number: int, window: Window, now: dt.datetime) -> Timeline:
    """Return the service's verdicts over a window as segments of equal state.

    The last 24 hours come from the raw verdicts, by the index on service number and time.
    Longer windows come from the hourly table, so their segments start and end on the hour.
    """
    start = now - window.length
    if window == Window.DAY:
        segments = _raw_segments(session, number, start, now)
    else:
        segments = _hourly_segments(session, number, start, now)
    weights = [(segment.ready_share, (segment.end - segment.start).total_seconds()) for segment in segments
               if segment.ready_share is not None]
    covered = sum(seconds for _share, seconds in weights)
    share = sum(share * seconds for share, seconds in weights) / covered if covered else None
    return Timeline(window=window, start=start, end=now, ready_share=share, segments=segments)


@dataclass(slots=True)
class _Piece:
    """A stretch of one state, before merging; plain fields, because a timeline has one per hour."""

    start: dt.datetime
    end: dt.datetime
    state: str
    ready_share: float | None
    reasons: set[str] = field(default_factory=set)


def _raw_segments(session: Session, number: int, start: dt.datetime, end: dt.datetime) -> list[TimelineSegment]:
    rows = session.execute(
        select(ServiceStatusRow.evaluated_at, ServiceStatusRow.ready, ServiceStatusRow.reasons)
        .where(ServiceStatusRow.service_number == number, ServiceStatusRow.evaluated_at >= start,
               ServiceStatusRow.evaluated_at <= end)
        .order_by(ServiceStatusRow.evaluated_at)
    ).all()
    pieces: list[_Piece] = []
    cursor = start
    for index, row in enumerate(rows):
        if row.evaluated_at > cursor:
            pieces.append(_Piece(start=cursor, end=row.evaluated_at, state="no_result", ready_share=None))
        following = rows[index + 1].evaluated_at if index + 1 < len(rows) else end
        stop = min(following, row.evaluated_at + VERDICT_VALIDITY, end)
        kinds = {reason.get("kind") for reason in row.reasons or [] if reason.get("kind")}
        pieces.append(_Piece(start=row.evaluated_at, end=stop, state="ready" if row.ready else "not_ready",
                             ready_share=1.0 if row.ready else 0.0, reasons=kinds))
        cursor = stop
    if cursor < end:
        pieces.append(_Piece(start=cursor, end=end, state="no_result", ready_share=None))
    return _merge(pieces)


def _hourly_segments(session: Session, number: int, start: dt.datetime, end: dt.datetime) -> list[TimelineSegment]:
    """Build the segments of a window of whole hours from runs of equal hours.

    The store sums the hours of each day first. A day of one state without a missing hour
    is one run, so a steady 30-day window returns about 30 rows and only the days with a
    change are read hour by hour. Reading all 720 hours of a 30-day window cost about four
    times a week's 168, per row in Python.

    NOTE: a service that changes state on most days still has most of its hours read. On the
    history benchmark's generated year, service 20 (mixed hours on 28 of 30 days) takes 2.7
    times a week's time on SQLite and 2.1 times on PostgreSQL.
    """
    first_hour = hour_floor(start)
    days = session.execute(_day_sums(session, number, first_hour, end)).all()
    runs = []
    changing_days = []
    for day in days:
        state = _uniform_state(day)
        if state is None:
            changing_days.append((day.first_hour, day.last_hour))
        else:
            share = _STATE_SHARES[state]
            runs.append(_Run(day.first_hour, day.last_hour + HOUR, state, share, {day.kinds}))
    if changing_days:
        runs.extend(_hour_runs(session, number, changing_days))
    runs.sort(key=lambda run: run.start)
    return _merge(_run_pieces(runs, start, end))


# The share of ready verdicts in an hour of each state but "mixed", whose share varies.
_STATE_SHARES = {"ready": 1.0, "not_ready": 0.0, "no_result": None}


@dataclass(slots=True)
class _Run:
    """Consecutive hours of one state from the hourly table."""

    start: dt.datetime
    end: dt.datetime
    state: str
    ready_share: float | None  # the first hour's; the other hours of a run share it unless it is "mixed"
    kinds: set[str | None]  # block kinds as comma-separated JSON objects, one entry per distinct text


def _hour_state(evaluations: int, ready_count: int) -> str:
    if evaluations == 0:
        return "no_result"
    if ready_count == evaluations:
        return "ready"
    if ready_count == 0:
        return "not_ready"
    return "mixed"


def _uniform_state(day: Row[Any]) -> str | None:
    """Return the state of every hour of a summed day, or None when the day changes state or misses an hour."""
    if day.hours != (day.last_hour - day.first_hour) // HOUR + 1:
        return None
    for state, hours in (("ready", day.ready_hours), ("not_ready", day.not_ready_hours),
                         ("no_result", day.empty_hours)):
        if hours == day.hours:
            return state
    return None


def _day_sums(session: Session, number: int, first_hour: dt.datetime, end: dt.datetime) -> Select[Any]:
    """Select, for each day of ``[first_hour, end)``, its hours, first and last hour, hours of each state and block kinds.

    The day follows the store's clock (UTC on SQLite, the session's time zone on PostgreSQL).
    Any grouping of consecutive hours works, because a day counts as one run only when its
    hour count matches its first and last hour.
    """
    hourly = ServiceHourly
    kinds = cast(hourly.block_kinds, Text)
    if session.get_bind().dialect.name == "sqlite":
        day = func.date(hourly.hour_start)
        distinct_kinds = func.group_concat(distinct(kinds))  # SQLite takes no separator with DISTINCT; "," is its default
    else:
        day = func.date_trunc("day", hourly.hour_start)
        distinct_kinds = func.string_agg(distinct(kinds), literal(","))
    first = func.min(hourly.hour_start)
    return (
        select(
            func.count().label("hours"),
            first.label("first_hour"),
            func.max(hourly.hour_start).label("last_hour"),
            func.sum(case((and_(hourly.evaluations > 0, hourly.ready_count == hourly.evaluations), 1), else_=0))
            .label("ready_hours"),
            func.sum(case((and_(hourly.evaluations > 0, hourly.ready_count == 0), 1), else_=0)).label("not_ready_hours"),
            func.sum(case((hourly.evaluations == 0, 1), else_=0)).label("empty_hours"),
            distinct_kinds.label("kinds"),
        )
        .where(hourly.service_number == number, hourly.hour_start >= first_hour, hourly.hour_start < end)
        .group_by(day)
        .order_by(first)
    )


def _hour_runs(session: Session, number: int, days: list[tuple[dt.datetime, dt.datetime]]) -> list[_Run]:
    """Read the hours of the given days one by one and join them into runs.

    Each mixed hour is a run of its own, because ``_merge`` weighs mixed shares in the order
    of the hours.
    """
    hourly = ServiceHourly
    in_days = or_(*(and_(hourly.hour_start >= first, hourly.hour_start <= last) for first, last in days))
    rows = session.execute(
        select(hourly.hour_start, hourly.evaluations, hourly.ready_count, cast(hourly.block_kinds, Text))
        .where(hourly.service_number == number, hourly.hour_start >= days[0][0], hourly.hour_start <= days[-1][1],
               in_days)
        .order_by(hourly.hour_start)
    ).all()

    runs: list[_Run] = []
    for hour, evaluations, ready_count, kinds in rows:
        state = _hour_state(evaluations, ready_count)
        last = runs[-1] if runs else None
        if last is not None and hour == last.end and state == last.state and state != "mixed":
            last.end = hour + HOUR
            last.kinds.add(kinds)
            continue
        runs.append(_Run(hour, hour + HOUR, state, ready_count / evaluations if evaluations else None, {kinds}))
    return runs


def _run_pieces(runs: list[_Run], start: dt.datetime, end: dt.datetime) -> list[_Piece]:
    """Turn runs into pieces clipped to ``[start, end)``, with "no result" pieces for the hours between them."""
    parsed: dict[str | None, frozenset[str]] = {}
    pieces = []
    cursor = hour_floor(start)
    for run in runs:
        if run.start > cursor:
            pieces.append(_Piece(start=max(cursor, start), end=run.start, state="no_result", ready_share=None))
        piece_start, piece_end = max(run.start, start), min(run.end, end)
        if run.state == "no_result":
            pieces.append(_Piece(start=piece_start, end=piece_end, state="no_result", ready_share=None))
        else:
            reasons: set[str] = set()
            for text in run.kinds:
                if text not in parsed:
                    parsed[text] = _kind_names(text)
                reasons |= parsed[text]
            pieces.append(_Piece(start=piece_start, end=piece_end, state=run.state, ready_share=run.ready_share,
                                 reasons=reasons))
        cursor = run.end
    if cursor < end:
        pieces.append(_Piece(start=max(cursor, start), end=end, state="no_result", ready_share=None))
    return pieces


def _kind_names(text: str | None) -> frozenset[str]:
    """Return the keys of comma-separated JSON objects of block kinds (a JSON null counts as no kinds)."""
    if not text:
        return frozenset()
    return frozenset(key for counts in json.loads(f"[{text}]") if counts for key in counts)


def _merge(pieces: list[_Piece]) -> list[TimelineSegment]:
    """Join adjacent pieces of the same state; a joined share is weighted by duration."""
    merged: list[_Piece] = []
    for piece in pieces:
        if piece.end <= piece.start:
            continue
        last = merged[-1] if merged else None
        if last is None or last.state != piece.state or last.end != piece.start:
            merged.append(_Piece(piece.start, piece.end, piece.state, piece.ready_share, set(piece.reasons)))
            continue
        if last.ready_share is not None and piece.ready_share is not None:
            first = (last.end - last.start).total_seconds()
            second = (piece.end - piece.start).total_seconds()
            last.ready_share = (last.ready_share * first + piece.ready_share * second) / (first + second)
        last.end = piece.end
        last.reasons |= piece.reasons
    return [TimelineSegment(start=item.start, end=item.end, state=item.state, ready_share=item.ready_share,
                            reasons=sorted(item.reasons)) for item in merged]
