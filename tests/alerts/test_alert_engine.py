"""The alert engine against a real SQLite store, the pipeline's record step, and local SMTP and
webhook receivers reached through Airflow's Apprise and SMTP notifiers."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from integration_monitor.alerts.hooks import on_database_recorded, on_services_evaluated
from integration_monitor.alerts.models import Alert, MaintenanceWindow
from integration_monitor.pipeline.record_step import record_check
from integration_monitor.store.engine import session_factory
from integration_monitor.store.records import CheckResult, FieldResult
from tests.alerts.conftest import POLL, T0, apprise_connection, smtp_connection


def record(database: str, status: str, at: dt.datetime, run_id: str, **values):  # type: ignore[no-untyped-def]
    """Store a check through the pipeline's record step, then call the alert hook as the record task does."""
    failure_kind = values.pop("failure_kind", None if status == "OK" else "refused")
    result = CheckResult(database_code=database, run_id=run_id, checked_at=at, status=status,
                         failure_kind=failure_kind, attempts=values.pop("attempts", 2), **values)
    recorded = record_check(result)
    return on_database_recorded(recorded, {"run_id": run_id})


def run_series(database: str, statuses: list[str], start: dt.datetime = T0, prefix: str = "run") -> list:  # type: ignore[type-arg]
    return [record(database, status, start + index * POLL, f"{prefix}-{index}") for index, status in enumerate(statuses)]


def stored_alerts() -> list[Alert]:
    with session_factory()() as session:
        return list(session.scalars(select(Alert).options(selectinload(Alert.deliveries)).order_by(Alert.id)))


def webhook_titles(receiver) -> list[str]:  # type: ignore[no-untyped-def]
    return [item["payload"]["title"] for item in receiver.inbox.snapshot()]


def test_broken_database_sends_one_grouped_alert(
    store_url, configure_alerting, two_channels, smtp_receiver, webhook_receiver, catalog
):
    configure_alerting(failure_threshold=1, reminder_interval_minutes=60, channels=two_channels)

    outcome = record("bao_hiem", "BROKEN", T0, "run-0", http_status=503, failure_kind="http_5xx")

    assert outcome is not None
    assert outcome.kind == "opened"
    assert outcome.outcome == "sent"
    posts = webhook_receiver.inbox.snapshot()
    mails = smtp_receiver.inbox.snapshot()
    assert len(posts) == 1
    assert len(mails) == 1
    message = posts[0]["payload"]["message"]
    assert posts[0]["payload"]["type"] == "failure"
    assert posts[0]["payload"]["title"].startswith("[Sự cố] ")
    assert "Bộ Tài chính" in message
    assert "lỗi máy chủ HTTP (5xx)" in message
    assert "HTTP 503" in message
    assert "http://127.0.0.1:8080/integration-monitor/" in message
    readers = catalog.services_reading("bao_hiem")
    assert len(readers) > 1
    for service in readers:
        assert f"DVC-{service.number:02d} {service.name}" in message
        assert service.name in mails[0]["body"]
    assert mails[0]["to"] == ["truc-ban@example.com"]
    assert mails[0]["subject"] == posts[0]["payload"]["title"]

    [alert] = stored_alerts()
    assert alert.affected_services == sorted(service.number for service in readers)
    assert [(item.channel, item.outcome) for item in alert.deliveries] == [("webhook", "sent"), ("email", "sent")]


def test_open_incident_reminds_only_after_interval(store_url, configure_alerting, two_channels, webhook_receiver):
    configure_alerting(failure_threshold=1, reminder_interval_minutes=60, channels=two_channels)

    outcomes = run_series("dat_dai", ["BROKEN"] * 7)

    kinds = [outcome.kind if outcome else None for outcome in outcomes]
    assert kinds == ["opened", None, None, None, "reminder", None, None]
    titles = webhook_titles(webhook_receiver)
    assert len(titles) == 2
    assert titles[1].startswith("[Nhắc lại] ")
    assert "1 giờ" in titles[1]


def test_zero_interval_turns_reminders_off(store_url, configure_alerting, two_channels, webhook_receiver):
    configure_alerting(failure_threshold=1, reminder_interval_minutes=0, channels=two_channels)

    outcomes = run_series("dat_dai", ["BROKEN"] * 20)

    assert [outcome.kind for outcome in outcomes if outcome] == ["opened"]
    assert len(webhook_receiver.inbox.snapshot()) == 1


