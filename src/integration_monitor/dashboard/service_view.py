"""One public service: its databases and fields, its status timeline, incidents and tasks."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Select, Text, case, cast, extract, func, select
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
    """Build the segments of a window of whole hours from the runs of equal hours that the store groups.

    The store returns one row per run of consecutive hours with the same state and the same
    block kinds (gaps and islands), and one row per mixed hour. A steady 30-day window is
    then a few rows instead of 720. Mixed hours come one by one because ``_merge`` weighs
    their shares in the order of the hours, which keeps every share equal to the one a walk
    over each hour gives.
    """
    pieces = []
    cursor = hour_floor(start)
    for run in session.execute(_runs_of_hours(session, number, cursor, end)):
        if run.first_hour > cursor:
            pieces.append(_Piece(start=max(cursor, start), end=run.first_hour, state="no_result", ready_share=None))
        piece_start, piece_end = max(run.first_hour, start), min(run.last_hour + HOUR, end)
        if run.state == "no_result":
            pieces.append(_Piece(start=piece_start, end=piece_end, state="no_result", ready_share=None))
        else:
            share = {"ready": 1.0, "not_ready": 0.0}.get(run.state)
            if share is None:
                share = run.ready_count / run.evaluations
            kinds = json.loads(run.kinds) if run.kinds else None
            pieces.append(_Piece(start=piece_start, end=piece_end, state=run.state, ready_share=share,
                                 reasons=set(kinds or {})))
        cursor = run.last_hour + HOUR
    if cursor < end:
        pieces.append(_Piece(start=max(cursor, start), end=end, state="no_result", ready_share=None))
    return _merge(pieces)


def _runs_of_hours(session: Session, number: int, first_hour: dt.datetime, end: dt.datetime) -> Select[Any]:
    """Select the service's hours in ``[first_hour, end)`` grouped into runs, oldest first.

    Hours of one run share their state and their block kinds' JSON text, and follow each
    other without a missing hour. Within the rows of one state and text, an hour's start in
    seconds minus 3600 times its row number is constant exactly while the hours follow each
    other, so that difference names the run.
    """
    hourly = ServiceHourly
    state = case(
        (hourly.evaluations == 0, "no_result"),
        (hourly.ready_count == hourly.evaluations, "ready"),
        (hourly.ready_count == 0, "not_ready"),
        else_="mixed",
    )
    kinds = cast(hourly.block_kinds, Text)
    if session.get_bind().dialect.name == "sqlite":
        seconds = cast(func.strftime("%s", hourly.hour_start), BigInteger)  # SQLite keeps UTC text
    else:
        seconds = cast(extract("epoch", hourly.hour_start), BigInteger)
    position = func.row_number().over(partition_by=(state, kinds), order_by=hourly.hour_start)
    hours = (
        select(hourly.hour_start, hourly.evaluations, hourly.ready_count, state.label("state"), kinds.label("kinds"),
               (seconds - 3600 * position).label("run"))
        .where(hourly.service_number == number, hourly.hour_start >= first_hour, hourly.hour_start < end)
        .subquery()
    )
    first_hour_of_run = func.min(hours.c.hour_start)
    mixed_hour = case((hours.c.state == "mixed", hours.c.hour_start))  # keeps each mixed hour a run of its own
    return (
        select(hours.c.state, hours.c.kinds, first_hour_of_run.label("first_hour"),
               func.max(hours.c.hour_start).label("last_hour"), func.sum(hours.c.ready_count).label("ready_count"),
               func.sum(hours.c.evaluations).label("evaluations"))
        .group_by(hours.c.state, hours.c.kinds, hours.c.run, mixed_hour)
        .order_by(first_hour_of_run)
    )


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
