"""``integration-monitor maintenance`` and ``silence``, and the alert tables' migration."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import inspect, select

from integration_monitor.alerts.commands import parse_duration, parse_time
from integration_monitor.alerts.models import MaintenanceWindow
from integration_monitor.alerts.windows import active_windows
from integration_monitor.cli import main
from integration_monitor.store.engine import get_engine, session_factory


def run(capsys, *arguments: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = main(list(arguments))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def stored_windows() -> list[MaintenanceWindow]:
    with session_factory()() as session:
        return list(session.scalars(select(MaintenanceWindow).order_by(MaintenanceWindow.id)))


def test_add_list_and_end_maintenance(store_url, capsys, monkeypatch):
    monkeypatch.setenv("INTEGRATION_MONITOR_LANG", "vi")
    code, out, err = run(capsys, "maintenance", "add", "dat_dai", "--start", "2099-01-05T22:00",
                         "--end", "2099-01-06T02:00", "--reason", "Nâng cấp máy chủ", "--by", "nguoi-truc")
    assert (code, err) == (0, "")
    assert out.strip() == "Đã thêm khoảng bảo trì số 1 cho dat_dai: từ 2099-01-05 22:00 UTC+7 đến 2099-01-06 02:00 UTC+7."
    [window] = stored_windows()
    assert window.starts_at == dt.datetime(2099, 1, 5, 15, 0, tzinfo=dt.UTC)
    assert window.ends_at == dt.datetime(2099, 1, 5, 19, 0, tzinfo=dt.UTC)
    assert (window.kind, window.reason, window.created_by) == ("maintenance", "Nâng cấp máy chủ", "nguoi-truc")

    code, out, _ = run(capsys, "maintenance", "list")
    assert code == 0
    assert out.strip() == ("#1 dat_dai [đã lên lịch] 2099-01-05 22:00 UTC+7 → 2099-01-06 02:00 UTC+7, "
                           "người tạo nguoi-truc: Nâng cấp máy chủ")
    code, out, _ = run(capsys, "maintenance", "list", "--json")
    assert json.loads(out)[0]["state"] == "scheduled"

    code, out, _ = run(capsys, "maintenance", "end", "1", "--by", "truong-ca")
    assert code == 0
    [window] = stored_windows()
    assert window.ended_by == "truong-ca"
    assert window.effective_end == window.starts_at  # ended before it began: it never suppresses
    code, out, _ = run(capsys, "maintenance", "list")
    assert out.strip() == "Không có khoảng bảo trì nào."
    code, out, _ = run(capsys, "maintenance", "list", "--all", "--json")
    assert json.loads(out)[0]["state"] == "ended"


def test_silence_for_a_duration_starts_now(store_url, capsys):
    before = dt.datetime.now(dt.UTC)
    code, _, err = run(capsys, "silence", "add", "dan_cu", "--duration", "1h30m", "--reason", "lỗi đã biết")
    assert (code, err) == (0, "")
    [window] = stored_windows()
    assert window.kind == "silence"
    assert before <= window.starts_at <= dt.datetime.now(dt.UTC)
    assert window.ends_at - window.starts_at == dt.timedelta(hours=1, minutes=30)
    with session_factory()() as session:
        assert set(active_windows(session, ["dan_cu", "dat_dai"], window.starts_at)) == {"dan_cu"}

    code, out, _ = run(capsys, "silence", "list", "--lang", "en")
    assert "[active]" in out
    code, _, err = run(capsys, "maintenance", "end", str(window.id))
    assert code == 2
    assert "Không có khoảng thời gian số 1 thuộc loại này" in err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["khong_co", "--duration", "1h", "--reason", "x"], "Không có mã cơ sở dữ liệu khong_co"),
        (["dat_dai", "--duration", "1h", "--reason", "   "], "Chưa nêu lý do"),
        (["dat_dai", "--duration", "1h", "--reason", "x" * 501], "Lý do dài 501 ký tự, tối đa 500 ký tự."),
        (["dat_dai", "--duration", "soon", "--reason", "x"], "invalid duration 'soon'"),
        (["dat_dai", "--duration", "0m", "--reason", "x"], "duration '0m' is zero"),
        (["dat_dai", "--start", "hôm nay", "--duration", "1h", "--reason", "x"], "Thời điểm hoặc khoảng thời gian"),
        (["dat_dai", "--start", "2099-01-05T22:00", "--end", "2099-01-05T21:00", "--reason", "x"],
         "Thời điểm kết thúc 2099-01-05 21:00 UTC+7 không sau thời điểm bắt đầu 2099-01-05 22:00 UTC+7."),
        (["dat_dai", "--start", "2020-01-01T00:00", "--end", "2020-01-01T01:00", "--reason", "x"], "đã qua"),
        (["dat_dai", "--duration", "91d", "--reason", "x"], "dài hơn 90 ngày"),
    ],
)
def test_bad_window_input_is_rejected(store_url, capsys, monkeypatch, arguments, message):
    monkeypatch.setenv("INTEGRATION_MONITOR_LANG", "vi")
    code, out, err = run(capsys, "maintenance", "add", *arguments)
    assert code == 2
    assert out == ""
    assert message in err
    assert stored_windows() == []


def test_add_needs_end_or_duration(store_url, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["maintenance", "add", "dat_dai", "--reason", "x"])
    assert raised.value.code == 2
    assert "one of the arguments --end --duration is required" in capsys.readouterr().err


def test_ending_an_expired_window_fails(store_url, capsys):
    now = dt.datetime.now(dt.UTC)
    with session_factory()() as session:
        session.add(MaintenanceWindow(kind="maintenance", database_code="dat_dai", starts_at=now - dt.timedelta(hours=2),
                                      ends_at=now - dt.timedelta(hours=1), reason="x", created_by="t", created_at=now))
        session.commit()
    code, _, err = run(capsys, "maintenance", "end", "1", "--by", "t")
    assert code == 2
    assert "đã kết thúc từ" in err


def test_parse_time_and_duration():
    assert parse_time("2026-01-05T22:00") == dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)
    assert parse_time("2026-01-05 22:00+07:00") == dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)
    assert parse_time("2026-01-05T15:00Z") == dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)
    assert parse_duration("1d12h") == dt.timedelta(days=1, hours=12)
    assert parse_duration("90m") == dt.timedelta(minutes=90)
    with pytest.raises(ValueError):
        parse_duration("")
    with pytest.raises(ValueError):
        parse_duration("2 hours")


def test_alert_history_lists_deliveries(store_url, capsys, monkeypatch):
    from integration_monitor.alerts.models import Alert, AlertDelivery
    from integration_monitor.store.models import Incident

    at = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)
    with session_factory()() as session:
        incident = Incident(scope="database", subject="dat_dai", status="BROKEN", opened_at=at, opened_by_run="r",
                            last_seen_at=at)
        session.add(incident)
        session.flush()
        session.add(Alert(incident_id=incident.id, scope="database", subject="dat_dai", kind="opened", run_id="r",
                          event_at=at, created_at=at, status="BROKEN", consecutive_failures=1, databases=["dat_dai"],
                          affected_services=[20, 21], suppressed=False, outcome="partial", title="[Sự cố] đất đai",
                          deliveries=[AlertDelivery(channel="email", channel_type="smtp", conn_id="smtp_alerts",
                                                    language="vi", outcome="failed", detail="ConnectionRefusedError",
                                                    attempted_at=at)]))
        session.commit()

    code, out, _ = run(capsys, "alerts", "history")
    assert code == 0
    assert "#1 2026-01-05 22:00 UTC+7 opened database dat_dai [partial]: [Sự cố] đất đai" in out
    assert "email (smtp, vi): failed — ConnectionRefusedError" in out
    code, out, _ = run(capsys, "alerts", "history", "--database", "dan_cu", "--json")
    assert json.loads(out) == []


def test_alerts_check_reports_missing_connection(store_url, capsys, monkeypatch, tmp_path):
    path = tmp_path / "alerting.yaml"
    path.write_text("channels:\n  - {name: ops, type: apprise, conn_id: apprise_absent_for_test}\n", encoding="utf-8")
    monkeypatch.setenv("INTEGRATION_MONITOR_ALERTING", str(path))
    code, out, _ = run(capsys, "alerts", "check")
    assert code == 1
    assert "ops: apprise via connection apprise_absent_for_test (NOT FOUND)" in out

    monkeypatch.setenv("AIRFLOW_CONN_APPRISE_ABSENT_FOR_TEST", '{"conn_type": "apprise", "extra": {"config": []}}')
    code, out, _ = run(capsys, "alerts", "check")
    assert code == 0
    assert "(found)" in out


def test_alerts_test_sends_through_channel(store_url, capsys, monkeypatch, configure_alerting, two_channels,
                                           webhook_receiver):
    configure_alerting(channels=two_channels)
    code, out, _ = run(capsys, "alerts", "test", "webhook", "--lang", "en")
    assert code == 0
    assert out.startswith("sent through webhook")
    [post] = webhook_receiver.inbox.snapshot()
    assert post["payload"]["title"] == "[Test] Alert channel webhook of the integration monitor"

    code, _, err = run(capsys, "alerts", "test", "nobody")
    assert code == 2
    assert "no channel named 'nobody'; channels: webhook, email" in err


def test_migration_creates_and_drops_alert_tables(store_url):
    from integration_monitor.store.migrate import alembic_config

    from alembic import command

    tables = set(inspect(get_engine(store_url)).get_table_names())
    assert {"alerts", "alert_deliveries", "maintenance_windows"} <= tables
    command.downgrade(alembic_config(store_url), "0002-1")
    get_engine.cache_clear()
    tables = set(inspect(get_engine(store_url)).get_table_names())
    assert not {"alerts", "alert_deliveries", "maintenance_windows"} & tables
    assert {"incidents", "database_checks"} <= tables