def test_recovery_sends_one_notice_with_duration(store_url, configure_alerting, two_channels, webhook_receiver):
    configure_alerting(failure_threshold=1, reminder_interval_minutes=240, channels=two_channels)

    outcomes = run_series("ho_tich", ["BROKEN", "DEGRADED", "OK", "OK"])

    assert [outcome.kind if outcome else None for outcome in outcomes] == ["opened", None, "recovered", None]
    posts = webhook_receiver.inbox.snapshot()
    assert len(posts) == 2
    recovery = posts[1]["payload"]
    assert recovery["type"] == "success"
    assert recovery["title"].startswith("[Đã khôi phục] ")
    assert "Thời gian gián đoạn: 30 phút" in recovery["message"]
    assert "máy chủ từ chối kết nối" in recovery["message"]
    assert stored_alerts()[1].outage_seconds == 1800


def test_flapping_below_threshold_never_alerts(store_url, configure_alerting, two_channels, webhook_receiver):
    configure_alerting(failure_threshold=3, reminder_interval_minutes=60, channels=two_channels)

    outcomes = run_series("dat_dai", ["BROKEN", "BROKEN", "OK", "DEGRADED", "OK", "NO_DATA", "BROKEN", "OK"])

    assert outcomes == [None] * 8
    assert stored_alerts() == []
    assert webhook_receiver.inbox.snapshot() == []


def test_threshold_reached_alerts_once(store_url, configure_alerting, two_channels, webhook_receiver):
    configure_alerting(failure_threshold=3, reminder_interval_minutes=600, channels=two_channels)

    outcomes = run_series("dat_dai", ["BROKEN", "BROKEN", "BROKEN", "BROKEN", "OK"])

    assert [outcome.kind if outcome else None for outcome in outcomes] == [None, None, "opened", None, "recovered"]
    opening = webhook_receiver.inbox.snapshot()[0]["payload"]["message"]
    assert "Số lần kiểm tra lỗi liên tiếp: 3" in opening
    assert "Bắt đầu từ: 22:00 ngày 05/01/2026" in opening


def test_record_task_retry_sends_no_duplicate(store_url, configure_alerting, two_channels, webhook_receiver):
    configure_alerting(failure_threshold=1, reminder_interval_minutes=60, channels=two_channels)

    first = record("dat_dai", "BROKEN", T0, "run-0")
    again = record("dat_dai", "BROKEN", T0, "run-0")

    assert first is not None and first.kind == "opened"
    assert again is None
    assert len(webhook_receiver.inbox.snapshot()) == 1


def test_maintenance_window_suppresses_and_records(store_url, configure_alerting, two_channels, webhook_receiver,
                                                   smtp_receiver):
    configure_alerting(failure_threshold=1, reminder_interval_minutes=600, channels=two_channels)
    with session_factory()() as session:
        window = MaintenanceWindow(kind="maintenance", database_code="dat_dai", starts_at=T0 - dt.timedelta(hours=1),
                                   ends_at=T0 + dt.timedelta(minutes=40), reason="nâng cấp máy chủ",
                                   created_by="tester", created_at=T0 - dt.timedelta(hours=2))
        session.add(window)
        session.commit()
        window_id = window.id

    outcomes = run_series("dat_dai", ["BROKEN", "BROKEN", "BROKEN"])

    assert [outcome.kind if outcome else None for outcome in outcomes] == ["opened", None, None]
    assert outcomes[0].outcome == "suppressed"
    assert webhook_receiver.inbox.snapshot() == []
    assert smtp_receiver.inbox.snapshot() == []
    [alert] = stored_alerts()
    assert alert.suppressed is True
    assert alert.maintenance_id == window_id
    assert [item.outcome for item in alert.deliveries] == ["suppressed", "suppressed"]
    assert "nâng cấp máy chủ" in alert.deliveries[0].detail

    # The window ends while the database is still broken: the next check alerts.
    after = record("dat_dai", "BROKEN", T0 + 3 * POLL, "run-3")
    assert after is not None
    assert after.kind == "opened"
    assert after.outcome == "sent"
    assert "Số lần kiểm tra lỗi liên tiếp: 4" in webhook_receiver.inbox.snapshot()[0]["payload"]["message"]


