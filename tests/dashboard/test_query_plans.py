"""Every query behind the dashboard seeks an index on SQLite, and none scans a history table.

The tests record the SQL that each view sends and run EXPLAIN QUERY PLAN on it. A full scan,
including a scan of a whole index, grows with the history and is reported with its statement.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import event

from integration_monitor.dashboard.aggregate import refresh_aggregates
from integration_monitor.dashboard.context import ViewContext
from integration_monitor.store.engine import get_engine, session_factory
from tests.dashboard.stores import fill_store

HISTORY_TABLES = (
    "database_checks", "field_checks", "service_access", "service_statuses", "incidents",
    "dashboard_database_hourly", "dashboard_service_hourly",
)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path_factory.mktemp('plans') / 'status.db'}"
    fill_store(url, days=2, detail_days=0.5)
    return url


class StatementLog:
    def __init__(self, url: str) -> None:
        self.engine = get_engine(url)
        self.statements: list[tuple[str, tuple]] = []

    def __enter__(self) -> StatementLog:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _connection, _cursor, statement, parameters, _context, executemany) -> None:  # type: ignore[no-untyped-def]
        if not executemany and statement.lstrip().upper().startswith(("SELECT", "DELETE", "UPDATE")):
            self.statements.append((statement, tuple(parameters or ())))


def full_scans(url: str, statements: list[tuple[str, tuple]]) -> list[str]:
    scans = []
    raw = get_engine(url).raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in statements:
            for row in cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall():
                detail = row[-1]
                match = re.match(r"SCAN (\w+)", detail)
                if match and match.group(1) in HISTORY_TABLES:
                    scans.append(f"{detail}  <=  {' '.join(statement.split())[:300]}")
    finally:
        raw.close()
    return scans


def test_views_seek_indexes(store, catalog):
    from integration_monitor.dashboard.database_view import database_detail
    from integration_monitor.dashboard.exports import (
        Granularity,
        Period,
        database_history_table,
        matrix_table,
        service_history_table,
    )
    from integration_monitor.dashboard.incidents import incidents_view
    from integration_monitor.dashboard.matrix import build_matrix
    from integration_monitor.dashboard.schemas import Window
    from integration_monitor.dashboard.service_view import service_detail
    from integration_monitor.dashboard.tasks_view import all_tasks

    ctx = ViewContext(catalog=catalog, factory=session_factory(store), language="vi")
    today = ctx.now.date()
    with StatementLog(store) as log:
        build_matrix(ctx)
        service_detail(ctx, 1)
        for window in Window:
            database_detail(ctx, "kham_chua_benh", window)
        all_tasks(ctx)
        incidents_view(ctx)
        matrix_table(ctx)
        for granularity in Granularity:
            period = Period(today - dt.timedelta(days=3), today)
            database_history_table(ctx, period, granularity)
            service_history_table(ctx, period, granularity)

    assert len(log.statements) > 40
    assert full_scans(store, log.statements) == []


def test_refresh_seeks_indexes(store, catalog):
    from integration_monitor.dashboard.history import HistoryOptions, generate_history

    end = dt.datetime.now(dt.UTC)
    with session_factory(store).begin() as session:
        generate_history(session, catalog, HistoryOptions(start=end - dt.timedelta(hours=2), end=end, seed=3))
    with StatementLog(store) as log:
        outcome = refresh_aggregates(session_factory(store))

    assert outcome.checks_read == 16 * 24
    assert full_scans(store, log.statements) == []
