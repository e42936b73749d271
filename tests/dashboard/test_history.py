"""The synthetic history generator: deterministic, consistent with the rollup rule, fast enough."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from integration_monitor.dashboard.history import HistoryOptions, generate_history
from integration_monitor.store.engine import session_factory
from integration_monitor.store.migrate import upgrade
from integration_monitor.store.models import DatabaseCheck, FieldCheck, Incident, ServiceAccess, ServiceStatusRow

END = dt.datetime(2025, 6, 30, 17, 0, tzinfo=dt.UTC)


def generate(url: str, catalog, **options) -> None:  # type: ignore[no-untyped-def]
    upgrade(url)
    values = {"start": END - dt.timedelta(hours=12), "end": END, "seed": 11} | options
    with session_factory(url).begin() as session:
        generate_history(session, catalog, HistoryOptions(**values))


def check_rows(url: str) -> list[tuple]:
    with session_factory(url)() as session:
        return list(session.execute(
            select(DatabaseCheck.database_code, DatabaseCheck.checked_at, DatabaseCheck.status, DatabaseCheck.failure_kind,
                   DatabaseCheck.latency_ms, DatabaseCheck.signature_present_ratio).order_by(DatabaseCheck.id)))


def test_same_seed_gives_same_history(tmp_path, catalog):
    first, second, other = (f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db", "c.db"))
    generate(first, catalog)
    generate(second, catalog)
    generate(other, catalog, seed=12)

    assert check_rows(first) == check_rows(second)
    assert check_rows(first) != check_rows(other)
    assert len(check_rows(first)) == 16 * 12 * 12


def test_history_is_consistent(tmp_path, catalog):
    url = f"sqlite:///{tmp_path / 'status.db'}"
    generate(url, catalog, start=END - dt.timedelta(days=4), detail_window=dt.timedelta(hours=1))

    with session_factory(url)() as session:
        failed_with_fields = session.scalar(
            select(func.count()).select_from(FieldCheck).join(DatabaseCheck, DatabaseCheck.id == FieldCheck.check_id)
            .where(DatabaseCheck.status.in_(["BROKEN", "NO_DATA"])))
        failed_with_records = session.scalar(select(func.count()).where(
            DatabaseCheck.status.in_(["BROKEN", "NO_DATA"]), DatabaseCheck.record_count > 0))
        oldest_field = session.scalar(select(func.min(DatabaseCheck.checked_at)).join(
            FieldCheck, FieldCheck.check_id == DatabaseCheck.id))
        oldest_access = session.scalar(select(func.min(DatabaseCheck.checked_at)).join(
            ServiceAccess, ServiceAccess.check_id == DatabaseCheck.id))
        statuses = dict(session.execute(select(DatabaseCheck.status, func.count()).group_by(DatabaseCheck.status)).all())
        open_per_subject = session.execute(
            select(Incident.scope, Incident.subject, func.count()).where(Incident.closed_at.is_(None))
            .group_by(Incident.scope, Incident.subject)).all()
        incidents = list(session.scalars(select(Incident)))

    assert failed_with_fields == 0
    assert failed_with_records == 0
    assert oldest_field >= END - dt.timedelta(hours=1)
    assert oldest_access >= END - dt.timedelta(hours=1)
    assert statuses["OK"] > statuses.get("BROKEN", 0)
    assert statuses["DEGRADED"] > 0  # the lasting gaps of the health and civil-status databases
    assert all(count == 1 for _scope, _subject, count in open_per_subject)
    assert incidents
    for incident in incidents:
        assert incident.opened_at <= incident.last_seen_at
        assert incident.closed_at is None or incident.closed_at > incident.last_seen_at


def test_verdicts_follow_the_rollup_rule(tmp_path, catalog):
    from integration_monitor.pipeline.rollup_step import evaluate_services
    from integration_monitor.store.repository import latest_checks, latest_service_statuses

    url = f"sqlite:///{tmp_path / 'status.db'}"
    generate(url, catalog, start=END - dt.timedelta(days=2))

    with session_factory(url)() as session:
        expected = {verdict.service_number: verdict for verdict in evaluate_services(catalog, latest_checks(session, [database.code for database in catalog.databases]))}
        stored = latest_service_statuses(session, [service.number for service in catalog.services])
        for number, verdict in expected.items():
            assert stored[number].ready == verdict.ready, number
            assert [reason["kind"] for reason in stored[number].reasons] == [reason.kind.value for reason in verdict.reasons]
        assert session.scalar(select(func.count()).select_from(ServiceStatusRow)) == 25 * 2 * 24 * 12


def test_generator_rejects_bad_periods(tmp_path, catalog):
    url = f"sqlite:///{tmp_path / 'status.db'}"
    upgrade(url)
    with session_factory(url).begin() as session:
        with pytest.raises(ValueError, match="timezone-aware"):
            generate_history(session, catalog, HistoryOptions(start=dt.datetime(2025, 1, 1), end=END))
        with pytest.raises(ValueError, match="is not after start"):
            generate_history(session, catalog, HistoryOptions(start=END, end=END))
        with pytest.raises(ValueError, match="interval must be positive"):
            generate_history(session, catalog, HistoryOptions(start=END - dt.timedelta(hours=1), end=END,
                                                              interval=dt.timedelta(0)))
