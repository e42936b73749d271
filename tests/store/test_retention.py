"""Retention: old raw rows go, the hourly tables and each subject's newest row stay."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from integration_monitor.dashboard.aggregate import refresh_aggregates
from integration_monitor.dashboard.history import HistoryOptions, generate_history
from integration_monitor.dashboard.models import DatabaseHourly, ServiceHourly
from integration_monitor.store.engine import session_factory
from integration_monitor.store.migrate import upgrade
from integration_monitor.store.models import DatabaseCheck, FieldCheck, ServiceAccess, ServiceStatusRow
from integration_monitor.store.retention import compact

END = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
KEEP = dt.timedelta(days=1)


def fill(url: str, catalog, days: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    upgrade(url)
    options = HistoryOptions(start=END - dt.timedelta(days=days), end=END, interval=dt.timedelta(minutes=30))
    with session_factory(url).begin() as session:
        generate_history(session, catalog, options)


def hourly_rows(url: str) -> tuple[list, list]:
    with session_factory(url)() as session:
        databases = [(row.database_code, row.hour_start, row.checks, row.ok_count, row.completeness_mean)
                     for row in session.scalars(select(DatabaseHourly).order_by(DatabaseHourly.database_code,
                                                                                DatabaseHourly.hour_start))]
        services = [(row.service_number, row.hour_start, row.evaluations, row.ready_count)
                    for row in session.scalars(select(ServiceHourly).order_by(ServiceHourly.service_number,
                                                                              ServiceHourly.hour_start))]
    return databases, services


def count(url: str, model: type, *conditions) -> int:  # type: ignore[no-untyped-def]
    with session_factory(url)() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'status.db'}"
    return request.getfixturevalue("postgres_store_url")


def test_compact_deletes_old_raw_rows_only(store: str, catalog):
    fill(store, catalog)
    refresh_aggregates(session_factory(store))
    hourly_before = hourly_rows(store)
    recent_checks = count(store, DatabaseCheck, DatabaseCheck.checked_at >= END - KEEP)
    recent_verdicts = count(store, ServiceStatusRow, ServiceStatusRow.evaluated_at >= END - KEEP)

    result = compact(session_factory(store), KEEP, now=END)

    assert result.checks_deleted > 0
    assert result.field_rows_deleted > 0
    assert result.verdicts_deleted > 0
    assert count(store, DatabaseCheck, DatabaseCheck.checked_at < END - KEEP) == 0
    assert count(store, ServiceStatusRow, ServiceStatusRow.evaluated_at < END - KEEP) == 0
    assert count(store, DatabaseCheck) == recent_checks
    assert count(store, ServiceStatusRow) == recent_verdicts
    orphans = select(DatabaseCheck.id)
    assert count(store, FieldCheck, FieldCheck.check_id.not_in(orphans)) == 0
    assert count(store, ServiceAccess, ServiceAccess.check_id.not_in(orphans)) == 0
    assert hourly_rows(store) == hourly_before


def test_compact_keeps_newest_row_of_each_subject(store: str, catalog):
    fill(store, catalog)

    compact(session_factory(store), KEEP, now=END + dt.timedelta(days=30))

    assert count(store, DatabaseCheck) == len(catalog.databases)
    assert count(store, ServiceStatusRow) == len(catalog.services)


def test_compact_sums_unsummed_rows_first(catalog, tmp_path):
    url = f"sqlite:///{tmp_path / 'status.db'}"
    fill(url, catalog)

    compact(session_factory(url), KEEP, now=END)

    databases, services = hourly_rows(url)
    assert len(databases) == len(catalog.databases) * 72
    assert len(services) == len(catalog.services) * 72


def test_compact_twice_deletes_nothing_more(catalog, tmp_path):
    url = f"sqlite:///{tmp_path / 'status.db'}"
    fill(url, catalog)
    compact(session_factory(url), KEEP, now=END)

    again = compact(session_factory(url), KEEP, now=END)

    assert (again.checks_deleted, again.field_rows_deleted, again.verdicts_deleted) == (0, 0, 0)


def test_compact_rejects_non_positive_period(tmp_path):
    url = f"sqlite:///{tmp_path / 'status.db'}"
    upgrade(url)

    with pytest.raises(ValueError, match="must be positive"):
        compact(session_factory(url), dt.timedelta(0), now=END)


def test_compact_rejects_detail_longer_than_checks(tmp_path):
    url = f"sqlite:///{tmp_path / 'status.db'}"
    upgrade(url)

    with pytest.raises(ValueError, match="cannot be kept longer"):
        compact(session_factory(url), KEEP, now=END, keep_detail=2 * KEEP)


def test_compact_drops_old_detail_sooner(store: str, catalog):
    fill(store, catalog)
    newest = {}
    with session_factory(store)() as session:
        for code, check_id in session.execute(select(DatabaseCheck.database_code, func.max(DatabaseCheck.id))
                                              .group_by(DatabaseCheck.database_code)):
            newest[code] = check_id
    newest_fields = count(store, FieldCheck, FieldCheck.check_id.in_(newest.values()))

    compact(session_factory(store), 2 * KEEP, now=END, keep_detail=KEEP / 2)

    assert count(store, DatabaseCheck, DatabaseCheck.checked_at < END - KEEP) > 0
    old_checks = select(DatabaseCheck.id).where(DatabaseCheck.checked_at < END - KEEP / 2)
    assert count(store, FieldCheck, FieldCheck.check_id.in_(old_checks)) == 0
    assert count(store, ServiceAccess, ServiceAccess.check_id.in_(old_checks)) == 0
    assert count(store, FieldCheck, FieldCheck.check_id.in_(newest.values())) == newest_fields
    recent_checks = select(DatabaseCheck.id).where(DatabaseCheck.checked_at >= END - KEEP / 2)
    assert count(store, FieldCheck, FieldCheck.check_id.in_(recent_checks)) > 0


def test_store_compact_command(catalog, tmp_path):
    url = f"sqlite:///{tmp_path / 'status.db'}"
    fill(url, catalog, days=40)

    completed = subprocess.run(
        [sys.executable, "-m", "integration_monitor.cli", "store", "compact", "--store-url", url],
        capture_output=True, text=True, check=False, timeout=300,
    )

    assert completed.returncode == 0, completed.stderr
    assert "deleted" in completed.stdout
    assert count(url, DatabaseCheck, DatabaseCheck.checked_at < dt.datetime.now(dt.UTC) - dt.timedelta(days=35)) \
        <= len(catalog.databases)


def test_store_compact_command_rejects_zero_days(tmp_path):
    url = f"sqlite:///{tmp_path / 'status.db'}"

    completed = subprocess.run(
        [sys.executable, "-m", "integration_monitor.cli", "store", "compact", "--store-url", url, "--keep-days", "0"],
        capture_output=True, text=True, check=False, timeout=300,
    )

    assert completed.returncode == 2
    assert "must be positive" in completed.stderr


def test_compact_keeps_detail_of_newest_checks(store: str, catalog):
    fill(store, catalog)

    compact(session_factory(store), dt.timedelta(days=60), now=END + dt.timedelta(days=30), keep_detail=KEEP)

    newest = select(func.max(DatabaseCheck.id)).group_by(DatabaseCheck.database_code)
    answered = count(store, DatabaseCheck, DatabaseCheck.id.in_(newest), DatabaseCheck.record_count > 0)
    assert answered > 0
    assert count(store, FieldCheck, FieldCheck.check_id.in_(newest)) > 0
    assert count(store, FieldCheck, FieldCheck.check_id.not_in(newest)) == 0