def test_incident_inside_window_stays_silent(store_url, configure_alerting, two_channels, webhook_receiver):
    configure_alerting(failure_threshold=1, reminder_interval_minutes=600, channels=two_channels)
    with session_factory()() as session:
        session.add(MaintenanceWindow(kind="silence", database_code="dat_dai", starts_at=T0,
                                      ends_at=T0 + dt.timedelta(minutes=20), reason="lỗi đã biết",
                                      created_by="tester", created_at=T0))
        session.commit()

    outcomes = run_series("dat_dai", ["BROKEN", "OK", "OK"])

    assert [(item.kind, item.outcome) if item else None for item in outcomes] == [
        ("opened", "suppressed"), ("recovered", "suppressed"), None]
    assert webhook_receiver.inbox.snapshot() == []


def test_window_of_another_database_does_not_suppress(store_url, configure_alerting, two_channels, webhook_receiver):
    configure_alerting(failure_threshold=1, channels=two_channels)
    with session_factory()() as session:
        session.add(MaintenanceWindow(kind="maintenance", database_code="dan_cu", starts_at=T0 - POLL,
                                      ends_at=T0 + POLL, reason="khác", created_by="tester", created_at=T0))
        session.commit()

    outcome = record("dat_dai", "BROKEN", T0, "run-0")

    assert outcome is not None and outcome.outcome == "sent"
    assert len(webhook_receiver.inbox.snapshot()) == 1


def test_failing_smtp_channel_recorded_while_webhook_delivers(
    store_url, configure_alerting, two_channels, webhook_receiver, closed_port, monkeypatch
):
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_TEST", smtp_connection(closed_port))
    configure_alerting(failure_threshold=1, channels=two_channels)

    outcome = record("dat_dai", "BROKEN", T0, "run-0")

    assert outcome is not None
    assert outcome.outcome == "partial"
    assert len(webhook_receiver.inbox.snapshot()) == 1
    [alert] = stored_alerts()
    webhook, email = alert.deliveries
    assert (webhook.channel, webhook.outcome, webhook.detail) == ("webhook", "sent", None)
    assert (email.channel, email.outcome) == ("email", "failed")
    assert "ConnectionRefusedError" in email.detail


def test_failing_webhook_recorded_as_failed(
    store_url, configure_alerting, two_channels, smtp_receiver, closed_port, monkeypatch
):
    monkeypatch.setenv("AIRFLOW_CONN_APPRISE_TEST", apprise_connection(closed_port))
    configure_alerting(failure_threshold=1, channels=two_channels)

    outcome = record("dat_dai", "BROKEN", T0, "run-0")

    assert outcome is not None and outcome.outcome == "partial"
    assert len(smtp_receiver.inbox.snapshot()) == 1
    webhook = stored_alerts()[0].deliveries[0]
    assert webhook.outcome == "failed"
    assert "Apprise status FAILURE" in webhook.detail
    assert f"127.0.0.1:{closed_port}" in webhook.detail


def test_apprise_tag_without_url_is_a_failure(store_url, configure_alerting, two_channels, webhook_receiver):
    channels = [dict(two_channels[0], tag="nobody")]
    configure_alerting(failure_threshold=1, channels=channels)

    outcome = record("dat_dai", "BROKEN", T0, "run-0")

    assert outcome is not None and outcome.outcome == "failed"
    assert "has the tag 'nobody'" in stored_alerts()[0].deliveries[0].detail
    assert webhook_receiver.inbox.snapshot() == []


