"""The alerting file's validation and the alert texts in Vietnamese and English."""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import pytest

from integration_monitor.alerts.config import ChannelType, load_alerting_config
from integration_monitor.alerts.messages import (
    AlertEvent,
    CheckFigures,
    DatabaseRef,
    FieldFigure,
    ServiceRef,
    format_duration,
    render,
)
from integration_monitor.alerts.models import AlertKind
from integration_monitor.catalog.errors import CatalogError
from integration_monitor.i18n import translator

T0 = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)
REPO = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, text: str, catalog=None):  # type: ignore[no-untyped-def]
    path = tmp_path / "alerting.yaml"
    path.write_text(text, encoding="utf-8")
    if catalog is None:
        return load_alerting_config(path)
    return load_alerting_config(path, known_owners={owner.code for owner in catalog.owners},
                                known_databases={database.code for database in catalog.databases})


def test_shipped_alerting_file_is_valid(catalog):
    config = load_alerting_config(REPO / "include" / "alerting.yaml",
                                  known_owners={owner.code for owner in catalog.owners},
                                  known_databases={database.code for database in catalog.databases})
    assert config.failure_threshold >= 1
    assert {channel.type for channel in config.channels} == {ChannelType.APPRISE, ChannelType.SMTP}
    assert any(channel.owners for channel in config.channels)


def test_missing_file_means_no_channels(tmp_path):
    config = load_alerting_config(tmp_path / "absent.yaml")
    assert config.channels == ()
    assert config.failure_threshold == 1


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("failure_threshold: 0\n", "failure_threshold"),
        ("reminder_interval_minutes: -5\n", "reminder_interval_minutes"),
        ("service_alerts: sometimes\n", "service_alerts"),
        ("unknown_key: 1\n", "unknown_key"),
        ("channels:\n  - {name: a, type: smtp, conn_id: c}\n", "needs at least one address"),
        ("channels:\n  - {name: a, type: apprise, conn_id: c, to: [x@example.com]}\n", "smtp channels only"),
        ("channels:\n  - {name: a, type: pager, conn_id: c}\n", "channels.0.type"),
        ("channels:\n  - {name: a, type: apprise, conn_id: c}\n  - {name: a, type: apprise, conn_id: d}\n",
         "repeated: a"),
        ("channels:\n  - {name: 'Kênh 1', type: apprise, conn_id: c}\n", "channels.0.name"),
        ("channels:\n  - {name: a, type: apprise, conn_id: c, language: fr}\n", "channels.0.language"),
        ("channels: [\n", "invalid YAML"),
    ],
)
def test_invalid_alerting_file_names_the_problem(tmp_path, text, problem):
    with pytest.raises(CatalogError) as raised:
        load(tmp_path, text)
    assert problem in str(raised.value)
    assert "alerting.yaml" in str(raised.value)


def test_unknown_owner_or_database_rejected(tmp_path, catalog):
    with pytest.raises(CatalogError, match="unknown owner codes: bo_khong_co"):
        load(tmp_path, "channels:\n  - {name: a, type: apprise, conn_id: c, owners: [bo_y_te, bo_khong_co]}\n", catalog)
    with pytest.raises(CatalogError, match="unknown database codes: dat"):
        load(tmp_path, "channels:\n  - {name: a, type: apprise, conn_id: c, databases: [dat]}\n", catalog)


def test_channel_filters(tmp_path):
    config = load(tmp_path, (
        "channels:\n"
        "  - {name: health, type: apprise, conn_id: c, owners: [bo_y_te], events: [opened]}\n"
        "  - {name: paused, type: apprise, conn_id: c, enabled: false}\n"
    ))
    health, paused = config.channels
    assert health.matches({"bo_y_te"}, {"kham_chua_benh"}, AlertKind.OPENED)
    assert not health.matches({"bo_y_te"}, {"kham_chua_benh"}, AlertKind.RECOVERED)
    assert not health.matches({"bo_cong_an"}, {"dan_cu"}, AlertKind.OPENED)
    assert not paused.matches({"bo_y_te"}, {"kham_chua_benh"}, AlertKind.OPENED)


def event(kind: AlertKind = AlertKind.OPENED, **changes) -> AlertEvent:  # type: ignore[no-untyped-def]
    values = dict(
        kind=kind,
        scope="database",
        status="DEGRADED",
        failure_kind="schema_drift",
        opened_at=T0,
        at=T0 + dt.timedelta(hours=2, minutes=30),
        consecutive_failures=11,
        databases=(DatabaseRef("kham_chua_benh", "CSDL khám chữa bệnh", "Health care database", "bo_y_te", "Bộ Y tế",
                               "Ministry of Health"),),
        services=(ServiceRef(1, "Đăng ký khai sinh", "Birth registration"),
                  ServiceRef(18, "Cấp giấy chứng sinh", "Birth certificate"),),
        dashboard_url="http://127.0.0.1:8080/integration-monitor/?q=<x>",
        figures=CheckFigures(record_count=250, http_status=200, attempts=1, latency_ms=1234.0,
                             absent_fields=("MA_THE_BHYT",),
                             failing_fields=(FieldFigure("NGAY_SINH", 0.875, 0.95),),
                             signature_present_ratio=0.5, signature_valid_ratio=0.25, denied_services=(18,)),
    )
    values.update(changes)
    return AlertEvent(**values)


