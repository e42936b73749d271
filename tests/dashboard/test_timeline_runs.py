"""Timeline segments built from day sums and runs of hours equal those of a walk over every hour."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, insert, select

from integration_monitor.dashboard.aggregate import HOUR, hour_floor, refresh_aggregates
from integration_monitor.dashboard.history import HistoryOptions, generate_history
from integration_monitor.dashboard.models import ServiceHourly
from integration_monitor.dashboard.schemas import TimelineSegment, Window
from integration_monitor.dashboard.service_view import _merge, _Piece, service_timeline
from integration_monitor.store.engine import get_engine, session_factory
from integration_monitor.store.migrate import upgrade

END = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
GAP_SERVICE = 3
EMPTY_HOUR_SERVICE = 4
# On the hour, a few minutes after it, and with microseconds, as the dashboard's clock gives.
MOMENTS = (END, END - dt.timedelta(hours=5, minutes=47), END + dt.timedelta(minutes=13, seconds=2, microseconds=5071))


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def filled_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, catalog) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('timeline') / 'status.db'}"
    else:
        url = request.getfixturevalue("postgres_store_module")
    upgrade(url)
    # Two verdicts an hour give ready, not-ready and mixed hours. The timeline reads no field rows.
    options = HistoryOptions(start=END - dt.timedelta(days=32), end=END, interval=dt.timedelta(minutes=30), seed=11,
                             detail_window=dt.timedelta(hours=1))
    with session_factory(url).begin() as session:
        generate_history(session, catalog, options)
    refresh_aggregates(session_factory(url))
    _cut_hours(url)
    yield url
    get_engine(url).dispose()


def _cut_hours(url: str) -> None:
    """Remove hours of one service, and give another an hour without evaluations, as no refresh writes."""
    with session_factory(url).begin() as session:
        for first, count in ((END - dt.timedelta(days=3, hours=4), 9), (END - dt.timedelta(days=20), 1),
                             (END - dt.timedelta(hours=2), 2)):
            session.execute(delete(ServiceHourly).where(
                ServiceHourly.service_number == GAP_SERVICE, ServiceHourly.hour_start >= first,
                ServiceHourly.hour_start < first + count * HOUR))
        empty_hour = END - dt.timedelta(days=4, hours=7)
        session.execute(delete(ServiceHourly).where(ServiceHourly.service_number == EMPTY_HOUR_SERVICE,
                                                    ServiceHourly.hour_start == empty_hour))
        session.execute(insert(ServiceHourly), [{"service_number": EMPTY_HOUR_SERVICE, "hour_start": empty_hour,
                                                 "evaluations": 0, "ready_count": 0, "block_kinds": {}}])


def walked_segments(url: str, number: int, start: dt.datetime, end: dt.datetime) -> list[TimelineSegment]:
    """Build the segments by walking every hour of the window and reading its hourly row, if any."""
    with session_factory(url)() as session:
        rows = {row.hour_start: row for row in session.execute(
            select(ServiceHourly.hour_start, ServiceHourly.evaluations, ServiceHourly.ready_count,
                   ServiceHourly.block_kinds)
            .where(ServiceHourly.service_number == number, ServiceHourly.hour_start >= hour_floor(start),
                   ServiceHourly.hour_start <= end))}
    pieces = []
    hour = hour_floor(start)
    while hour < end:
        piece_start, piece_end = max(hour, start), min(hour + HOUR, end)
        row = rows.get(hour)
        if row is None or row.evaluations == 0:
            pieces.append(_Piece(start=piece_start, end=piece_end, state="no_result", ready_share=None))
        else:
            share = row.ready_count / row.evaluations
            state = "mixed"
            if share == 1:
                state = "ready"
            elif share == 0:
                state = "not_ready"
            pieces.append(_Piece(start=piece_start, end=piece_end, state=state, ready_share=share,
                                 reasons=set(row.block_kinds or {})))
        hour += HOUR
    return _merge(pieces)


@pytest.mark.parametrize("window", [Window.WEEK, Window.MONTH])
def test_runs_equal_hour_walk(filled_store: str, catalog, window: Window):  # type: ignore[no-untyped-def]
    for now in MOMENTS:
        for service in catalog.services:
            with session_factory(filled_store)() as session:
                timeline = service_timeline(session, service.number, window, now)

            expected = walked_segments(filled_store, service.number, now - window.length, now)
            assert timeline.segments == expected, (service.number, now)


def test_generated_hours_cover_every_state(filled_store: str):
    with session_factory(filled_store)() as session:
        month = [service_timeline(session, number, Window.MONTH, END) for number in (1, GAP_SERVICE, EMPTY_HOUR_SERVICE)]

    states = {segment.state for timeline in month for segment in timeline.segments}
    assert states == {"ready", "not_ready", "mixed", "no_result"}
    assert any(segment.reasons for timeline in month for segment in timeline.segments)


def test_missing_hours_show_no_result(filled_store: str):
    with session_factory(filled_store)() as session:
        gaps = service_timeline(session, GAP_SERVICE, Window.WEEK, END)
        empty = service_timeline(session, EMPTY_HOUR_SERVICE, Window.WEEK, END)

    cut = END - dt.timedelta(days=3, hours=4)
    assert any(segment.state == "no_result" and segment.start <= cut and segment.end >= cut + 9 * HOUR
               for segment in gaps.segments)
    assert gaps.segments[-1].state == "no_result"
    assert gaps.segments[-1].end == END
    empty_hour = END - dt.timedelta(days=4, hours=7)
    assert any(segment.state == "no_result" and segment.start <= empty_hour and segment.end >= empty_hour + HOUR
               for segment in empty.segments)


def test_window_past_history_is_one_gap(filled_store: str):
    later = END + dt.timedelta(days=60, minutes=20)
    with session_factory(filled_store)() as session:
        timeline = service_timeline(session, 1, Window.MONTH, later)

    assert [(segment.state, segment.start, segment.end) for segment in timeline.segments] == [
        ("no_result", later - Window.MONTH.length, later)]
    assert timeline.ready_share is None