def test_undefined_connection_recorded_as_failed(store_url, configure_alerting, webhook_receiver, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_APPRISE_TEST", apprise_connection(webhook_receiver.port))
    configure_alerting(failure_threshold=1, channels=[
        {"name": "missing", "type": "smtp", "conn_id": "smtp_not_defined", "to": ["a@example.com"]},
        {"name": "webhook", "type": "apprise", "conn_id": "apprise_test", "tag": "ops"},
    ])

    outcome = record("dat_dai", "BROKEN", T0, "run-0")

    assert outcome is not None and outcome.outcome == "partial"
    missing = stored_alerts()[0].deliveries[0]
    assert missing.outcome == "failed"
    assert missing.conn_id == "smtp_not_defined"
    assert "not found" in missing.detail
    assert len(webhook_receiver.inbox.snapshot()) == 1


def test_owner_channel_gets_only_its_databases(store_url, configure_alerting, two_channels, webhook_receiver,
                                               smtp_receiver):
    health_only = dict(two_channels[1], name="bo-y-te", owners=["bo_y_te"])
    configure_alerting(failure_threshold=1, channels=[two_channels[0], health_only])

    record("dat_dai", "BROKEN", T0, "land-0")
    record("kham_chua_benh", "BROKEN", T0, "health-0")

    assert len(webhook_receiver.inbox.snapshot()) == 2
    mails = smtp_receiver.inbox.snapshot()
    assert len(mails) == 1
    assert "Bộ Y tế" in mails[0]["body"]
    land, health = stored_alerts()
    assert [item.channel for item in land.deliveries] == ["webhook"]
    assert [item.channel for item in health.deliveries] == ["webhook", "bo-y-te"]


def test_channel_language_english(store_url, configure_alerting, two_channels, webhook_receiver, smtp_receiver):
    configure_alerting(failure_threshold=1, channels=[dict(two_channels[0], language="en"), two_channels[1]])

    record("dat_dai", "BROKEN", T0, "run-0")

    english = webhook_receiver.inbox.snapshot()[0]["payload"]
    assert english["title"] == "[Incident] National land database: connection broken"
    assert "Owning ministry: Ministry of Agriculture and Environment" in english["message"]
    assert "Cấp điện mới" in english["message"]  # the services' official Vietnamese names stay
    assert smtp_receiver.inbox.snapshot()[0]["subject"].startswith("[Sự cố] ")
    [alert] = stored_alerts()
    assert [item.language for item in alert.deliveries] == ["en", "vi"]


def test_language_from_environment(store_url, configure_alerting, two_channels, webhook_receiver, monkeypatch):
    monkeypatch.setenv("INTEGRATION_MONITOR_LANG", "en")
    configure_alerting(failure_threshold=1, channels=[two_channels[0]])

    record("dat_dai", "BROKEN", T0, "run-0")

    assert webhook_titles(webhook_receiver)[0].startswith("[Incident] ")


def test_messages_carry_no_record_values(store_url, configure_alerting, two_channels, webhook_receiver, smtp_receiver):
    configure_alerting(failure_threshold=1, channels=two_channels)
    # A reason string is free text: the alert must not repeat it, whatever it holds.
    record("dat_dai", "DEGRADED", T0, "run-0", failure_kind="schema_drift",
           reason="HO_VA_TEN='Nguyễn Văn An' SO_DINH_DANH=001099012345", record_count=40,
           fields=(FieldResult("SO_THUA", True, 0.5, 20, 0.95, False),))

    message = webhook_receiver.inbox.snapshot()[0]["payload"]["message"]
    mail = smtp_receiver.inbox.snapshot()[0]["body"]
    for text in (message, mail, stored_alerts()[0].title):
        assert "Nguyễn Văn An" not in text
        assert "001099012345" not in text
    assert "SO_THUA 50% (ngưỡng 95%)" in message
    assert "số bản ghi: 40" in message


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_invalid_alerting_file_keeps_monitoring(store_url, tmp_path, monkeypatch):
    broken = tmp_path / "alerting.yaml"
    broken.write_text("failure_threshold: zero\n", encoding="utf-8")
    monkeypatch.setenv("INTEGRATION_MONITOR_ALERTING", str(broken))
    # Airflow replaces the root logger's handlers, so pytest's caplog receives nothing. Listen on the module's logger.
    collector = _Collector()
    logging.getLogger("integration_monitor.alerts.hooks").addHandler(collector)
    try:
        outcome = record("dat_dai", "BROKEN", T0, "run-0")
    finally:
        logging.getLogger("integration_monitor.alerts.hooks").removeHandler(collector)

    assert outcome is None
    [error] = collector.records
    assert error.levelno == logging.ERROR
    assert error.getMessage() == "Alerting for dat_dai run run-0 failed; the check itself is stored"
    assert "failure_threshold" in str(error.exc_info[1])
    with session_factory()() as session:
        assert session.scalar(select(Alert.id)) is None


def test_service_alert_only_for_uncovered_problem(store_url, configure_alerting, two_channels, webhook_receiver,
                                                  catalog):
    from integration_monitor.pipeline.rollup_step import run_rollup

    configure_alerting(failure_threshold=1, channels=[two_channels[0]])
    # can_cuoc passes its own checks but its signature ratio blocks service 8: no database incident covers it.
    record("can_cuoc", "OK", T0, "cc-0", signature_present_ratio=0.5, signature_valid_ratio=0.5, record_count=10)
    changes = run_rollup(catalog, "rollup-0", T0 + dt.timedelta(minutes=1))
    outcomes = on_services_evaluated(changes, {"run_id": "rollup-0"})

    assert [(item.scope, item.subject, item.kind) for item in outcomes] == [("service", "8", "opened")]
    payload = webhook_receiver.inbox.snapshot()[0]["payload"]
    assert payload["title"] == f"[Sự cố] DVC-08 {catalog.service(8).name}: chưa thể thực hiện toàn trình"
    assert "căn cước (can_cuoc): có bản ghi chưa ký số" in payload["message"]

    # can_cuoc now breaks: its database alert covers service 8, which sends nothing more.
    record("can_cuoc", "BROKEN", T0 + POLL, "cc-1")
    changes = run_rollup(catalog, "rollup-1", T0 + POLL + dt.timedelta(minutes=1))
    assert on_services_evaluated(changes, {"run_id": "rollup-1"}) == []
    titles = webhook_titles(webhook_receiver)
    assert len(titles) == 2
    assert titles[1].startswith("[Sự cố] ")
    assert "căn cước" in titles[1].lower()


def test_database_breakage_sends_no_service_alerts(store_url, configure_alerting, two_channels, webhook_receiver,
                                                   catalog):
    from integration_monitor.pipeline.rollup_step import run_rollup

    configure_alerting(failure_threshold=1, channels=[two_channels[0]])
    record("dat_dai", "BROKEN", T0, "land-0")
    changes = run_rollup(catalog, "rollup-0", T0 + dt.timedelta(minutes=1))

    assert any(item["transition"] == "opened" for item in changes)
    assert on_services_evaluated(changes, {"run_id": "rollup-0"}) == []
    assert len(webhook_receiver.inbox.snapshot()) == 1


def test_service_alerts_off(store_url, configure_alerting, two_channels, webhook_receiver, catalog):
    from integration_monitor.pipeline.rollup_step import run_rollup

    configure_alerting(failure_threshold=1, service_alerts="off", channels=[two_channels[0]])
    record("can_cuoc", "OK", T0, "cc-0", signature_present_ratio=0.5, signature_valid_ratio=0.5, record_count=10)
    changes = run_rollup(catalog, "rollup-0", T0 + dt.timedelta(minutes=1))

    assert on_services_evaluated(changes, {"run_id": "rollup-0"}) == []
    assert webhook_receiver.inbox.snapshot() == []


def test_healthy_result_reads_nothing(store_url, monkeypatch):
    from integration_monitor.alerts import hooks
    from integration_monitor.pipeline.record_step import RecordedCheck

    def fail_build(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("a healthy result built the alert engine")

    monkeypatch.setattr(hooks, "build_engine", fail_build)
    result = CheckResult(database_code="dat_dai", run_id="run-0", checked_at=T0, status="OK")

    assert on_database_recorded(RecordedCheck(result, "healthy", None), {"run_id": "run-0"}) is None


@pytest.mark.postgres
def test_alert_series_on_postgresql(postgres_store_url, monkeypatch, configure_alerting, two_channels,
                                    webhook_receiver):
    from integration_monitor.store.engine import get_engine
    from integration_monitor.store.migrate import upgrade

    monkeypatch.setenv("INTEGRATION_MONITOR_STORE_URL", postgres_store_url)
    get_engine.cache_clear()
    upgrade(postgres_store_url)
    configure_alerting(failure_threshold=2, reminder_interval_minutes=30, channels=[two_channels[0]])

    outcomes = run_series("dat_dai", ["BROKEN", "BROKEN", "BROKEN", "BROKEN", "OK"])

    assert [outcome.kind if outcome else None for outcome in outcomes] == [None, "opened", None, "reminder", "recovered"]
    assert len(webhook_receiver.inbox.snapshot()) == 3
    [recovered] = [alert for alert in stored_alerts() if alert.kind == "recovered"]
    assert recovered.outage_seconds == 3600
    assert recovered.affected_services == [20, 21]
    get_engine.cache_clear()
