"""Availability windows summed by the database agree with the sums over the hourly rows."""

from __future__ import annotations

import datetime as dt

import pytest

from integration_monitor.dashboard.aggregate import refresh_aggregates
from integration_monitor.dashboard.database_view import database_hours, window_figures, window_figures_in_store
from integration_monitor.dashboard.history import HistoryOptions, generate_history
from integration_monitor.dashboard.schemas import Window
from integration_monitor.store.engine import session_factory
from integration_monitor.store.migrate import upgrade

END = dt.datetime(2026, 3, 1, 12, 20, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def filled_store(request: pytest.FixtureRequest, tmp_path, catalog) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'status.db'}" if request.param == "sqlite" else request.getfixturevalue(
        "postgres_store_url")
    upgrade(url)
    options = HistoryOptions(start=END - dt.timedelta(days=10), end=END, interval=dt.timedelta(minutes=20),
                             seed=7)
    with session_factory(url).begin() as session:
        generate_history(session, catalog, options)
    refresh_aggregates(session_factory(url))
    return url


@pytest.mark.parametrize("code", ["kham_chua_benh", "dan_cu", "dat_dai"])
def test_window_sums_match_python(filled_store: str, code: str):
    now = END + dt.timedelta(hours=2)
    with session_factory(filled_store)() as session:
        rows = database_hours(session, code, now - Window.MONTH.length, now)
        for window in Window:
            expected = window_figures(rows, window, now)
            summed = window_figures_in_store(session, code, window, now)

            assert summed.checks == expected.checks
            assert summed.broken_count == expected.broken_count
            assert summed.no_data_count == expected.no_data_count
            assert summed.availability == pytest.approx(expected.availability)
            assert summed.ok_share == pytest.approx(expected.ok_share)
            assert summed.latency_mean_ms == pytest.approx(expected.latency_mean_ms)
            assert summed.completeness_mean == pytest.approx(expected.completeness_mean)


def test_window_sums_of_empty_window(filled_store: str):
    long_after = END + dt.timedelta(days=90)
    with session_factory(filled_store)() as session:
        summed = window_figures_in_store(session, "dan_cu", Window.DAY, long_after)

    assert summed.checks == 0
    assert summed.availability is None
    assert summed.ok_share is None
    assert summed.latency_mean_ms is None
    assert summed.completeness_mean is None
