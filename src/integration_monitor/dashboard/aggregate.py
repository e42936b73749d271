"""Keep the hourly tables in step with the raw status tables.

Each refresh reads the raw rows added since the last one (by primary key, so by index), finds
the hours they fall in and recomputes those hours from the raw rows of the same hours. A
re-run DAG run replaces its rows with new ones, so their hours are recomputed too.

SQLite gives a new row the highest rowid plus one, so replacing the newest rows reuses their
ids. Each refresh therefore reads the last ``REREAD_ROWS`` ids again, which covers the
replacement of the newest check or of the newest rollup run (one row per service).
NOTE: raw rows deleted without a replacement (a retention clean-up) leave their hours unchanged.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from integration_monitor.dashboard.models import AggregationState, DatabaseHourly, ServiceHourly
from integration_monitor.status import DatabaseStatus
from integration_monitor.store.models import DatabaseCheck, FieldCheck, ServiceStatusRow

log = logging.getLogger(__name__)

HOUR = dt.timedelta(hours=1)
SOURCE_CHECKS = "database_checks"
SOURCE_VERDICTS = "service_statuses"
BATCH_ROWS = 50_000
REREAD_ROWS = 64  # more than the rows of one rollup run (25 services)


@dataclass(frozen=True)
class RefreshResult:
    checks_read: int
    verdicts_read: int
    complete: bool  # False when ``max_rows`` stopped the refresh before the newest rows
    seconds: float


def hour_floor(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def refresh_aggregates(
    factory: sessionmaker[Session], *, max_rows: int | None = None, batch_rows: int = BATCH_ROWS
) -> RefreshResult:
    """Sum the raw rows added since the last refresh into the hourly tables.

    Each batch is committed on its own, so a long backfill keeps its progress. ``max_rows``
    bounds the raw rows read per table in this call.
    """
    began = time.perf_counter()
    checks_read, checks_done = _refresh_source(factory, SOURCE_CHECKS, max_rows, batch_rows)
    verdicts_read, verdicts_done = _refresh_source(factory, SOURCE_VERDICTS, max_rows, batch_rows)
    return RefreshResult(checks_read, verdicts_read, checks_done and verdicts_done, time.perf_counter() - began)


def _refresh_source(
    factory: sessionmaker[Session], source: str, max_rows: int | None, batch_rows: int
) -> tuple[int, bool]:
    """Return the number of new raw rows summed, and whether the newest row was reached."""
    read = 0
    reread = REREAD_ROWS
    while max_rows is None or read < max_rows:
        limit = batch_rows if max_rows is None else min(batch_rows, max_rows - read)
        try:
            with factory.begin() as session:
                new_rows, fetched = _refresh_batch(session, source, limit, reread)
        except (IntegrityError, OperationalError) as error:
            # Another process refreshed the same hours at the same time; its rows stand.
            log.info("Hourly refresh of %s skipped after a concurrent write: %s", source, error.orig)
            return read, False
        reread = 0
        read += new_rows
        if fetched < limit:
            return read, True
    return read, False


def _refresh_batch(session: Session, source: str, limit: int, reread: int) -> tuple[int, int]:
    """Recompute the hours of the next raw rows; return (new rows, rows fetched)."""
    state = session.get(AggregationState, source)
    last_id = state.last_id if state is not None else 0
    if source == SOURCE_CHECKS:
        table, key_column, time_column = DatabaseCheck, DatabaseCheck.database_code, DatabaseCheck.checked_at
    else:
        table, key_column, time_column = ServiceStatusRow, ServiceStatusRow.service_number, ServiceStatusRow.evaluated_at
    rows = session.execute(
        select(table.id, key_column, time_column)
        .where(table.id > max(0, last_id - reread))
        .order_by(table.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0, 0

    touched: dict[object, set[dt.datetime]] = defaultdict(set)
    for _row_id, key, moment in rows:
        touched[key].add(hour_floor(moment))
    for key, hours in touched.items():
        for start, end in _contiguous(hours):
            if source == SOURCE_CHECKS:
                _recompute_database_hours(session, str(key), start, end)
            else:
                _recompute_service_hours(session, int(key), start, end)

    now = dt.datetime.now(dt.UTC)
    newest = max(last_id, rows[-1][0])
    if state is None:
        session.add(AggregationState(source=source, last_id=newest, updated_at=now))
    else:
        state.last_id, state.updated_at = newest, now
    return sum(1 for row in rows if row[0] > last_id), len(rows)


def _contiguous(hours: Iterable[dt.datetime]) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Yield ``[start, end)`` ranges that cover the given hours, one per run of adjacent hours."""
    ordered = sorted(hours)
    start = previous = ordered[0]
    for hour in ordered[1:]:
        if hour - previous > HOUR:
            yield start, previous + HOUR
            start = hour
        previous = hour
    yield start, previous + HOUR