def test_vietnamese_opening_alert():
    message = render(event(), "vi")
    assert message.title == "[Sự cố] CSDL khám chữa bệnh: chất lượng dữ liệu suy giảm"
    lines = message.text.splitlines()
    assert "Cơ sở dữ liệu: CSDL khám chữa bệnh (kham_chua_benh)" in lines
    assert "Bộ, ngành chủ quản: Bộ Y tế" in lines
    assert "Bắt đầu từ: 22:00 ngày 05/01/2026 (giờ Việt Nam, UTC+7)" in lines
    assert "Loại lỗi: cấu trúc dữ liệu thay đổi (trường bị đổi tên hoặc bỏ) (schema_drift)" in lines
    assert "Lần kiểm tra gần nhất: HTTP 200; số bản ghi: 250; số lần thử: 1; thời gian phản hồi: 1,2 giây" in lines
    assert "Trường không có trong bản ghi nào (1): MA_THE_BHYT" in lines
    assert "Trường chưa đạt ngưỡng đầy đủ dữ liệu (1): NGAY_SINH 87,5% (ngưỡng 95%)" in lines
    assert "Tỷ lệ bản ghi có chữ ký số: 50%" in lines
    assert "Tỷ lệ chữ ký số hợp lệ: 25%" in lines
    assert "Từ chối truy cập với mã dịch vụ công: DVC-18" in lines
    assert "Dịch vụ công bị ảnh hưởng (2):" in lines
    assert "- DVC-01 Đăng ký khai sinh" in lines
    assert "- DVC-18 Cấp giấy chứng sinh" in lines
    assert lines[-1] == "Xem chi tiết trên bảng điều khiển: http://127.0.0.1:8080/integration-monitor/?q=<x>"
    assert unicodedata.is_normalized("NFC", message.text)


def test_english_opening_alert():
    message = render(event(), "en")
    assert message.title == "[Incident] Health care database: data quality degraded"
    assert "Since: 2026-01-05 22:00 (UTC+7)" in message.text
    assert "Last check: HTTP 200; records: 250; attempts: 1; response time: 1.2 s" in message.text
    assert "- DVC-01 Birth registration (Đăng ký khai sinh)" in message.text
    assert "Owning ministry: Ministry of Health" in message.text


def test_reminder_and_recovery_titles():
    assert render(event(AlertKind.REMINDER), "vi").title == (
        "[Nhắc lại] CSDL khám chữa bệnh: chất lượng dữ liệu suy giảm đã kéo dài 2 giờ 30 phút")
    recovered = render(event(AlertKind.RECOVERED, closed_at=T0 + dt.timedelta(days=1, hours=3),
                             past_failure_kinds=("http_5xx", "timeout")), "vi")
    assert recovered.title == "[Đã khôi phục] CSDL khám chữa bệnh: hoạt động trở lại sau 1 ngày 3 giờ gián đoạn"
    assert "Thời gian gián đoạn: 1 ngày 3 giờ" in recovered.text
    assert "Lỗi trong thời gian gián đoạn: lỗi máy chủ HTTP (5xx), quá thời gian chờ" in recovered.text
    assert "Dịch vụ công đã bị ảnh hưởng (2):" in recovered.text
    assert "Lần kiểm tra gần nhất" not in recovered.text


def test_html_is_escaped():
    message = render(event(databases=(DatabaseRef("x", "<b>CSDL</b>", "x", "o", "Bộ & ngành", "o"),)), "vi")
    assert "<b>CSDL</b>" not in message.html
    assert "&lt;b&gt;CSDL&lt;/b&gt;" in message.html
    assert "Bộ &amp; ngành" in message.html
    assert 'href="http://127.0.0.1:8080/integration-monitor/?q=&lt;x&gt;"' in message.html


def test_long_field_lists_are_cut():
    fields = tuple(FieldFigure(f"F{index:02d}", 0.5, 0.95) for index in range(14))
    message = render(event(figures=CheckFigures(failing_fields=fields)), "en")
    assert "F09 50% (threshold 95%), … (+4)" in message.text
    assert "F10" not in message.text


@pytest.mark.parametrize(
    ("seconds", "vietnamese", "english"),
    [
        (0, "0 giây", "0 s"),
        (59, "59 giây", "59 s"),
        (60, "1 phút", "1 min"),
        (3_600, "1 giờ", "1 h"),
        (3_660, "1 giờ 1 phút", "1 h 1 min"),
        (90_061, "1 ngày 1 giờ", "1 d 1 h"),
        (-5, "0 giây", "0 s"),
    ],
)
def test_format_duration(seconds, vietnamese, english):
    span = dt.timedelta(seconds=seconds)
    assert format_duration(span, translator("alerts", "vi")) == vietnamese
    assert format_duration(span, translator("alerts", "en")) == english


def test_every_translation_is_nfc_and_keeps_placeholders():
    import re

    from babel.messages.pofile import read_po

    path = REPO / "src" / "integration_monitor" / "locale" / "vi" / "LC_MESSAGES" / "alerts.po"
    with path.open("rb") as handle:
        catalog = read_po(handle)
    placeholder = re.compile(r"\{(\w+)\}")
    for message in catalog:
        if not message.id:
            continue
        assert message.string, message.id
        assert unicodedata.is_normalized("NFC", message.string), message.id
        assert set(placeholder.findall(message.id)) == set(placeholder.findall(message.string)), message.id
