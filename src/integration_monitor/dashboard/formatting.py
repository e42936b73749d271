"""Dates, times, ratios and durations as operators read them, in Vietnamese or English."""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal, format_percent

TIMEZONE_ENV = "INTEGRATION_MONITOR_TIMEZONE"
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


@lru_cache(maxsize=4)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def display_zone() -> ZoneInfo:
    """Return the time zone of displayed times: ``INTEGRATION_MONITOR_TIMEZONE``, else Vietnam's (UTC+7)."""
    return _zone(os.environ.get(TIMEZONE_ENV) or DEFAULT_TIMEZONE)


def local_time(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(display_zone())


def format_time(moment: dt.datetime | None, language: str) -> str:
    if moment is None:
        return "—"
    local = local_time(moment)
    if language == "vi":
        return local.strftime("%H:%M %d/%m/%Y")
    return local.strftime("%Y-%m-%d %H:%M")


def format_date(day: dt.date | None, language: str) -> str:
    """Return a date as the appendix writes it (30/6/2025) in Vietnamese, ISO 8601 in English."""
    if day is None:
        return "—"
    if language == "vi":
        return f"{day.day}/{day.month}/{day.year}"
    return day.isoformat()


def format_ratio(ratio: float | None, language: str, digits: int = 1) -> str:
    if ratio is None:
        return "—"
    pattern = "#,##0%" if digits == 0 else "#,##0." + "0" * digits + "%"
    return format_percent(ratio, format=pattern, locale=language)


def format_number(value: float | None, language: str, digits: int = 0) -> str:
    if value is None:
        return "—"
    pattern = "#,##0" if digits == 0 else "#,##0." + "0" * digits
    return format_decimal(value, format=pattern, locale=language)


def format_duration(seconds: float | None, language: str) -> str:
    """Return a duration in whole days, hours and minutes, largest two units only."""
    if seconds is None:
        return "—"
    minutes = max(0, int(seconds // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    units = ("ngày", "giờ", "phút") if language == "vi" else ("d", "h", "min")
    parts = [f"{amount} {unit}" for amount, unit in zip((days, hours, minutes), units, strict=True) if amount]
    return " ".join(parts[:2]) if parts else ("dưới 1 phút" if language == "vi" else "under 1 min")