def _recompute_database_hours(session: Session, code: str, start: dt.datetime, end: dt.datetime) -> None:
    in_range = (DatabaseCheck.database_code == code, DatabaseCheck.checked_at >= start, DatabaseCheck.checked_at < end)
    checks = session.execute(
        select(DatabaseCheck.id, DatabaseCheck.checked_at, DatabaseCheck.status, DatabaseCheck.failure_kind,
               DatabaseCheck.latency_ms, DatabaseCheck.record_count, DatabaseCheck.signature_present_ratio,
               DatabaseCheck.signature_valid_ratio).where(*in_range)
    ).all()
    field_figures = {
        check_id: (mean, lowest)
        for check_id, mean, lowest in session.execute(
            select(FieldCheck.check_id, func.avg(FieldCheck.completeness), func.min(FieldCheck.completeness))
            .join(DatabaseCheck, DatabaseCheck.id == FieldCheck.check_id)
            .where(*in_range)
            .group_by(FieldCheck.check_id)
        )
    }

    by_hour: dict[dt.datetime, list] = defaultdict(list)
    for check in checks:
        by_hour[hour_floor(check.checked_at)].append(check)
    session.execute(delete(DatabaseHourly).where(
        DatabaseHourly.database_code == code, DatabaseHourly.hour_start >= start, DatabaseHourly.hour_start < end))
    rows = [_database_hour(code, hour, items, field_figures) for hour, items in sorted(by_hour.items())]
    if rows:
        session.execute(insert(DatabaseHourly), rows)


def _database_hour(code: str, hour: dt.datetime, checks: list, field_figures: dict) -> dict:
    statuses = Counter(check.status for check in checks)
    latencies = [check.latency_ms for check in checks if check.latency_ms is not None]
    completeness = [field_figures[check.id] for check in checks if check.id in field_figures]
    present = [check.signature_present_ratio for check in checks if check.signature_present_ratio is not None]
    valid = [check.signature_valid_ratio for check in checks if check.signature_valid_ratio is not None]
    return {
        "database_code": code,
        "hour_start": hour,
        "checks": len(checks),
        "ok_count": statuses[DatabaseStatus.OK.value],
        "degraded_count": statuses[DatabaseStatus.DEGRADED.value],
        "broken_count": statuses[DatabaseStatus.BROKEN.value],
        "no_data_count": statuses[DatabaseStatus.NO_DATA.value],
        "latency_mean_ms": _mean(latencies),
        "latency_max_ms": max(latencies) if latencies else None,
        "completeness_mean": _mean([mean for mean, _lowest in completeness]),
        "completeness_min": min((lowest for _mean_value, lowest in completeness), default=None),
        "signature_present_mean": _mean(present),
        "signature_valid_mean": _mean(valid),
        "record_count": sum(check.record_count or 0 for check in checks),
        "failure_kinds": dict(Counter(check.failure_kind for check in checks if check.failure_kind)),
    }


def _recompute_service_hours(session: Session, number: int, start: dt.datetime, end: dt.datetime) -> None:
    verdicts = session.execute(
        select(ServiceStatusRow.evaluated_at, ServiceStatusRow.ready, ServiceStatusRow.reasons).where(
            ServiceStatusRow.service_number == number,
            ServiceStatusRow.evaluated_at >= start,
            ServiceStatusRow.evaluated_at < end,
        )
    ).all()
    by_hour: dict[dt.datetime, list] = defaultdict(list)
    for verdict in verdicts:
        by_hour[hour_floor(verdict.evaluated_at)].append(verdict)
    session.execute(delete(ServiceHourly).where(
        ServiceHourly.service_number == number, ServiceHourly.hour_start >= start, ServiceHourly.hour_start < end))
    rows = []
    for hour, items in sorted(by_hour.items()):
        kinds = Counter(reason.get("kind") for item in items for reason in (item.reasons or []) if reason.get("kind"))
        rows.append({"service_number": number, "hour_start": hour, "evaluations": len(items),
                     "ready_count": sum(1 for item in items if item.ready), "block_kinds": dict(kinds)})
    if rows:
        session.execute(insert(ServiceHourly), rows)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


class RefreshThrottle:
    """A refresh that runs at most once per interval in one process.

    A caller that finds another refresh running gets the last result instead of waiting.
    """

    def __init__(self, interval_seconds: float, max_rows: int) -> None:
        self.interval_seconds = interval_seconds
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._last_run = float("-inf")
        self.last_result: RefreshResult | None = None

    def maybe_refresh(self, factory: sessionmaker[Session]) -> RefreshResult | None:
        if time.monotonic() - self._last_run < self.interval_seconds:
            return self.last_result
        if not self._lock.acquire(blocking=False):
            return self.last_result
        try:
            self.last_result = refresh_aggregates(factory, max_rows=self.max_rows)
            # A refresh that stopped at max_rows runs again on the next request.
            self._last_run = time.monotonic() if self.last_result.complete else float("-inf")
            return self.last_result
        finally:
            self._lock.release()
