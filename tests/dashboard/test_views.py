"""Dashboard views and hourly tables against real SQLite and PostgreSQL stores."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from integration_monitor.dashboard.aggregate import SOURCE_CHECKS, refresh_aggregates
from integration_monitor.dashboard.context import ViewContext
from integration_monitor.dashboard.models import AggregationState, DatabaseHourly, ServiceHourly
from integration_monitor.status import BlockingReason, BlockKind, ServiceVerdict
from integration_monitor.store.engine import get_engine, session_factory
from integration_monitor.store.migrate import upgrade
from integration_monitor.store.models import DatabaseCheck
from integration_monitor.store.records import AccessResult, CheckResult, FieldResult
from integration_monitor.store.repository import save_check, save_service_verdicts, track_incident

NOW = dt.datetime(2026, 3, 10, 12, 30, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request) -> str:  # type: ignore[no-untyped-def]
    url = request.getfixturevalue("sqlite_store_url" if request.param == "sqlite" else "postgres_store_url")
    upgrade(url)
    yield url
    get_engine(url).dispose()


def context(catalog, url: str, language: str = "vi", now: dt.datetime = NOW) -> ViewContext:  # type: ignore[no-untyped-def]
    return ViewContext(catalog=catalog, factory=session_factory(url), language=language, now=now)


def result(code: str, run_id: str, at: dt.datetime, status: str = "OK", *, completeness: float = 1.0,
           fields: tuple[str, ...] = ("F1", "F2"), latency: float | None = 200.0, failure_kind: str | None = None,
           signature: float | None = 1.0, access: tuple[int, ...] = ()) -> CheckResult:
    answered = status in ("OK", "DEGRADED")
    return CheckResult(
        database_code=code,
        run_id=run_id,
        checked_at=at,
        status=status,
        failure_kind=failure_kind,
        reason="read timed out after 30 s" if failure_kind == "timeout" else None,
        latency_ms=latency,
        record_count=500 if answered else 0,
        signature_present_ratio=signature if answered else None,
        signature_valid_ratio=signature if answered else None,
        fields=tuple(FieldResult(code_, True, completeness, round(500 * (1 - completeness)), 0.95, completeness >= 0.95)
                     for code_ in fields) if answered else (),
        access=tuple(AccessResult(number, True, None, 200) for number in access),
    )


def save(url: str, *results: CheckResult) -> None:
    with session_factory(url).begin() as session:
        for item in results:
            save_check(session, item)


def hourly(url: str, code: str) -> list[DatabaseHourly]:
    with session_factory(url)() as session:
        return list(session.scalars(select(DatabaseHourly).where(DatabaseHourly.database_code == code)
                                    .order_by(DatabaseHourly.hour_start)))


def test_refresh_sums_checks_per_hour(store):
    hour = dt.datetime(2026, 3, 10, 8, tzinfo=dt.UTC)
    save(store,
         result("dan_cu", "r1", hour + dt.timedelta(minutes=5), "OK", completeness=1.0, latency=100),
         result("dan_cu", "r2", hour + dt.timedelta(minutes=35), "DEGRADED", completeness=0.5, latency=300),
         result("dan_cu", "r3", hour + dt.timedelta(minutes=65), "BROKEN", latency=None, failure_kind="timeout"))

    outcome = refresh_aggregates(session_factory(store))

    assert outcome.checks_read == 3
    assert outcome.complete
    first, second = hourly(store, "dan_cu")
    assert first.hour_start == hour
    assert (first.checks, first.ok_count, first.degraded_count, first.broken_count) == (2, 1, 1, 0)
    assert first.latency_mean_ms == pytest.approx(200.0)
    assert first.latency_max_ms == pytest.approx(300.0)
    assert first.completeness_mean == pytest.approx(0.75)
    assert first.completeness_min == pytest.approx(0.5)
    assert first.record_count == 1000
    assert second.hour_start == hour + dt.timedelta(hours=1)
    assert (second.checks, second.broken_count) == (1, 1)
    assert second.failure_kinds == {"timeout": 1}
    assert second.completeness_mean is None


def test_refresh_is_incremental_and_follows_reruns(store):
    hour = dt.datetime(2026, 3, 10, 8, tzinfo=dt.UTC)
    factory = session_factory(store)
    save(store, result("dan_cu", "r1", hour + dt.timedelta(minutes=5), "OK"))
    refresh_aggregates(factory)

    # A cleared task writes its run again: the store deletes the row and inserts a new one,
    # which SQLite gives the same id when it was the newest row.
    save(store, result("dan_cu", "r1", hour + dt.timedelta(minutes=5), "BROKEN", failure_kind="timeout"))
    save(store, result("dan_cu", "r2", hour + dt.timedelta(minutes=125), "OK"))
    refresh_aggregates(factory)

    rows = hourly(store, "dan_cu")
    assert [(row.hour_start.hour, row.checks, row.ok_count, row.broken_count) for row in rows] == [(8, 1, 0, 1), (10, 1, 1, 0)]
    with factory() as session:
        state = session.get(AggregationState, SOURCE_CHECKS)
        assert state.last_id == session.scalar(select(func.max(DatabaseCheck.id)))
    assert refresh_aggregates(factory).checks_read == 0


def test_refresh_stops_at_max_rows_and_resumes(store):
    start = dt.datetime(2026, 3, 9, tzinfo=dt.UTC)
    save(store, *[result("dan_cu", f"r{index}", start + dt.timedelta(minutes=20 * index)) for index in range(9)])
    factory = session_factory(store)

    partial = refresh_aggregates(factory, max_rows=4, batch_rows=3)
    assert (partial.checks_read, partial.complete) == (4, False)
    rest = refresh_aggregates(factory, batch_rows=3)
    assert (rest.checks_read, rest.complete) == (5, True)
    assert sum(row.checks for row in hourly(store, "dan_cu")) == 9
    assert [row.checks for row in hourly(store, "dan_cu")] == [3, 3, 3]


def test_service_verdicts_summed_per_hour(store):
    hour = dt.datetime(2026, 3, 10, 8, tzinfo=dt.UTC)
    blocked = ServiceVerdict(7, (BlockingReason("dan_cu", BlockKind.DATABASE_BROKEN, failure_kind="timeout"),))
    with session_factory(store).begin() as session:
        save_service_verdicts(session, "a", hour + dt.timedelta(minutes=1), [ServiceVerdict(7)])
        save_service_verdicts(session, "b", hour + dt.timedelta(minutes=31), [blocked])
    refresh_aggregates(session_factory(store))
    with session_factory(store)() as session:
        row = session.scalars(select(ServiceHourly)).one()
    assert (row.service_number, row.evaluations, row.ready_count) == (7, 2, 1)
    assert row.block_kinds == {"database_broken": 1}


def test_latest_snapshot_equals_report(store, catalog):
    from integration_monitor.dashboard.history import HistoryOptions, generate_history
    from integration_monitor.dashboard.latest import load_latest_snapshot
    from integration_monitor.report import load_snapshot

    options = HistoryOptions(start=NOW - dt.timedelta(hours=6), end=NOW, interval=dt.timedelta(minutes=30), seed=7)
    with session_factory(store).begin() as session:
        generate_history(session, catalog, options)
    # Two checks of one database at the same instant: the later row wins in both readers.
    save(store, result("dan_cu", "tie-a", NOW, "OK"), result("dan_cu", "tie-b", NOW, "BROKEN", failure_kind="dns"))

    with session_factory(store)() as session:
        snapshot, checks = load_latest_snapshot(catalog, session)
    assert snapshot == load_snapshot(catalog, store)
    assert snapshot.databases["dan_cu"].status == "BROKEN"
    assert set(checks) == {database.code for database in catalog.databases}


def test_database_availability_windows(store, catalog):
    from integration_monitor.dashboard.database_view import database_detail

    statuses = ["OK"] * 6 + ["DEGRADED"] * 2 + ["BROKEN", "NO_DATA"]
    kinds_by_status = {"BROKEN": "timeout", "NO_DATA": "empty"}
    recent = [result("dan_cu", f"d{index}", NOW - dt.timedelta(hours=index + 1), status,
                     failure_kind=kinds_by_status.get(status))
              for index, status in enumerate(statuses)]
    older = [result("dan_cu", f"w{index}", NOW - dt.timedelta(days=3, hours=index), "BROKEN", failure_kind="http_5xx")
             for index in range(10)]
    save(store, *recent, *older)
    refresh_aggregates(session_factory(store))

    detail = database_detail(context(catalog, store), "dan_cu")
    day, week, month = detail.windows
    assert (day.checks, day.availability, day.ok_share) == (10, pytest.approx(0.8), pytest.approx(0.6))
    assert (day.broken_count, day.no_data_count) == (1, 1)
    assert (week.checks, week.availability, week.broken_count) == (20, pytest.approx(0.4), 11)
    assert month.checks == 20
    kinds: dict[str, int] = {}
    for point in detail.trend:
        for kind, count in point.failure_kinds.items():
            kinds[kind] = kinds.get(kind, 0) + count
    assert kinds == {"timeout": 1, "empty": 1, "http_5xx": 10}
    assert detail.status == "OK"  # the newest check, an hour ago


def test_service_timeline_segments(store, catalog):
    from integration_monitor.dashboard.schemas import Window
    from integration_monitor.dashboard.service_view import service_timeline

    blocked = ServiceVerdict(7, (BlockingReason("dan_cu", BlockKind.NO_DATA),))
    moments = [NOW - dt.timedelta(minutes=minutes) for minutes in (120, 90, 60, 30)]
    with session_factory(store).begin() as session:
        for index, (moment, verdict) in enumerate(zip(moments, [ServiceVerdict(7), blocked, blocked, ServiceVerdict(7)],
                                                      strict=True)):
            save_service_verdicts(session, f"run-{index}", moment, [verdict])
    refresh_aggregates(session_factory(store))

    with session_factory(store)() as session:
        day = service_timeline(session, 7, Window.DAY, NOW)
        week = service_timeline(session, 7, Window.WEEK, NOW)

    states = [(segment.state, segment.start, segment.end) for segment in day.segments]
    assert states == [
        ("no_result", NOW - dt.timedelta(hours=24), moments[0]),
        ("ready", moments[0], moments[1]),
        ("not_ready", moments[1], moments[3]),
        ("ready", moments[3], NOW),
    ]
    assert day.segments[2].reasons == ["no_data"]
    assert day.ready_share == pytest.approx(0.5)
    hour = dt.timedelta(hours=1)
    assert [(segment.state, segment.start, segment.end) for segment in week.segments] == [
        ("no_result", NOW - dt.timedelta(days=7), moments[0] - dt.timedelta(minutes=30)),
        ("ready", moments[0] - dt.timedelta(minutes=30), moments[0] + dt.timedelta(minutes=30)),
        ("not_ready", moments[1], moments[1] + hour),
        ("ready", moments[3], NOW),
    ]


def test_task_summary_states_deadline_and_evidence(store, catalog):
    from integration_monitor.dashboard.tasks_view import all_tasks

    service = catalog.service(1)
    health = next(entry for entry in service.databases if entry.database == "kham_chua_benh")
    save(store, result("kham_chua_benh", "k1", NOW - dt.timedelta(minutes=5), "DEGRADED", completeness=0.71,
                       fields=health.required_fields, signature=0.82))

    tasks = [task for task in all_tasks(context(catalog, store)) if task.service_number == 1]
    first = tasks[0]
    assert [body.code for body in first.responsible] == ["bo_y_te"]
    assert [item.database_code for item in first.evidence] == ["kham_chua_benh"]
    assert first.deadline_passed is True
    count = len(health.required_fields)
    assert first.summary == (f"Hạn 30/6/2025 đã qua; tỷ lệ đầy đủ dữ liệu khám chữa bệnh cho dịch vụ 1 vẫn chỉ 71% "
                             f"({count}/{count} trường dưới ngưỡng, thấp nhất 71%), tỷ lệ bản ghi có ký số 82,0%.")

    before = all_tasks(context(catalog, store, "en", now=dt.datetime(2025, 6, 1, 3, tzinfo=dt.UTC)))
    assert before[0].summary.startswith("29 days left until the deadline 2025-06-30; the completeness of medical "
                                        "examination and treatment data for service 1 is 71%")


def test_task_evidence_follows_responsible_bodies(store, catalog):
    from integration_monitor.dashboard.tasks_view import all_tasks

    tasks = all_tasks(context(catalog, store, "en"))
    by_bodies = {}
    for task in tasks:
        by_bodies.setdefault(tuple(body.code for body in task.responsible), []).append(task)

    for task in by_bodies[("evn",)]:
        assert [item.database_code for item in task.evidence] == ["khach_hang_evn"]
        assert task.summary.endswith("EVN customer information management system for service "
                                     f"{task.service_number}: not checked yet.")
    # No database belongs to "every ministry and locality", so every database of the service is evidence.
    for task in by_bodies[("cac_bo_nganh_dia_phuong",)]:
        assert [item.database_code for item in task.evidence] == catalog.service(task.service_number).database_codes()


def test_matrix_reasons_and_since(store, catalog):
    from integration_monitor.dashboard.matrix import build_matrix

    save(store, result("dan_cu", "m1", NOW - dt.timedelta(minutes=10), "BROKEN", failure_kind="timeout", latency=30000))
    with session_factory(store).begin() as session:
        track_incident(session, scope="service", subject="7", healthy=False, status="NOT_READY",
                       failure_kind="database_broken", reason="dan_cu: database_broken",
                       at=NOW - dt.timedelta(minutes=10), run_id="m1")
        save_service_verdicts(session, "m1", NOW - dt.timedelta(minutes=9), [
            ServiceVerdict(7, (BlockingReason("dan_cu", BlockKind.DATABASE_BROKEN, failure_kind="timeout"),))])

    matrix = build_matrix(context(catalog, store, "en"))
    service = next(item for item in matrix.services if item.number == 7)
    cell = service.cells[0]
    assert (cell.database_code, cell.status.value, cell.mark, cell.label) == ("dan_cu", "BROKEN", "✗", "Connection broken")
    assert cell.reasons == ["National population database: connection broken (timed out)"]
    assert service.ready is False
    assert service.not_ready_since == NOW - dt.timedelta(minutes=10)
    other = next(item for item in matrix.services if item.number == 8)
    assert other.ready is None
    assert [cell.status.value for cell in other.cells] == ["BROKEN", "NOT_CHECKED"]


def test_incidents_view_reads_maintenance_windows(store, catalog):
    from integration_monitor.alerts.models import WindowKind
    from integration_monitor.alerts.windows import add_window
    from integration_monitor.dashboard.incidents import incidents_view

    with session_factory(store).begin() as session:
        add_window(session, kind=WindowKind.MAINTENANCE, database_code="dat_dai", starts_at=NOW - dt.timedelta(hours=1),
                   ends_at=NOW + dt.timedelta(hours=2), reason="Nâng cấp máy chủ", created_by="operator", now=NOW)
        add_window(session, kind=WindowKind.MAINTENANCE, database_code="ho_tich", starts_at=NOW - dt.timedelta(hours=5),
                   ends_at=NOW + dt.timedelta(hours=5), reason="old", created_by="operator",
                   now=NOW - dt.timedelta(hours=6))

    view = incidents_view(context(catalog, store))
    assert view.maintenance_available
    assert [(item.database_code, item.active) for item in view.maintenance] == [("ho_tich", True), ("dat_dai", True)]


def test_incidents_view_without_maintenance_table(sqlite_store_url, catalog):
    from integration_monitor.dashboard.incidents import incidents_view

    upgrade(sqlite_store_url, "0003")
    view = incidents_view(context(catalog, sqlite_store_url))
    assert view.maintenance_available is False
    assert view.maintenance == []
    assert view.open_incidents == []


def test_database_problems_in_operator_language(store, catalog):
    from integration_monitor.dashboard.database_view import database_detail
    from integration_monitor.dashboard.matrix import build_matrix

    save(store,
         result("kham_chua_benh", "p1", NOW - dt.timedelta(minutes=5), "DEGRADED", completeness=0.6, signature=0.8),
         result("dan_cu", "p2", NOW - dt.timedelta(minutes=5), "BROKEN", failure_kind="timeout"))

    vietnamese = database_detail(context(catalog, store), "kham_chua_benh")
    assert vietnamese.problems == ["2/2 trường được kiểm tra dưới ngưỡng đầy đủ",
                                   "bản ghi có ký số 80,0% (ngưỡng 99%)"]
    english = {item.code: item for item in build_matrix(context(catalog, store, "en")).databases}
    assert english["dan_cu"].problems == ["Timed out"]
    assert english["dan_cu"].reason == "read timed out after 30 s"
    assert english["dat_dai"].problems == ["Not checked yet"]
