"""The status store on SQLite and PostgreSQL: migrations, idempotent writes, incidents."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from integration_monitor.status import BlockingReason, BlockKind, ServiceVerdict
from integration_monitor.store.engine import get_engine, session_factory
from integration_monitor.store.migrate import upgrade
from integration_monitor.store.models import DatabaseCheck, FieldCheck, Incident, ServiceAccess, ServiceStatusRow
from integration_monitor.store.records import AccessResult, CheckResult, FieldResult
from integration_monitor.store.repository import (
    SCOPE_DATABASE,
    Transition,
    latest_checks,
    save_check,
    save_service_verdicts,
    track_incident,
)

T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request) -> str:
    url = request.getfixturevalue("sqlite_store_url" if request.param == "sqlite" else "postgres_store_url")
    upgrade(url)
    yield url
    get_engine(url).dispose()


def check(run_id: str, status: str = "OK", at: dt.datetime = T0, completeness: float = 1.0) -> CheckResult:
    return CheckResult(
        database_code="dan_cu",
        run_id=run_id,
        checked_at=at,
        status=status,
        record_count=500,
        fields=(FieldResult("HO_VA_TEN", True, completeness, int(500 * (1 - completeness)), 0.95, completeness >= 0.95),),
        access=(AccessResult(7, True, None, 200),),
    )


def counts(url: str) -> tuple[int, int, int]:
    with session_factory(url)() as session:
        return (
            session.scalar(select(func.count()).select_from(DatabaseCheck)),
            session.scalar(select(func.count()).select_from(FieldCheck)),
            session.scalar(select(func.count()).select_from(ServiceAccess)),
        )


def test_rewriting_a_run_leaves_the_same_rows(store):
    for _ in range(3):
        with session_factory(store).begin() as session:
            save_check(session, check("run-1", completeness=0.5))
    assert counts(store) == (1, 1, 1)

    with session_factory(store).begin() as session:
        save_check(session, check("run-2", at=T0 + dt.timedelta(minutes=15)))
    assert counts(store) == (2, 2, 2)


def test_latest_check_per_database(store):
    with session_factory(store).begin() as session:
        save_check(session, check("run-1", status="BROKEN"))
        save_check(session, check("run-2", status="OK", at=T0 + dt.timedelta(minutes=15)))
    with session_factory(store)() as session:
        latest = latest_checks(session, ["dan_cu"])
        assert latest["dan_cu"].run_id == "run-2"
        assert latest["dan_cu"].checked_at == T0 + dt.timedelta(minutes=15)
        assert latest["dan_cu"].checked_at.tzinfo is not None
        assert [row.field_code for row in latest["dan_cu"].fields] == ["HO_VA_TEN"]


def test_incident_opens_once_and_closes(store):
    def track(healthy: bool, run_id: str, at: dt.datetime) -> Transition:
        with session_factory(store).begin() as session:
            return track_incident(session, scope=SCOPE_DATABASE, subject="dan_cu", healthy=healthy,
                                  status="OK" if healthy else "BROKEN", failure_kind=None if healthy else "refused",
                                  reason=None, at=at, run_id=run_id).transition

    assert track(True, "r0", T0) == Transition.HEALTHY
    assert track(False, "r1", T0) == Transition.OPENED
    assert track(False, "r1", T0) == Transition.OPENED  # a re-run of the opening run
    assert track(False, "r2", T0 + dt.timedelta(minutes=15)) == Transition.CONTINUED
    assert track(True, "r3", T0 + dt.timedelta(minutes=30)) == Transition.CLOSED
    assert track(True, "r3", T0 + dt.timedelta(minutes=30)) == Transition.HEALTHY  # a re-run of the closing run

    with session_factory(store)() as session:
        incidents = session.scalars(select(Incident)).all()
    assert len(incidents) == 1
    assert incidents[0].opened_at == T0
    assert incidents[0].closed_at == T0 + dt.timedelta(minutes=30)


def test_service_verdicts_replace_a_rerun(store):
    verdicts = [ServiceVerdict(1, (BlockingReason("dat_dai", BlockKind.DATABASE_BROKEN, failure_kind="refused"),)),
                ServiceVerdict(2)]
    for _ in range(2):
        with session_factory(store).begin() as session:
            save_service_verdicts(session, "rollup-1", T0, verdicts)
    with session_factory(store)() as session:
        rows = session.scalars(select(ServiceStatusRow).order_by(ServiceStatusRow.service_number)).all()
    assert [(row.service_number, row.ready, row.status) for row in rows] == [
        (1, False, "NOT_READY"), (2, True, "END_TO_END_READY")]
    assert rows[0].reasons == [{"database": "dat_dai", "kind": "database_broken", "fields": [],
                                "failure_kind": "refused", "detail": None}]


def test_naive_timestamps_are_rejected(store):
    with pytest.raises(Exception, match="naive datetime"):
        with session_factory(store).begin() as session:
            save_check(session, check("run-naive", at=T0.replace(tzinfo=None)))


def test_sqlite_runs_in_wal_mode(sqlite_store_url):
    upgrade(sqlite_store_url)
    with get_engine(sqlite_store_url).connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
